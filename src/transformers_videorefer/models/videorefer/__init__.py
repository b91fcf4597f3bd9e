"""VideoRefer (VideoRefer-7B and its stage releases): SigLIP -> STC connector -> Qwen2, with a mask-pooling region
encoder."""

from ..._auto_registration import register_with_auto_classes
from .configuration_videorefer import VideoReferConfig, VideoReferLegacyConfig
from .modeling_videorefer import VideoReferForConditionalGeneration, VideoReferModel, VideoReferPreTrainedModel
from .processing_videorefer import VideoReferProcessor

__all__ = [
    "VideoReferConfig",
    "VideoReferLegacyConfig",
    "VideoReferForConditionalGeneration",
    "VideoReferModel",
    "VideoReferPreTrainedModel",
    "VideoReferProcessor",
]

register_with_auto_classes()  # the hook defers to here when the Auto classes load during this import

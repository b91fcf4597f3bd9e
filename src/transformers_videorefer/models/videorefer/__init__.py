"""VideoRefer (VideoRefer-7B and its stage releases): SigLIP -> STC connector -> Qwen2, with a mask-pooling region
encoder."""

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

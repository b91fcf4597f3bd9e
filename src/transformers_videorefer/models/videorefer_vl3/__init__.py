"""VideoRefer-VideoLLaMA3 (VL3-7B, VL3-2B): VideoLLaMA3's SigLIP-NaViT -> mlp2x_gelu -> Qwen2.5, with a
mask-pooling region encoder."""

from .configuration_videorefer_vl3 import VideoReferVL3Config, VideoReferVL3LegacyConfig
from .modeling_videorefer_vl3 import (
    VideoReferVL3ForConditionalGeneration,
    VideoReferVL3Model,
    VideoReferVL3PreTrainedModel,
)
from .processing_videorefer_vl3 import VideoReferVL3Processor

__all__ = [
    "VideoReferVL3Config",
    "VideoReferVL3LegacyConfig",
    "VideoReferVL3ForConditionalGeneration",
    "VideoReferVL3Model",
    "VideoReferVL3PreTrainedModel",
    "VideoReferVL3Processor",
]

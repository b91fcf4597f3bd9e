"""VideoRefer for the Hugging Face stack."""

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor

from . import attention_videorefer  # noqa: F401  (registers the sdpa_grouped attention)
from .configuration_videorefer import VideoReferConfig, VideoReferLegacyConfig
from .modeling_videorefer import VideoReferForConditionalGeneration, VideoReferModel, VideoReferPreTrainedModel
from .hub_export import register_remote_code
from .processing_videorefer import VideoReferProcessor


_AUTO_MODELS = (
    (AutoModel, VideoReferModel),
    (AutoModelForImageTextToText, VideoReferForConditionalGeneration),
    (AutoModelForCausalLM, VideoReferForConditionalGeneration),
)


def _register() -> None:
    """Register both model types with the Auto classes.

    `videorefer_qwen2` (the original releases) always loads as a native `VideoReferConfig`; its model entries go
    into the Auto mappings directly, since `register` insists that a model's `config_class` be the key.
    """
    AutoConfig.register(VideoReferConfig.model_type, VideoReferConfig, exist_ok=True)
    AutoConfig.register(VideoReferLegacyConfig.model_type, VideoReferLegacyConfig, exist_ok=True)
    for auto_class, model_class in _AUTO_MODELS:
        auto_class.register(VideoReferConfig, model_class, exist_ok=True)
        auto_class._model_mapping.register(VideoReferLegacyConfig, model_class, exist_ok=True)
    AutoProcessor.register(VideoReferConfig, VideoReferProcessor, exist_ok=True)
    AutoProcessor.register(VideoReferLegacyConfig, VideoReferProcessor, exist_ok=True)
    # save_pretrained / push_to_hub write auto_map and the code: saved checkpoints load without this package
    register_remote_code()


_register()

__all__ = [
    "VideoReferConfig",
    "VideoReferLegacyConfig",
    "VideoReferForConditionalGeneration",
    "VideoReferModel",
    "VideoReferPreTrainedModel",
    "VideoReferProcessor",
]

"""VideoRefer for the Hugging Face stack.

Importing the package registers the VideoRefer model types with transformers' Auto classes (native `videorefer`
and the releases' `videorefer_qwen2`), the `sdpa_grouped` attention, and the remote-code export of the classes.

Layout: `models/<family>/` (configuration, modeling, processing: what is exported as remote code), `inputs/` (media
and masks, shared by the families), `generation/`, `hub/`, `training/`, `evaluation/`, `apps/`, `cli/`.
"""

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor

from . import _moved_modules
from .generation import attention as _attention  # noqa: F401  (registers the sdpa_grouped attention)
from .hub.remote_code import register_remote_code
from .models.videorefer import (
    VideoReferConfig,
    VideoReferForConditionalGeneration,
    VideoReferLegacyConfig,
    VideoReferModel,
    VideoReferPreTrainedModel,
    VideoReferProcessor,
)

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
_moved_modules.install()  # the 0.1 import paths (transformers_videorefer.processing_videorefer, ...) keep working

__all__ = [
    "VideoReferConfig",
    "VideoReferLegacyConfig",
    "VideoReferForConditionalGeneration",
    "VideoReferModel",
    "VideoReferPreTrainedModel",
    "VideoReferProcessor",
]

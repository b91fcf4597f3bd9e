# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoRefer model configuration."""

import os
from typing import Any, Literal

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig
from transformers.configuration_utils import PreTrainedConfig, SubConfigSpec

from .conversion_videorefer import LEGACY_MODEL_TYPE, convert_legacy_config_dict, is_legacy_config_dict
from .token_layout_videorefer import PROJECTOR_TYPES

_HUB_KWARGS = ("cache_dir", "token", "revision", "local_files_only")


# The parts of the model that `frozen_modules` may name.
FREEZABLE_MODULES = ("vision_tower", "multi_modal_projector", "region_encoder", "language_model", "lm_head")


@strict
class VideoReferConfig(PreTrainedConfig):
    r"""
    Configuration of a VideoRefer model: a SigLIP vision tower, a spatio-temporal connector, a mask-pooling region
    encoder and a Qwen2 language model.

    Args:
        vision_config (`dict` or `SiglipVisionConfig`, *optional*):
            The vision tower (SigLIP so400m-patch14-384 by default).
        text_config (`dict` or `Qwen2Config`, *optional*):
            The language model (Qwen2).
        projector_type (`str`, *optional*, defaults to `"stc_connector_v35"`):
            The connector: `stc_connector_v35` (the release), `stc_connector`, `stp_connector`, `mlp2x_gelu`
            or `linear`.
        projector_depth (`int`, *optional*, defaults to 4):
            Number of RegNet bottleneck blocks in each of the two connector stages.
        projector_downsample (`list[int]`, *optional*, defaults to `[2, 2, 2]`):
            (time, height, width) kernel and stride of the connector's down-sampler.
        projector_readout_depth (`int`, *optional*, defaults to 2):
            Number of linear layers of the connector's read-out MLP (GELU between them).
        region_encoder_type (`str`, *optional*, defaults to `"pooling"`):
            The region encoder; only mask pooling is defined.
        region_encoder_depth (`int`, *optional*, defaults to 2):
            Number of linear layers of the region encoder's MLP.
        region_token_num (`int`, *optional*, defaults to 4):
            At most this many tokens per object; adjacent mask-frame features are merged down to it.
        vision_feature_layer (`int`, *optional*, defaults to -2):
            Index into the vision tower's hidden states (0 = embeddings) of the features used.
        num_frames (`int`, *optional*, defaults to 16):
            Frames sampled from a video; an image is repeated this many times.
        image_aspect_ratio (`str`, *optional*, defaults to `"square"`):
            `square` resizes frames ignoring aspect ratio; `pad` pads them to a square first.
        image_token_id / video_token_id (`int`, *optional*):
            Placeholder ids of one visual token of an image / a video. By default the two ids after the text
            vocabulary: they are never embedded, only replaced.
        region_token_id (`int`, *optional*):
            Id of `<region>`, whose copies in `input_ids` are replaced by region features.
        frozen_modules (`list[str]`, *optional*):
            Parts of the model whose parameters do not train (`requires_grad=False`), set each time the weights are
            loaded or tied: any of `vision_tower`, `multi_modal_projector`, `region_encoder`, `language_model`,
            `lm_head`. For trainers that cannot freeze parts themselves, e.g. `trl sft` with
            `model_init_kwargs: {frozen_modules: [vision_tower]}`. None (default) freezes nothing.

    Example:

    ```python
    >>> from transformers_videorefer import VideoReferConfig, VideoReferForConditionalGeneration
    >>> config = VideoReferConfig()
    >>> config.text_config.model_type, config.vision_config.model_type
    ('qwen2', 'siglip_vision_model')
    ```
    """

    model_type = "videorefer"
    sub_configs_defaults = {
        "vision_config": SubConfigSpec(
            config_class=AutoConfig,
            model_type="siglip_vision_model",
            init_kwargs={
                "hidden_size": 1152,
                "intermediate_size": 4304,
                "patch_size": 14,
                "image_size": 384,
                "num_hidden_layers": 27,
                "num_attention_heads": 16,
                "hidden_act": "gelu_pytorch_tanh",
                "layer_norm_eps": 1e-6,
            },
        ),
        "text_config": SubConfigSpec(
            config_class=AutoConfig,
            model_type="qwen2",
            init_kwargs={
                "vocab_size": 151647,
                "hidden_size": 3584,
                "intermediate_size": 18944,
                "num_hidden_layers": 28,
                "num_attention_heads": 28,
                "num_key_value_heads": 4,
                "max_position_embeddings": 32768,
                "rms_norm_eps": 1e-6,
                "rope_parameters": {"rope_type": "default", "rope_theta": 1000000.0},
                "eos_token_id": 151645,
            },
        ),
    }

    vision_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    projector_type: str = "stc_connector_v35"
    projector_depth: int = 4
    projector_downsample: list[int] | tuple[int, ...] | None = None
    projector_readout_depth: int = 2
    region_encoder_type: str = "pooling"
    region_encoder_depth: int = 2
    region_token_num: int = 4
    vision_feature_layer: int = -2
    num_frames: int = 16
    image_aspect_ratio: Literal["square", "pad"] = "square"
    image_token_id: int | None = None
    video_token_id: int | None = None
    region_token_id: int | None = None
    frozen_modules: list[str] | None = None
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.projector_downsample is None:
            self.projector_downsample = [2, 2, 2]
        self.projector_downsample = [int(v) for v in self.projector_downsample]
        self._check_videorefer_fields()
        vocab_size = self.text_config.vocab_size
        if self.region_token_id is None:
            self.region_token_id = vocab_size - 1
        if self.image_token_id is None:
            self.image_token_id = vocab_size
        if self.video_token_id is None:
            self.video_token_id = vocab_size + 1

    def _check_videorefer_fields(self) -> None:
        """Raise a ValueError naming the first VideoRefer field that holds an impossible value.

        Run once, from `__post_init__`. It is deliberately not a `validate_*` method: `@strict` runs those (all of
        them, after `__post_init__`) and wraps their ValueError into a `StrictDataclassClassValidationError`, which
        is not a ValueError; as a `validate_*` method called here too it ran twice per construction. The
        inherited `validate_*` checks (`validate_architecture`, `validate_token_ids`, ...) are left to `@strict`.
        """
        if self.projector_type not in PROJECTOR_TYPES:
            raise ValueError(f"projector_type must be one of {sorted(PROJECTOR_TYPES)}, got {self.projector_type!r}.")
        if len(self.projector_downsample) != 3 or min(self.projector_downsample) < 1:
            raise ValueError(
                f"projector_downsample must be three positive ints (time, height, width), got {self.projector_downsample}."
            )
        if self.region_encoder_type != "pooling":
            raise ValueError(f"region_encoder_type must be 'pooling', got {self.region_encoder_type!r}.")
        for name in ("region_token_num", "region_encoder_depth", "projector_readout_depth", "num_frames"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.projector_depth < 0:
            raise ValueError(f"projector_depth must be >= 0, got {self.projector_depth}.")
        if self.frozen_modules is not None:
            if isinstance(self.frozen_modules, str) or not all(isinstance(name, str) for name in self.frozen_modules):
                raise ValueError(f"frozen_modules must be a list of part names, got {self.frozen_modules!r}.")
            unknown = sorted(set(self.frozen_modules) - set(FREEZABLE_MODULES))
            if unknown:
                raise ValueError(f"frozen_modules names unknown parts {unknown}; expected some of {list(FREEZABLE_MODULES)}.")
            self.frozen_modules = list(self.frozen_modules)
        layers = self.vision_config.num_hidden_layers
        if not -(layers + 1) <= self.vision_feature_layer <= layers:
            raise ValueError(
                f"vision_feature_layer {self.vision_feature_layer} is outside the {layers + 1} hidden states of the "
                "vision tower."
            )

    @property
    def vision_grid_size(self) -> int:
        """Side of the square grid of patch features of one frame (27 for SigLIP so400m at 384)."""
        return self.vision_config.image_size // self.vision_config.patch_size

    @classmethod
    def get_config_dict(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> tuple[dict, dict]:
        """Read `config.json`, converting the flat config of an original release into the native layout."""
        config_dict, unused_kwargs = super().get_config_dict(pretrained_model_name_or_path, **kwargs)
        if is_legacy_config_dict(config_dict):
            hub_kwargs = {k: kwargs[k] for k in _HUB_KWARGS if kwargs.get(k) is not None}
            config_dict = convert_legacy_config_dict(config_dict, pretrained_model_name_or_path, **hub_kwargs)
        return config_dict, unused_kwargs

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs) -> "VideoReferConfig":
        """Build the config from a native dict, or from the flat dict of an original release.

        For a legacy dict, a relative `mm_vision_tower` folder is resolved against `name_or_path` when given
        (as `AutoConfig.from_pretrained` does), else against the current directory.
        """
        if is_legacy_config_dict(config_dict):
            source = kwargs.get("name_or_path")
            hub_kwargs = {k: kwargs[k] for k in _HUB_KWARGS if kwargs.get(k) is not None}
            config_dict = convert_legacy_config_dict(config_dict, source, **hub_kwargs)
        return super().from_dict(config_dict, **kwargs)


class VideoReferLegacyConfig(VideoReferConfig):
    """The `videorefer_qwen2` model type of the original releases.

    Registered with `AutoConfig` so that `AutoConfig.from_pretrained("DAMO-NLP-SG/VideoRefer-7B")` works; what it
    returns is always a native [`VideoReferConfig`], converted on load.
    """

    model_type = LEGACY_MODEL_TYPE

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs) -> VideoReferConfig:
        return VideoReferConfig.from_dict(config_dict, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> VideoReferConfig:
        return VideoReferConfig.from_pretrained(pretrained_model_name_or_path, **kwargs)


__all__ = ["VideoReferConfig", "VideoReferLegacyConfig"]

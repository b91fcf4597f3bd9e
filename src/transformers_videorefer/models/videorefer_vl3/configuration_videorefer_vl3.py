# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoRefer-VideoLLaMA3 model configuration."""

import os
from typing import Any

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig
from transformers.configuration_utils import PreTrainedConfig, SubConfigSpec
from transformers.models.video_llama_3.configuration_video_llama_3 import (
    VideoLlama3VisionConfig,
)

from .conversion_videorefer_vl3 import (
    HUB_KWARGS,
    LEGACY_MODEL_TYPE,
    NATIVE_MODEL_TYPE,
    convert_legacy_config_dict,
    is_legacy_model_type,
    is_videorefer_vl3_legacy_dict,
)


@strict
class VideoReferVL3Config(PreTrainedConfig):
    r"""
    Configuration of a VideoRefer-VideoLLaMA3 model: VideoLLaMA3's SigLIP-NaViT vision encoder and `mlp2x_gelu`
    projector, a mask-pooling region encoder, and a Qwen2 language model.

    Args:
        vision_config (`dict` or `VideoLlama3VisionConfig`, *optional*):
            The vision encoder (VL3-SigLIP-NaViT: hidden 1152, 27 layers, 16 heads, patch 14 by default).
        text_config (`dict` or `Qwen2Config`, *optional*):
            The language model (Qwen2.5-7B sizes by default).
        image_token_id (`int`, *optional*, defaults to 151665):
            Id of `<image>`; `input_ids` hold one per merged visual token, replaced by projected features.
        region_token_id (`int`, *optional*, defaults to 151668):
            Id of `<REGION>`; `input_ids` hold one per region token, replaced by region features.
        projector_type (`str`, *optional*, defaults to `"mlp2x_gelu"`):
            The projector; only `mlp2x_gelu` (Linear-GELU-Linear) is defined.
        spatial_merge_size (`int`, *optional*, defaults to 2):
            Merge size of video frames (images use 1); the processor reads it.
        mm_max_length (`int`, *optional*, defaults to 16384):
            Visual-token budget of one sample (the processor's pixel budget is `mm_max_length * merge^2 * 196`).
        use_token_compression (`bool`, *optional*, defaults to `True`):
            Drop the `<image>` positions whose `compression_mask` is False (frame-difference compression).
        region_token_num (`int`, *optional*, defaults to 10):
            At most this many tokens per mask; masks covering more cells are reduced by k-means.
        region_encoder_depth (`int`, *optional*, defaults to 2):
            Linear layers of the region encoder's MLP (GELU between them).
        region_kmeans_iters (`int`, *optional*, defaults to 20):
            Lloyd iterations of the k-means reduction.
        region_kmeans_seed (`int`, *optional*, defaults to 0):
            Seed of the model's own generator for the k-means initial centroids (the original used the global RNG).
        tie_word_embeddings (`bool`, *optional*, defaults to `False`):
            Tie the LM head to the token embeddings (the 2B release).

    Example:

    ```python
    >>> from transformers_videorefer import VideoReferVL3Config
    >>> config = VideoReferVL3Config()
    >>> config.vision_config.model_type, config.text_config.model_type
    ('video_llama_3_vision', 'qwen2')
    ```
    """

    model_type = NATIVE_MODEL_TYPE
    sub_configs_defaults = {
        "vision_config": SubConfigSpec(
            config_class=VideoLlama3VisionConfig,
            init_kwargs={
                "hidden_size": 1152,
                "intermediate_size": 4304,
                "num_hidden_layers": 27,
                "num_attention_heads": 16,
                "patch_size": 14,
                "hidden_act": "gelu_pytorch_tanh",
                "layer_norm_eps": 1e-6,
            },
        ),
        "text_config": SubConfigSpec(
            config_class=AutoConfig,
            model_type="qwen2",
            init_kwargs={
                "vocab_size": 152064,
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
    image_token_id: int = 151665
    region_token_id: int = 151668
    projector_type: str = "mlp2x_gelu"
    spatial_merge_size: int = 2
    mm_max_length: int = 16384
    use_token_compression: bool = True
    region_token_num: int = 10
    region_encoder_depth: int = 2
    region_kmeans_iters: int = 20
    region_kmeans_seed: int = 0
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if not self.tie_word_embeddings and getattr(self.text_config, "tie_word_embeddings", False):
            self.tie_word_embeddings = True
        self._check_vl3_fields()

    def _check_vl3_fields(self) -> None:
        """Raise a ValueError naming the first field that holds an impossible value (run from `__post_init__`)."""
        if self.projector_type != "mlp2x_gelu":
            raise ValueError(f"projector_type must be 'mlp2x_gelu', got {self.projector_type!r}.")
        for name in ("spatial_merge_size", "region_token_num", "region_encoder_depth", "mm_max_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if self.region_kmeans_iters < 0:
            raise ValueError(f"region_kmeans_iters must be >= 0, got {self.region_kmeans_iters}.")
        if self.image_token_id == self.region_token_id:
            raise ValueError(
                f"image_token_id and region_token_id must differ, both are {self.image_token_id}."
            )

    @classmethod
    def get_config_dict(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> tuple[dict, dict]:
        """Read `config.json`, converting the flat config of an original release into the native layout."""
        config_dict, unused_kwargs = super().get_config_dict(pretrained_model_name_or_path, **kwargs)
        if is_videorefer_vl3_legacy_dict(config_dict):
            hub_kwargs = {k: kwargs[k] for k in HUB_KWARGS if kwargs.get(k) is not None}
            config_dict = convert_legacy_config_dict(config_dict, pretrained_model_name_or_path, **hub_kwargs)
        return config_dict, unused_kwargs

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs) -> "VideoReferVL3Config":
        """Build the config from a native dict, or from the flat dict of an original release.

        For a flat dict, a relative `vision_encoder` folder is resolved against `name_or_path` when given (as
        `AutoConfig.from_pretrained` does), else against the current directory.

        Raises:
            ValueError: the dict has the original model type but no region encoder (a plain VideoLLaMA3 config).
        """
        if is_legacy_model_type(config_dict):
            _refuse_plain_videollama3(config_dict)
            source = kwargs.get("name_or_path")
            hub_kwargs = {k: kwargs[k] for k in HUB_KWARGS if kwargs.get(k) is not None}
            config_dict = convert_legacy_config_dict(config_dict, source, **hub_kwargs)
        return super().from_dict(config_dict, **kwargs)


def _refuse_plain_videollama3(config_dict: dict[str, Any]) -> None:
    if not is_videorefer_vl3_legacy_dict(config_dict):
        remote = "auto_map" in config_dict
        raise ValueError(
            "This is a plain VideoLLaMA3 checkpoint (model_type 'videollama3_qwen2' without `region_token_index`), "
            "not VideoRefer-VideoLLaMA3: transformers_videorefer does not load it. "
            + (
                "Load it with trust_remote_code=True to use its own code."
                if remote
                else "Load it with the code it was released with."
            )
        )


class VideoReferVL3LegacyConfig(VideoReferVL3Config):
    """The `videollama3_qwen2` model type of the original releases.

    Registered with `AutoConfig` so that `AutoConfig.from_pretrained("DAMO-NLP-SG/VideoRefer-VideoLLaMA3-7B")`
    works; what it returns is always a native [`VideoReferVL3Config`], converted on load. Plain VideoLLaMA3
    checkpoints share this model type: with `trust_remote_code=True` their own remote code is used (see
    `__module__` below); without it, loading them raises a ValueError saying so.
    """

    # transformers prefers a class registered by a package over a checkpoint's remote code, even when the user
    # trusts that code ("explicit local code", decided by the class's module not being transformers'). This class
    # only dispatches a type name that plain VideoLLaMA3 checkpoints share; it must yield to their remote code as
    # transformers' own classes do, so it declares a transformers module. It is never instantiated nor saved.
    __module__ = "transformers.models.auto.configuration_auto"

    model_type = LEGACY_MODEL_TYPE

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs) -> VideoReferVL3Config:
        return VideoReferVL3Config.from_dict(config_dict, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> VideoReferVL3Config:
        return VideoReferVL3Config.from_pretrained(pretrained_model_name_or_path, **kwargs)


__all__ = ["VideoReferVL3Config", "VideoReferVL3LegacyConfig"]

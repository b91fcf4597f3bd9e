# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Loading the released (legacy) VideoRefer checkpoints: their configuration and their weight names.

The released repositories (`DAMO-NLP-SG/VideoRefer-7B`, `-7B-stage2`, `-7B-stage2.5`) ship a flat Qwen2
configuration with `model_type: "videorefer_qwen2"` and `mm_*` fields. The vision tower is only *named* by
`mm_vision_tower`: a Hub repository, or a folder (absolute, or relative to the checkpoint). This module turns
such a dictionary into the dictionary of the native [`VideoReferConfig`].
"""

import copy
import json
import os
import re
from typing import Any

from transformers.conversion_mapping import register_checkpoint_conversion_mapping
from transformers.core_model_loading import WeightRenaming

LEGACY_MODEL_TYPE = "videorefer_qwen2"
NATIVE_MODEL_TYPE = "videorefer"

# Weight names of the original checkpoints -> native names. Keys already native match none of the patterns.
LEGACY_WEIGHT_RENAMES = [
    WeightRenaming(r"^model\.vision_tower\.vision_tower\.vision_model\.", "model.vision_tower."),
    WeightRenaming(r"^model\.mm_projector\.", "model.multi_modal_projector."),
    WeightRenaming(r"^model\.embed_tokens\.", "model.language_model.embed_tokens."),
    WeightRenaming(r"^model\.layers\.", "model.language_model.layers."),
    WeightRenaming(r"^model\.norm\.", "model.language_model.norm."),
]


def register_legacy_weight_names() -> None:
    """Teach `from_pretrained` the original weight names, for both model types (native and legacy)."""
    for model_type in (NATIVE_MODEL_TYPE, LEGACY_MODEL_TYPE):
        register_checkpoint_conversion_mapping(model_type, list(LEGACY_WEIGHT_RENAMES), overwrite=True)

# SigLIP vision towers whose configuration is known without a download. The values are the fields of the
# `vision_config` section of the public `config.json` of each repository.
KNOWN_VISION_TOWERS: dict[str, dict[str, Any]] = {
    "google/siglip-so400m-patch14-384": {
        "model_type": "siglip_vision_model",
        "hidden_size": 1152,
        "intermediate_size": 4304,
        "num_hidden_layers": 27,
        "num_attention_heads": 16,
        "num_channels": 3,
        "image_size": 384,
        "patch_size": 14,
        "hidden_act": "gelu_pytorch_tanh",
        "layer_norm_eps": 1e-6,
        "attention_dropout": 0.0,
    },
}

# Preprocessing of the known towers (the public `preprocessor_config.json` of each repository).
KNOWN_VISION_PREPROCESSORS: dict[str, dict[str, Any]] = {
    "google/siglip-so400m-patch14-384": {
        "image_processor_type": "SiglipImageProcessor",
        "do_resize": True,
        "size": {"height": 384, "width": 384},
        "resample": 3,
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
    },
}

# Fields of the legacy config that are not Qwen2 fields, and where they go in the native config.
_LEGACY_TO_NATIVE = {
    "mm_projector_type": "projector_type",
    "mm_vision_select_layer": "vision_feature_layer",
    "mm_region_encoder_type": "region_encoder_type",
    "num_frames": "num_frames",
    "image_aspect_ratio": "image_aspect_ratio",
}
_LEGACY_DROPPED = {
    "mm_vision_tower",
    "mm_hidden_size",
    "mm_vision_select_feature",
    "use_mm_proj",
    "tokenizer_model_max_length",
    "tokenizer_padding_side",
    "freeze_mm_mlp_adapter",
    "tune_mm_mlp_adapter",
    "tune_region_encoder",
    "mm_use_im_start_end",
    "mm_use_im_patch_token",
    "image_grid",
    "architectures",
    "model_type",
    "transformers_version",
    "_name_or_path",
    "auto_map",
}


def is_legacy_config_dict(config_dict: dict[str, Any]) -> bool:
    """Whether `config_dict` is the flat configuration of an original VideoRefer checkpoint."""
    return config_dict.get("model_type") == LEGACY_MODEL_TYPE


def _read_json(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def locate_vision_tower_folder(vision_tower: str, source: str | os.PathLike | None) -> str | None:
    """Return the local folder that `mm_vision_tower` names, or None if it names no local folder.

    An absolute path is taken as it is; a relative one is looked up beside the checkpoint (`source`, when that is
    a local folder), then in the current directory.
    """
    candidates = []
    if os.path.isabs(vision_tower):
        candidates.append(vision_tower)
    else:
        if source is not None and os.path.isdir(str(source)):
            candidates.append(os.path.join(str(source), vision_tower))
        candidates.append(vision_tower)
    for candidate in candidates:
        if os.path.isfile(os.path.join(candidate, "config.json")):
            return os.path.normpath(candidate)
    return None


def _vision_config_from_dict(config_dict: dict[str, Any], where: str) -> dict[str, Any]:
    """Take the SigLIP *vision* part of a config that may be a full SigLIP config or a vision-only one."""
    if config_dict.get("model_type") == "siglip" or "vision_config" in config_dict:
        config_dict = dict(config_dict.get("vision_config") or {})
    config_dict = {k: v for k, v in config_dict.items() if k not in ("architectures", "transformers_version")}
    model_type = config_dict.get("model_type", "siglip_vision_model")
    if model_type != "siglip_vision_model":
        raise ValueError(
            f"The vision tower at {where} has model_type {model_type!r}; VideoRefer expects a SigLIP vision tower "
            "(model_type 'siglip_vision_model' or 'siglip')."
        )
    config_dict["model_type"] = "siglip_vision_model"
    return config_dict


def _is_relative_folder_name(vision_tower: str) -> bool:
    return vision_tower.startswith("./") or vision_tower.startswith("../")


def resolve_vision_config(
    vision_tower: str, source: str | os.PathLike | None = None, **hub_kwargs: Any
) -> dict[str, Any]:
    """Return the SigLIP vision configuration (as a dict) named by a legacy `mm_vision_tower`.

    Args:
        vision_tower: the value of `mm_vision_tower`: a known Hub name, a folder, or any Hub repository.
        source: the checkpoint folder or Hub repository the legacy config came from; relative folders are
            resolved against it.
        hub_kwargs: `cache_dir`, `token`, `revision`, `local_files_only` for Hub downloads.
    """
    if not isinstance(vision_tower, str) or not vision_tower:
        raise ValueError(f"`mm_vision_tower` must be a non-empty string, got {vision_tower!r}.")
    if "clip" in vision_tower.lower() and "siglip" not in vision_tower.lower():
        raise ValueError(
            f"`mm_vision_tower` is {vision_tower!r}, a CLIP tower; this package implements VideoRefer with a SigLIP "
            "vision tower only."
        )
    if vision_tower in KNOWN_VISION_TOWERS:
        return copy.deepcopy(KNOWN_VISION_TOWERS[vision_tower])
    folder = locate_vision_tower_folder(vision_tower, source)
    if folder is not None:
        return _vision_config_from_dict(_read_json(os.path.join(folder, "config.json")), folder)
    hub_kwargs = {k: v for k, v in hub_kwargs.items() if k in ("cache_dir", "token", "revision", "local_files_only")}
    source_is_hub_repo = source is not None and not os.path.isdir(str(source))
    if _is_relative_folder_name(vision_tower):
        if not source_is_hub_repo:
            raise FileNotFoundError(
                f"`mm_vision_tower` names the folder {vision_tower!r}, which holds no config.json beside the "
                f"checkpoint ({source}) nor in the current directory."
            )
        from huggingface_hub import hf_hub_download

        subfolder = os.path.normpath(vision_tower).replace(os.sep, "/")
        path = hf_hub_download(str(source), "config.json", subfolder=subfolder, **hub_kwargs)
        return _vision_config_from_dict(_read_json(path), f"{source}/{subfolder}")
    from huggingface_hub import hf_hub_download

    path = hf_hub_download(vision_tower, "config.json", **hub_kwargs)
    return _vision_config_from_dict(_read_json(path), vision_tower)


def convert_legacy_config_dict(
    config_dict: dict[str, Any], source: str | os.PathLike | None = None, **hub_kwargs: Any
) -> dict[str, Any]:
    """Convert the flat `videorefer_qwen2` config of a released checkpoint into a native `videorefer` dict.

    The Qwen2 fields become `text_config`; the vision tower named by `mm_vision_tower` becomes `vision_config`;
    `mm_*` settings become the connector / region-encoder fields. The `<region>` token is the last token of the
    released vocabularies (the original appends it when it builds the model), so `region_token_id` is
    `vocab_size - 1` unless the dict says otherwise; the media placeholders get the two ids after the vocabulary.
    """
    if not is_legacy_config_dict(config_dict):
        raise ValueError(f"Not a legacy VideoRefer config: model_type is {config_dict.get('model_type')!r}.")
    vision_tower = config_dict.get("mm_vision_tower")
    if vision_tower is None:
        raise ValueError("The legacy VideoRefer config has no `mm_vision_tower`: cannot tell which vision tower to build.")
    vision_config = resolve_vision_config(vision_tower, source, **hub_kwargs)
    if "mm_hidden_size" in config_dict and config_dict["mm_hidden_size"] != vision_config.get("hidden_size"):
        raise ValueError(
            f"`mm_hidden_size` ({config_dict['mm_hidden_size']}) differs from the hidden size of the vision tower "
            f"{vision_tower!r} ({vision_config.get('hidden_size')})."
        )
    select_feature = config_dict.get("mm_vision_select_feature", "patch")
    if select_feature != "patch":
        raise ValueError(f"`mm_vision_select_feature` {select_feature!r} is not supported; SigLIP towers use 'patch'.")

    native: dict[str, Any] = {"model_type": "videorefer", "vision_config": vision_config}
    text_config: dict[str, Any] = {"model_type": "qwen2"}
    for key, value in config_dict.items():
        if key in _LEGACY_TO_NATIVE:
            native[_LEGACY_TO_NATIVE[key]] = value
        elif key in _LEGACY_DROPPED or re.match(r"^(mm_|pretrain_|tune_|freeze_)", key):
            continue
        elif key in ("torch_dtype", "dtype"):
            native["dtype"] = value
            text_config["dtype"] = value
        elif key in ("region_token_id", "image_token_id", "video_token_id"):
            native[key] = value
        else:
            text_config[key] = value
    native["text_config"] = text_config
    vocab_size = text_config.get("vocab_size")
    if vocab_size is not None:
        native.setdefault("region_token_id", vocab_size - 1)
    native["tie_word_embeddings"] = bool(text_config.get("tie_word_embeddings", False))
    return native

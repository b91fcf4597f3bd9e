# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Loading the released VideoRefer-VideoLLaMA3 checkpoints: their flat configuration and their weight names.

The releases (`DAMO-NLP-SG/VideoRefer-VideoLLaMA3-7B`, `-2B`) ship a flat Qwen2 configuration with
`model_type: "videollama3_qwen2"`, the multimodal fields of the original training script, and `vision_encoder`
naming a folder or Hub repository whose `config.json` describes the vision encoder. This module turns such a
dictionary into the dictionary of the native [`VideoReferVL3Config`] and teaches `from_pretrained` the original
weight names.

A plain VideoLLaMA3 checkpoint uses the same `model_type` but has no region encoder (no `region_token_index`);
[`is_videorefer_vl3_legacy_dict`] tells the two apart.
"""

import copy
import json
import os
import warnings
from typing import Any

from transformers.conversion_mapping import register_checkpoint_conversion_mapping
from transformers.core_model_loading import WeightRenaming

LEGACY_MODEL_TYPE = "videollama3_qwen2"
NATIVE_MODEL_TYPE = "videorefer_vl3"
HUB_KWARGS = ("cache_dir", "token", "revision", "local_files_only")

# Original weight names -> native names. Keys already native match none of the patterns.
LEGACY_WEIGHT_RENAMES = [
    WeightRenaming(r"^model\.vision_encoder\.vision_encoder\.vision_model\.", "model.vision_model."),
    WeightRenaming(r"^model\.mm_projector\.", "model.projector."),
    WeightRenaming(r"^model\.region_encoder\.feat_linear\.", "model.region_encoder.readout."),
    WeightRenaming(r"^model\.embed_tokens\.", "model.language_model.embed_tokens."),
    WeightRenaming(r"^model\.layers\.", "model.language_model.layers."),
    WeightRenaming(r"^model\.norm\.", "model.language_model.norm."),
]


def register_legacy_weight_names() -> None:
    """Teach `from_pretrained` the original weight names, for both model types (native and legacy)."""
    for model_type in (NATIVE_MODEL_TYPE, LEGACY_MODEL_TYPE):
        register_checkpoint_conversion_mapping(model_type, list(LEGACY_WEIGHT_RENAMES), overwrite=True)


# Fields of the vision encoder's config.json that VideoLlama3VisionConfig takes.
_VISION_FIELDS = (
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_channels",
    "patch_size",
    "hidden_act",
    "layer_norm_eps",
    "attention_dropout",
    "initializer_range",
)
# The released vision encoder, VL3-SigLIP-NaViT (its public config.json). The releases name it by a path of the
# authors' machine; its weights are in the VideoRefer checkpoint itself, only this architecture is needed.
KNOWN_VISION_ENCODER: dict[str, Any] = {
    "hidden_size": 1152,
    "intermediate_size": 4304,
    "num_hidden_layers": 27,
    "num_attention_heads": 16,
    "num_channels": 3,
    "patch_size": 14,
    "hidden_act": "gelu_pytorch_tanh",
    "layer_norm_eps": 1e-6,
    "attention_dropout": 0.0,
    "model_type": "videollama3_vision_encoder",
}
_VISION_MODEL_TYPES = ("videollama3_vision_encoder", "video_llama_3_vision", "damovl_vision_encoder")

# Multimodal fields of the flat config and the native field each becomes.
_LEGACY_TO_NATIVE = {
    "image_token_index": "image_token_id",
    "region_token_index": "region_token_id",
    "mm_projector_type": "projector_type",
    "spatial_merge_size": "spatial_merge_size",
    "mm_max_length": "mm_max_length",
    "use_token_compression": "use_token_compression",
}
# Fields of the flat config that inference does not read (training bookkeeping) or that are re-derived.
_LEGACY_DROPPED = {
    "vision_encoder",
    "mm_vision_encoder",
    "mm_hidden_size",
    "mm_attn_implementation",
    "mm_vision_select_layer",
    "mm_vision_select_feature",
    "image_aspect_ratio",
    "image_size",
    "image_token_length",
    "max_frames",
    "is_alignment",
    "use_mm_proj",
    "tokenizer_model_max_length",
    "tokenizer_padding_side",
    "architectures",
    "model_type",
    "transformers_version",
    "_name_or_path",
    "auto_map",
}


def is_legacy_model_type(config_dict: dict[str, Any]) -> bool:
    """Whether `config_dict` has the model type of the original VideoLLaMA3 family (`videollama3_qwen2`)."""
    return config_dict.get("model_type") == LEGACY_MODEL_TYPE


def is_videorefer_vl3_legacy_dict(config_dict: dict[str, Any]) -> bool:
    """Whether `config_dict` is the flat config of an original VideoRefer-VideoLLaMA3 release.

    Plain VideoLLaMA3 checkpoints share the model type but have no region encoder: no `region_token_index`.
    """
    return is_legacy_model_type(config_dict) and config_dict.get("region_token_index") is not None


def _read_json(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def locate_vision_encoder_folder(vision_encoder: str, source: str | os.PathLike | None) -> str | None:
    """Return the local folder that `vision_encoder` names, or None if it names no local folder.

    An absolute path is taken as it is; a relative one is looked up beside the checkpoint (`source`, when that is a
    local folder) first, then in the current directory.
    """
    candidates = []
    if os.path.isabs(vision_encoder):
        candidates.append(vision_encoder)
    else:
        if source is not None and os.path.isdir(str(source)):
            candidates.append(os.path.join(str(source), vision_encoder))
        candidates.append(vision_encoder)
    for candidate in candidates:
        if os.path.isfile(os.path.join(candidate, "config.json")):
            return os.path.normpath(candidate)
    return None


def _is_relative_folder_name(name: str) -> bool:
    return name.startswith(("./", "../"))


def read_vision_encoder_file(
    vision_encoder: str, filename: str, source: str | os.PathLike | None = None, **hub_kwargs: Any
) -> dict[str, Any]:
    """Read `filename` (`config.json` or `preprocessor_config.json`) of the vision encoder `vision_encoder` names.

    Args:
        vision_encoder: the `vision_encoder` field: a folder (absolute, or relative to the checkpoint) or a Hub id.
        filename: the JSON file to read.
        source: the checkpoint folder or Hub repository the flat config came from.
        hub_kwargs: `cache_dir`, `token`, `revision`, `local_files_only` for Hub downloads.

    Raises:
        ValueError: `vision_encoder` is not a non-empty string.
        FileNotFoundError: a relative folder that exists neither beside a local checkpoint nor in the CWD.
    """
    if not isinstance(vision_encoder, str) or not vision_encoder:
        raise ValueError(f"`vision_encoder` must be a non-empty string, got {vision_encoder!r}.")
    folder = locate_vision_encoder_folder(vision_encoder, source)
    if folder is not None:
        path = os.path.join(folder, filename)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"The vision encoder folder {folder} holds no {filename}.")
        return _read_json(path)
    hub_kwargs = {k: v for k, v in hub_kwargs.items() if k in HUB_KWARGS}
    source_is_hub_repo = source is not None and not os.path.isdir(str(source))
    from huggingface_hub import hf_hub_download

    if _is_relative_folder_name(vision_encoder) or os.path.isabs(vision_encoder):
        if not source_is_hub_repo or os.path.isabs(vision_encoder):
            raise FileNotFoundError(
                f"`vision_encoder` names the folder {vision_encoder!r}, which holds no config.json beside the "
                f"checkpoint ({source}) nor in the current directory."
            )
        subfolder = os.path.normpath(vision_encoder).replace(os.sep, "/")
        return _read_json(hf_hub_download(str(source), filename, subfolder=subfolder, **hub_kwargs))
    return _read_json(hf_hub_download(vision_encoder, filename, **hub_kwargs))


def vision_config_from_encoder_dict(encoder_dict: dict[str, Any], where: str) -> dict[str, Any]:
    """The `VideoLlama3VisionConfig` dict for the released vision encoder's `config.json` (`encoder_dict`)."""
    model_type = encoder_dict.get("model_type", "videollama3_vision_encoder")
    if model_type not in _VISION_MODEL_TYPES:
        raise ValueError(
            f"The vision encoder at {where} has model_type {model_type!r}; VideoRefer-VideoLLaMA3 expects the "
            f"VideoLLaMA3 SigLIP-NaViT encoder (model_type one of {list(_VISION_MODEL_TYPES)})."
        )
    vision = {k: encoder_dict[k] for k in _VISION_FIELDS if k in encoder_dict}
    vision["model_type"] = "video_llama_3_vision"
    return vision


def convert_legacy_config_dict(
    config_dict: dict[str, Any], source: str | os.PathLike | None = None, **hub_kwargs: Any
) -> dict[str, Any]:
    """Convert the flat `videollama3_qwen2` config of a VideoRefer-VideoLLaMA3 release into a native dict.

    The Qwen2 fields become `text_config`; the vision encoder named by `vision_encoder` (its `config.json`, read
    from a folder resolved against `source`, or from the Hub) becomes `vision_config`; the multimodal fields become
    the native ones (`image_token_index` -> `image_token_id`, `region_token_index` -> `region_token_id`, ...).

    Raises:
        ValueError: not a VideoRefer-VideoLLaMA3 config (e.g. a plain VideoLLaMA3 one), no `vision_encoder`, or a
            `mm_hidden_size` that differs from the vision encoder's hidden size.
    """
    if not is_videorefer_vl3_legacy_dict(config_dict):
        raise ValueError(
            f"Not a VideoRefer-VideoLLaMA3 config: model_type is {config_dict.get('model_type')!r} and "
            f"region_token_index is {config_dict.get('region_token_index')!r} (expected 'videollama3_qwen2' and "
            "the id of <REGION>)."
        )
    vision_encoder = config_dict.get("vision_encoder") or config_dict.get("mm_vision_encoder")
    if vision_encoder is None:
        raise ValueError(
            "The VideoRefer-VideoLLaMA3 config has no `vision_encoder`: cannot tell which vision encoder to build."
        )
    mm_hidden = config_dict.get("mm_hidden_size")
    try:
        encoder_dict = read_vision_encoder_file(vision_encoder, "config.json", source, **hub_kwargs)
    except OSError:  # FileNotFoundError, or the Hub's errors (all OSError) when the id cannot be fetched
        if mm_hidden != KNOWN_VISION_ENCODER["hidden_size"]:
            raise
        warnings.warn(
            f"Could not read config.json of the vision encoder {vision_encoder!r} (named by the checkpoint's "
            "config.json); mm_hidden_size is 1152, so using the released VL3-SigLIP-NaViT architecture (its weights "
            "are in the checkpoint).",
            UserWarning,
            stacklevel=2,
        )
        encoder_dict = KNOWN_VISION_ENCODER
    vision_config = vision_config_from_encoder_dict(encoder_dict, str(vision_encoder))
    if mm_hidden is not None and mm_hidden != vision_config.get("hidden_size"):
        raise ValueError(
            f"`mm_hidden_size` ({mm_hidden}) differs from the hidden size of the vision encoder {vision_encoder!r} "
            f"({vision_config.get('hidden_size')})."
        )

    native: dict[str, Any] = {"model_type": NATIVE_MODEL_TYPE, "vision_config": vision_config}
    text_config: dict[str, Any] = {"model_type": "qwen2"}
    for key, value in config_dict.items():
        if key in _LEGACY_TO_NATIVE:
            native[_LEGACY_TO_NATIVE[key]] = value
        elif key in _LEGACY_DROPPED or key.endswith("_lr"):
            continue
        elif key in ("torch_dtype", "dtype"):
            native["dtype"] = value
            text_config["dtype"] = value
        else:
            text_config[key] = value
    native["text_config"] = text_config
    native["tie_word_embeddings"] = bool(text_config.get("tie_word_embeddings", False))
    return copy.deepcopy(native)

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Labels of a VideoRefer-VideoLLaMA3 batch compressed as the model compresses its sequence.

VL3's base model removes the `<image>` positions that token compression drops (`compression_mask`) and re-pads
the batch, so its hidden states cover the compressed sequence. `VideoReferVL3ForConditionalGeneration.forward`
compresses `labels` itself; TRL's fused LM head does not (it calls the base model and scores its hidden states
against the labels it was given), so the trainer hands it labels compressed here. The dropped positions are
`<image>` placeholders, whose labels are -100: the supervised tokens are the same before and after.
"""

from typing import Any

import torch
from torch import nn

from ..models.videorefer_vl3.modeling_videorefer_vl3_compression import (
    compress_sequences,
    is_left_padded,
    sequence_keep_mask,
)

IGNORE_INDEX = -100


def _config(model: nn.Module) -> Any:
    """The config of `model`, through PEFT / DDP wrappers."""
    for candidate in (model, getattr(model, "module", None), getattr(model, "base_model", None)):
        config = getattr(candidate, "config", None)
        if config is not None:
            return config
    return None


def compress_labels_like_model(model: nn.Module, inputs: dict[str, Any]) -> torch.LongTensor:
    """`inputs["labels"]` `(batch, seq_len)` -> `(batch, compressed_len)` as `model` compresses its sequence.

    Unchanged for a model without token compression (VideoRefer-7B), for a batch without `compression_mask`, or when
    every visual token is kept.
    """
    labels = inputs["labels"]
    config = _config(model)
    compression_mask = inputs.get("compression_mask")
    if (
        getattr(config, "model_type", None) != "videorefer_vl3"
        or not getattr(config, "use_token_compression", False)
        or compression_mask is None
        or bool(compression_mask.all())
    ):
        return labels
    input_ids, attention_mask = inputs["input_ids"], inputs.get("attention_mask")
    keep = sequence_keep_mask(input_ids, config.image_token_id, compression_mask)
    left = is_left_padded(attention_mask)
    if attention_mask is not None:
        keep = keep & attention_mask.bool()
    return compress_sequences(keep, {"labels": labels}, {"labels": IGNORE_INDEX}, left)["labels"]

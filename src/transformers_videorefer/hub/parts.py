# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""A stage-2 starting point from parts: a Qwen2 instruct model, a SigLIP tower and a stage-1 connector."""

import os
from typing import Any

import torch
from accelerate import init_empty_weights
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, SiglipVisionModel

from ..models.videorefer.configuration_videorefer import VideoReferConfig
from ..models.videorefer.conversion_videorefer import resolve_vision_config
from ..models.videorefer.modeling_videorefer import VideoReferForConditionalGeneration
from ..models.videorefer.modeling_videorefer_connector import build_connector
from ..models.videorefer.modeling_videorefer_region import VideoReferRegionEncoder
from ..models.videorefer.processing_videorefer import (
    REGION_TOKEN,
    VideoReferProcessor,
    image_processor_for_vision_tower,
)
from .state_dict_files import load_prefixed_state_dict

CONNECTOR_PREFIXES = ("model.mm_projector.", "mm_projector.")


def load_connector_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The connector weights of a VideoLLaMA2.1-style `mm_projector.bin`, with the `model.mm_projector.` prefix
    removed. The file is a pickle: it is read with `weights_only=True`, so it cannot run code."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "mm_projector.bin")
    return load_prefixed_state_dict(path, CONNECTOR_PREFIXES)


def build_from_parts(
    language_model: str,
    vision_tower: str,
    connector: str | None = None,
    projector_type: str = "stc_connector_v35",
    num_frames: int = 16,
    dtype: torch.dtype = torch.bfloat16,
    **config_kwargs: Any,
) -> tuple[VideoReferForConditionalGeneration, VideoReferProcessor]:
    """Assemble a VideoRefer model for stage 2.

    Args:
        language_model: a Qwen2 causal LM (Hub name or folder), e.g. `Qwen/Qwen2-7B-Instruct`.
        vision_tower: a SigLIP checkpoint, e.g. `google/siglip-so400m-patch14-384`.
        connector: a stage-1 `mm_projector.bin` (VideoLLaMA2.1 layout) or the folder holding it; None leaves the
            connector randomly initialised (for stage 1).
        projector_type, num_frames, config_kwargs: settings of the new `VideoReferConfig`.

    `<region>` is added to the tokenizer (as the last token) and the embeddings are resized; the region encoder is
    newly initialised.
    """
    tokenizer = AutoTokenizer.from_pretrained(language_model)
    if REGION_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([REGION_TOKEN], special_tokens=True)
    text_config = AutoConfig.from_pretrained(language_model)
    vision_config = resolve_vision_config(vision_tower)
    config = VideoReferConfig(
        text_config=text_config.to_dict(),
        vision_config=vision_config,
        projector_type=projector_type,
        num_frames=num_frames,
        **config_kwargs,
    )
    llm = AutoModelForCausalLM.from_pretrained(language_model, dtype=dtype)
    llm.resize_token_embeddings(len(tokenizer))
    siglip = SiglipVisionModel.from_pretrained(vision_tower, dtype=dtype)

    vocab_size = llm.get_input_embeddings().weight.shape[0]
    config.text_config.vocab_size = vocab_size
    config.region_token_id = tokenizer.convert_tokens_to_ids(REGION_TOKEN)
    config.image_token_id, config.video_token_id = vocab_size, vocab_size + 1
    with init_empty_weights():
        model = VideoReferForConditionalGeneration(config)
    model.model.language_model = llm.model
    model.lm_head = llm.lm_head
    model.model.vision_tower = siglip
    model.model.multi_modal_projector = build_connector(config).to(dtype)
    if connector is not None:
        model.model.multi_modal_projector.load_state_dict(load_connector_weights(connector), strict=True)
    model.model.region_encoder = VideoReferRegionEncoder(config).to(dtype)
    leftover = [name for name, tensor in model.state_dict().items() if tensor.is_meta]
    if leftover:
        raise RuntimeError(f"Parts left uninitialised while building the model: {leftover[:5]}")
    image_processor = image_processor_for_vision_tower(vision_tower, vision_config["image_size"])
    processor = VideoReferProcessor(
        image_processor=image_processor, tokenizer=tokenizer, **VideoReferProcessor.settings_from_config(config)
    )
    return model, processor


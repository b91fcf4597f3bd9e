# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""LoRA / QLoRA on VideoRefer's language model through PEFT, the multimodal parts trained in full."""

from collections.abc import Mapping

from peft import LoraConfig

from .stages import CONNECTOR, PART_NAMES, REGION_ENCODER, Stage

# Every linear layer of the Qwen2 decoder layers, and nothing in the vision tower or the connector.
LANGUAGE_MODEL_LINEAR_LAYERS = (
    r".*language_model\.layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|o_proj)|mlp\.(gate_proj|up_proj|down_proj))"
)


def language_model_lora_config(
    r: int, alpha: int, dropout: float, stage: Stage, part_names: Mapping[str, str] | None = None
) -> LoraConfig:
    """LoRA adapters on the language model's linear layers; the stage's multimodal modules (connector and/or
    region encoder) are trained in full and saved with the adapter (`modules_to_save`).

    `part_names` maps the stage's part names to the model's (`stages.model_part_names(model)`; VideoRefer-7B's by
    default, VL3's connector is `projector`)."""
    names = PART_NAMES if part_names is None else part_names
    if stage.trainable is not None:
        full = [names[part] for part in stage.trainable if part in (CONNECTOR, REGION_ENCODER)]
    else:
        full = [names[CONNECTOR], names[REGION_ENCODER]]
    return LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=LANGUAGE_MODEL_LINEAR_LAYERS,
        modules_to_save=full,
        task_type="CAUSAL_LM",
    )

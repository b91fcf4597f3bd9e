# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""TRL's SFTTrainer set up for VideoRefer: our collator, stage freezing, an optional connector learning rate."""

import logging
import time
from typing import Any

import torch
from datasets import Dataset
from trl import SFTConfig, SFTTrainer

from ..models.videorefer.processing_videorefer import IGNORE_INDEX, VideoReferProcessor
from .collator import VideoReferDataCollator
from .collator_vl3 import collator_for
from .label_compression import compress_labels_like_model
from .stages import Stage, apply_stage, is_multimodal_parameter

logger = logging.getLogger(__name__)


class VideoReferSFTTrainer(SFTTrainer):
    """`SFTTrainer` with a separate learning rate for the connector and the region encoder.

    Each training log after the first also holds `tokens_per_second_per_device`: the language-model tokens (visual
    tokens included, padding excluded) of all processes since the previous log, per second of wall time, divided by
    the number of processes. On a GPU, `peak_memory_gb` is this process's peak allocated memory so far.

    Args:
        projector_lr: learning rate of the connector / region encoder parameters (None: the main learning rate).
        Everything else as `trl.SFTTrainer`.
    """

    def __init__(self, *args: Any, projector_lr: float | None = None, **kwargs: Any):
        self.projector_lr = projector_lr
        self._previous_train_log: tuple[float, int] | None = None
        super().__init__(*args, **kwargs)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if self.model.training and "loss" in logs:
            now, tokens = time.perf_counter(), self._total_train_tokens
            if self._previous_train_log is not None:
                elapsed = now - self._previous_train_log[0]
                new_tokens = tokens - self._previous_train_log[1]
                if elapsed > 0:
                    logs["tokens_per_second_per_device"] = round(new_tokens / elapsed / self.args.world_size, 1)
            self._previous_train_log = (now, tokens)
            if torch.cuda.is_available():
                logs["peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 1e9, 2)
        super().log(logs, start_time)

    def compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch=None):
        """`SFTTrainer.compute_loss`, except for a batch with no supervised token (every sample skipped as invalid,
        or the answers cut away): its loss is a zero that still flows through the model, so that every process
        runs the same backward and no 0/0 turns the weights into NaN."""
        labels = inputs.get("labels")
        if labels is not None:
            # VL3 drops <image> positions inside its base model; TRL's fused LM head scores the base model's hidden
            # states against `labels`, so they are compressed here the same way.
            inputs = {**inputs, "labels": compress_labels_like_model(model, inputs)}
        if labels is not None and not bool((labels != IGNORE_INDEX).any()):
            outputs = model(**{key: value for key, value in inputs.items() if key != "labels"})
            loss = outputs.logits.float().sum() * 0.0
            return (loss, outputs) if return_outputs else loss
        return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)

    def create_optimizer(self, model: torch.nn.Module | None = None) -> torch.optim.Optimizer:
        if self.projector_lr is None or self.optimizer is not None:
            return super().create_optimizer(model)
        opt_model = self.model if model is None else model
        decay = set(self.get_decay_parameter_names(opt_model))
        groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
        for name, parameter in opt_model.named_parameters():
            if parameter.requires_grad:
                groups.setdefault((name in decay, is_multimodal_parameter(name)), []).append(parameter)
        parameter_groups = []
        for (decays, multimodal), params in groups.items():
            group: dict[str, Any] = {"params": params, "weight_decay": self.args.weight_decay if decays else 0.0}
            if multimodal:
                group["lr"] = self.projector_lr
            parameter_groups.append(group)
        optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
        self.optimizer = optimizer_cls(parameter_groups, **optimizer_kwargs)
        return self.optimizer

    def train(self, *args: Any, **kwargs: Any):
        output = super().train(*args, **kwargs)
        skipped = getattr(self.data_collator, "skipped_ids", [])
        if skipped:
            logger.warning("Skipped %d invalid training sample(s): %s", len(skipped), skipped[:20])
            self.log({"skipped_invalid_samples": float(len(skipped))})
        return output


def videorefer_sft_config(**kwargs: Any) -> SFTConfig:
    """An `SFTConfig` with the settings VideoRefer's collator needs (kept columns, no dataset preparation)."""
    dataset_kwargs = dict(kwargs.pop("dataset_kwargs", None) or {})
    dataset_kwargs["skip_prepare_dataset"] = True
    kwargs.setdefault("report_to", "none")
    return SFTConfig(remove_unused_columns=False, dataset_kwargs=dataset_kwargs, **kwargs)


def build_trainer(
    model: torch.nn.Module,
    processor: VideoReferProcessor,
    train_dataset: Dataset,
    args: SFTConfig,
    stage: Stage,
    collator: VideoReferDataCollator | None = None,
    projector_lr: float | None = None,
    peft_config: Any = None,
) -> VideoReferSFTTrainer:
    """Freeze `model` as `stage` trains and wrap it in a `VideoReferSFTTrainer`.

    With `peft_config` (LoRA / QLoRA on the language model), the stage's trainable multimodal modules are trained in
    full through PEFT's `modules_to_save`.
    """
    if args.remove_unused_columns or not (args.dataset_kwargs or {}).get("skip_prepare_dataset"):
        raise ValueError(
            "VideoRefer training needs remove_unused_columns=False and dataset_kwargs={'skip_prepare_dataset': True} "
            "(the collator reads the raw columns); build the config with videorefer_sft_config()."
        )
    if getattr(args, "packing", False) or getattr(args, "padding_free", False):
        raise ValueError("Packing and padding-free batches are not supported for VideoRefer's visual inputs.")
    apply_stage(model, stage)
    if collator is None:
        collator = collator_for(processor, plain=stage.plain)
    return VideoReferSFTTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        data_collator=collator,
        processing_class=processor,
        projector_lr=projector_lr,
        peft_config=peft_config,
    )

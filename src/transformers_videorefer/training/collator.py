# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The training collator: dataset rows -> a padded batch with labels, built by `VideoReferProcessor`."""

import logging
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import BatchFeature

from ..models.videorefer.processing_videorefer import VideoReferProcessor
from .data import decode_row
from .examples import PreparedExample, prepare_example

logger = logging.getLogger(__name__)

SAMPLE_ERRORS = (ValueError, TypeError, FileNotFoundError)
PLACEHOLDER_KEYS = ("image_token_id", "video_token_id", "region_token_id")


@dataclass
class VideoReferDataCollator:
    """Collate VideoRefer training rows (from `load_videorefer_dataset`) into model inputs with `labels`.

    Media are read here, per batch. Labels are -100 everywhere but the assistant turns (with `plain=True`, stage 1:
    everything but the placeholders). Batches may mix videos, images and text-only samples.

    Args:
        processor: the model's processor.
        plain: stage 1's plain format instead of the chat template.
        media_root: folder that relative media paths are resolved against.
        num_mask_frames: at most this many mask frames per object (the original trains with 2); None keeps all.
        num_frames: frames sampled per video (default: the processor's).
        max_length: longest sequence; longer ones lose their tail when it holds no placeholder, else they are
            invalid.
        skip_invalid: skip samples whose media or annotation cannot be used (counted in `skipped_ids`) instead of
            failing on the first one with its id.
        seed: seeds the choice of mask frames (per sample id).
    """

    processor: VideoReferProcessor
    plain: bool = False
    media_root: str | None = None
    num_mask_frames: int | None = 2
    num_frames: int | None = None
    max_length: int | None = None
    skip_invalid: bool = False
    seed: int = 0
    skipped_ids: list[str] = field(default_factory=list)

    def prepare(self, row: dict[str, Any]) -> PreparedExample:
        """Prompt, targets, media and objects of one dataset row."""
        return prepare_example(
            decode_row(row),
            self.processor.chat_template,
            plain=self.plain,
            media_root=self.media_root,
            num_mask_frames=self.num_mask_frames,
            seed=self.seed,
        )

    def _encode(self, examples: list[PreparedExample]) -> BatchFeature:
        return self.processor(
            text=[e.text for e in examples],
            videos=[e.media for e in examples if e.kind == "video"] or None,
            images=[e.media for e in examples if e.kind == "image"] or None,
            masks=[e.objects for e in examples],
            num_frames=self.num_frames,
            padding_side="right",
            target_spans=[e.target_spans for e in examples],
        )

    def _check_length(self, batch: BatchFeature, examples: list[PreparedExample]) -> None:
        if self.max_length is None or batch["input_ids"].shape[1] <= self.max_length:
            return
        placeholder_ids = torch.tensor([getattr(self.processor, key) for key in PLACEHOLDER_KEYS])
        beyond = torch.isin(batch["input_ids"][:, self.max_length :], placeholder_ids).any(dim=1)
        for row in torch.nonzero(beyond).flatten().tolist():
            raise ValueError(
                f"training sample {examples[row].sample_id}: its visual / region tokens reach past max_length "
                f"{self.max_length} (the sequence is {int(batch['attention_mask'][row].sum())} tokens): raise "
                "max_length or shorten the sample."
            )

    def _encode_checked(self, examples: list[PreparedExample]) -> BatchFeature:
        batch = self._encode(examples)
        self._check_length(batch, examples)
        return batch

    def __call__(self, rows: list[dict[str, Any]]) -> BatchFeature:
        examples: list[PreparedExample] = []
        for row in rows:
            try:
                examples.append(self.prepare(row))
            except SAMPLE_ERRORS as error:
                self._reject(str(row.get("id")), error)
        try:
            batch = self._encode_checked(examples) if examples else None
        except SAMPLE_ERRORS:
            # Find the culprits one by one (only on this error path), then encode the rest together.
            valid = []
            for example in examples:
                try:
                    self._encode_checked([example])
                    valid.append(example)
                except SAMPLE_ERRORS as error:
                    self._reject(example.sample_id, error)
            batch = self._encode_checked(valid) if valid else None
        if batch is None:
            raise ValueError(
                f"Every sample of this batch is invalid (ids {self.skipped_ids[-len(rows):]}); run `videorefer data "
                "check` on the data file to list the defects."
            )
        if self.max_length is not None and batch["input_ids"].shape[1] > self.max_length:
            for key in ("input_ids", "attention_mask", "labels"):
                batch[key] = batch[key][:, : self.max_length]
        return batch

    def _reject(self, sid: str, error: Exception) -> None:
        message = str(error)
        if not message.startswith("training sample"):
            message = f"training sample {sid}: {message}"
        if not self.skip_invalid:
            raise type(error)(message) from error
        self.skipped_ids.append(sid)
        logger.warning("Skipping %s (%d skipped so far)", message, len(self.skipped_ids))


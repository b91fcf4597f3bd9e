# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The training collator of VideoRefer-VideoLLaMA3: dataset rows -> a right-padded batch with labels, built by
`VideoReferVL3Processor(return_labels=True)`."""

from dataclasses import dataclass
from typing import Any

import torch
from transformers import BatchFeature

from ..models.videorefer_vl3.processing_videorefer_vl3 import IGNORE_INDEX, VideoReferVL3Processor
from .collator import VideoReferDataCollator
from .data import decode_row
from .examples_vl3 import VL3Example, prepare_vl3_example


@dataclass
class VideoReferVL3DataCollator(VideoReferDataCollator):
    """Collate VideoRefer training rows into VL3 model inputs with `labels` (same data format as VideoRefer-7B).

    The batch is what the original VL3 training builds (see `examples_vl3`): the chat prompt with `Time t s:`
    frame entries and `[<REGION> x n]` per (object, frame) mask, labels on each answer's tokens and its
    `<|im_end|>` (not on `<|im_start|>assistant\\n`, the newline after `<|im_end|>`, the prompt, the `<image>` and
    `<REGION>` placeholders or the padding). Labels are aligned with `input_ids` (before token compression); the
    model (or, with TRL's fused LM head, `VideoReferSFTTrainer`) compresses them with the sequence.

    Args (besides `processor`, `media_root`, `skip_invalid`, `max_length` of `VideoReferDataCollator`):
        fps / max_frames: frame sampling of the videos (default: the processor's; the original trains with its
            `--fps` / `--max_frames`).

    `max_length` cuts the expanded sequence (the original cuts `input_ids` / `labels` at `model_max_length` after
    expansion); a sample whose `<image>` / `<REGION>` placeholders would be cut is refused (the original would fail
    in the model). `plain` (stage 1's format) and `num_mask_frames` are VideoRefer-7B options: VL3 refuses them.
    """

    placeholder_keys = ("image_token_id", "region_token_id")
    too_long_hint = "raise max_length, lower max_frames or shorten the sample."

    processor: VideoReferVL3Processor
    fps: float | None = None
    max_frames: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.processor, VideoReferVL3Processor):
            raise TypeError(f"VideoReferVL3DataCollator needs a VideoReferVL3Processor, got {type(self.processor).__name__}.")
        if self.plain:
            raise ValueError("The plain (stage 1) format is VideoRefer-7B's; VideoRefer-VideoLLaMA3 trains on chat prompts.")
        if self.num_mask_frames is not None:
            raise ValueError(
                "num_mask_frames is not supported for VideoRefer-VideoLLaMA3: each (object, frame) mask has its own "
                "<region> marker in the conversation, so mask frames cannot be dropped."
            )

    def prepare(self, row: dict[str, Any]) -> VL3Example:
        """Messages, media and objects of one dataset row."""
        return prepare_vl3_example(decode_row(row), media_root=self.media_root)

    def _encode(self, examples: list[VL3Example]) -> BatchFeature:
        prompts = [self.processor.apply_chat_template(e.messages, add_generation_prompt=False) for e in examples]
        kwargs: dict[str, Any] = {"fps": self.fps} if self.fps is not None else {}
        if self.max_frames is not None:
            kwargs["max_frames"] = self.max_frames
        masks = [e.objects for e in examples]
        return self.processor(
            text=prompts,
            videos=[e.media for e in examples if e.kind == "video"] or None,
            images=[e.media for e in examples if e.kind == "image"] or None,
            masks=masks if any(masks) else None,
            padding_side="right",
            return_labels=True,
            **kwargs,
        )

    def _encode_checked(self, examples: list[VL3Example]) -> BatchFeature:
        batch = self._encode(examples)
        if self.max_length is None or batch["input_ids"].shape[1] <= self.max_length:
            return batch
        self._check_length(batch, examples)
        for key in ("input_ids", "attention_mask", "labels"):
            batch[key] = batch[key][:, : self.max_length]
        return batch

    def nothing_to_learn_batch(self) -> BatchFeature:
        """A one-token, text-only batch whose labels are all -100 (see `VideoReferDataCollator`)."""
        tokenizer = self.processor.tokenizer
        batch = self.processor(text=[tokenizer.eos_token or "\n"], padding_side="right")
        batch["labels"] = torch.full_like(batch["input_ids"], IGNORE_INDEX)
        return batch


def collator_for(processor: Any, fps: float | None = None, max_frames: int | None = None, num_frames: int | None = None,
                 **options: Any) -> VideoReferDataCollator:
    """The training collator of `processor`'s family: `VideoReferVL3DataCollator` (with `fps`, `max_frames`) for a
    `VideoReferVL3Processor`, else `VideoReferDataCollator` (with `num_frames`). `options` are the fields both
    share (`plain`, `media_root`, `max_length`, `skip_invalid`, `seed`, ...)."""
    if isinstance(processor, VideoReferVL3Processor):
        if num_frames is not None:
            raise ValueError("num_frames is VideoRefer-7B's frame sampling; VideoRefer-VideoLLaMA3 samples by fps and max_frames.")
        return VideoReferVL3DataCollator(processor, fps=fps, max_frames=max_frames, **options)
    if fps is not None or max_frames is not None:
        raise ValueError("fps / max_frames are VideoRefer-VideoLLaMA3's frame sampling; VideoRefer-7B takes num_frames.")
    return VideoReferDataCollator(processor, num_frames=num_frames, **options)

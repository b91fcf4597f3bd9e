# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The training collator: dataset rows -> a padded batch with labels, built by `VideoReferProcessor`."""

import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from transformers import BatchFeature

from ..models.videorefer.processing_videorefer import (
    IGNORE_INDEX,
    IMAGE_TOKEN,
    REGION_TOKEN,
    VIDEO_TOKEN,
    VideoReferProcessor,
)
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

    By default the batch is what the original VideoRefer training code builds: every annotated frame of an object
    (the model merges them to at most `region_token_num` tokens), in the annotation's key order; a conversation
    without a `<video>` / `<image>` marker trained as text only; an image object keyed by any frame taken as the
    image's mask; and the token ids cut at `max_length` BEFORE the media marker and the `<region>` markers are
    expanded (each counts as one token, as in the original's `model_max_length` truncation; the expanded sequence
    may then be longer than `max_length`).

    Args:
        processor: the model's processor.
        plain: stage 1's plain format instead of the chat template.
        media_root: folder that relative media paths are resolved against.
        num_mask_frames: departure from the original (which uses every annotated frame), for memory: at most this
            many mask frames per object, chosen at random (seeded). None (default) keeps all, as the original.
        num_frames: frames sampled per video (default: the processor's).
        max_length: the original's `model_max_length`: token ids past it are cut before expansion (a cut media
            marker makes the sample text only; objects whose `<region>` is cut are dropped).
        truncate_after_expansion: departure from the original: cut the EXPANDED sequence at `max_length` instead,
            and refuse a sample whose visual / region tokens would be cut.
        skip_invalid: skip samples whose media or annotation cannot be used (counted in `skipped_ids`) instead of
            failing on the first one with its id.
        seed: seeds the choice of mask frames (per sample id) when `num_mask_frames` is set.
    """

    processor: VideoReferProcessor
    plain: bool = False
    media_root: str | None = None
    num_mask_frames: int | None = None
    num_frames: int | None = None
    max_length: int | None = None
    truncate_after_expansion: bool = False
    skip_invalid: bool = False
    seed: int = 0
    skipped_ids: list[str] = field(default_factory=list)
    # processor attributes holding the placeholder ids a cut must not reach, and what to do about a sample that does
    placeholder_keys = PLACEHOLDER_KEYS
    too_long_hint = "raise max_length or shorten the sample."

    def prepare(self, row: dict[str, Any]) -> PreparedExample:
        """Prompt, targets, media and objects of one dataset row (cut at `max_length` as the original does)."""
        example = prepare_example(
            decode_row(row),
            self.processor.chat_template,
            plain=self.plain,
            media_root=self.media_root,
            num_mask_frames=self.num_mask_frames,
            seed=self.seed,
        )
        if self.max_length is not None and not self.truncate_after_expansion:
            example = self.truncate_before_expansion(example)
        return example

    def unexpanded_tokens(self, text: str) -> list[tuple[int, int, str]]:
        """The tokens of `text` before expansion, as `(start, end, what)` character spans, `what` being "media"
        (the `<video>` / `<image>` marker, one token as the original's -201 / -200 id), "region", "special" (another
        added token such as `<|im_end|>`) or "text". Tokenized around the media marker as the processor does."""
        tokenizer = self.processor.tokenizer
        added = set(tokenizer.added_tokens_encoder.values())
        region_id = self.processor.region_token_id
        tokens: list[tuple[int, int, str]] = []
        position = 0
        for piece in re.split(f"({re.escape(IMAGE_TOKEN)}|{re.escape(VIDEO_TOKEN)})", text):
            if piece in (IMAGE_TOKEN, VIDEO_TOKEN):
                tokens.append((position, position + len(piece), "media"))
            elif piece:
                encoded = tokenizer(piece, add_special_tokens=False, return_offsets_mapping=True)
                for token, (start, end) in zip(encoded["input_ids"], encoded["offset_mapping"]):
                    what = "region" if token == region_id else "special" if token in added else "text"
                    tokens.append((start + position, end + position, what))
            position += len(piece)
        return tokens

    def truncate_before_expansion(self, example: PreparedExample) -> PreparedExample:
        """Keep the first `max_length` tokens of `example` before expansion, as the original's collator does.

        The text is cut just before the first marker or special token at or after the cut (text there tokenizes
        exactly as in the whole prompt); the text tokens encoded beyond the cut are dropped after encoding."""
        tokens = self.unexpanded_tokens(example.text)
        limit = self.max_length
        if len(tokens) <= limit:
            return example
        boundary = next((k for k in range(limit, len(tokens)) if tokens[k][2] != "text"), len(tokens))
        cut = tokens[boundary][0] if boundary < len(tokens) else len(example.text)
        kept = tokens[:limit]
        num_regions = sum(what == "region" for _, _, what in kept)
        has_media = any(what == "media" for _, _, what in kept)
        if example.kind is not None and not has_media and num_regions:
            raise ValueError(
                f"training sample {example.sample_id}: max_length {limit} cuts the media marker but keeps "
                f"{num_regions} {REGION_TOKEN} marker(s); the original would train them as bare tokens: raise max_length."
            )
        return replace(
            example,
            text=example.text[:cut],
            target_spans=[(low, min(high, cut)) for low, high in example.target_spans if low < cut],
            kind=example.kind if has_media else None,
            media=example.media if has_media else None,
            objects=example.objects[:num_regions],
            trailing_tokens_to_drop=boundary - limit,
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

    def drop_trailing_tokens(self, batch: BatchFeature, examples: list[PreparedExample]) -> None:
        """Remove each sample's `trailing_tokens_to_drop` last tokens (right padding) and trim the padding."""
        drops = [e.trailing_tokens_to_drop for e in examples]
        if not any(drops):
            return
        tokenizer = self.processor.tokenizer
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id or 0
        lengths = batch["attention_mask"].sum(dim=1).tolist()
        for row, drop in enumerate(drops):
            if drop:
                end = int(lengths[row])
                batch["input_ids"][row, end - drop : end] = pad_id
                batch["attention_mask"][row, end - drop : end] = 0
                if "labels" in batch:
                    batch["labels"][row, end - drop : end] = IGNORE_INDEX
        longest = int(batch["attention_mask"].sum(dim=1).max())
        for key in ("input_ids", "attention_mask", "labels"):
            if key in batch:
                batch[key] = batch[key][:, :longest]

    def _check_length(self, batch: BatchFeature, examples: list[PreparedExample]) -> None:
        """Refuse a batch whose visual / region placeholders (the processor's `placeholder_keys` ids) reach past
        `max_length`: cutting there would break the model's placeholder count."""
        if self.max_length is None or batch["input_ids"].shape[1] <= self.max_length:
            return
        placeholder_ids = torch.tensor([getattr(self.processor, key) for key in self.placeholder_keys])
        beyond = torch.isin(batch["input_ids"][:, self.max_length :], placeholder_ids).any(dim=1)
        for row in torch.nonzero(beyond).flatten().tolist():
            raise ValueError(
                f"training sample {examples[row].sample_id}: its visual / region tokens reach past max_length "
                f"{self.max_length} (the sequence is {int(batch['attention_mask'][row].sum())} tokens): "
                f"{self.too_long_hint}"
            )

    def _encode_checked(self, examples: list[PreparedExample]) -> BatchFeature:
        batch = self._encode(examples)
        if self.truncate_after_expansion:
            self._check_length(batch, examples)
        else:
            self.drop_trailing_tokens(batch, examples)
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
        if batch is None:  # only with skip_invalid (else the first defect raised): a batch that trains nothing
            batch = self.nothing_to_learn_batch()
        if self.truncate_after_expansion and self.max_length is not None and batch["input_ids"].shape[1] > self.max_length:
            for key in ("input_ids", "attention_mask", "labels"):
                batch[key] = batch[key][:, : self.max_length]
        return batch

    def nothing_to_learn_batch(self) -> BatchFeature:
        """A one-token, text-only batch whose labels are all -100, for a batch whose every sample was skipped.

        Training goes on (each process still runs its step, so distributed runs stay in step); the trainer gives
        such a batch a zero loss (`VideoReferSFTTrainer.compute_loss`), so it changes no weight.
        """
        tokenizer = self.processor.tokenizer
        token = tokenizer.eos_token if tokenizer.eos_token is not None else tokenizer.pad_token
        batch = self.processor(text=[token or "\n"])
        batch["labels"] = torch.full_like(batch["input_ids"], IGNORE_INDEX)
        return batch

    def _reject(self, sid: str, error: Exception) -> None:
        message = str(error)
        if not message.startswith("training sample"):
            message = f"training sample {sid}: {message}"
        if not self.skip_invalid:
            raise type(error)(message) from error
        self.skipped_ids.append(sid)
        logger.warning("Skipping %s (%d skipped so far)", message, len(self.skipped_ids))


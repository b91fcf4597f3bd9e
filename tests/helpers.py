"""Small builders shared by the tests: placeholder expansion, golden-case inputs, tiny random models and inputs."""

from __future__ import annotations

from pathlib import Path

import torch

from transformers_videorefer import VideoReferConfig, VideoReferForConditionalGeneration

GOLDEN_CASES = ("video_dir_single_frame_mask", "video_mp4_multi_frame_masks", "image_two_objects")

LEGACY_IMAGE_PLACEHOLDER = -200
LEGACY_VIDEO_PLACEHOLDER = -201

TINY_VISION_CONFIG = {
    "model_type": "siglip_vision_model",
    "hidden_size": 16,
    "intermediate_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": 56,
    "patch_size": 14,
}
TINY_TEXT_CONFIG = {
    "model_type": "qwen2",
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "vocab_size": 100,
}
TINY_IMAGE_SIZE = TINY_VISION_CONFIG["image_size"]
TINY_PAD_ID = 0


# --------------------------------------------------------------------------------------------- expansion
def expand_placeholders(
    input_ids: torch.Tensor | list[int],
    config: VideoReferConfig,
    num_visual_tokens: int,
    masks_per_object: torch.Tensor | list[int],
) -> torch.Tensor:
    """Expand the ids of the original code into the ids the native model takes (what the processor does).

    -200 -> `num_visual_tokens` copies of `config.image_token_id`; -201 -> as many `config.video_token_id`; the k-th
    `config.region_token_id` -> `min(masks_per_object[k], config.region_token_num)` copies of itself.
    Returns a 1-D LongTensor.
    """
    ids = input_ids.tolist() if isinstance(input_ids, torch.Tensor) else list(input_ids)
    per_object = [int(n) for n in (masks_per_object.tolist() if isinstance(masks_per_object, torch.Tensor) else masks_per_object)]
    out: list[int] = []
    region_index = 0
    for token in ids:
        if token == LEGACY_IMAGE_PLACEHOLDER:
            out += [config.image_token_id] * num_visual_tokens
        elif token == LEGACY_VIDEO_PLACEHOLDER:
            out += [config.video_token_id] * num_visual_tokens
        elif token == config.region_token_id:
            if region_index >= len(per_object):
                raise ValueError(f"more <region> markers than objects ({len(per_object)})")
            out += [config.region_token_id] * min(per_object[region_index], config.region_token_num)
            region_index += 1
        else:
            out.append(token)
    if region_index != len(per_object):
        raise ValueError(f"{region_index} <region> markers for {len(per_object)} objects")
    return torch.tensor(out, dtype=torch.long)


# ------------------------------------------------------------------------------------------ golden cases
def load_case(golden_dir: Path, name: str) -> dict:
    return torch.load(Path(golden_dir) / "cases" / name / "expected.pt", weights_only=False)


def golden_region_kwargs(expected: dict) -> dict:
    per_object = torch.tensor([len(a) for a in expected["ann_indices"]], dtype=torch.long)
    return dict(
        region_pixel_values=expected["region_frame_pixel_values"],
        region_masks=expected["masks"],
        region_mask_frame_index=torch.tensor([i for a in expected["ann_indices"] for i in a], dtype=torch.long),
        region_masks_per_object=per_object,
    )


def golden_inputs(model, expected: dict) -> tuple[torch.Tensor, dict]:
    """`(input_ids (1, L), model kwargs)` of a golden case, for the native model."""
    config = model.config
    kwargs = golden_region_kwargs(expected)
    num_visual = model.model.expected_visual_tokens(config.num_frames)
    ids = expand_placeholders(
        expected["input_ids_with_placeholder"], config, num_visual, kwargs["region_masks_per_object"]
    )[None]
    if bool((expected["input_ids_with_placeholder"] == LEGACY_IMAGE_PLACEHOLDER).any()):
        kwargs["pixel_values"] = expected["pixel_values"]
    else:
        kwargs["pixel_values_videos"] = expected["pixel_values"][None]
    return ids, kwargs


# ------------------------------------------------------------------------------------------ tiny models
def tiny_config(**overrides) -> VideoReferConfig:
    """A VideoRefer config small enough to build in milliseconds (grid 4x4, 4 frames -> 8 video tokens)."""
    kwargs = dict(
        vision_config=dict(TINY_VISION_CONFIG),
        text_config=dict(TINY_TEXT_CONFIG),
        num_frames=4,
    )
    kwargs.update(overrides)
    return VideoReferConfig(**kwargs)


def tiny_model(seed: int = 0, attn_implementation: str = "eager", **overrides) -> VideoReferForConditionalGeneration:
    """A tiny VideoRefer with seeded random weights (with a slightly livelier init than the default 0.02)."""
    config = tiny_config(**overrides)
    config._attn_implementation = attn_implementation
    torch.manual_seed(seed)
    model = VideoReferForConditionalGeneration(config)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.ndim >= 2:
                param.normal_(0.0, 0.2, generator=generator)
    model.generation_config.pad_token_id = TINY_PAD_ID
    model.generation_config.eos_token_id = None
    return model.eval()


def random_sample(
    model,
    masks_per_object: list[int],
    seed: int,
    text_before: int = 5,
    text_between: int = 2,
    text_after: int = 3,
    mask_size: tuple[int, int] = (20, 24),
) -> dict:
    """One random sample: `<text> <video x N> <text> (<region> x k <text>) per object`, plus its visual inputs.

    Region frames: one per mask (frame index local to the sample).
    """
    config = model.config
    generator = torch.Generator().manual_seed(seed)
    vocab = config.text_config.vocab_size

    def text(n: int) -> list[int]:
        return torch.randint(1, vocab - 1, (n,), generator=generator).tolist()

    legacy_ids = text(text_before) + [LEGACY_VIDEO_PLACEHOLDER] + text(text_between)
    for _ in masks_per_object:
        legacy_ids += [config.region_token_id] + text(text_between)
    legacy_ids += text(text_after)
    num_visual = model.model.expected_visual_tokens(config.num_frames)
    ids = expand_placeholders(legacy_ids, config, num_visual, masks_per_object)

    size = config.vision_config.image_size
    total_masks = sum(masks_per_object)
    masks = (torch.rand(total_masks, *mask_size, generator=generator) > 0.5).float()
    return dict(
        input_ids=ids,
        pixel_values_videos=torch.randn(1, config.num_frames, 3, size, size, generator=generator),
        region_pixel_values=torch.randn(total_masks, 3, size, size, generator=generator),
        region_masks=masks,
        region_mask_frame_index=torch.arange(total_masks),
        region_masks_per_object=torch.tensor(masks_per_object, dtype=torch.long),
    )


def single_inputs(sample: dict) -> dict:
    """Model kwargs of one sample alone (batch of one, no padding)."""
    out = {k: v for k, v in sample.items() if k != "input_ids"}
    out["input_ids"] = sample["input_ids"][None]
    out["attention_mask"] = torch.ones_like(out["input_ids"])
    return out


def collate_left_padded(samples: list[dict], pad_id: int = TINY_PAD_ID) -> dict:
    """Left-pad the samples' ids and concatenate their visual inputs (region frame rows re-indexed)."""
    length = max(s["input_ids"].numel() for s in samples)
    ids = torch.full((len(samples), length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros(len(samples), length, dtype=torch.long)
    for row, sample in enumerate(samples):
        n = sample["input_ids"].numel()
        ids[row, length - n :] = sample["input_ids"]
        attention_mask[row, length - n :] = 1
    frame_offsets = torch.cumsum(torch.tensor([0] + [s["region_pixel_values"].shape[0] for s in samples[:-1]]), 0)
    return dict(
        input_ids=ids,
        attention_mask=attention_mask,
        pixel_values_videos=torch.cat([s["pixel_values_videos"] for s in samples]),
        region_pixel_values=torch.cat([s["region_pixel_values"] for s in samples]),
        region_masks=torch.cat([s["region_masks"] for s in samples]),
        region_mask_frame_index=torch.cat(
            [s["region_mask_frame_index"] + offset for s, offset in zip(samples, frame_offsets.tolist())]
        ),
        region_masks_per_object=torch.cat([s["region_masks_per_object"] for s in samples]),
    )


# ------------------------------------------------------------------------------- golden cases, as the processor sees them
def load_case_json(golden_dir: Path, name: str) -> dict:
    """The `case.json` of a golden case."""
    import json

    with open(Path(golden_dir) / "cases" / name / "case.json", encoding="utf-8") as handle:
        return json.load(handle)


def case_media_path(golden_dir: Path, name: str, case: dict) -> Path:
    """The media (file or frame folder) of a golden case."""
    return Path(golden_dir) / "cases" / name / case["media"]


def case_messages(case: dict) -> list[dict]:
    """The chat messages that render to the case's `prompt_text` (media entry first, then the question)."""
    return [
        {"role": "user", "content": [{"type": case["modality"]}, {"type": "text", "text": case["prompt_sent_to_model"]}]}
    ]


def case_objects(case: dict) -> list[dict]:
    """The case's objects as `{int frame index: COCO RLE}` (the processor's documented form)."""
    return [{int(frame): entry["segmentation"] for frame, entry in obj.items()} for obj in case["annotation"]]


def case_media_kwargs(golden_dir: Path, name: str, case: dict) -> dict:
    """`{"images": [path]}` or `{"videos": [path]}` for the processor."""
    key = "images" if case["modality"] == "image" else "videos"
    return {key: [case_media_path(golden_dir, name, case)]}


# ------------------------------------------------------------------------------------------------------- masks
def uncompressed_rle(mask) -> dict:
    """COCO's uncompressed RLE of a binary `(height, width)` mask: column-major runs, starting with a run of 0s."""
    import numpy as np

    array = np.asarray(mask).astype(bool)
    flat = array.flatten(order="F")
    counts: list[int] = []
    current, run = False, 0
    for value in flat.tolist():
        if value == current:
            run += 1
        else:
            counts.append(run)
            current, run = value, 1
    counts.append(run)
    return {"size": [int(array.shape[0]), int(array.shape[1])], "counts": counts}


# ------------------------------------------------------------------------------------------ golden batches
def golden_batch(model, cases: list[dict], pad_id: int = TINY_PAD_ID) -> tuple[dict, list[dict]]:
    """Left-padded batch of several golden cases, and each case alone (as `generate` kwargs).

    The batch concatenates the cases' images, videos and region inputs in sample order (region frame rows
    re-indexed), as the processor does. Returns `(batch kwargs, [single-sample kwargs, ...])`; every kwargs dict has
    `input_ids` and `attention_mask`.
    """
    singles = []
    for expected in cases:
        ids, kwargs = golden_inputs(model, expected)
        singles.append(dict(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs))
    length = max(s["input_ids"].shape[1] for s in singles)
    ids = torch.full((len(singles), length), pad_id, dtype=torch.long)
    attention_mask = torch.zeros(len(singles), length, dtype=torch.long)
    for row, single in enumerate(singles):
        n = single["input_ids"].shape[1]
        ids[row, length - n :] = single["input_ids"][0]
        attention_mask[row, length - n :] = 1
    batch = dict(input_ids=ids, attention_mask=attention_mask)
    for key in ("pixel_values", "pixel_values_videos"):
        present = [s[key] for s in singles if key in s]
        if present:
            batch[key] = torch.cat(present)
    offsets = torch.cumsum(torch.tensor([0] + [s["region_pixel_values"].shape[0] for s in singles[:-1]]), 0).tolist()
    batch["region_pixel_values"] = torch.cat([s["region_pixel_values"] for s in singles])
    batch["region_masks"] = [mask for s in singles for mask in s["region_masks"]]  # sizes differ: a list
    batch["region_mask_frame_index"] = torch.cat(
        [s["region_mask_frame_index"] + offset for s, offset in zip(singles, offsets)]
    )
    batch["region_masks_per_object"] = torch.cat([s["region_masks_per_object"] for s in singles])
    return batch, singles


# ------------------------------------------------------------------- transformers' common test suites
def tiny_common_batch(config: VideoReferConfig, num_visual_tokens: int, batch_size: int = 2, seed: int = 0) -> dict:
    """Inputs in the layout transformers' `ModelTesterMixin`/`GenerationTesterMixin` expect: a batch of
    `batch_size` samples, each `<text> <video x num_visual_tokens> <text> <region> <text>` with one object of one mask,
    no padding. Every tensor has `batch_size` rows (one video, one region frame, one mask, one object per sample),
    so the mixins' generic `v[:batch_size]` slicing keeps samples and their visual inputs together; the region frame
    index is global over the batch (sample i's mask is on row i of `region_pixel_values`).
    """
    generator = torch.Generator().manual_seed(seed)
    vocab = config.text_config.vocab_size
    special = {config.image_token_id, config.video_token_id, config.region_token_id, TINY_PAD_ID}

    def text(n: int) -> list[int]:
        ids = torch.randint(1, vocab, (n,), generator=generator).tolist()
        return [1 if i in special else i for i in ids]

    rows = []
    for _ in range(batch_size):
        rows.append(
            text(3) + [config.video_token_id] * num_visual_tokens + text(2) + [config.region_token_id] + text(3)
        )
    input_ids = torch.tensor(rows, dtype=torch.long)
    size = config.vision_config.image_size
    return dict(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        pixel_values_videos=torch.randn(batch_size, config.num_frames, 3, size, size, generator=generator),
        region_pixel_values=torch.randn(batch_size, 3, size, size, generator=generator),
        region_masks=(torch.rand(batch_size, 20, 24, generator=generator) > 0.5).float(),
        region_mask_frame_index=torch.arange(batch_size),
        region_masks_per_object=torch.ones(batch_size, dtype=torch.long),
    )

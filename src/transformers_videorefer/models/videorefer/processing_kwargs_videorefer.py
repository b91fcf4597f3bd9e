# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The standard processor kwargs of `VideoReferProcessor`: its typed kwargs, their checks, and what they do to the
token ids (truncation, padding, tensor type); plus the media of `apply_chat_template`'s content blocks.

transformers merges the kwargs (`ProcessorMixin._merge_kwargs`: call > `text_kwargs`/`videos_kwargs`/... > tokenizer
init kwargs > processor defaults); this module checks the merged result against what VideoRefer can honour, so that
an option is either applied or refused with a clear error, never silently ignored.
"""

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from huggingface_hub.errors import StrictDataclassError
from transformers.processing_utils import ImagesKwargs, ProcessingKwargs, TextKwargs, VideosKwargs

from .video_processing_videorefer import PIXEL_OVERRIDES

IGNORE_INDEX = -100
NESTED_GROUPS = {"text_kwargs": TextKwargs, "images_kwargs": ImagesKwargs, "videos_kwargs": VideosKwargs}
# Honoured options; every other standard option may only be left unset (None / False) or, for the pixel options,
# equal the checkpoint's own preprocessing setting.
TEXT_HONOURED = {"padding", "truncation", "max_length", "pad_to_multiple_of", "padding_side", "return_tensors",
                 "return_attention_mask", "add_special_tokens", "verbose", "return_offsets_mapping",
                 "return_text_replacement_offsets"}
VIDEOS_HONOURED = {"num_frames", "do_sample_frames", "fps", "return_tensors", *PIXEL_OVERRIDES}
IMAGES_HONOURED = {"return_tensors", *PIXEL_OVERRIDES}
EXPECTED = {
    "padding_side": "'left' or 'right'",
    "return_tensors": "'pt', 'np' or None",
    "num_frames": "an integer of at least 1",
    "padding": "True, False, 'longest', 'max_length' or 'do_not_pad'",
    "truncation": "True, False, 'longest_first', 'only_first' or 'do_not_truncate'",
    "max_length": "a positive integer or None",
    "pad_to_multiple_of": "a positive integer or None",
    "keep_vanished_masks": "a bool",
    "target_spans": "one list of (start, end) character spans per sample",
}
URL_PREFIXES = ("http://", "https://")


class VideoReferProcessorKwargs(ProcessingKwargs, total=False):
    """The kwargs of `VideoReferProcessor.__call__`: transformers' standard groups (`text_kwargs`, `images_kwargs`,
    `videos_kwargs`, each also accepted flat) plus VideoRefer's own options.

    Attributes:
        target_spans: per sample, the `(start, end)` character spans of its text whose tokens are training targets.
        keep_vanished_masks: keep the grid patch a too-small mask covers most (a departure from the original).
    """

    target_spans: list | tuple | None
    keep_vanished_masks: bool


@dataclass
class CallOptions:
    """The options of one processor call, checked."""

    padding: str  # "longest", "max_length" or "do_not_pad"
    truncation: bool
    max_length: int | None
    pad_to_multiple_of: int | None
    padding_side: str
    truncation_side: str
    return_tensors: str | None
    return_attention_mask: bool
    num_frames: int
    target_spans: Sequence | None
    keep_vanished_masks: bool
    do_sample_frames: bool = True
    return_offsets_mapping: bool = False
    image_overrides: dict[str, Any] = field(default_factory=dict)
    video_overrides: dict[str, Any] = field(default_factory=dict)


class PerSampleMedia(list):
    """The media of one conversation, as `apply_chat_template` collects them (a list per sample)."""


def value_of(kwargs: Mapping[str, Any], key: str) -> Any:
    """The value given for `key`, flat or inside one of the nested groups (None when not given)."""
    if key in kwargs:
        return kwargs[key]
    for group in NESTED_GROUPS:
        if isinstance(kwargs.get(group), Mapping) and key in kwargs[group]:
            return kwargs[group][key]
    return None


def bad_value(key: str, value: Any, reason: str = "") -> ValueError:
    """The error for a value of `key` that cannot be used."""
    expected = EXPECTED.get(key, "a valid value")
    return ValueError(f"{key} must be {expected}, got {value!r}{': ' + reason if reason else ''}.")


def check_kwarg_names(kwargs: Mapping[str, Any], valid_flat: set[str], valid_nested: Mapping[str, set[str]]) -> None:
    """TypeError for a name the processor does not know (flat or inside `text_kwargs` / `images_kwargs` /
    `videos_kwargs`), and for a nested group that is not a dict."""
    unknown = sorted(key for key in kwargs if key not in valid_flat)
    if unknown:
        raise TypeError(
            f"VideoReferProcessor got unexpected arguments: {unknown}. It takes text, images, videos, masks, boxes, "
            "target_spans, keep_vanished_masks and transformers' standard text / images / videos kwargs (flat or as "
            "text_kwargs / images_kwargs / videos_kwargs)."
        )
    if kwargs.get("audio_kwargs"):
        raise ValueError("VideoReferProcessor takes no audio: audio_kwargs must be empty.")
    for group, valid in valid_nested.items():
        given = kwargs.get(group)
        if given is None:
            continue
        if not isinstance(given, Mapping):
            raise TypeError(f"{group} must be a dict of {group[:-7]} options, got {type(given).__name__}.")
        unknown = sorted(key for key in given if key not in valid)
        if unknown:
            raise TypeError(f"VideoReferProcessor got unexpected arguments in {group}: {unknown}.")


def check_unsupported(group: str, merged: Mapping[str, Any], honoured: set[str], settings: Any = None) -> None:
    """ValueError for a standard option VideoRefer cannot apply: it may be unset (None / False) or, for pixel options,
    equal to the setting of `settings` (the image / video processor) that is used anyway."""
    for key, value in merged.items():
        turns_off_a_setting = value is False and settings is not None and getattr(settings, key, None) is True
        if key in honoured or value is None or (value is False and not turns_off_a_setting):
            continue
        if settings is not None and _same(getattr(settings, key, None), value):
            continue
        if group == "text_kwargs":
            hint = "VideoRefer tokenizes around its placeholders itself; use the options it honours: " + ", ".join(sorted(honoured))
        else:
            hint = "frames are preprocessed with the checkpoint's SigLIP settings: change them on the processor's " \
                   f"{'image' if group == 'images_kwargs' else 'video'} processor instead"
        raise ValueError(f"VideoReferProcessor does not support {key}={value!r} (in {group}): {hint}.")


def _same(setting: Any, value: Any) -> bool:
    if setting is None:
        return False
    if isinstance(setting, (list, tuple)) or isinstance(value, (list, tuple)):
        return isinstance(setting, (list, tuple)) and isinstance(value, (list, tuple)) and list(setting) == list(value)
    try:
        return bool(setting == value)
    except (TypeError, ValueError):
        return False


def resolve_options(merged: Mapping[str, Any], default_num_frames: int, model_max_length: int | None,
                    truncation_side: str) -> CallOptions:
    """The checked options of a call, from `_merge_kwargs`' output."""
    text, videos = merged["text_kwargs"], merged["videos_kwargs"]
    padding = text.get("padding", True)
    padding = getattr(padding, "value", padding)
    if padding is True or padding == "longest":
        padding = "longest"
    elif padding is None or padding is False or padding == "do_not_pad":
        padding = "do_not_pad"
    elif padding != "max_length":
        raise bad_value("padding", padding)
    truncation = text.get("truncation")
    truncation = getattr(truncation, "value", truncation)
    if truncation == "only_second":
        raise bad_value("truncation", truncation, "VideoRefer takes no text pairs")
    if truncation not in (None, False, True, "do_not_truncate", "longest_first", "only_first"):
        raise bad_value("truncation", truncation)
    truncate = truncation in (True, "longest_first", "only_first")
    max_length = text.get("max_length")
    if max_length is None and (truncate or padding == "max_length"):
        if model_max_length is None or model_max_length > 10**9:
            raise bad_value("max_length", None, "truncation or padding='max_length' needs a length and the "
                            "tokenizer has no model_max_length")
        max_length = int(model_max_length)
    for key, value in (("max_length", max_length), ("pad_to_multiple_of", text.get("pad_to_multiple_of"))):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise bad_value(key, value)
    padding_side = text.get("padding_side") or "left"
    if padding_side not in ("left", "right"):
        raise bad_value("padding_side", padding_side)
    return_tensors = text.get("return_tensors")
    return_tensors = getattr(return_tensors, "value", return_tensors)
    if return_tensors not in ("pt", "np", None):
        raise bad_value("return_tensors", return_tensors)
    if videos.get("fps") is not None:
        raise ValueError(
            f"fps={videos['fps']!r} is not supported: VideoRefer samples num_frames frames uniformly over the clip "
            "(pass num_frames, or do_sample_frames=False to keep every frame given)."
        )
    num_frames = videos.get("num_frames")
    num_frames = default_num_frames if num_frames is None else num_frames
    if not isinstance(num_frames, (int, np.integer)) or isinstance(num_frames, bool) or num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}.")
    if merged.get("return_text_replacement_offsets") and not text.get("return_offsets_mapping"):
        raise ValueError(
            "return_text_replacement_offsets=True is only supported with return_offsets_mapping=True: VideoRefer's "
            "offset_mapping already gives each token's span in the prompt as written, (0, 0) at placeholders."
        )
    keep = merged.get("keep_vanished_masks")
    if keep is not None and not isinstance(keep, bool):
        raise TypeError(f"keep_vanished_masks must be a bool, got {type(keep).__name__}.")
    return CallOptions(
        padding=padding, truncation=truncate, max_length=max_length,
        pad_to_multiple_of=text.get("pad_to_multiple_of"), padding_side=padding_side,
        truncation_side=truncation_side, return_tensors=return_tensors,
        return_attention_mask=text.get("return_attention_mask") is not False, num_frames=int(num_frames),
        target_spans=merged.get("target_spans"), keep_vanished_masks=bool(keep),
        do_sample_frames=videos.get("do_sample_frames") is not False,
        return_offsets_mapping=bool(text.get("return_offsets_mapping")),
        image_overrides=pixel_overrides(merged["images_kwargs"]),
        video_overrides=pixel_overrides(videos),
    )


def pixel_overrides(group: Mapping[str, Any]) -> dict[str, Any]:
    """The SigLIP settings (`PIXEL_OVERRIDES`) a call sets for the frames of one modality."""
    return {key: group[key] for key in PIXEL_OVERRIDES if group.get(key) is not None}


def call_options(processor: Any, kwargs: dict[str, Any]) -> CallOptions:
    """Merge `processor`'s call kwargs as transformers does (call > nested groups > tokenizer init kwargs, except its
    padding side > processor defaults) and check them: TypeError for unknown names or wrong types, ValueError for
    values VideoRefer cannot apply."""
    valid_nested = {group: set(typed.__annotations__) for group, typed in NESTED_GROUPS.items()}
    valid_flat = set(VideoReferProcessorKwargs.__annotations__).union({"common_kwargs"}, *valid_nested.values())
    check_kwarg_names(kwargs, valid_flat, valid_nested)
    tokenizer = processor.tokenizer
    init_kwargs = {key: value for key, value in tokenizer.init_kwargs.items() if key != "padding_side"}
    try:
        merged = processor._merge_kwargs(VideoReferProcessorKwargs, tokenizer_init_kwargs=init_kwargs, **kwargs)
    except StrictDataclassError as error:
        raise merge_error(error, kwargs) from None
    text_options = dict(merged["text_kwargs"])
    text_options.update({key: merged.get(key) for key in ("return_mm_token_type_ids", "return_text_replacement_offsets")})
    check_unsupported("text_kwargs", text_options, TEXT_HONOURED)
    if text_options.get("add_special_tokens") and tokenizer("a")["input_ids"] != tokenizer("a", add_special_tokens=False)["input_ids"]:
        raise ValueError("add_special_tokens=True is not supported: write the special tokens in the text (the chat "
                         "template does).")
    check_unsupported("images_kwargs", merged["images_kwargs"], IMAGES_HONOURED, processor.image_processor)
    check_unsupported("videos_kwargs", merged["videos_kwargs"], VIDEOS_HONOURED, processor.video_processor)
    return resolve_options(merged, processor.num_frames, tokenizer.model_max_length, tokenizer.truncation_side)


def merge_error(error: Exception, kwargs: Mapping[str, Any]) -> Exception:
    """A TypeError (wrong type) / ValueError naming the option transformers' kwargs validation refused."""
    found = re.search(r"field '(\w+)'", str(error))
    key = found.group(1) if found else "a processor argument"
    cause = error.__cause__ if error.__cause__ is not None else error
    kind = TypeError if isinstance(cause, TypeError) else ValueError
    if key in EXPECTED:
        return kind(f"{key} must be {EXPECTED[key]}, got {value_of(kwargs, key)!r}.")
    return kind(f"Invalid value for {key}: {cause}")


def finish_text(
    batch_ids: list[list[int]],
    batch_targets: list[list[bool]] | None,
    options: CallOptions,
    tokenizer: Any,
    placeholder_ids: Iterable[int],
    batch_offsets: list[list[tuple[int, int]]] | None = None,
) -> dict[str, Any]:
    """Truncate and pad the expanded ids of each sample as `options` ask.

    Returns `input_ids`, `attention_mask` (unless not asked for), with targets `labels` (the ids at targets, -100
    elsewhere): `(batch, seq_len)` tensors / arrays, or lists of rows with `return_tensors=None`; and with
    `batch_offsets` (`options.return_offsets_mapping`) `offset_mapping` `(batch, seq_len, 2)`, `(0, 0)` at padding.

    Raises:
        ValueError: truncation would cut visual / region placeholders of a sample, or rows of different lengths
            would have to become one tensor.
    """
    placeholders = set(placeholder_ids)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id or 0
    rows, labels, offsets = [], [], []
    for index, ids in enumerate(batch_ids):
        targets = batch_targets[index] if batch_targets is not None else [False] * len(ids)
        row_labels = [token if target else IGNORE_INDEX for token, target in zip(ids, targets)]
        row_offsets = batch_offsets[index] if batch_offsets is not None else [NO_OFFSET] * len(ids)
        if options.truncation and len(ids) > options.max_length:
            left = options.truncation_side == "left"
            keep = slice(len(ids) - options.max_length, None) if left else slice(options.max_length)
            cut = ids[: len(ids) - options.max_length] if left else ids[options.max_length :]
            if placeholders.intersection(cut):
                raise ValueError(
                    f"sample {index}: truncation to max_length {options.max_length} would cut its visual / region "
                    f"placeholder tokens (the sequence is {len(ids)} tokens once the media and <region> markers are "
                    "expanded): raise max_length, shorten the text, or pass truncation=False."
                )
            ids, row_labels, row_offsets = ids[keep], row_labels[keep], row_offsets[keep]
        rows.append(list(ids))
        labels.append(row_labels)
        offsets.append([tuple(pair) for pair in row_offsets])
    target = options.max_length if options.padding == "max_length" else max(len(ids) for ids in rows)
    if options.padding != "do_not_pad" and options.pad_to_multiple_of:
        target = -(-target // options.pad_to_multiple_of) * options.pad_to_multiple_of
    data: dict[str, list[list[Any]]] = {"input_ids": [], "attention_mask": [], "labels": [], "offset_mapping": []}
    for ids, row_labels, row_offsets in zip(rows, labels, offsets):
        pad = max(target - len(ids), 0) if options.padding != "do_not_pad" else 0
        for key, row, fill in (("input_ids", ids, pad_id), ("attention_mask", [1] * len(ids), 0),
                               ("labels", row_labels, IGNORE_INDEX), ("offset_mapping", row_offsets, NO_OFFSET)):
            data[key].append([fill] * pad + row if options.padding_side == "left" else row + [fill] * pad)
    if batch_targets is None:
        del data["labels"]
    if batch_offsets is None:
        del data["offset_mapping"]
    if not options.return_attention_mask:
        del data["attention_mask"]
    lengths = [len(ids) for ids in data["input_ids"]]
    if options.return_tensors is None:
        return data
    if len(set(lengths)) > 1:
        raise ValueError(
            f"The samples are {lengths} tokens long and cannot be stacked into one tensor: pad them (padding=True or "
            "'max_length'), truncate them, or pass return_tensors=None."
        )
    if options.return_tensors == "np":
        return {key: np.array(value, dtype=np.int64) for key, value in data.items()}
    return {key: torch.tensor(value, dtype=torch.long) for key, value in data.items()}


NO_OFFSET = (0, 0)


def prompt_token_ids(
    processor: Any,
    prompt: str,
    masks_per_object: list[int],
    frames_per_video: int,
    target_spans: Sequence[tuple[int, int]] | None = None,
    with_offsets: bool = False,
) -> tuple[list[int], list[bool], list[tuple[int, int]]]:
    """The ids of `prompt` for `processor`: tokenized around the media marker (as the original does), with the
    placeholders expanded.

    Returns the ids; for each id whether it is a training target (a text token lying inside one of the character
    spans `target_spans` of `prompt`; placeholders never are); and, with `with_offsets`, each id's `(start, end)`
    character span in `prompt` (`(0, 0)` for the visual and `<region>` placeholders, which stand for no text).
    """
    spans = list(target_spans or [])
    ids: list[int] = []
    is_target: list[bool] = []
    offsets: list[tuple[int, int]] = []
    position = 0
    for piece in re.split(f"({re.escape(processor.image_token)}|{re.escape(processor.video_token)})", prompt):
        if piece in (processor.image_token, processor.video_token):
            placeholders = processor.replace_media_token(piece, frames_per_video)
            ids += placeholders
            is_target += [False] * len(placeholders)
            offsets += [NO_OFFSET] * len(placeholders)
        elif piece:
            encoded = processor.tokenizer(piece, add_special_tokens=False, return_offsets_mapping=bool(spans) or with_offsets)
            ids += encoded["input_ids"]
            if spans or with_offsets:
                for start, end in encoded["offset_mapping"]:
                    start, end = start + position, end + position
                    is_target.append(any(low <= start and end <= high for low, high in spans))
                    offsets.append((start, end))
            else:
                is_target += [False] * len(encoded["input_ids"])
        position += len(piece)
    expanded: list[int] = []
    expanded_target: list[bool] = []
    expanded_offsets: list[tuple[int, int]] = []
    objects = iter(masks_per_object)
    for index, (token, target) in enumerate(zip(ids, is_target)):
        is_region = token == processor.region_token_id
        copies = min(next(objects), processor.region_token_num) if is_region else 1
        expanded += [token] * copies
        expanded_target += [target and not is_region] * copies
        if with_offsets:
            expanded_offsets += [NO_OFFSET if is_region else offsets[index]] * copies
    return expanded, expanded_target, expanded_offsets


def flatten_images(images: Any) -> Any:
    """Images given per sample (`[[image], [], [image]]`, as TRL and `apply_chat_template` give them) -> a flat list
    in marker order; anything else unchanged."""
    if isinstance(images, (list, tuple)) and images and all(isinstance(item, (list, tuple)) for item in images):
        return [image for sample in images for image in sample]
    return images


def flatten_videos(videos: Any) -> Any:
    """`apply_chat_template`'s videos (a `PerSampleMedia` list per conversation) -> a flat list; anything else
    unchanged (a plain list of frames is one video)."""
    if isinstance(videos, (list, tuple)) and videos and all(isinstance(item, PerSampleMedia) for item in videos):
        return [video for sample in videos for video in sample]
    return videos


def looks_like_text(value: Any) -> bool:
    """Whether `value` is prompt text rather than image paths (for the old `processor(text, images)` order)."""
    items = [value] if isinstance(value, str) else value if isinstance(value, (list, tuple)) else None
    if not items or not all(isinstance(item, str) for item in items):
        return False
    return not any(item.startswith(URL_PREFIXES) or os.path.exists(item) for item in items)


def content_blocks(conversation: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The content blocks of a conversation's messages, in order (string contents hold none)."""
    blocks = []
    for message in conversation:
        content = message.get("content")
        if content is not None and not isinstance(content, str):
            blocks += list(content)
    return blocks


def block_value(block: Mapping[str, Any], keys: Sequence[str]) -> Any:
    """The first of `keys` that `block` gives a value for: None-valued keys count as absent (a `datasets` column
    gives every block every key of the column, most of them None)."""
    return next((block[key] for key in keys if block.get(key) is not None), None)


def chat_template_media(conversations: Sequence[Sequence[Mapping[str, Any]]]) -> tuple[list[PerSampleMedia], list[PerSampleMedia]]:
    """The images and videos of `{"type": "image"/"video", ...}` content blocks, one `PerSampleMedia` per conversation.

    Local paths stay paths (read by the package's own readers, as in a direct call); image URLs and base64 images
    are fetched with transformers' `load_image`. A video may also be decoded frames (a `(T, H, W, 3)` or
    `(T, 3, H, W)` array, or a list of frames).

    Raises:
        ValueError: an audio block, a video URL (download it and give its path), or a media block without media.
    """
    from transformers.image_utils import load_image as fetch_image

    batch_images, batch_videos = [], []
    for conversation in conversations:
        images, videos = PerSampleMedia(), PerSampleMedia()
        for block in content_blocks(conversation):
            kind = block.get("type")
            if kind == "audio":
                raise ValueError("VideoReferProcessor takes no audio: remove the {'type': 'audio'} content block.")
            if kind == "image":
                value = block_value(block, ("image", "url", "path", "base64"))
                if value is None:
                    continue  # a bare {"type": "image"}: the image comes as `images`
                fetch = block.get("base64") is not None or (isinstance(value, str) and value.startswith(URL_PREFIXES + ("data:",)))
                images.append(fetch_image(value) if fetch else value)
            elif kind == "video":
                value = block_value(block, ("video", "url", "path"))
                if value is None:
                    continue
                if isinstance(value, str) and value.startswith(URL_PREFIXES):
                    raise ValueError(f"Video URLs are not downloaded: download {value} and give its path.")
                videos.append(value)
        batch_images.append(images)
        batch_videos.append(videos)
    return batch_images, batch_videos


def region_object(masks: Any, on_image: bool, where: str) -> dict[int, Any]:
    """A region block's `masks` (`[{"frame": int, "size": [h, w], "counts": str}, ...]`, one per annotated frame)
    -> the processor's object `{frame_index: segmentation}`, in the order given. On an image the single mask is the
    image's, whatever frame it names (as the package's training data does)."""
    if not isinstance(masks, (list, tuple)) or not masks:
        raise ValueError(f"{where}: 'masks' must be a non-empty list of {{'frame', 'size', 'counts'}} dicts, got {masks!r}.")
    frames: dict[int, Any] = {}
    for entry in masks:
        if not isinstance(entry, Mapping) or entry.get("frame") is None:
            raise ValueError(f"{where}: each mask must be a dict with a 'frame' index and its segmentation, got {entry!r}.")
        segmentation = {key: value for key, value in entry.items() if key != "frame" and value is not None}
        if "segmentation" in segmentation:
            segmentation = segmentation["segmentation"]
        frame = entry["frame"]
        if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)):
            raise TypeError(f"{where}: a mask's 'frame' must be an int (a frame index of the clip), got {frame!r}.")
        if int(frame) in frames:
            raise ValueError(f"{where}: frame {int(frame)} is given twice.")
        frames[int(frame)] = segmentation
    if on_image and len(frames) == 1:
        return {0: next(iter(frames.values()))}
    return frames


def chat_template_regions(conversations: Sequence[Sequence[Mapping[str, Any]]]) -> list[list[dict[int, Any]]] | None:
    """Per conversation, the objects of its `{"type": "region", "masks": [...]}` blocks in order (see
    `region_object`); None when no block carries masks (the objects then come as `masks` / `boxes`)."""
    if not any(block.get("type") == "region" and block.get("masks") is not None
               for conversation in conversations for block in content_blocks(conversation)):
        return None
    result = []
    for index, conversation in enumerate(conversations):
        blocks = content_blocks(conversation)
        on_image = any(block.get("type") == "image" for block in blocks) and not any(block.get("type") == "video" for block in blocks)
        objects = []
        for number, block in enumerate(b for b in blocks if b.get("type") == "region"):
            where = f"conversation {index}, region block {number}"
            if block.get("masks") is None:
                raise ValueError(f"{where}: a region block needs its 'masks' (the other region blocks carry theirs).")
            objects.append(region_object(block["masks"], on_image, where))
        result.append(objects)
    return result


__all__ = ["VideoReferProcessorKwargs"]

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Turning one training sample into a prompt, its target spans, its media and its objects."""

import os
import random
import zlib
from dataclasses import dataclass
from typing import Any

from transformers.utils.chat_template_utils import render_jinja_template

from ..models.videorefer.processing_videorefer import IMAGE_TOKEN, REGION_TOKEN, VIDEO_TOKEN

ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}


@dataclass
class PreparedExample:
    """A sample ready for the processor.

    Attributes:
        sample_id: the sample's id, for error messages.
        text: the full prompt (chat template or plain format).
        target_spans: character spans of `text` that are trained on.
        kind: "video", "image" or None (text only).
        media: path of the video / image, or None.
        objects: one `{frame_index: segmentation}` per `<region>`, in order; each object's frames in the order
            given (the order the model pools and merges them in).
        trailing_tokens_to_drop: text tokens to remove from the end of the encoded sample (set by the collator's
            truncation at `max_length`, which cuts `text` just before the next special token and drops the rest
            after encoding, so that the kept tokens are exactly those of the uncut text).
    """

    sample_id: str
    text: str
    target_spans: list[tuple[int, int]]
    kind: str | None
    media: str | None
    objects: list[dict[int, Any]]
    trailing_tokens_to_drop: int = 0


def resolve_media(path: str | None, media_root: str | None) -> str | None:
    """A sample's media path, relative to `media_root` when it is not absolute."""
    if path is None:
        return None
    if media_root is not None and not os.path.isabs(path):
        return os.path.join(media_root, path)
    return path


def _turns(conversations: list[dict[str, Any]], where: str) -> list[dict[str, str]]:
    turns = []
    for number, turn in enumerate(conversations):
        if not isinstance(turn, dict) or "value" not in turn or "from" not in turn:
            raise ValueError(f"{where}: turn {number} must be {{'from': 'human'|'gpt', 'value': str}}, got {turn!r}.")
        if turn["from"] not in ROLES:
            raise ValueError(f"{where}: turn {number} has an unknown speaker {turn['from']!r} (expected human or gpt).")
        if not isinstance(turn["value"], str):
            raise ValueError(f"{where}: turn {number} value must be a string.")
        turns.append({"role": ROLES[turn["from"]], "content": turn["value"]})
    while turns and turns[0]["role"] == "assistant":
        turns = turns[1:]  # as the original, a conversation starts with the user
    if not any(t["role"] == "assistant" for t in turns):
        raise ValueError(f"{where}: the conversation has no answer (no 'gpt' turn) to train on.")
    return turns


def _move_media_marker(turns: list[dict[str, str]], kind: str | None, where: str) -> int | None:
    """Remove the media marker from the turns; return the index of the turn it belongs to (the original moves it
    to the start of that turn), or None when no turn holds one (the original then trains the sample as text only)."""
    markers = (IMAGE_TOKEN, VIDEO_TOKEN)
    holder = None
    for index, turn in enumerate(turns):
        if any(marker in turn["content"] for marker in markers):
            if kind is None:
                raise ValueError(f"{where}: the conversation holds a media marker but the sample has no video or image.")
            if holder is not None:
                raise ValueError(f"{where}: more than one turn holds a media marker; VideoRefer takes one medium.")
            holder = index
            for marker in markers:
                turn["content"] = turn["content"].replace(marker, "")
            turn["content"] = turn["content"].strip()
    return holder


def sample_mask_frames(obj: dict[int, Any], limit: int | None, rng: random.Random) -> dict[int, Any]:
    """At most `limit` of an object's mask frames, chosen at random and kept in the order given.

    A departure from the original (which uses every annotated frame): only applied when `num_mask_frames` is set."""
    if limit is None or len(obj) <= limit:
        return obj
    chosen = set(rng.sample(sorted(obj), limit))
    return {frame: segmentation for frame, segmentation in obj.items() if frame in chosen}


def _check_region_count(turns: list[dict[str, str]], objects: list, where: str) -> None:
    """Refuse a sample whose conversation's `<region>` markers are not one per annotated object."""
    num_regions = sum(turn["content"].count(REGION_TOKEN) for turn in turns)
    if num_regions != len(objects):
        raise ValueError(
            f"{where}: the conversation holds {num_regions} {REGION_TOKEN} marker(s) but the annotation has "
            f"{len(objects)} object(s)."
        )


def _objects(annotation: Any, where: str) -> list[dict[int, Any]]:
    """The annotation's objects as `{frame_index: segmentation}`, each in the annotation's key order (the order the
    original pools and merges an object's masks in)."""
    if annotation is None:
        return []
    if not isinstance(annotation, list):
        raise ValueError(f"{where}: 'annotation' must be a list with one entry per object.")
    objects = []
    for number, obj in enumerate(annotation):
        if not isinstance(obj, dict) or not obj:
            raise ValueError(f"{where}: object {number} must be a non-empty {{frame index: segmentation}} dict.")
        frames = {}
        for key, value in obj.items():
            if not str(key).strip().isdigit():
                raise ValueError(f"{where}: object {number} has frame key {key!r}; expected a frame index.")
            if int(key) in frames:
                raise ValueError(f"{where}: object {number} gives frame {int(key)} twice.")
            frames[int(key)] = value
        objects.append(frames)
    return objects


def image_objects(objects: list[dict[int, Any]], where: str) -> list[dict[int, Any]]:
    """An image's objects on frame 0, whatever frame their single key names (the original pairs every object of an
    image with the image, frame 0). An object with several masks cannot be used on an image."""
    result = []
    for number, obj in enumerate(objects):
        if len(obj) != 1:
            raise ValueError(
                f"{where}: object {number} of an image has masks for {len(obj)} frames ({sorted(obj)}); an image "
                "object takes one mask (the original pairs each image object with one mask)."
            )
        result.append({0: next(iter(obj.values()))})
    return result


def prepare_example(
    row: dict[str, Any],
    chat_template: str,
    plain: bool = False,
    media_root: str | None = None,
    num_mask_frames: int | None = None,
    seed: int = 0,
) -> PreparedExample:
    """Build the prompt and targets of one decoded sample (see `data.decode_row`).

    `plain` is stage 1's format: the user turn (media marker first) and the answer joined by a space, trained on
    everything but the placeholders, with no chat template. Otherwise the chat template renders the conversation
    and the assistant turns are the targets.

    As the original: every annotated frame of an object is used, in the annotation's key order; a conversation
    without a media marker is trained as text only (the media is not read); an image object keyed by any frame is
    the image's mask. `num_mask_frames` (a departure from the original, for memory) caps the mask frames per
    object (random, seeded by `seed` and the sample id so that a rerun sees the same frames).
    """
    sid = str(row["id"])
    where = f"training sample {sid}"
    kind = "video" if row.get("video") is not None else "image" if row.get("image") is not None else None
    media = resolve_media(row.get("video") if kind == "video" else row.get("image"), media_root)
    turns = _turns(row["conversations"], where)
    holder = _move_media_marker(turns, kind, where)
    objects = _objects(row.get("annotation"), where)
    _check_region_count(turns, objects, where)
    if kind is not None and holder is None:
        # The original inserts no media where the conversation has no marker: it trains on the text alone.
        if plain:
            raise ValueError(f"{where}: the plain (stage 1) format needs the {kind} marker in the question.")
        if objects:
            raise ValueError(
                f"{where}: {REGION_TOKEN} markers but no <{kind}> marker in the conversation; the original would "
                f"train on the text alone with a bare {REGION_TOKEN} token. Add the <{kind}> marker."
            )
        kind, media = None, None
    if plain and holder not in (None, 0):
        raise ValueError(f"{where}: the plain (stage 1) format needs the {kind} marker in the question.")
    if kind == "image":
        objects = image_objects(objects, where)
    marker = {"video": VIDEO_TOKEN, "image": IMAGE_TOKEN}.get(kind)
    rng = random.Random(zlib.crc32(f"{seed}:{sid}".encode()))
    objects = [sample_mask_frames(obj, num_mask_frames, rng) for obj in objects]
    if plain:
        if len(turns) != 2 or turns[0]["role"] != "user":
            raise ValueError(f"{where}: the plain (stage 1) format takes one user turn and one answer.")
        question = turns[0]["content"]
        if marker is not None:
            question = f"{marker}\n{question}".strip()
        text = f"{question} {turns[1]['content']}"
        return PreparedExample(sid, text, [(0, len(text))], kind, media, objects)
    messages = []
    for index, turn in enumerate(turns):
        if index == holder:
            content = [{"type": kind}, {"type": "text", "text": turn["content"]}]
        else:
            content = turn["content"]
        messages.append({"role": turn["role"], "content": content})
    rendered, generation_indices = render_jinja_template(
        [messages], chat_template=chat_template, return_assistant_tokens_mask=True
    )
    return PreparedExample(sid, rendered[0], list(generation_indices[0]), kind, media, objects)

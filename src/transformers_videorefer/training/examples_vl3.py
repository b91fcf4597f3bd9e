# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""One VideoRefer-700K-format sample -> the chat messages, media and masks of VideoRefer-VideoLLaMA3 training.

What the original VL3 training (`videorefer_videollama3/train.py`, `_convert_normal`) builds, and what is kept here:

- A conversation starts with the user (leading answers are dropped). A sample with a video / image but no
  `<video>` / `<image>` marker gets the marker at the start of its first turn (VideoRefer-7B's recipe trains such a
  sample as text only instead).
- Each user turn is split on the media marker: the media block stands where the marker stood, the text pieces are
  stripped and empty ones dropped (the prompt is then the one `messages_from_question` builds at inference).
  Answers are kept as they are.
- Each `<region>` marker is one (object, frame) mask, object after object, each object's frames in the order
  given: VL3 has no per-object merging of frames, so an object annotated on k frames needs k `<region>` markers.
  The processor takes an object's frames in increasing frame order (the annotation's order in the original).
- Image objects are one mask each (the original's `masks` of an image sample are bare segmentations).
"""

from dataclasses import dataclass
from typing import Any

from ..models.videorefer_vl3.processing_videorefer_vl3 import IMAGE_TOKEN, REGION_MARKER, VIDEO_MARKER
from .examples import _objects, _turns, image_objects, resolve_media


@dataclass
class VL3Example:
    """A VL3 training sample ready for `VideoReferVL3Processor`.

    Attributes:
        sample_id: the sample's id, for error messages.
        messages: chat messages (user content as blocks, assistant content as text).
        kind: "video", "image" or None (text only).
        media: path of the video / image, or None.
        objects: per object, `{frame_index: segmentation}` (one `<region>` per entry).
    """

    sample_id: str
    messages: list[dict[str, Any]]
    kind: str | None
    media: str | None
    objects: list[dict[int, Any]]


def user_content(text: str, kind: str | None) -> list[dict[str, Any]]:
    """A user turn's blocks: the text split on the media marker (pieces stripped, empty ones dropped), a media
    block where each marker stood."""
    if kind is None:
        return [{"type": "text", "text": text.strip()}] if text.strip() else []
    marker = VIDEO_MARKER if kind == "video" else IMAGE_TOKEN
    content: list[dict[str, Any]] = []
    for number, piece in enumerate(text.split(marker)):
        if number > 0:
            content.append({"type": kind})
        if piece.strip():
            content.append({"type": "text", "text": piece.strip()})
    return content


def prepare_vl3_example(row: dict[str, Any], media_root: str | None = None) -> VL3Example:
    """The VL3 messages, media and objects of one decoded sample (see `data.decode_row`).

    Raises:
        ValueError: no answer, more than one media marker, a marker without media, or another number of `<region>`
            markers than (object, frame) masks.
    """
    sid = str(row["id"])
    where = f"training sample {sid}"
    kind = "video" if row.get("video") is not None else "image" if row.get("image") is not None else None
    media = resolve_media(row.get("video") if kind == "video" else row.get("image"), media_root)
    turns = _turns(row["conversations"], where)
    markers = sum(t["content"].count(VIDEO_MARKER) + t["content"].count(IMAGE_TOKEN) for t in turns)
    if kind is None and markers:
        raise ValueError(f"{where}: the conversation holds a media marker but the sample has no video or image.")
    if markers > 1:
        raise ValueError(f"{where}: {markers} media markers; VideoRefer-VideoLLaMA3 takes one video or image per sample.")
    marker = {"video": VIDEO_MARKER, "image": IMAGE_TOKEN}.get(kind)
    if kind is not None and markers == 0:
        first_user = next(i for i, t in enumerate(turns) if t["role"] == "user")
        turns[first_user]["content"] = marker + turns[first_user]["content"]  # as the original
    objects = _objects(row.get("annotation"), where)
    if kind == "image":
        objects = image_objects(objects, where)
    num_regions = sum(t["content"].count(REGION_MARKER) for t in turns)
    num_masks = sum(len(obj) for obj in objects)
    if num_regions != num_masks:
        raise ValueError(
            f"{where}: the conversation holds {num_regions} {REGION_MARKER} marker(s) but the annotation has "
            f"{num_masks} (object, frame) mask(s) ({[len(o) for o in objects]} frames per object); "
            f"VideoRefer-VideoLLaMA3 takes one {REGION_MARKER} per (object, frame) mask."
        )
    if objects and kind is None:
        raise ValueError(f"{where}: {REGION_MARKER} markers need a video or an image.")
    messages = []
    for turn in turns:
        if turn["role"] == "user":
            messages.append({"role": "user", "content": user_content(turn["content"], kind)})
        else:
            messages.append({"role": turn["role"], "content": turn["content"]})
    return VL3Example(sid, messages, kind, media, objects)

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoRefer-700K samples <-> the conversational rows that `trl sft` trains on.

A row is `{"id": str, "messages": [{"role", "content": [block, ...]}, ...], "images": []}`. The blocks are
`{"type": "text", "text": str}`, `{"type": "video", "path": "/abs/clip.mp4 or /abs/frames/"}`,
`{"type": "image", "image": "/abs/still.jpg"}` and one `{"type": "region", "masks": [{"frame": int,
"size": [height, width], "counts": str}, ...]}` per `<region>` of the sample (that object's COCO RLE masks, one per
annotated frame, in the annotation's order). Blocks read back from Arrow carry the other blocks' keys as None: they
count as absent.

The rows keep what the package's own collator (`training/examples.py`) trains: the media marker's turn is stripped as
the original strips it, a conversation that starts with the answer loses those leading turns, a media file without a
marker is trained as text only, and polygon / uncompressed segmentations become compressed RLE at the media's size.
The chat template renders the media block at the start of its turn and each region block as `<region>`, so a row
renders to exactly the prompt the collator builds from the sample.
"""

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tqdm.auto import tqdm

from ..inputs.masks import decode_segmentation
from ..inputs.media import load_image, open_clip
from ..models.videorefer.processing_videorefer import IMAGE_TOKEN, REGION_TOKEN, VIDEO_TOKEN
from .data import sample_id
from .examples import _check_region_count, _objects, _turns, resolve_media

MEDIA_MARKERS = {"video": VIDEO_TOKEN, "image": IMAGE_TOKEN}
SPEAKERS = {"user": "human", "assistant": "gpt", "system": "system"}
ARROW_FORMAT, JSONL_FORMAT = "arrow", "jsonl"
_PIECES = re.compile(f"({re.escape(REGION_TOKEN)})")


# ------------------------------------------------------------------------------------------------ to the TRL rows


def _text_and_region_blocks(text: str, objects: Iterator[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """`text` as text blocks and one region block per `<region>` (taking the next object's masks)."""
    blocks = []
    for piece in _PIECES.split(text):
        if piece == REGION_TOKEN:
            blocks.append({"type": "region", "masks": next(objects)})
        elif piece:
            blocks.append({"type": "text", "text": piece})
    return blocks


def _holder_blocks(
    content: str, media_block: dict[str, Any], objects: Iterator[list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The blocks of the turn that holds the media marker: the turn without its marker(s), stripped as the original
    strips it, with the media block where the (first) marker stood."""
    first = min(content.index(m) for m in MEDIA_MARKERS.values() if m in content)
    bare = content
    for marker in MEDIA_MARKERS.values():
        bare = bare.replace(marker, "")
    body = bare.strip()
    lead = len(bare) - len(bare.lstrip())
    cut = min(max(first - lead, 0), len(body))
    return [
        *_text_and_region_blocks(body[:cut], objects),
        media_block,
        *_text_and_region_blocks(body[cut:], objects),
    ]


def _rle_mask(
    frame: int, segmentation: Any, media_size: Callable[[], tuple[int, int]] | None, where: str
) -> dict[str, Any]:
    """One annotated frame as `{"frame", "size", "counts"}` (compressed COCO RLE). A compressed RLE is kept as is;
    polygons, uncompressed RLE and None (an empty mask) are encoded at the media's size, read only then."""
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, dict) and "segmentation" in segmentation:
        segmentation = segmentation["segmentation"]
    if isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), (str, bytes)):
        size = segmentation.get("size")
        if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(v, int) for v in size)):
            raise ValueError(f"{where}: RLE 'size' must be [height, width], got {size!r}.")
        counts = segmentation["counts"]
        counts = counts.decode("ascii") if isinstance(counts, bytes) else counts
        return {"frame": frame, "size": [int(size[0]), int(size[1])], "counts": counts}
    if media_size is None:
        raise ValueError(f"{where}: a polygon or uncompressed mask needs the sample's video or image for its size.")
    size = media_size()
    mask = decode_segmentation(segmentation, size, where)
    encoded = mask_utils.encode(mask.astype("uint8", order="F"))
    return {"frame": frame, "size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def _media_size_reader(kind: str, path: str) -> Callable[[], tuple[int, int]]:
    """A function returning the media's (height, width), reading the media once, on the first call."""
    found: list[tuple[int, int]] = []

    def size() -> tuple[int, int]:
        if not found:
            if kind == "image":
                found.append(tuple(load_image(path).shape[:2]))
            else:
                clip = open_clip(path)
                found.append((clip.height, clip.width))
        return found[0]

    return size


def to_trl_row(record: dict[str, Any], index: int = 0, media_root: str | None = None) -> dict[str, Any]:
    """One VideoRefer-700K sample as a `trl sft` conversational row (see the module docstring).

    Raises ValueError (with the sample id) where the package's collator would refuse the sample: no answer, a media
    marker in two turns or without media, `<region>` markers that differ in number from the annotation's objects,
    regions without a media marker, an image object with several masks.
    """
    sid = sample_id(record, index)
    where = f"training sample {sid}"
    if not isinstance(record.get("conversations"), list) or not record["conversations"]:
        raise ValueError(f"{where}: 'conversations' must be a non-empty list of turns.")
    if record.get("video") is not None and record.get("image") is not None:
        raise ValueError(f"{where}: a sample has either a 'video' or an 'image', not both.")
    kind = "video" if record.get("video") is not None else "image" if record.get("image") is not None else None
    turns = _turns(record["conversations"], where)
    annotation = _objects(record.get("annotation"), where)
    _check_region_count(turns, annotation, where)
    holders = [i for i, turn in enumerate(turns) if any(m in turn["content"] for m in MEDIA_MARKERS.values())]
    if len(holders) > 1:
        raise ValueError(f"{where}: more than one turn holds a media marker; VideoRefer takes one medium.")
    if holders and kind is None:
        raise ValueError(f"{where}: the conversation holds a media marker but the sample has no video or image.")
    if kind is not None and not holders:
        if annotation:
            raise ValueError(f"{where}: {REGION_TOKEN} markers but no <{kind}> marker in the conversation.")
        kind = None  # as the original: a conversation without a marker trains on the text alone
    if annotation and kind is None:
        raise ValueError(f"{where}: an annotation without a video or an image.")
    media_block, media_size = None, None
    if kind is not None:
        path = os.path.abspath(resolve_media(record[kind], media_root))
        media_block = {"type": "video", "path": path} if kind == "video" else {"type": "image", "image": path}
        media_size = _media_size_reader(kind, path)
        if kind == "image" and any(len(obj) != 1 for obj in annotation):
            raise ValueError(f"{where}: an image object takes one mask (the original pairs each with the image).")
    objects = iter(
        [_rle_mask(frame, seg, media_size, f"{where}, object {n}, frame {frame}") for frame, seg in obj.items()]
        for n, obj in enumerate(annotation)
    )
    messages = []
    for number, turn in enumerate(turns):
        if holders and number == holders[0] and media_block is not None:
            content = _holder_blocks(turn["content"], media_block, objects)
        else:
            content = _text_and_region_blocks(turn["content"], objects)
        messages.append({"role": turn["role"], "content": content or [{"type": "text", "text": ""}]})
    return {"id": sid, "messages": messages, "images": []}


def to_trl_rows(
    records: Iterable[dict[str, Any]], media_root: str | None = None, progress: bool = False
) -> list[dict[str, Any]]:
    """Every sample of `records` as a `trl sft` row (a progress bar with `progress`)."""
    records = list(records)
    return [
        to_trl_row(record, index, media_root)
        for index, record in enumerate(tqdm(records, desc="converting samples", disable=not progress))
    ]


# ------------------------------------------------------------------------------------------- back to VideoRefer-700K


def _media_marker_text(blocks: list[dict[str, Any]], where: str) -> tuple[str, str | None, str | None]:
    """A turn's text with its markers, its media kind and path. A media block first or last in the turn is joined
    to the text by a newline, as VideoRefer-700K writes it (`<video>\\n...`); elsewhere it stands in the text."""
    texts: list[str] = []
    media_at, kind, path = None, None, None
    for number, block in enumerate(blocks):
        kind_here = block.get("type")
        if kind_here == "text":
            texts.append(block.get("text") or "")
        elif kind_here == "region":
            texts.append(REGION_TOKEN)
        elif kind_here in MEDIA_MARKERS:
            if media_at is not None:
                raise ValueError(f"{where}: a turn holds two media blocks; VideoRefer takes one medium.")
            media_at, kind = len(texts), kind_here
            path = block.get("path") if kind_here == "video" else block.get("image")
            if path is None and kind_here == "video":
                path = block.get("video")
            if not isinstance(path, str):
                raise ValueError(f"{where}: block {number} ({kind_here}) has no path.")
        else:
            raise ValueError(f"{where}: block {number} has an unknown type {kind_here!r} (text, region, video, image).")
    if media_at is None:
        return "".join(texts), None, None
    before, after = "".join(texts[:media_at]), "".join(texts[media_at:])
    marker = MEDIA_MARKERS[kind]
    if not before and after:
        return f"{marker}\n{after}", kind, path
    if before and not after:
        return f"{before}\n{marker}", kind, path
    return f"{before}{marker}{after}", kind, path


def _relative(path: str, media_root: str | None) -> str:
    if media_root is None:
        return path
    relative = os.path.relpath(path, os.path.abspath(media_root))
    return path if relative.startswith(os.pardir) else relative


def from_trl_row(row: dict[str, Any], media_root: str | None = None) -> dict[str, Any]:
    """A `trl sft` row back to a VideoRefer-700K sample (`id`, `video` / `image`, `conversations`, `annotation`).

    Media paths under `media_root` become relative to it. Masks come back as `{"segmentation": {"size", "counts"}}`
    keyed by their frame, in the order given.
    """
    sid = str(row["id"]) if row.get("id") is not None else "?"
    where = f"trl row {sid}"
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"{where}: 'messages' must be a non-empty list of turns.")
    record: dict[str, Any] = {} if row.get("id") is None else {"id": row["id"]}
    conversations, annotation = [], []
    for number, message in enumerate(messages):
        role = message.get("role")
        if role not in SPEAKERS:
            raise ValueError(f"{where}: turn {number} has role {role!r}; expected user, assistant or system.")
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])
        text, kind, path = _media_marker_text(blocks, f"{where}, turn {number}")
        if kind is not None:
            if "video" in record or "image" in record:
                raise ValueError(f"{where}: more than one turn holds a media block; VideoRefer takes one medium.")
            record[kind] = _relative(path, media_root)
        for block in blocks:
            if block.get("type") == "region":
                masks = block.get("masks") or []
                if not masks:
                    raise ValueError(f"{where}, turn {number}: a region block needs at least one mask.")
                annotation.append({
                    str(int(mask["frame"])): {"segmentation": {"size": [int(v) for v in mask["size"]],
                                                               "counts": mask["counts"]}}
                    for mask in masks
                })
        conversations.append({"from": SPEAKERS[role], "value": text})
    record["conversations"] = conversations
    if annotation:
        record["annotation"] = annotation
    return record


def from_trl_rows(rows: Iterable[dict[str, Any]], media_root: str | None = None) -> list[dict[str, Any]]:
    """Every row of `rows` back to a VideoRefer-700K sample (see `from_trl_row`)."""
    return [from_trl_row(row, media_root) for row in rows]


# ------------------------------------------------------------------------------------------------------ files


def write_trl_rows(rows: list[dict[str, Any]], destination: str | os.PathLike, file_format: str = JSONL_FORMAT) -> None:
    """Write rows as JSONL (one row a line) or as a `datasets` dataset saved to disk (`file_format="arrow"`)."""
    destination = os.fspath(destination)
    if file_format == JSONL_FORMAT:
        with open(destination, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row) + "\n" for row in rows)
    elif file_format == ARROW_FORMAT:
        from datasets import Dataset

        Dataset.from_list(rows).save_to_disk(destination)
    else:
        raise ValueError(f"Unknown format {file_format!r}; expected {JSONL_FORMAT!r} or {ARROW_FORMAT!r}.")


def read_trl_rows(source: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows from a JSONL file or a folder written by `datasets.Dataset.save_to_disk`."""
    source = os.fspath(source)
    if os.path.isdir(source):
        from datasets import load_from_disk

        return [dict(row) for row in load_from_disk(source)]
    if not os.path.isfile(source):
        raise FileNotFoundError(f"No such file or folder: {source!r}")
    rows = []
    with open(source, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise ValueError(f"{source}, line {number}: not valid JSON ({error}).") from error
    return rows

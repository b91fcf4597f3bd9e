# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Training data in the VideoRefer-700K format, as a `datasets.Dataset`.

A sample is `{"video" | "image": path, "conversations": [{"from": "human" | "gpt", "value": ...}, ...],
"annotation": [{"<frame index>": {"segmentation": RLE | polygons}}, ...], "height"?, "width"?, "id"?}`; caption
data is the same without `annotation`. Nested fields are kept as JSON strings so that Arrow does not merge the
frame keys of different samples into one schema; media are only read when a batch is built.

The original VideoRefer-VideoLLaMA3 training files are read too: `masks` in place of `annotation` (an image's
objects as bare segmentations, a video's as `{frame: segmentation}`) and `video` as a one-path list.
"""

import json
import os
from collections.abc import Iterator
from typing import Any

from datasets import Dataset

COLUMNS = ("id", "video", "image", "conversations", "annotation", "height", "width")


def read_records(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read a JSON list or a JSONL file of samples."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such data file: {path!r}")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error}).") from error
    else:
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}, line {number}: not valid JSON ({error}).") from error
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise ValueError(f"{path}: sample {index} is a {type(record).__name__}, expected a JSON object.")
    return records


def sample_id(record: dict[str, Any], index: int) -> str:
    """The sample's `id` when it has one, else its position in the file."""
    return str(record["id"]) if record.get("id") is not None else str(index)


def _is_segmentation(value: Any) -> bool:
    """Whether an annotation entry is a bare segmentation (COCO RLE or polygons) rather than `{frame: ...}`."""
    return isinstance(value, list) or (isinstance(value, dict) and "counts" in value and "size" in value)


def _annotation(record: dict[str, Any], where: str) -> Any:
    """`annotation`, or the VL3 training files' `masks` (bare segmentations keyed as frame 0)."""
    if record.get("annotation") is not None and record.get("masks") is not None:
        raise ValueError(f"{where}: give the objects as 'annotation' or as 'masks', not both.")
    if record.get("annotation") is not None:
        return record["annotation"]
    masks = record.get("masks")
    if not isinstance(masks, list):
        return masks
    return [{"0": {"segmentation": entry}} if _is_segmentation(entry) else entry for entry in masks]


def _single_path(value: Any, key: str, where: str) -> Any:
    """A media path; a one-path list (the VL3 training files' form) is unwrapped."""
    if isinstance(value, list):
        if len(value) != 1 or not isinstance(value[0], str):
            raise ValueError(f"{where}: '{key}' must be one path (or a list of one path), got {value!r}.")
        return value[0]
    return value


def flatten_record(record: dict[str, Any], index: int) -> dict[str, Any]:
    """One sample as a flat row: nested fields as JSON strings, media paths as given."""
    where = f"sample {sample_id(record, index)}"
    conversations = record.get("conversations")
    if not isinstance(conversations, list) or not conversations:
        raise ValueError(f"{where}: 'conversations' must be a non-empty list of turns.")
    if record.get("video") is not None and record.get("image") is not None:
        raise ValueError(f"{where}: a sample has either a 'video' or an 'image', not both.")
    annotation = _annotation(record, where)
    return {
        "id": sample_id(record, index),
        "video": _single_path(record.get("video"), "video", where),
        "image": _single_path(record.get("image"), "image", where),
        "conversations": json.dumps(conversations),
        "annotation": None if annotation is None else json.dumps(annotation),
        "height": record.get("height"),
        "width": record.get("width"),
    }


def iter_rows(paths: list[str]) -> Iterator[dict[str, Any]]:
    for path in paths:
        for index, record in enumerate(read_records(path)):
            yield flatten_record(record, index)


def load_videorefer_dataset(paths: str | os.PathLike | list[str | os.PathLike]) -> Dataset:
    """Load one or more VideoRefer-700K-style JSON/JSONL files into a `datasets.Dataset` of flat rows.

    Columns: `id`, `video`, `image` (paths or None), `conversations` and `annotation` (JSON strings), `height`,
    `width`. Media are not read here.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    rows = list(iter_rows([os.fspath(p) for p in paths]))
    if not rows:
        raise ValueError(f"No samples in {[os.fspath(p) for p in paths]}.")
    return Dataset.from_list(rows)


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """A dataset row back to its nested form (conversations and annotation as Python objects)."""
    decoded = dict(row)
    decoded["conversations"] = json.loads(row["conversations"])
    decoded["annotation"] = None if row.get("annotation") is None else json.loads(row["annotation"])
    return decoded

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Benchmark annotation files: reading and checking their items, and the objects (masks) given per mask mode.

A benchmark file is a JSON list of dicts, each with at least `"video"`, `"frame_idx"` and `"annotation"` (one
`{"<frame index>": {"segmentation": RLE}}` dict per object), and possibly `"id"` (else the item's position in the
file). Problems are collected over the whole file and raised together (`raise_problems`), before any model work.
The benchmarks' own keys are checked by `bench_q.load_bench_q` and `bench_d.load_bench_d`.
"""

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

# single: only the mask at `frame_idx`; multi: every annotated mask.
MODES = ("single", "multi")
MAX_LISTED_PROBLEMS = 20


def raise_problems(problems: list[str], what: str) -> None:
    """Raise one ValueError listing `problems` (the first 20) of `what`; nothing when there are none."""
    if not problems:
        return
    listed = "\n".join(f"  - {problem}" for problem in problems[:MAX_LISTED_PROBLEMS])
    more = f"\n  ... and {len(problems) - MAX_LISTED_PROBLEMS} more" if len(problems) > MAX_LISTED_PROBLEMS else ""
    raise ValueError(f"{what}: {len(problems)} problem(s):\n{listed}{more}")


def _annotation_problems(item: Mapping[str, Any], where: str) -> list[str]:
    annotation = item.get("annotation")
    if not isinstance(annotation, list) or not annotation:
        return [f"{where}: 'annotation' must be a non-empty list (one dict of frame index -> mask per object)"]
    problems = []
    for number, obj in enumerate(annotation):
        if not isinstance(obj, dict) or not obj:
            problems.append(f"{where}, object {number}: expected a non-empty dict of frame index -> mask")
            continue
        bad = [key for key in obj if not str(key).strip().isdigit()]
        if bad:
            problems.append(f"{where}, object {number}: frame indices must be digit strings, got {bad[:3]}")
    return problems


def collect_benchmark_items(
    path: str | os.PathLike, required_keys: Sequence[str], name: str
) -> tuple[list[dict], list[str]]:
    """Read a benchmark JSON file (a list of dicts); every item gets an `"id"` (its index in the file if absent).

    Returns the well-formed items and the problems found (missing keys, malformed annotations, duplicate ids); items
    with missing keys or malformed annotations are left out.

    Raises:
        FileNotFoundError: no such file. ValueError: not JSON, or not a list.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such {name} file: {path!r}")
    with open(path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{name} file {path!r} is not valid JSON: {error}") from error
    if not isinstance(data, list):
        raise ValueError(f"{name} file {path!r} must hold a JSON list of items, got a {type(data).__name__}.")
    items, problems, seen = [], [], {}
    for index, raw in enumerate(data):
        if not isinstance(raw, dict):
            problems.append(f"item at position {index}: expected a JSON object, got {type(raw).__name__}")
            continue
        item = dict(raw)
        item.setdefault("id", index)
        where = f"item {item['id']!r} (position {index})"
        if not isinstance(item["id"], (int, str)) or isinstance(item["id"], bool):
            problems.append(f"{where}: 'id' must be an integer or a string")
            continue
        if item["id"] in seen:
            problems.append(f"{where}: duplicate id (also at position {seen[item['id']]})")
        seen[item["id"]] = index
        missing = [key for key in required_keys if key not in item]
        if missing:
            problems.append(f"{where}: missing key(s) {missing}")
            continue
        item_problems = _annotation_problems(item, where)
        if not isinstance(item["video"], str) or not item["video"]:
            item_problems.append(f"{where}: 'video' must be a non-empty string")
        problems += item_problems
        if not item_problems:
            items.append(item)
    return items, problems


def read_benchmark_items(path: str | os.PathLike, required_keys: Sequence[str], name: str) -> list[dict]:
    """`collect_benchmark_items`, raising one ValueError that lists every problem."""
    items, problems = collect_benchmark_items(path, required_keys, name)
    raise_problems(problems, f"{name} file {os.fspath(path)!r}")
    return items


def _frame_key(obj: Mapping[str, Any], frame_idx: Any) -> str | None:
    """The key of `obj` for frame `frame_idx` (keys and frame_idx compared as integers), or None."""
    try:
        wanted = int(str(frame_idx).strip())
    except ValueError:
        return None
    for key in obj:
        if int(str(key).strip()) == wanted:
            return key
    return None


def objects_for_mode(item: Mapping[str, Any], mode: str) -> list[dict]:
    """The objects given to the model: all annotated frames (`multi`) or only the mask at `frame_idx` (`single`).

    Raises:
        ValueError: unknown mode, or (single mode) an object has no mask at `frame_idx`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    objects = []
    for number, obj in enumerate(item["annotation"]):
        if mode == "multi":
            objects.append(dict(obj))
            continue
        key = _frame_key(obj, item["frame_idx"])
        if key is None:
            raise ValueError(
                f"item {item.get('id')!r}, object {number}: single-frame mode needs the mask at frame_idx "
                f"{item['frame_idx']!r}, but the object is annotated on frames {sorted(obj, key=lambda k: int(k))[:8]}."
            )
        objects.append({key: obj[key]})
    return objects


def mode_problems(items: Sequence[Mapping[str, Any]], mode: str) -> list[str]:
    """Items whose objects cannot be built in `mode` (single mode: a mask missing at `frame_idx`)."""
    problems = []
    for item in items:
        try:
            objects_for_mode(item, mode)
        except ValueError as error:
            problems.append(str(error))
    return problems


__all__ = [
    "MAX_LISTED_PROBLEMS",
    "MODES",
    "collect_benchmark_items",
    "mode_problems",
    "objects_for_mode",
    "raise_problems",
    "read_benchmark_items",
]

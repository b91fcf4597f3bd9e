# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Prediction files: JSONL, one JSON object with an `"id"` per line, and their per-process shards.

A run sharded over N processes writes `PRED.jsonl.shard{k}-of-{N}` from process k; `merge_prediction_files` appends
the shards' records that `PRED.jsonl` lacks (keeping its existing lines byte for byte) and deletes the shards. A
truncated last line (an interrupted write) is tolerated and dropped; any other malformed line is an error.
"""

import json
import os
import re
from collections.abc import Sequence
from typing import Any

from ..single_writer import FileLockHeldError, SingleWriterLock


def id_key(record_id: Any) -> str:
    """A hashable key of an id that keeps 1 and "1" apart, as JSON does."""
    return json.dumps(record_id, sort_keys=True)


def shard_path(output: str | os.PathLike, index: int, count: int) -> str:
    """The file of shard `index` of `count`: `PRED.jsonl.shard{index}-of-{count}`."""
    return f"{os.fspath(output)}.shard{index}-of-{count}"


def shard_files(output: str | os.PathLike) -> list[str]:
    """The shard files of `output` on disk (of any shard count), sorted."""
    output = os.fspath(output)
    folder, base = os.path.split(output)
    pattern = re.compile(re.escape(base) + r"\.shard\d+-of-\d+$")
    if not os.path.isdir(folder or "."):
        return []
    return sorted(os.path.join(folder, name) for name in os.listdir(folder or ".") if pattern.match(name))


def read_prediction_lines(path: str | os.PathLike) -> tuple[list[tuple[bytes, dict]], int, bool]:
    """The complete lines of a JSONL file as (raw bytes without newline, record), the byte length they span, and
    whether the file is truncated (a last line that is not valid JSON, as an interrupted write leaves it).

    A last line that is valid JSON but lacks its newline counts as complete. A missing file has no lines.

    Raises:
        ValueError: a line other than the last is not a JSON object.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        return [], 0, False
    with open(path, "rb") as handle:
        data = handle.read()
    pieces = data.split(b"\n")
    lines, length, truncated = [], 0, False
    for number, piece in enumerate(pieces, start=1):
        is_last = number == len(pieces)
        if is_last and not piece:
            break
        try:
            record = json.loads(piece.decode("utf-8")) if piece.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            if is_last:
                truncated = True
                break
            raise ValueError(
                f"{path}, line {number}: not valid JSON ({error}); only a truncated last line (an interrupted "
                "write) is tolerated."
            ) from error
        if record is not None and not isinstance(record, dict):
            raise ValueError(f"{path}, line {number}: expected a JSON object, got {type(record).__name__}.")
        length += len(piece) + (0 if is_last else 1)
        if record is not None:
            lines.append((piece, record))
    return lines, length, truncated


def read_predictions(path: str | os.PathLike) -> list[dict]:
    """The records of a prediction JSONL file (a truncated last line is ignored)."""
    return [record for _, record in read_prediction_lines(path)[0]]


def merge_prediction_files(output: str | os.PathLike, order: Sequence[Any] | None = None) -> int:
    """Append the records of all shard files of `output` whose ids `output` lacks, then delete the shards.

    `output`'s existing lines are kept byte for byte (a truncated last line is dropped); new records are appended in
    the order of the ids in `order` (those not in `order` last), each id once. Returns the number of lines added.

    Raises:
        ValueError: a line without `"id"`.
    """
    output = os.fspath(output)
    lines, _, truncated = read_prediction_lines(output)
    shards = shard_files(output)
    seen = set()
    for _, record in lines:
        if "id" not in record:
            raise ValueError(f"{output}: a prediction line has no 'id'; cannot resume or merge: {record}")
        seen.add(id_key(record["id"]))
    added: dict[str, bytes] = {}
    for shard in shards:
        for raw, record in read_prediction_lines(shard)[0]:
            if "id" not in record:
                raise ValueError(f"{shard}: a prediction line has no 'id': {record}")
            key = id_key(record["id"])
            if key not in seen and key not in added:
                added[key] = raw
    needs_rewrite = truncated or bool(added) or (lines and not _ends_with_newline(output))
    if needs_rewrite:
        position = {id_key(value): index for index, value in enumerate(order or [])}
        new = sorted(added, key=lambda key: position.get(key, len(position)))
        temporary = output + ".merging"
        with open(temporary, "wb") as handle:
            for raw, _ in lines:
                handle.write(raw + b"\n")
            for key in new:
                handle.write(added[key] + b"\n")
        os.replace(temporary, output)
    for shard in shards:
        os.remove(shard)
    return len(added)


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return True
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


class PredictionFileLockedError(ValueError):
    """Another run is writing the same prediction file."""


def lock_path(output: str | os.PathLike) -> str:
    """The lock file of a prediction file: `PRED.jsonl.lock`."""
    return f"{os.fspath(output)}.lock"


class PredictionFileLock(SingleWriterLock):
    """One writer per prediction file: a `SingleWriterLock` on the sidecar `PRED.jsonl.lock`.

    A killed run leaves no lock in force (its lock file may stay, unlocked, and the next run takes it).
    """

    def __init__(self, output: str | os.PathLike):
        super().__init__(lock_path(output))

    def acquire(self) -> "PredictionFileLock":
        """Take the lock at once, or raise.

        Raises:
            PredictionFileLockedError: another process holds it; the message names its pid.
        """
        try:
            super().acquire()
        except FileLockHeldError as error:
            output = self.path[: -len(".lock")]
            raise PredictionFileLockedError(
                f"another run (pid {error.holder}) is writing {output}; wait for it to finish, or write to another "
                f"--output (a run that was killed holds no lock: its {self.path} does not block)."
            ) from None
        return self


__all__ = [
    "PredictionFileLock",
    "PredictionFileLockedError",
    "id_key",
    "lock_path",
    "merge_prediction_files",
    "read_prediction_lines",
    "read_predictions",
    "shard_files",
    "shard_path",
]

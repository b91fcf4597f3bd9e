# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Where the media of VideoRefer-Bench live, and a check that all of them are there before any model work.

The benchmark files name each clip by a path relative to a root folder (`--video-root`):

- VideoRefer-Bench-Q: folders of JPEG frames from DAVIS (`DAVIS/JPEGImages/480p/<clip>`) and MeViS
  (`MeViS/valid_u/JPEGImages/<clip>`), relative to the folder holding `VideoRefer-Bench-Q.json`;
- VideoRefer-Bench-D: mp4 files of Panda-70M (`<clip>.mp4`), relative to the `Panda-70M-part` folder.

Either layout is accepted for either benchmark: a name that resolves to a folder must hold frame images, one that
resolves to a file must be a non-empty video file.
"""

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..inputs.media import FRAME_FILE_EXTENSIONS

LAYOUT_HINT = (
    "Expected layouts: Bench-Q clips as JPEG frame folders under the root (DAVIS/JPEGImages/480p/<clip>, "
    "MeViS/valid_u/JPEGImages/<clip>), Bench-D clips as Panda-70M mp4 files (<clip>.mp4) in the root."
)
MAX_LISTED_ITEM_IDS = 5


@dataclass
class MissingMedia:
    """A clip named by the benchmark that cannot be used.

    Attributes:
        video: the item's `"video"` value.
        path: where it was looked for.
        reason: what is wrong (no such file or folder, a folder without frames, an empty file).
        item_ids: ids of the items that use this clip.
    """

    video: str
    path: str
    reason: str
    item_ids: list = field(default_factory=list)

    def describe(self) -> str:
        """One line for the error report."""
        ids = ", ".join(str(i) for i in self.item_ids[:MAX_LISTED_ITEM_IDS])
        if len(self.item_ids) > MAX_LISTED_ITEM_IDS:
            ids += f", ... ({len(self.item_ids)} items)"
        return f"{self.video}: {self.reason} ({self.path}; item(s) {ids})"


class MissingMediaError(FileNotFoundError):
    """Some media of the benchmark are missing; `missing` lists all of them."""

    def __init__(self, missing: list[MissingMedia], video_root: str):
        self.missing = missing
        self.video_root = video_root
        lines = "\n".join(f"  - {entry.describe()}" for entry in missing)
        super().__init__(
            f"{len(missing)} clip(s) named by the benchmark are missing or unusable under --video-root "
            f"{video_root!r}:\n{lines}\n{LAYOUT_HINT}"
        )

    def __str__(self) -> str:  # FileNotFoundError would otherwise format (errno, strerror)
        return self.args[0]


def media_path(video: str, video_root: str | os.PathLike) -> str:
    """The path of an item's `"video"` under the root (an absolute `"video"` is used as is)."""
    if not isinstance(video, str) or not video:
        raise TypeError(f"An item's 'video' must be a non-empty string, got {video!r}.")
    return os.path.normpath(os.path.join(os.fspath(video_root), video))


def media_problem(path: str) -> str | None:
    """What makes `path` unusable as a clip, or None when it is a frame folder with images or a non-empty file."""
    if os.path.isdir(path):
        with os.scandir(path) as entries:
            has_frames = any(
                entry.is_file() and not entry.name.startswith(".") and entry.name.lower().endswith(FRAME_FILE_EXTENSIONS)
                for entry in entries
            )
        return None if has_frames else f"the folder holds no frame images ({', '.join(FRAME_FILE_EXTENSIONS)})"
    if os.path.isfile(path):
        return None if os.path.getsize(path) > 0 else "the file is empty"
    return "no such frame folder or video file"


def find_missing_media(items: Iterable[Mapping[str, Any]], video_root: str | os.PathLike) -> list[MissingMedia]:
    """Every clip of `items` (dicts with `"id"` and `"video"`) that is missing or unusable, in order of first use."""
    found: dict[str, MissingMedia | None] = {}
    for item in items:
        video = item["video"]
        if video not in found:
            path = media_path(video, video_root)
            problem = media_problem(path)
            found[video] = None if problem is None else MissingMedia(video, path, problem)
        if found[video] is not None:
            found[video].item_ids.append(item.get("id"))
    return [entry for entry in found.values() if entry is not None]


def resolve_media(items: Iterable[Mapping[str, Any]], video_root: str | os.PathLike) -> dict[str, str]:
    """Map each item's `"video"` to its path under `video_root`, after checking that ALL of them are usable.

    Raises:
        FileNotFoundError (`MissingMediaError`): the root does not exist, or some clips are missing or unusable;
            the message lists every one of them with the items that use it.
    """
    items = list(items)
    root = os.fspath(video_root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"--video-root {root!r} is not a folder. {LAYOUT_HINT}")
    missing = find_missing_media(items, root)
    if missing:
        raise MissingMediaError(missing, root)
    return {item["video"]: media_path(item["video"], root) for item in items}


__all__ = ["MissingMedia", "MissingMediaError", "find_missing_media", "media_path", "media_problem", "resolve_media"]

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""`videorefer data check`: find every unusable sample of a training file before training."""

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from ..inputs.masks import decode_segmentation
from ..inputs.media import load_image, open_clip
from ..models.videorefer.processing_videorefer import REGION_TOKEN
from .data import flatten_record, read_records, sample_id
from .examples import _objects, _turns, resolve_media

DEFECT_KINDS = (
    "bad_sample",
    "missing_media",
    "unreadable_media",
    "frame_out_of_range",
    "bad_segmentation",
    "region_count_mismatch",
)


@dataclass
class Defect:
    sample_id: str
    kind: str
    message: str


@dataclass
class DataReport:
    """What `check_data_file` found: every defect, and how many samples were checked."""

    num_samples: int = 0
    defects: list[Defect] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counter = Counter(defect.kind for defect in self.defects)
        return {kind: counter.get(kind, 0) for kind in DEFECT_KINDS}

    @property
    def invalid_ids(self) -> list[str]:
        return sorted({defect.sample_id for defect in self.defects})

    def format(self, limit: int = 50) -> str:
        lines = [f"{self.num_samples} samples checked, {len(self.invalid_ids)} with defects"]
        lines += [f"  {kind}: {count}" for kind, count in self.counts.items()]
        for defect in self.defects[:limit]:
            lines.append(f"[{defect.kind}] sample {defect.sample_id}: {defect.message}")
        if len(self.defects) > limit:
            lines.append(f"... and {len(self.defects) - limit} more")
        return "\n".join(lines)


def _check_sample(record: dict[str, Any], index: int, media_root: str | None) -> list[Defect]:
    sid = sample_id(record, index)
    where = f"training sample {sid}"
    found: list[Defect] = []
    try:
        row = flatten_record(record, index)
        turns = _turns(record["conversations"], where)
        objects = _objects(record.get("annotation"), where)
    except (ValueError, TypeError, KeyError) as error:
        return [Defect(sid, "bad_sample", str(error))]
    num_regions = sum(t["content"].count(REGION_TOKEN) for t in turns)
    if num_regions != len(objects):
        found.append(
            Defect(sid, "region_count_mismatch", f"{num_regions} {REGION_TOKEN} marker(s), {len(objects)} object(s)")
        )
    kind = "video" if row["video"] is not None else "image" if row["image"] is not None else None
    if kind is None:
        if objects:
            found.append(Defect(sid, "bad_sample", "an annotation without a video or an image"))
        return found
    path = resolve_media(row[kind], media_root)
    if not os.path.exists(path):
        return found + [Defect(sid, "missing_media", f"no such file or folder: {path}")]
    frames_needed = sorted({frame for obj in objects for frame in obj})
    try:
        if kind == "image":
            image = load_image(path)
            num_frames, size = 1, image.shape[:2]
        else:
            clip = open_clip(path)
            num_frames, size = clip.num_frames, (clip.height, clip.width)
            clip.get_frames([f for f in frames_needed if f < num_frames])
    except (ValueError, TypeError, OSError) as error:
        return found + [Defect(sid, "unreadable_media", str(error))]
    if record.get("height") is not None and record.get("width") is not None:
        if (int(record["height"]), int(record["width"])) != tuple(size):
            found.append(
                Defect(sid, "bad_segmentation", f"height/width {record['height']}x{record['width']} differ from the "
                f"media's {size[0]}x{size[1]}")
            )
    for number, obj in enumerate(objects):
        for frame, segmentation in obj.items():
            if frame >= num_frames or (kind == "image" and frame != 0):
                found.append(
                    Defect(sid, "frame_out_of_range", f"object {number}: frame {frame}, the media has {num_frames} frame(s)")
                )
                continue
            try:
                decode_segmentation(segmentation, size, f"object {number}, frame {frame}")
            except (ValueError, TypeError) as error:
                found.append(Defect(sid, "bad_segmentation", str(error)))
    return found


def check_data_file(path: str | os.PathLike, media_root: str | None = None, progress: bool = True) -> DataReport:
    """Check every sample of a VideoRefer-700K-style JSON/JSONL file: media present and readable, segmentations
    decodable at the media's size, frame indices inside the clip, `<region>` markers matching the annotation."""
    records = read_records(path)
    report = DataReport(num_samples=len(records))
    for index, record in enumerate(tqdm(records, desc="checking samples", disable=not progress)):
        report.defects.extend(_check_sample(record, index, media_root))
    return report

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""`videorefer data check`: find every unusable sample of a training file before training."""

import numbers
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from ..inputs.masks import decode_segmentation
from ..inputs.media import load_image, open_clip
from ..models.videorefer.processing_videorefer import IMAGE_TOKEN, REGION_TOKEN, VIDEO_TOKEN
from .data import decode_row, flatten_record, read_records, sample_id
from .examples import _objects, _turns, resolve_media

DEFECT_KINDS = (
    "bad_sample",
    "missing_media",
    "unreadable_media",
    "frame_out_of_range",
    "bad_segmentation",
    "region_count_mismatch",
)
# Samples the original trains in a way that may surprise (not defects: training takes them as the original does).
NOTE_KINDS = (
    "no_media_marker",  # a video / image but no <video> / <image> marker: trained as text only
    "unsorted_frame_keys",  # an object's frame keys out of order: its masks are pooled and merged in the given order
    "image_frame_key_not_0",  # an image object keyed by frame N != 0: the image's mask all the same
    "cut_at_model_max_length",  # more ids than model_max_length before expansion: the tail is not trained on
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
    notes: list[Defect] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counter = Counter(defect.kind for defect in self.defects)
        return {kind: counter.get(kind, 0) for kind in DEFECT_KINDS}

    @property
    def note_counts(self) -> dict[str, int]:
        counter = Counter(note.kind for note in self.notes)
        return {kind: counter.get(kind, 0) for kind in NOTE_KINDS}

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
        lines.append(f"{len({n.sample_id for n in self.notes})} samples the original trains in a surprising way (kept):")
        lines += [f"  {kind}: {count}" for kind, count in self.note_counts.items()]
        for note in self.notes[:limit]:
            lines.append(f"[{note.kind}] sample {note.sample_id}: {note.message}")
        if len(self.notes) > limit:
            lines.append(f"... and {len(self.notes) - limit} more")
        return "\n".join(lines)


def _positive_int(value: Any) -> int | None:
    """`value` as a positive pixel count (an int, an integral float or a string of digits, as JSON files hold it), or
    None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        number = int(value)
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    else:
        return None
    return number if number > 0 else None


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _field_defects(record: dict[str, Any], vl3_files: bool = False) -> list[str]:
    """What is malformed in the sample's top-level fields, each said with what was expected (the conversation and
    annotation are checked by their own parsers). `vl3_files`: also take a list of one path (the original VL3
    training files' form)."""
    problems = []
    for key in ("video", "image"):
        value = record.get(key)
        if vl3_files and isinstance(value, list) and len(value) == 1:
            value = value[0]
        if value is not None and not (isinstance(value, str) and value.strip()):
            problems.append(
                f"'{key}' must be a file or folder path (a non-empty string, or a list of one), got "
                f"{type(record.get(key)).__name__} {_shown(record.get(key))}"
            )
    for key in ("height", "width"):
        value = record.get(key)
        if value is not None and _positive_int(value) is None:
            problems.append(f"'{key}' must be a positive integer (the media's size in pixels), got {_shown(value)}")
    conversations = record.get("conversations")
    if isinstance(conversations, list):
        for number, turn in enumerate(conversations):
            if isinstance(turn, dict) and "from" in turn and not isinstance(turn["from"], str):
                problems.append(f"turn {number}: 'from' must be 'human' or 'gpt', got {_shown(turn['from'])}")
    return problems


def _notes(
    record: dict[str, Any], sid: str, kind: str | None, turns: list, objects: list, vl3: bool = False
) -> list[Defect]:
    """What the original does with this sample that may surprise."""
    notes = []
    if kind is not None and not any(m in t["content"] for t in turns for m in (IMAGE_TOKEN, VIDEO_TOKEN)):
        outcome = "the marker is added at the start of the first turn" if vl3 else "trained as text only"
        notes.append(Defect(sid, "no_media_marker", f"a {kind} but no <{kind}> marker: {outcome}"))
    for number, obj in enumerate(objects):
        frames = list(obj)
        if frames != sorted(frames):
            notes.append(Defect(sid, "unsorted_frame_keys", f"object {number}: frames {frames}, used in this order"))
        if kind == "image" and len(frames) == 1 and frames[0] != 0:
            notes.append(Defect(sid, "image_frame_key_not_0", f"object {number}: keyed by frame {frames[0]}, taken as the image's mask"))
    return notes


def _check_sample(
    record: dict[str, Any],
    index: int,
    media_root: str | None,
    notes: list[Defect] | None = None,
    regions_per_frame: bool = False,
) -> list[Defect]:
    sid = sample_id(record, index)
    where = f"training sample {sid}"
    found = [Defect(sid, "bad_sample", f"{where}: {problem}.") for problem in _field_defects(record, regions_per_frame)]
    try:
        row = flatten_record(record, index)
        turns = _turns(record["conversations"], where)
        objects = _objects(decode_row(row)["annotation"], where)
    except (ValueError, TypeError, KeyError) as error:
        if found and isinstance(error, TypeError):
            return found  # the malformed field said above is what the parser tripped over
        message = str(error)
        return found + [Defect(sid, "bad_sample", message if sid in message else f"{where}: {message}")]
    if found:
        return found  # the media cannot be looked for with a malformed path or size
    num_regions = sum(t["content"].count(REGION_TOKEN) for t in turns)
    if regions_per_frame:  # VideoRefer-VideoLLaMA3: one <region> per (object, frame) mask
        num_masks = sum(len(obj) for obj in objects)
        if num_regions != num_masks:
            found.append(Defect(sid, "region_count_mismatch",
                                f"{num_regions} {REGION_TOKEN} marker(s), {num_masks} (object, frame) mask(s)"))
    elif num_regions != len(objects):
        found.append(
            Defect(sid, "region_count_mismatch", f"{num_regions} {REGION_TOKEN} marker(s), {len(objects)} object(s)")
        )
    kind = "video" if row["video"] is not None else "image" if row["image"] is not None else None
    if notes is not None:
        notes.extend(_notes(record, sid, kind, turns, objects, regions_per_frame))
    if kind is None:
        if objects:
            found.append(Defect(sid, "bad_sample", "an annotation without a video or an image"))
        return found
    # (VideoRefer-VideoLLaMA3 adds a missing marker at the start of the first turn, as its original does)
    if objects and not regions_per_frame and not any(m in t["content"] for t in turns for m in (IMAGE_TOKEN, VIDEO_TOKEN)):
        found.append(Defect(sid, "bad_sample", f"{REGION_TOKEN} markers but no <{kind}> marker in the conversation"))
    if kind == "image":
        for number, obj in enumerate(objects):
            if len(obj) != 1:
                found.append(Defect(sid, "bad_sample", f"image object {number} has masks for {len(obj)} frames; an image object takes one"))
        objects = [{0: next(iter(obj.values()))} if len(obj) == 1 else obj for obj in objects]
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
        if (_positive_int(record["height"]), _positive_int(record["width"])) != tuple(size):
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


def _cut_note(collator: Any, record: dict[str, Any], index: int) -> Defect | None:
    """A note when the original would cut the sample at `model_max_length` (counted before expansion)."""
    try:
        example = collator.prepare(flatten_record(record, index))
    except (ValueError, TypeError, KeyError):
        return None  # reported as a defect
    length = len(collator.unexpanded_tokens(example.text))
    if length <= collator.max_length:
        return None
    return Defect(
        example.sample_id, "cut_at_model_max_length",
        f"{length} ids before expansion, cut at {collator.max_length} as the original does",
    )


def check_data_file(
    path: str | os.PathLike,
    media_root: str | None = None,
    progress: bool = True,
    processor: Any = None,
    model_max_length: int = 2048,
    plain: bool = False,
    regions_per_frame: bool | None = None,
) -> DataReport:
    """Check every sample of a VideoRefer-700K-style JSON/JSONL file: media present and readable, segmentations
    decodable at the media's size, frame indices inside the clip, `<region>` markers matching the annotation.

    Also notes (with counts, in `report.notes`) the samples the original trains in a surprising way: a media file but
    no media marker, unsorted frame keys, an image object keyed by frame N, and, given the model's `processor`
    (whose tokenizer and chat template count the ids), conversations longer than `model_max_length` ids before
    expansion (`plain`: stage 1's format).

    `regions_per_frame`: check VideoRefer-VideoLLaMA3's rule (one `<region>` per (object, frame) mask) instead of
    VideoRefer-7B's (one per object); None: VL3's rule when `processor` is a `VideoReferVL3Processor` (whose cut at
    `max_length` comes after expansion, so no cut note is made for it)."""
    from ..models.videorefer_vl3.processing_videorefer_vl3 import VideoReferVL3Processor

    is_vl3 = isinstance(processor, VideoReferVL3Processor)
    if regions_per_frame is None:
        regions_per_frame = is_vl3
    records = read_records(path)
    report = DataReport(num_samples=len(records))
    collator = None
    if processor is not None and not is_vl3:
        from .collator import VideoReferDataCollator

        collator = VideoReferDataCollator(processor, plain=plain, media_root=media_root, max_length=model_max_length)
    for index, record in enumerate(tqdm(records, desc="checking samples", disable=not progress)):
        report.defects.extend(_check_sample(record, index, media_root, report.notes, regions_per_frame))
        if collator is not None:
            note = _cut_note(collator, record, index)
            if note is not None:
                report.notes.append(note)
    return report

"""VideoRefer-VideoLLaMA3 training sets: the samples of `training_fixtures` with one `<region>` per (object, frame)
mask (VL3's rule), and the golden VL3 tiny checkpoint copied next to the test."""

import os
import shutil
from pathlib import Path

import pytest

from .training_fixtures import rle, samples, square_mask, write_dataset

VL3_GOLDEN_SUBDIR = "videorefer_vl3_tiny"
REPO_ROOT = Path(__file__).resolve().parents[2]


def vl3_golden_or_skip() -> Path:
    """The `videorefer_vl3_tiny` golden folder ($VIDEOREFER_GOLDEN, then ../shared/golden), or a pytest skip."""
    roots = [Path(os.environ["VIDEOREFER_GOLDEN"])] if os.environ.get("VIDEOREFER_GOLDEN") else []
    roots.append(REPO_ROOT.parent / "shared" / "golden")
    for root in roots:
        if (root / VL3_GOLDEN_SUBDIR / "checkpoint" / "config.json").is_file():
            return (root / VL3_GOLDEN_SUBDIR).resolve()
    looked = ", ".join(str(root / VL3_GOLDEN_SUBDIR) for root in roots)
    pytest.skip(f"golden VideoRefer-VideoLLaMA3 fixture not found (looked in: {looked}); set VIDEOREFER_GOLDEN")


def vl3_samples() -> list[dict]:
    """`training_fixtures.samples()` for VL3: the tracked object (4 annotated frames) takes 4 `<region>` markers."""
    records = samples()
    track = records[0]
    frames = len(track["annotation"][0])
    markers = ", ".join(["<region>"] * frames)
    track["conversations"][0]["value"] = f"<video>\nWhat does the object {markers} do?"
    return records


def vl3_original_format_samples() -> list[dict]:
    """Samples as the original VL3 training files write them: `video` as a one-path list, `masks` in place of
    `annotation` (an image's objects as bare segmentations), no media marker in the first question."""
    return [
        {
            "id": "vl3-video",
            "video": ["clip"],
            "conversations": [
                {"from": "human", "value": "What is <region> doing?"},
                {"from": "gpt", "value": "Sliding."},
            ],
            "masks": [{"2": {"segmentation": rle(square_mask(20, 16))}}],
        },
        {
            "id": "vl3-image",
            "image": "still.png",
            "conversations": [
                {"from": "human", "value": "<image>\nDescribe <region>."},
                {"from": "gpt", "value": "Noise."},
            ],
            "masks": [rle(square_mask(10, 10))],
        },
    ]


def write_vl3_dataset(root: Path, records: list[dict] | None = None, name: str = "train_vl3.json") -> Path:
    return write_dataset(root, vl3_samples() if records is None else records, name)


def copy_vl3_checkpoint(golden_root: Path, destination: Path) -> Path:
    """A private copy of the golden VL3 tiny checkpoint (the golden folder is read-only)."""
    target = destination / "vl3_checkpoint"
    if not target.exists():
        shutil.copytree(golden_root / "checkpoint", target)
    return target

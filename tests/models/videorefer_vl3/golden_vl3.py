"""Reading the `videorefer_vl3_tiny` golden fixture (made by the original VideoRefer-VideoLLaMA3 code)."""

import json
from pathlib import Path

import torch
from golden_paths import find_golden_fixture

VL3_SUBDIR = "videorefer_vl3_tiny"
VL3_CASES = (
    "video_dir_single_frame_mask",
    "video_mp4_two_objects",
    "image_one_object",
    "video_dir_object_on_two_frames",
)


def find_vl3_golden_dir() -> Path | None:
    """The `videorefer_vl3_tiny` folder, or None when no golden root holds it."""
    return find_golden_fixture(VL3_SUBDIR)


def _vl3_dir(golden_root: Path) -> Path:
    golden_root = Path(golden_root)
    return golden_root if (golden_root / "cases").is_dir() else golden_root / VL3_SUBDIR


def load_vl3_case(golden_root: Path, name: str) -> tuple[dict, dict]:
    """(case.json as a dict, expected.pt as a dict) of case `name`.

    `golden_root` is the golden folder (holding `videorefer_vl3_tiny/`) or the `videorefer_vl3_tiny` folder itself.
    """
    folder = _vl3_dir(golden_root) / "cases" / name
    case = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    expected = torch.load(folder / "expected.pt", weights_only=False)
    return case, expected

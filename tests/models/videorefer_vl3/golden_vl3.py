"""Reading the `videorefer_vl3_tiny` golden fixture (made by the original VideoRefer-VideoLLaMA3 code)."""

import json
import os
from pathlib import Path

import torch

GOLDEN_ENV_VAR = "VIDEOREFER_GOLDEN"
VL3_SUBDIR = "videorefer_vl3_tiny"
VL3_CASES = (
    "video_dir_single_frame_mask",
    "video_mp4_two_objects",
    "image_one_object",
    "video_dir_object_on_two_frames",
)


def golden_root_candidates() -> list[Path]:
    """Where the golden folder may be: $VIDEOREFER_GOLDEN, then ../shared/golden beside the checkout."""
    candidates = []
    if os.environ.get(GOLDEN_ENV_VAR):
        candidates.append(Path(os.environ[GOLDEN_ENV_VAR]))
    candidates.append(Path(__file__).resolve().parents[3].parent / "shared" / "golden")
    return candidates


def find_vl3_golden_dir() -> Path | None:
    """The `videorefer_vl3_tiny` folder, or None when no candidate holds it."""
    for root in golden_root_candidates():
        if (root / VL3_SUBDIR / "checkpoint" / "config.json").is_file():
            return (root / VL3_SUBDIR).resolve()
    return None


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

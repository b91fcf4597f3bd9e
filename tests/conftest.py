"""Shared fixtures: where the golden checkpoint lives, and its processor."""

import os
import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
if str(TESTS_DIR) not in sys.path:  # make `import helpers` work whatever the import mode
    sys.path.insert(0, str(TESTS_DIR))

GOLDEN_ENV_VAR = "VIDEOREFER_GOLDEN"
GOLDEN_SUBDIR = "videorefer_tiny"


def _golden_candidates() -> list[Path]:
    candidates = []
    if os.environ.get(GOLDEN_ENV_VAR):
        candidates.append(Path(os.environ[GOLDEN_ENV_VAR]))
    candidates.append(REPO_ROOT.parent / "shared/golden")  # ../shared/golden beside the checkout
    return candidates


def find_golden_dir() -> Path | None:
    for golden in _golden_candidates():
        if (golden / GOLDEN_SUBDIR / "checkpoint" / "config.json").is_file():
            return (golden / GOLDEN_SUBDIR).resolve()
    return None


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """The `videorefer_tiny` folder of the golden fixture (read-only: never write into it)."""
    found = find_golden_dir()
    if found is None:
        looked = ", ".join(str(p / GOLDEN_SUBDIR) for p in _golden_candidates())
        pytest.skip(
            f"golden VideoRefer fixture not found (looked in: {looked}); set {GOLDEN_ENV_VAR} to the `golden` folder"
        )
    return found


@pytest.fixture(scope="session")
def golden_checkpoint(golden_dir) -> Path:
    return golden_dir / "checkpoint"


@pytest.fixture(scope="module")
def processor(golden_checkpoint):
    """The golden checkpoint's processor, loaded once per test module."""
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(golden_checkpoint)

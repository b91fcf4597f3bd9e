"""Shared fixtures: where the golden checkpoint lives, and its processor."""

import sys
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
if str(TESTS_DIR) not in sys.path:  # make `import helpers` work whatever the import mode
    sys.path.insert(0, str(TESTS_DIR))

from golden_paths import find_golden_fixture, golden_fixture_or_skip  # noqa: E402

GOLDEN_SUBDIR = "videorefer_tiny"


def find_golden_dir() -> Path | None:
    return find_golden_fixture(GOLDEN_SUBDIR)


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """The `videorefer_tiny` folder of the golden fixture (read-only: never write into it)."""
    return golden_fixture_or_skip(GOLDEN_SUBDIR, "VideoRefer")


@pytest.fixture(scope="session")
def golden_checkpoint(golden_dir) -> Path:
    return golden_dir / "checkpoint"


@pytest.fixture(scope="module")
def processor(golden_checkpoint):
    """The golden checkpoint's processor, loaded once per test module."""
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(golden_checkpoint)

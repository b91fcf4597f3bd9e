"""Fixtures of the VideoRefer-VideoLLaMA3 tests: the golden fixture folder."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from golden_paths import golden_fixture_or_skip  # noqa: E402
from golden_vl3 import VL3_SUBDIR  # noqa: E402


@pytest.fixture(scope="session")
def vl3_golden_dir() -> Path:
    """The `videorefer_vl3_tiny` folder of the golden fixture (read-only: never write into it)."""
    return golden_fixture_or_skip(VL3_SUBDIR, "VideoRefer-VideoLLaMA3")

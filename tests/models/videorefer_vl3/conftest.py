"""Fixtures of the VideoRefer-VideoLLaMA3 tests: the golden fixture folder."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from golden_vl3 import (
    GOLDEN_ENV_VAR,
    VL3_SUBDIR,
    find_vl3_golden_dir,
    golden_root_candidates,
)


@pytest.fixture(scope="session")
def vl3_golden_dir() -> Path:
    """The `videorefer_vl3_tiny` folder of the golden fixture (read-only: never write into it)."""
    found = find_vl3_golden_dir()
    if found is None:
        looked = ", ".join(str(root / VL3_SUBDIR) for root in golden_root_candidates())
        pytest.skip(
            f"golden VideoRefer-VideoLLaMA3 fixture not found (looked in: {looked}); set {GOLDEN_ENV_VAR} to the "
            "`golden` folder"
        )
    return found

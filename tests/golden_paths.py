"""Where the golden parity fixtures live: $VIDEOREFER_GOLDEN, then ../shared/golden beside the checkout."""

import os
from pathlib import Path

import pytest

GOLDEN_ENV_VAR = "VIDEOREFER_GOLDEN"
REPO_ROOT = Path(__file__).resolve().parent.parent


def golden_root_candidates() -> list[Path]:
    """The folders that may hold the golden fixtures, in the order they are tried."""
    candidates = []
    if os.environ.get(GOLDEN_ENV_VAR):
        candidates.append(Path(os.environ[GOLDEN_ENV_VAR]))
    candidates.append(REPO_ROOT.parent / "shared/golden")  # ../shared/golden beside the checkout
    return candidates


def find_golden_fixture(subdir: str) -> Path | None:
    """The fixture folder `subdir` (e.g. `videorefer_tiny`) of the first golden root holding it, or None."""
    for golden in golden_root_candidates():
        if (golden / subdir / "checkpoint" / "config.json").is_file():
            return (golden / subdir).resolve()
    return None


def golden_fixture_or_skip(subdir: str, what: str) -> Path:
    """`find_golden_fixture(subdir)`, or a pytest skip saying where it looked and how to set it."""
    found = find_golden_fixture(subdir)
    if found is None:
        looked = ", ".join(str(p / subdir) for p in golden_root_candidates())
        pytest.skip(f"golden {what} fixture not found (looked in: {looked}); set {GOLDEN_ENV_VAR} to the `golden` folder")
    return found

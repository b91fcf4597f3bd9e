"""The golden VideoRefer-VideoLLaMA3 tiny checkpoint, copied to a temporary folder, for the user-command tests
(`videorefer ask`, `videorefer eval`, the demo), and a Bench-Q file with a three-object question."""

import json
import shutil
from pathlib import Path

import pytest
from golden_paths import golden_fixture_or_skip

from .benchmark_fixtures import annotation

VL3_SUBDIR = "videorefer_vl3_tiny"


def copy_vl3_checkpoint(destination: Path) -> Path:
    """Copy the golden VL3 checkpoint (original format, its vision encoder folder inside) to `destination`; skip
    when the golden fixture is absent. Returns the copy's folder."""
    golden = golden_fixture_or_skip(VL3_SUBDIR, "VideoRefer-VideoLLaMA3")
    shutil.copytree(golden / "checkpoint", destination)
    return destination


@pytest.fixture(scope="module")
def vl3_checkpoint(tmp_path_factory) -> Path:
    """A copy of the golden VL3 tiny checkpoint (never the golden folder itself: nothing may write near it)."""
    return copy_vl3_checkpoint(tmp_path_factory.mktemp("vl3") / "checkpoint")


def add_three_object_question(questions: Path) -> Path:
    """Turn the last question of a mini Bench-Q file (`make_mini_bench_q`) into one about three objects; returns
    the file."""
    items = json.loads(questions.read_text(encoding="utf-8"))
    item = items[-1]
    first = next(iter(item["annotation"][0].values()))
    height, width = first["segmentation"]["size"]
    item["Question"] = "Which of <object1><region>, <object2><region> and <object3><region> moves?"
    item["annotation"] = [annotation(height, width, offset=offset) for offset in (0, height // 4, height // 2)]
    questions.write_text(json.dumps(items), encoding="utf-8")
    return questions

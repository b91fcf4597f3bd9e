"""The documented minimal benchmark files (examples/bench, described in docs/evaluation.md) load with the real
loaders, in both mask modes, and their media resolve under examples/data."""

from pathlib import Path

import pytest

from transformers_videorefer.evaluation.bench_d import bench_d_samples, load_bench_d
from transformers_videorefer.evaluation.bench_q import bench_q_samples, load_bench_q
from transformers_videorefer.evaluation.media import resolve_media

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH = REPO_ROOT / "examples" / "bench"
VIDEO_ROOT = REPO_ROOT / "examples" / "data"


@pytest.mark.parametrize("mode", ["single", "multi"])
def test_bench_q_example_loads(mode):
    items = load_bench_q(BENCH / "bench_q_minimal.json", mode)
    assert [item["id"] for item in items] == [0, 1]
    paths = resolve_media(items, VIDEO_ROOT)
    samples = bench_q_samples(items, paths, mode)
    assert len(samples) == 2 and all(Path(sample.video).exists() for sample in samples)


@pytest.mark.parametrize("mode", ["single", "multi"])
def test_bench_d_example_loads(mode):
    items = load_bench_d(BENCH / "bench_d_minimal.json", mode)
    assert [item["id"] for item in items] == ["ball"]
    samples = bench_d_samples(items, resolve_media(items, VIDEO_ROOT), mode)
    assert len(samples) == 1 and Path(samples[0].video).exists()


def test_the_docs_describe_the_example_files():
    docs = (REPO_ROOT / "docs" / "evaluation.md").read_text(encoding="utf-8")
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "examples/bench" in docs and "bench_q_minimal.json" in docs and "bench_d_minimal.json" in docs
    assert "docs/evaluation.md" in readme

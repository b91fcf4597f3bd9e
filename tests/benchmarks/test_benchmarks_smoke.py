"""Every benchmark script runs with `--tiny --device cpu` and prints its table (the numbers are not checked)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

# script -> lines (or regular expressions, prefixed "re:") its --tiny --device cpu output must hold
EXPECTED: dict[str, list[str]] = {
    "bench_end_to_end.py": [
        "re:\\| end to end: 4 questions over 2 clips \\(160x96, 12 frames\\), batch 2",
        "re:\\| Bench-Q end to end, default workers, steady state \\(questions/s\\) \\| ([0-9.]+|nan) \\|",
        "| Bench-Q end to end, default workers, decoding step | - |",  # off CUDA: no fast generator
        "re:\\| ask TTFT, 4 frames 160x96 mp4 \\(ms\\) \\| [0-9]+ \\|",
        "re:\\| processor CPU time per sample",
    ],
    "bench_inference.py": [
        "| measure | original | target | eager | static | fast |",
        "| prefill, bs=1 (ms) |",
        "| decode, bs=1 (tokens/s) |",
        "| Bench-Q workload, bs=2 (samples/s) |",
        "| Bench-D workload, bs=2 (samples/s) |",
    ],
    "bench_train.py": ["| setup | batch | step | tokens/s | MFU |", "| full FT, 2 LLM layers,"],
    "bench_train_distributed.py": [
        "| config | processes | steps | tokens/s per device | peak GB (process 0) | launch wall s |",
        "| fsdp.yaml | 2 | 2 |",
        "| part | tensors | changed | all finite | dtype |",
        "| vision_tower | ",
        "all checks passed",
    ],
    "check_gpu_parity.py": ["re:sdpa  image_two_objects .* OK", "re:eager video_mp4_multi_frame_masks .* OK", "all equal"],
    "make_random_checkpoint.py": ["| file | MB |", "| model.safetensors |", "| config.json |"],
    "profile_decode.py": ["re:batch   1: uncompiled step .* ms/token", "re:batch   2: uncompiled step"],
    "profile_decode_attention.py": [
        "re:batch   1 sdpa_grouped *: step .* equal to sdpa_grouped's 100 %",
        "re:batch   1 math32 *: step",
    ],
    "profile_ask.py": [
        "| ask, 4 frames 160x96, float32 on cpu | phase | ms (median) |",
        "re:\\| JPEG folder \\| whole processor call \\| [0-9.]+ \\|",
        "re:\\| mp4 \\| time to first token \\| [0-9.]+ \\|",
    ],
    "profile_preprocessing.py": [
        "| preprocessing: 4 frames 160x96 -> 64x64 | threads | ms per sample (median) |",
        "re:\\| JPEG folder \\| 1 \\| [0-9]+ \\|",
        "re:\\| mp4 \\| 1 \\| [0-9]+ \\|",
    ],
    "profile_stages.py": [
        "batch size 1, sequence",
        "batch size 2, sequence",
        "vision tower, video frames",
        "connector (NCHW reference, as the original)",
        "whole forward (logits of the last token)",
    ],
}
NEEDS_GOLDEN = {"bench_end_to_end.py", "profile_ask.py", "bench_train_distributed.py", "check_gpu_parity.py", "make_random_checkpoint.py"}


def test_every_benchmark_script_has_a_tiny_mode():
    scripts = sorted(path.name for path in BENCHMARKS.glob("*.py") if not path.name.startswith("_"))
    # the option written out, or taken from bench_end_to_end's shared model arguments
    without = [
        name for name in scripts if not any(mark in (BENCHMARKS / name).read_text() for mark in ('"--tiny"', "add_model_arguments(parser)"))
    ]
    assert without == [], f"benchmark scripts without --tiny: {without}"
    assert set(EXPECTED) <= set(scripts)


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_tiny_cpu_run_prints_its_table(script, request, tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TOKENIZERS_PARALLELISM": "false"}
    if script in NEEDS_GOLDEN:
        golden_dir = request.getfixturevalue("golden_dir")  # skips when the golden fixture is missing
        env["VIDEOREFER_GOLDEN"] = str(golden_dir.parent)
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--tiny", "--device", "cpu"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    for expected in EXPECTED[script]:
        if expected.startswith("re:"):
            assert re.search(expected[3:], result.stdout), f"{expected!r} not in:\n{result.stdout[-4000:]}"
        else:
            assert expected in result.stdout, f"{expected!r} not in:\n{result.stdout[-4000:]}"

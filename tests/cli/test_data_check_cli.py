"""`videorefer data check --model PATH --model-max-length N` end to end in a subprocess: the processor counts each
conversation's ids and the JSON report notes the ones the original cuts; argument errors are one line, exit 2."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TRAINING_TESTS = Path(__file__).resolve().parents[1] / "training"
if str(TRAINING_TESTS) not in sys.path:
    sys.path.insert(0, str(TRAINING_TESTS))

from training_fixtures import samples, write_dataset  # noqa: E402

MODULE = [sys.executable, "-m", "transformers_videorefer"]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(MODULE + args, capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


@pytest.fixture()
def data_file(tmp_path) -> Path:
    records = samples()
    long = samples()[3]
    long["id"] = "long-answer"
    long["conversations"][1]["value"] = "hello " * 200
    return write_dataset(tmp_path, records + [long])


def test_model_notes_conversations_cut_at_model_max_length(data_file, golden_checkpoint, tmp_path):
    report_path = tmp_path / "report.json"
    result = _run(
        ["data", "check", str(data_file), "--media-root", str(tmp_path), "--model", str(golden_checkpoint),
         "--model-max-length", "300", "--quiet", "--json", str(report_path)],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cut_at_model_max_length: 1" in result.stdout
    assert "[cut_at_model_max_length] sample long-answer: " in result.stdout
    report = json.loads(report_path.read_text())
    assert report["num_samples"] == 5 and report["defects"] == []
    assert report["note_counts"]["cut_at_model_max_length"] == 1
    assert report["model_max_length"] == 300
    cut = [note for note in report["notes"] if note["kind"] == "cut_at_model_max_length"]
    assert [note["id"] for note in cut] == ["long-answer"]
    assert "cut at 300" in cut[0]["message"]

    # the default length (2048, as the original) cuts nothing here; without --model nothing is counted
    default = _run(["data", "check", str(data_file), "--media-root", str(tmp_path), "--model", str(golden_checkpoint),
                    "--quiet", "--json", str(report_path)], tmp_path)
    assert default.returncode == 0, default.stderr[-3000:]
    assert json.loads(report_path.read_text())["note_counts"]["cut_at_model_max_length"] == 0
    assert json.loads(report_path.read_text())["model_max_length"] == 2048


def test_malformed_fields_are_defects_not_tracebacks(tmp_path):
    records = [{**samples()[0], "id": "number-video", "video": 7}, {**samples()[0], "id": "height-abc", "height": "abc",
                                                                    "width": 80}]
    path = write_dataset(tmp_path, records)
    report_path = tmp_path / "report.json"
    result = _run(["data", "check", str(path), "--media-root", str(tmp_path), "--quiet", "--json", str(report_path)],
                  tmp_path)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "[bad_sample] sample number-video: " in result.stdout
    assert "[bad_sample] sample height-abc: " in result.stdout
    report = json.loads(report_path.read_text())
    assert report["counts"]["bad_sample"] == 2
    assert {defect["id"] for defect in report["defects"]} == {"number-video", "height-abc"}


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--model-max-length", "0"], "--model-max-length must be a positive number"),
        (["--model", "no/such/folder"], "--model no/such/folder is neither a checkpoint folder"),
        (["--media-root", "no_such_folder"], "--media-root no_such_folder is not a folder"),
        (["--limit", "-1"], "--limit must be 0 or more"),
    ],
)
def test_argument_errors_are_one_line_before_anything_loads(data_file, tmp_path, extra, words):
    result = _run(["data", "check", str(data_file), "--quiet", *extra], tmp_path)
    assert result.returncode == 2
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_missing_data_file_is_one_line(tmp_path):
    result = _run(["data", "check", str(tmp_path / "missing.json")], tmp_path)
    assert result.returncode == 2
    assert "no such data file" in result.stderr and len(result.stderr.strip().splitlines()) == 1

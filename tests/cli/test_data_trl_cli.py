"""`videorefer data to-trl` / `from-trl`: files both ways, and one-line user errors before anything heavy loads."""

import json
import subprocess
import sys

import pytest
from training.training_fixtures import samples, write_dataset

from transformers_videorefer.cli import main as cli_main


@pytest.mark.parametrize("file_format", ["jsonl", "arrow"])
def test_to_trl_and_back(tmp_path, capsys, file_format):
    source = write_dataset(tmp_path / "media", samples())
    out = tmp_path / ("train.jsonl" if file_format == "jsonl" else "train_arrow")
    status = cli_main(["data", "to-trl", str(source), "--media-root", str(tmp_path / "media"), "--out", str(out),
                       "--format", file_format, "--quiet"])
    assert status == 0
    assert f"wrote 4 conversations to {out}" in capsys.readouterr().out
    if file_format == "jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert [row["id"] for row in rows] == [s["id"] for s in samples()]
        assert rows[0]["messages"][0]["content"][2]["type"] == "region"
    else:
        assert (out / "dataset_info.json").is_file()
    back = tmp_path / "back.json"
    assert cli_main(["data", "from-trl", str(out), "--out", str(back), "--media-root", str(tmp_path / "media")]) == 0
    records = json.loads(back.read_text())
    assert records[0] == samples()[0] and records[2] == samples()[2]
    assert [r["conversations"] for r in records] == [s["conversations"] for s in samples()]
    # an existing output is not replaced without --overwrite
    assert cli_main(["data", "to-trl", str(source), "--media-root", str(tmp_path / "media"), "--out", str(out),
                     "--format", file_format, "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err


ERROR_SCRIPT = """
import json, sys
from transformers_videorefer.cli import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "heavy": sorted(m for m in ("torch", "transformers") if m in sys.modules)}))
"""


def _run_light(args: list[str], cwd) -> tuple[dict, str]:
    result = subprocess.run([sys.executable, "-c", ERROR_SCRIPT, *args], check=False, capture_output=True, text=True,
                            cwd=cwd, timeout=120)
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def test_user_errors_are_one_line_before_any_heavy_import(tmp_path):
    (tmp_path / "broken.json").write_text('[{"id": "a", "conversations": [}')
    mismatch = samples()[:1]
    mismatch[0]["annotation"].append({"0": {"segmentation": None}})
    (tmp_path / "mismatch.json").write_text(json.dumps(mismatch))
    cases = {
        "missing.json": "no such data file",
        "broken.json": "not valid JSON",
        "mismatch.json": "sample video-track holds 1 <region> marker(s) but its annotation has 2 object(s)",
    }
    for name, message in cases.items():
        payload, stderr = _run_light(["data", "to-trl", str(tmp_path / name), "--out", str(tmp_path / "o.jsonl")],
                                     tmp_path)
        assert payload == {"status": 2, "heavy": []}, (name, stderr)
        assert message in stderr and len(stderr.strip().splitlines()) == 1, stderr
        assert stderr.startswith("videorefer data to-trl: ")
    assert not (tmp_path / "o.jsonl").exists()


def test_a_sample_the_collator_refuses_fails_with_its_id(tmp_path, capsys):
    record = samples()[0]
    record["conversations"][1]["value"] = "<video> again"
    source = write_dataset(tmp_path, [record])
    status = cli_main(["data", "to-trl", str(source), "--media-root", str(tmp_path), "--out", str(tmp_path / "o.jsonl"),
                       "--quiet"])
    assert status == 2
    err = capsys.readouterr().err
    assert "training sample video-track: more than one turn holds a media marker" in err

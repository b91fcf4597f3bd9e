"""The `videorefer` command line: `ask` end to end in subprocesses, its user errors, and `--mask` parsing."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools import mask as mask_utils

from transformers_videorefer import cli
from transformers_videorefer.cli import ask as cli_ask
from transformers_videorefer.cli.ask import objects_from_arguments, read_mask_argument

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples" / "data"
VIDEO = EXAMPLES / "rolling_ball.mp4"
MASK_FRAME6 = EXAMPLES / "ball_mask_frame6.json"
QUESTION = "What is [<region>] doing?"
MAX_NEW_TOKENS = 4


def _videorefer_script() -> list[str]:
    """The installed console script (next to this interpreter), or `python -m` when it is not installed."""
    script = Path(sys.executable).parent / "videorefer"
    if script.is_file():
        return [str(script)]
    found = shutil.which("videorefer")
    return [found] if found else [sys.executable, "-m", "transformers_videorefer"]


@pytest.fixture(scope="module")
def cli_runs(golden_checkpoint, tmp_path_factory):
    """Run the command lines once, concurrently (each pays the import of torch/transformers, ~6 s of CPU)."""
    empty_hf_home = tmp_path_factory.mktemp("hf_home")
    base_env = dict(os.environ)
    offline_env = dict(base_env, HF_HUB_OFFLINE="1", HF_HOME=str(empty_hf_home))
    offline_env.pop("HF_HUB_CACHE", None)
    module = [sys.executable, "-m", "transformers_videorefer"]
    ask = ["ask", str(VIDEO), "--mask", str(MASK_FRAME6), "--frame", "6"]
    commands = {
        "ask": (module + ask + [QUESTION, "--model", str(golden_checkpoint), "--max-new-tokens", str(MAX_NEW_TOKENS),
                                "--dtype", "float32"], base_env),
        "help": (_videorefer_script() + ["--help"], base_env),
        "offline": (module + ask + [QUESTION, "--dtype", "float32"], offline_env),
    }
    processes = {
        name: subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for name, (command, env) in commands.items()
    }
    results = {}
    for name, process in processes.items():
        try:
            stdout, stderr = process.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return results


# ------------------------------------------------------------------------------------------- subprocesses
def test_ask_runs_and_prints_the_answer(cli_runs, golden_checkpoint):
    result = cli_runs["ask"]
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip(), f"no answer printed; stderr: {result.stderr[-2000:]}"

    # the printed text is what the model generates for these inputs
    from transformers_videorefer.cli.loading import load_model_and_processor

    model, processor = load_model_and_processor(str(golden_checkpoint), "float32", "cpu")
    objects = objects_from_arguments([str(MASK_FRAME6)], [6])
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": QUESTION}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], videos=[str(VIDEO)], masks=[objects])
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
    answer = processor.decode_generated(out, inputs)[0]
    assert result.stdout.strip() == answer.strip()


def test_videorefer_help(cli_runs):
    result = cli_runs["help"]
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage: videorefer" in result.stdout
    assert "ask" in result.stdout


def test_ask_region_count_mismatch_exits_2(capsys, golden_checkpoint):
    """(In process: `python -m transformers_videorefer` exits with what `main` returns.)"""
    argv = ["ask", str(VIDEO), "--mask", str(MASK_FRAME6), "--frame", "6", "What is [<region>] next to [<region>]?",
            "--model", str(golden_checkpoint), "--dtype", "float32"]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert "2 <region> marker(s) but 1 --mask" in captured.err
    assert not captured.out.strip()


def test_ask_offline_without_model_exits_2_and_names_model_path(cli_runs):
    result = cli_runs["offline"]
    assert result.returncode == 2, result.stderr[-2000:]
    assert "--model PATH" in result.stderr
    assert "DAMO-NLP-SG/VideoRefer-7B" in result.stderr
    assert "Traceback" not in result.stderr


# -------------------------------------------------------------------------------------- in-process main()
def test_ask_help_lists_options(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["ask", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--mask", "--frame", "--model", "--num-frames", "--max-new-tokens", "--dtype", "--device"):
        assert option in out


def test_main_without_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([])
    assert exit_info.value.code == 2
    assert "usage: videorefer" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv_tail, message",
    [
        (["--mask", str(MASK_FRAME6), "--frame", "6", "--frame", "7", QUESTION], "one --frame per --mask"),
        (["--mask", "{not json", QUESTION], "neither an existing file nor inline JSON"),
        ([QUESTION], "the question holds 1 <region> marker(s) but 0 --mask"),
    ],
)
def test_ask_user_errors_exit_2(capsys, argv_tail, message):
    status = cli.main(["ask", str(VIDEO), *argv_tail, "--model", "/nonexistent/model"])
    assert status == 2
    assert message in capsys.readouterr().err


def test_ask_missing_media_exits_2(capsys, tmp_path):
    status = cli.main(["ask", str(tmp_path / "nope.mp4"), "--mask", str(MASK_FRAME6), QUESTION, "--model", "/x"])
    assert status == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_media_kind(tmp_path):
    image = tmp_path / "a.PNG"
    Image.new("RGB", (4, 4)).save(image, format="PNG")
    assert cli_ask.media_kind(str(image)) == "image"
    assert cli_ask.media_kind(str(VIDEO)) == "video"
    assert cli_ask.media_kind(str(tmp_path)) == "video"  # a frame folder


# ---------------------------------------------------------------------------------------- --mask parsing
@pytest.fixture(scope="module")
def ball_rle():
    with open(MASK_FRAME6, encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def binary_mask():
    mask = np.zeros((12, 16), dtype=bool)
    mask[3:8, 4:11] = True
    return mask


def test_read_mask_png(tmp_path, binary_mask):
    path = tmp_path / "mask.png"
    Image.fromarray(binary_mask.astype(np.uint8) * 255).save(path)
    obj = read_mask_argument(str(path), 6)
    assert list(obj) == [6]
    assert np.array_equal(np.asarray(obj[6]), binary_mask)
    assert list(read_mask_argument(str(path), None)) == [0]


def test_read_mask_npy(tmp_path, binary_mask):
    path = tmp_path / "mask.npy"
    np.save(path, binary_mask)
    obj = read_mask_argument(str(path), 3)
    assert list(obj) == [3] and np.array_equal(obj[3], binary_mask)


def test_read_mask_inline_json_rle(binary_mask):
    rle = mask_utils.encode(np.asfortranarray(binary_mask.astype(np.uint8)))
    rle = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
    assert read_mask_argument(json.dumps(rle), 2) == {2: rle}
    assert read_mask_argument(json.dumps(rle), None) == {0: rle}
    polygons = [[1, 1, 10, 1, 10, 8]]
    assert read_mask_argument(json.dumps(polygons), 1) == {1: polygons}


def test_read_mask_json_file(ball_rle):
    assert read_mask_argument(str(MASK_FRAME6), 6) == {6: ball_rle}


def test_read_mask_json_object_of_frames(tmp_path, ball_rle):
    whole = {"6": ball_rle, "0": ball_rle}
    assert read_mask_argument(json.dumps(whole), None) == {6: ball_rle, 0: ball_rle}
    path = tmp_path / "object.json"
    path.write_text(json.dumps(whole))
    assert read_mask_argument(str(path), None) == {6: ball_rle, 0: ball_rle}
    with pytest.raises(ValueError, match=r"already maps frame indices to masks; do not give --frame"):
        read_mask_argument(json.dumps(whole), 6)
    with pytest.raises(ValueError, match=r"do not give --frame"):
        read_mask_argument(str(path), 0)


def test_read_mask_bundled_multi_frame_object():
    obj = read_mask_argument(str(EXAMPLES / "ball_masks.json"), None)
    assert obj and all(isinstance(k, int) for k in obj)
    assert 6 in obj


def test_read_mask_errors(tmp_path):
    with pytest.raises(ValueError, match=r"neither an existing file nor inline JSON"):
        read_mask_argument("no_such_mask.png", None)
    bad = tmp_path / "bad.json"
    bad.write_text("{broken")
    with pytest.raises(ValueError, match=r"not valid JSON"):
        read_mask_argument(str(bad), None)


def test_objects_from_arguments(ball_rle):
    objects = objects_from_arguments([str(MASK_FRAME6), str(MASK_FRAME6)], [6, 9])
    assert objects == [{6: ball_rle}, {9: ball_rle}]
    assert objects_from_arguments([str(MASK_FRAME6)], None) == [{0: ball_rle}]
    with pytest.raises(ValueError, match=r"Got 2 --mask and 1 --frame"):
        objects_from_arguments([str(MASK_FRAME6), str(MASK_FRAME6)], [6])

"""Issue 18: `videorefer` fails fast, in one line (exit 2), before anything heavy is loaded.

An unreachable Hub ends within 20 s and names `--model PATH` and `HF_HUB_OFFLINE` (a checkpoint in the local cache
still loads); `ask` checks media, frame indices, masks, boxes and the region count before reading the model (a spy
on the loader shows it is never called); dtype, device and a mistyped local `--model` folder are reported plainly.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from transformers_videorefer import cli
from transformers_videorefer.cli import ask as cli_ask
from transformers_videorefer.cli.ask import check_objects_against_media, objects_from_options
from transformers_videorefer.cli.loading import ModelNotAvailableError, looks_like_path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA = REPO_ROOT / "examples" / "data"
VIDEO = DATA / "rolling_ball.mp4"
MASK_FRAME6 = DATA / "ball_mask_frame6.json"
QUESTION = "What is [<region>] doing?"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def unreachable_hub_env(hf_home: Path) -> dict[str, str]:
    env = dict(os.environ, HF_ENDPOINT=f"http://127.0.0.1:{closed_port()}", HF_HOME=str(hf_home))
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE"):
        env.pop(name, None)
    return env


def run_timed(command: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    start = time.monotonic()
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    return result, time.monotonic() - start


def unreachable_message(command: str, model: str, endpoint: str, flag: str = "--model") -> str:
    return (
        f"videorefer {command}: Cannot load {model!r}: the Hugging Face Hub ({endpoint}) cannot be reached and it is "
        f"not in the local Hugging Face cache. Pass a downloaded checkpoint folder with {flag} PATH (or download it "
        "once with network access; HF_HUB_OFFLINE=1 then uses the cache).\n"
    )


# ------------------------------------------------------------------------------------ unreachable Hub (item 1)
def test_ask_with_unreachable_hub_fails_within_20_s(tmp_path):
    env = unreachable_hub_env(tmp_path / "hf_home")
    command = [sys.executable, "-m", "transformers_videorefer", "ask", str(VIDEO), "--mask", str(MASK_FRAME6),
               "--frame", "6", QUESTION, "--dtype", "float32"]
    result, seconds = run_timed(command, env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr == unreachable_message("ask", "DAMO-NLP-SG/VideoRefer-7B", env["HF_ENDPOINT"])
    assert seconds < 20, f"took {seconds:.1f} s"


def test_demo_with_unreachable_hub_fails_within_20_s(tmp_path):
    env = unreachable_hub_env(tmp_path / "hf_home")
    result, seconds = run_timed([sys.executable, "-m", "transformers_videorefer", "demo", "--dtype", "float32"], env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr == unreachable_message("demo", "DAMO-NLP-SG/VideoRefer-7B", env["HF_ENDPOINT"])
    assert seconds < 20, f"took {seconds:.1f} s"


def test_quickstart_with_unreachable_hub_fails_within_20_s(tmp_path):
    env = unreachable_hub_env(tmp_path / "hf_home")
    result, seconds = run_timed([sys.executable, str(REPO_ROOT / "examples" / "quickstart.py")], env)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr == unreachable_message("quickstart", "DAMO-NLP-SG/VideoRefer-7B", env["HF_ENDPOINT"]).replace(
        "videorefer quickstart:", "quickstart.py:"
    )
    assert seconds < 20, f"took {seconds:.1f} s"


def test_checkpoint_in_the_local_cache_loads_without_the_hub(golden_checkpoint, tmp_path):
    """A Hub id whose snapshot is in the HF cache loads while the Hub cannot be reached."""
    hf_home = tmp_path / "hf_home"
    repo = hf_home / "hub" / "models--tiny-org--videorefer-tiny"
    revision = "0" * 40
    shutil.copytree(golden_checkpoint, repo / "snapshots" / revision)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    env = unreachable_hub_env(hf_home)
    command = [sys.executable, "-m", "transformers_videorefer", "ask", str(VIDEO), "--mask", str(MASK_FRAME6),
               "--frame", "6", QUESTION, "--model", "tiny-org/videorefer-tiny", "--dtype", "float32",
               "--max-new-tokens", "2"]
    result, _ = run_timed(command, env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip()


# ---------------------------------------------------------------------- nothing heavy before the checks (items 2, 5)
@pytest.fixture
def loader_spy(monkeypatch):
    """Replaces the model loader: records its calls and stops the command with a recognisable error."""
    calls = []

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        raise ModelNotAvailableError("spy: the model loader was reached")

    monkeypatch.setattr(cli_ask, "load_model_and_processor", spy)
    return calls


def write_npy(path: Path, shape: tuple[int, int]) -> Path:
    mask = np.zeros(shape, dtype=np.uint8)
    mask[2:5, 2:5] = 1
    np.save(path, mask)
    return path


def clip_size() -> tuple[int, int, int]:
    from transformers_videorefer.inputs.media import open_clip

    clip = open_clip(str(VIDEO))
    return clip.num_frames, clip.height, clip.width


def test_ask_bad_frame_index_is_refused_before_loading(loader_spy, capsys):
    frames, _, _ = clip_size()
    status = cli.main(["ask", str(VIDEO), "--mask", str(MASK_FRAME6), "--frame", "99", QUESTION])
    assert status == 2 and not loader_spy
    assert capsys.readouterr().err == (
        f"videorefer ask: object 1: frame 99 is outside the video '{VIDEO}', which has {frames} frame(s) (valid: 0 to "
        f"{frames - 1}).\n"
    )


def test_ask_mask_of_the_wrong_size_is_refused_before_loading(loader_spy, capsys, tmp_path):
    _, height, width = clip_size()
    mask = write_npy(tmp_path / "small.npy", (10, 12))
    status = cli.main(["ask", str(VIDEO), "--mask", str(mask), "--frame", "6", QUESTION])
    assert status == 2 and not loader_spy
    err = capsys.readouterr().err
    assert err.startswith("videorefer ask: object 1, frame 6") and err.count("\n") == 1
    assert f"{width}" in err and f"{height}" in err


def test_ask_inline_rle_of_the_wrong_size_is_refused_before_loading(loader_spy, capsys):
    rle = json.loads(MASK_FRAME6.read_text())
    rle["size"] = [rle["size"][0] + 7, rle["size"][1]]
    status = cli.main(["ask", str(VIDEO), "--mask", json.dumps(rle), "--frame", "6", QUESTION])
    assert status == 2 and not loader_spy
    err = capsys.readouterr().err
    assert err.startswith("videorefer ask: object 1, frame 6") and err.count("\n") == 1


def test_ask_unreadable_media_is_refused_before_loading(loader_spy, capsys, tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    status = cli.main(["ask", str(broken), "--mask", str(MASK_FRAME6), "--frame", "6", QUESTION])
    assert status == 2 and not loader_spy
    err = capsys.readouterr().err
    assert err.startswith("videorefer ask: ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "argv_tail, message",
    [
        (["--mask", str(MASK_FRAME6), "--frame", "6", "What is [<region>] next to [<region>]?"],
         "videorefer ask: the question holds 2 <region> marker(s) but 1 --mask/--box were given; write one "
         "[<region>] per object, e.g. \"What is [<region>] doing?\"\n"),
        (["--mask", str(MASK_FRAME6), "--frame", "6", QUESTION, "--dtype", "fp16", "--device", "cpu"],
         "videorefer ask: --dtype fp16 is not supported on the CPU; use --dtype float32 or bf16.\n"),
        (["--mask", str(MASK_FRAME6), "--frame", "6", QUESTION, "--model", "./checkpints/x"],
         "videorefer ask: --model ./checkpints/x: no such folder; pass an existing checkpoint folder or a Hub id "
         "such as DAMO-NLP-SG/VideoRefer-7B.\n"),
        (["--mask", str(MASK_FRAME6), "--frame", "6", QUESTION, "--model", "checkpoints/run1/final"],
         "videorefer ask: --model checkpoints/run1/final: no such folder; pass an existing checkpoint folder or a "
         "Hub id such as DAMO-NLP-SG/VideoRefer-7B.\n"),
        (["--box", "0", "0", "5", "5", "--box", "1", "1", "4", "4", "--frame", "6", QUESTION],
         "videorefer ask: Got 2 --mask/--box and 1 --frame: give one --frame per --mask or --box (in the same "
         "order), or none (frame 0).\n"),
    ],
    ids=["region-count", "fp16-on-cpu", "mistyped-folder", "nested-path", "frames-vs-boxes"],
)
def test_ask_user_errors_before_loading(loader_spy, capsys, argv_tail, message):
    assert cli.main(["ask", str(VIDEO), *argv_tail]) == 2
    assert capsys.readouterr().err == message
    assert not loader_spy


def test_ask_box_outside_the_clip_is_refused_before_loading(loader_spy, capsys):
    _, height, width = clip_size()
    status = cli.main(["ask", str(VIDEO), "--box", "5000", "5000", "6000", "6000", "--frame", "6", QUESTION])
    assert status == 2 and not loader_spy
    assert capsys.readouterr().err == (
        f"videorefer ask: object 1, frame 6, --box: the box [5000.0, 5000.0, 6000.0, 6000.0] lies outside the "
        f"{width}x{height} clip.\n"
    )


def test_ask_cuda_without_cuda_is_one_line(loader_spy, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert cli.main(["ask", str(VIDEO), "--mask", str(MASK_FRAME6), "--frame", "6", QUESTION, "--device", "cuda"]) == 2
    assert capsys.readouterr().err == (
        "videorefer ask: --device cuda: CUDA is not available on this machine; use --device cpu.\n"
    )
    assert not loader_spy


def test_ask_unknown_dtype_is_an_argparse_choice_error(loader_spy, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["ask", str(VIDEO), "--mask", str(MASK_FRAME6), QUESTION, "--dtype", "foo"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --dtype: invalid choice: 'foo'" in err and "Traceback" not in err
    assert not loader_spy


def test_ask_good_inputs_reach_the_loader_with_boxes_as_masks(loader_spy, capsys):
    """Valid masks and boxes (mixed, each with its --frame) pass the checks: only then is the loader called."""
    status = cli.main(["ask", str(VIDEO), "--mask", str(MASK_FRAME6), "--frame", "6", "--box", "2", "3", "20", "30",
                       "--frame", "2", "What is [<region>] next to [<region>]?", "--dtype", "float32", "--device", "cpu"])
    assert status == 2
    assert capsys.readouterr().err == "videorefer ask: spy: the model loader was reached\n"
    assert len(loader_spy) == 1


def test_boxes_become_masks_at_the_clip_size():
    _, height, width = clip_size()
    objects = objects_from_options([("mask", str(MASK_FRAME6)), ("box", [2.0, 3.0, 20.0, 30.0])], [6, 2])
    checked = check_objects_against_media(str(VIDEO), objects)
    assert list(checked[0]) == [6] and list(checked[1]) == [2]
    box = checked[1][2]
    assert box.shape == (height, width) and box.sum() == 18 * 27 and box[3:30, 2:20].all()


def test_eval_mistyped_model_folder_and_device(capsys, tmp_path):
    from accelerate.state import PartialState
    from evaluation.benchmark_fixtures import make_mini_bench_q

    questions = make_mini_bench_q(tmp_path / "bench")
    base = ["eval", "bench-q", "--questions", str(questions), "--video-root", str(tmp_path / "bench"), "--output",
            str(tmp_path / "p.jsonl"), "--no-progress"]
    try:
        assert cli.main(base + ["--model", "~/no/such/ckpt", "--device", "cpu"]) == 2
    finally:
        PartialState._reset_state()
    assert capsys.readouterr().err == (
        "videorefer eval bench-q: --model ~/no/such/ckpt: no such folder; pass an existing checkpoint folder or a "
        "Hub id such as DAMO-NLP-SG/VideoRefer-7B.\n"
    )
    assert cli.main(base + ["--dtype", "fp16", "--device", "cpu"]) == 2
    assert capsys.readouterr().err == (
        "videorefer eval bench-q: --dtype fp16 is not supported on the CPU; use --dtype float32 or bf16.\n"
    )


@pytest.mark.parametrize(
    "model, is_path",
    [("DAMO-NLP-SG/VideoRefer-7B", False), ("videorefer-7b", False), ("./ckpt", True), ("/abs/ckpt", True),
     ("~/ckpt", True), ("a/b/c", True), ("..", True), ("dir\\ckpt", True)],
)
def test_looks_like_path(model, is_path):
    assert looks_like_path(model) is is_path


def test_overlay_mp4_without_pyav_is_one_line(monkeypatch, capsys, tmp_path):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "av" else real_find_spec(name, *a))
    status = cli.main(["overlay", str(VIDEO), "--annotation", str(MASK_FRAME6), "--out", str(tmp_path / "o.mp4")])
    assert status == 2
    assert capsys.readouterr().err == (
        "videorefer overlay: writing an .mp4 needs PyAV: pip install 'transformers-videorefer[video]' (or pip install "
        "av); or write a .gif or a .png grid instead.\n"
    )

"""Resolving the benchmark's clips in both layouts, and reporting every missing one before any model work."""

import argparse
import json

import pytest

from transformers_videorefer.cli.eval import add_eval_parser
from transformers_videorefer.evaluation.bench_q import load_bench_q
from transformers_videorefer.evaluation.media import MissingMediaError, find_missing_media, resolve_media

from .benchmark_fixtures import make_mini_bench_d, make_mini_bench_q, write_frame_folder


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="videorefer")
    add_eval_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


def test_both_layouts_resolve(tmp_path):
    questions = make_mini_bench_q(tmp_path / "q")
    items = load_bench_q(questions)
    paths = resolve_media(items, tmp_path / "q")
    assert (tmp_path / "q" / "DAVIS/JPEGImages/480p/bike").samefile(paths["DAVIS/JPEGImages/480p/bike"])
    assert (tmp_path / "q" / "MeViS/valid_u/JPEGImages/0a1b2c").samefile(paths["MeViS/valid_u/JPEGImages/0a1b2c"])
    assert paths["Extra/clip.mp4"].endswith("clip.mp4")
    make_mini_bench_d(tmp_path / "d")
    panda = [{"id": 0, "video": "clip0_0:00:01.000_0:00:02.500.mp4"}]
    assert resolve_media(panda, tmp_path / "d")[panda[0]["video"]].endswith(".mp4")


def test_every_missing_clip_is_listed(tmp_path):
    write_frame_folder(tmp_path / "DAVIS/JPEGImages/480p/ok")
    (tmp_path / "DAVIS/JPEGImages/480p/empty").mkdir(parents=True)
    (tmp_path / "empty.mp4").write_bytes(b"")
    items = [
        {"id": 0, "video": "DAVIS/JPEGImages/480p/ok"},
        {"id": 1, "video": "DAVIS/JPEGImages/480p/gone"},
        {"id": 2, "video": "DAVIS/JPEGImages/480p/empty"},
        {"id": 3, "video": "MeViS/valid_u/JPEGImages/gone_too"},
        {"id": 4, "video": "empty.mp4"},
        {"id": 5, "video": "DAVIS/JPEGImages/480p/gone"},
    ]
    missing = find_missing_media(items, tmp_path)
    assert [m.video for m in missing] == [
        "DAVIS/JPEGImages/480p/gone",
        "DAVIS/JPEGImages/480p/empty",
        "MeViS/valid_u/JPEGImages/gone_too",
        "empty.mp4",
    ]
    assert missing[0].item_ids == [1, 5]
    with pytest.raises(FileNotFoundError) as caught:
        resolve_media(items, tmp_path)
    assert isinstance(caught.value, MissingMediaError)
    message = str(caught.value)
    assert "4 clip(s)" in message
    for entry in missing:
        assert entry.video in message
    assert "no frame images" in message and "empty" in message


def test_missing_root():
    with pytest.raises(FileNotFoundError, match="video-root"):
        resolve_media([{"id": 0, "video": "x"}], "/definitely/not/here")


def test_cli_reports_missing_media_before_loading_the_model(tmp_path, capsys):
    questions = make_mini_bench_q(tmp_path)
    items = json.loads(questions.read_text())
    items[1]["video"] = "DAVIS/JPEGImages/480p/not_downloaded"
    items[4]["video"] = "MeViS/valid_u/JPEGImages/not_either"
    questions.write_text(json.dumps(items))
    status = run_cli([
        "eval", "bench-q", "--model", str(tmp_path / "no_such_model"), "--questions", str(questions),
        "--video-root", str(tmp_path), "--output", str(tmp_path / "pred.jsonl"), "--device", "cpu",
    ])
    err = capsys.readouterr().err
    assert status == 2
    assert "not_downloaded" in err and "not_either" in err and "2 clip(s)" in err
    assert "no_such_model" not in err  # the model was never looked at
    assert not (tmp_path / "pred.jsonl").exists()

"""`videorefer eval bench-q / bench-d` with a VideoRefer-VideoLLaMA3 checkpoint (the golden tiny one, copied): the
VL3 evaluation settings (Bench-Q fps 1, Bench-D fps 4, at most 768 frames, its prompts), one prediction per question
equal to a direct processor + generate call, the same lines with `--num-workers 2`, and the family's option errors."""

import json

import pytest
import torch
from evaluation.benchmark_fixtures import (  # noqa: F401
    fresh_accelerate_state,
    make_mini_bench_d,
    make_mini_bench_q,
)
from evaluation.vl3_checkpoint import add_three_object_question

from transformers_videorefer import cli
from transformers_videorefer.evaluation.predictions import read_predictions

pytestmark = pytest.mark.usefixtures("fresh_accelerate_state")

MAX_NEW_TOKENS = 2
COMMON = ["--max-new-tokens", str(MAX_NEW_TOKENS), "--no-progress", "--no-plot", "--device", "cpu"]
ANSWER_INSTRUCTION = ". Answer with the option's letter from the given choices directly."
BENCH_D_REQUEST = "Please describe in detail the marked object <region> in the video."


@pytest.fixture(scope="module")
def model_and_processor(vl3_checkpoint):
    from transformers_videorefer.cli.loading import load_model_and_processor

    return load_model_and_processor(str(vl3_checkpoint), dtype="float32", device="cpu")


@pytest.fixture(scope="module")
def bench_q(tmp_path_factory):
    """A mini Bench-Q: 2 frame folders and an mp4, questions about 1, 2 and 3 objects."""
    root = tmp_path_factory.mktemp("bench_q_vl3")
    return add_three_object_question(make_mini_bench_q(root)), root


@pytest.fixture(scope="module")
def bench_q_runs(vl3_checkpoint, bench_q, tmp_path_factory):
    """The serial run and the `--num-workers 2` run of `eval bench-q` (exit statuses and prediction files)."""
    questions, root = bench_q
    out = tmp_path_factory.mktemp("bench_q_vl3_out")
    runs = {}
    for name, workers in (("serial", "0"), ("workers", "2")):
        output = out / f"{name}.jsonl"
        status = cli.main(["eval", "bench-q", "--model", str(vl3_checkpoint), "--questions", str(questions),
                           "--video-root", str(root), "--output", str(output), "--num-workers", workers, *COMMON])
        runs[name] = (status, output)
    return runs


def direct_answer(model, processor, messages, video, objects, fps):
    """What a user gets from the processor and `generate` for one question, with the VL3 evaluation settings."""
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], videos=[video], masks=[objects], fps=fps, max_frames=768)
    with torch.inference_mode():
        output = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False,
                                pad_token_id=processor.tokenizer.pad_token_id)
    return processor.tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def single_frame_objects(item):
    return [{item["frame_idx"]: obj[item["frame_idx"]]} for obj in item["annotation"]]


def test_bench_q_predictions_equal_direct_generation(bench_q_runs, bench_q, model_and_processor):
    questions, root = bench_q
    status, output = bench_q_runs["serial"]
    assert status == 0
    lines = read_predictions(output)
    items = json.loads(questions.read_text())
    assert [line["id"] for line in lines] == list(range(len(items)))
    assert {(line["fps"], line["max_frames"], line["mode"]) for line in lines} == {(1, 768, "single")}
    assert "num_frames" not in lines[0]
    assert sorted({len(item["annotation"]) for item in items}) == [1, 2, 3]
    assert {item["video"].endswith(".mp4") for item in items} == {True, False}
    model, processor = model_and_processor
    for item, line in zip(items, lines):
        question = f"{item['Question']} {' '.join(item['options'])}{ANSWER_INSTRUCTION}"
        assert line["question"] == question  # the original's: bare <region> markers (the processor brackets them)
        messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": question}]}]
        expected = direct_answer(model, processor, messages, str(root / item["video"]), single_frame_objects(item), 1)
        assert line["pred"] == expected, item["id"]


def test_bench_q_workers_write_the_serial_lines(bench_q_runs):
    (serial_status, serial), (workers_status, workers) = bench_q_runs["serial"], bench_q_runs["workers"]
    assert serial_status == workers_status == 0
    assert workers.read_bytes() == serial.read_bytes()


def test_bench_d_descriptions_equal_direct_generation(vl3_checkpoint, model_and_processor, tmp_path):
    root = tmp_path / "bench_d"
    questions = make_mini_bench_d(root)
    output = tmp_path / "pred.jsonl"
    status = cli.main(["eval", "bench-d", "--model", str(vl3_checkpoint), "--questions", str(questions),
                       "--video-root", str(root), "--output", str(output), "--no-judge", "--num-workers", "0", *COMMON])
    assert status == 0
    lines = read_predictions(output)
    items = json.loads(questions.read_text())
    assert [line["id"] for line in lines] == [item["id"] for item in items]
    assert {(line["fps"], line["max_frames"]) for line in lines} == {(4, 768)}
    model, processor = model_and_processor
    for item, line in zip(items, lines):
        # the original's Bench-D request: the text first, then the video
        messages = [{"role": "user", "content": [{"type": "text", "text": BENCH_D_REQUEST}, {"type": "video"}]}]
        expected = direct_answer(model, processor, messages, str(root / item["video"]), single_frame_objects(item), 4)
        assert line["pred"] == expected, item["id"]


def test_options_of_the_other_family_are_refused_before_loading(vl3_checkpoint, bench_q, tmp_path, capsys,
                                                                monkeypatch):
    from transformers_videorefer.cli import loading

    def no_loading(*args, **kwargs):
        raise AssertionError("the model must not be loaded")

    monkeypatch.setattr(loading, "load_model_and_processor", no_loading)
    questions, root = bench_q
    base = ["eval", "bench-q", "--model", str(vl3_checkpoint), "--questions", str(questions), "--video-root",
            str(root), "--output", str(tmp_path / "p.jsonl"), *COMMON]
    assert cli.main([*base, "--num-frames", "8"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "--num-frames does not apply to VideoRefer-VideoLLaMA3" in error
    assert cli.main([*base, "--fps", "0"]) == 2
    assert "--fps must be above 0" in capsys.readouterr().err
    assert not (tmp_path / "p.jsonl").exists()


def test_a_file_of_the_other_family_is_not_continued(vl3_checkpoint, bench_q, tmp_path, capsys):
    questions, root = bench_q
    output = tmp_path / "p.jsonl"
    output.write_text(json.dumps({"id": 0, "pred": "(A)", "mode": "single", "num_frames": 8}) + "\n")
    status = cli.main(["eval", "bench-q", "--model", str(vl3_checkpoint), "--questions", str(questions),
                       "--video-root", str(root), "--output", str(output), *COMMON])
    assert status == 2
    assert "VideoRefer-7B checkpoint" in capsys.readouterr().err


def test_bench_d_multi_mode_gives_one_region_per_annotated_frame(vl3_checkpoint, model_and_processor, tmp_path):
    root = tmp_path / "bench_d"
    questions = make_mini_bench_d(root)
    items = json.loads(questions.read_text())[:1]
    questions.write_text(json.dumps(items))
    output = tmp_path / "multi.jsonl"
    status = cli.main(["eval", "bench-d", "--model", str(vl3_checkpoint), "--questions", str(questions),
                       "--video-root", str(root), "--output", str(output), "--no-judge", "--mode", "multi", *COMMON])
    assert status == 0
    (line,) = read_predictions(output)
    assert line["mode"] == "multi"
    item = items[0]
    (obj,) = item["annotation"]
    assert len(obj) == 4
    request = BENCH_D_REQUEST.replace("<region>", "<region>" * len(obj))
    messages = [{"role": "user", "content": [{"type": "text", "text": request}, {"type": "video"}]}]
    model, processor = model_and_processor
    assert line["pred"] == direct_answer(model, processor, messages, str(root / item["video"]), [obj], 4)

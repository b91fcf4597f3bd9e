"""Bench-Q: prompts, mask modes, item checks, and the CLI end to end on the golden tiny checkpoint (its answers are
gibberish: structure is checked, not accuracy). The runner itself is tested in `test_runner.py`."""

import argparse
import json

import pytest

from transformers_videorefer.cli.eval import add_eval_parser
from transformers_videorefer.evaluation.bench_q import bench_q_samples, build_bench_q_prompt, load_bench_q
from transformers_videorefer.evaluation.benchmark_items import objects_for_mode
from transformers_videorefer.evaluation.media import resolve_media
from transformers_videorefer.evaluation.predictions import read_predictions

from .benchmark_fixtures import MASK_FRAMES, fresh_accelerate_state, make_mini_bench_q  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("fresh_accelerate_state")

NUM_QUESTIONS = 6
FAST = {"num_frames": 4, "max_new_tokens": 2, "progress": False}


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="videorefer")
    add_eval_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench_q")
    return make_mini_bench_q(root), root


# ------------------------------------------------------------------------------------------------ items
def test_samples_of_both_modes(mini):
    questions, root = mini
    for mode in ("single", "multi"):
        items = load_bench_q(questions, mode)
        samples = bench_q_samples(items, resolve_media(items, root), mode)
        assert [sample.id for sample in samples] == list(range(NUM_QUESTIONS))
        assert all(sample.prompt == build_bench_q_prompt(item) for sample, item in zip(samples, items))
        assert all(sample.objects == objects_for_mode(item, mode) for sample, item in zip(samples, items))
        assert all(set(sample.record) == {"id", "video", "question", "Answer", "type"} for sample in samples)


def test_prompt_as_the_spec_writes_it():
    item = {"Question": "What is <object3><region> not wearing?", "options": ["(A) A helmet", "(B) A hat"]}
    assert build_bench_q_prompt(item) == (
        "What is <object3>[<region>] not wearing? (A) A helmet (B) A hat. Answer with the option's letter from the "
        "given choices directly."
    )


def test_single_mode_keeps_only_the_frame_idx_mask(mini):
    items = load_bench_q(mini[0])
    two_objects = items[2]
    single = objects_for_mode(two_objects, "single")
    assert [list(obj) for obj in single] == [["6"], ["6"]]
    assert single[0]["6"] == two_objects["annotation"][0]["6"]
    multi = objects_for_mode(two_objects, "multi")
    assert [list(obj) for obj in multi] == [[str(f) for f in MASK_FRAMES]] * 2


def test_ids_default_to_positions(mini):
    assert [item["id"] for item in load_bench_q(mini[0])] == list(range(NUM_QUESTIONS))


def test_all_item_problems_reported_at_once(tmp_path, mini):
    items = json.loads(mini[0].read_text())
    items[0]["Question"] = "Where are <region> and <region>?"  # 2 markers, 1 object
    items[1]["frame_idx"] = "5"  # no mask on frame 5
    del items[3]["options"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(items))
    with pytest.raises(ValueError) as caught:
        load_bench_q(path, "single")
    message = str(caught.value)
    assert "3 problem(s)" in message
    assert "item 0" in message and "item 1" in message and "item 3" in message
    load_bench_q_multi_problems = str(pytest.raises(ValueError, load_bench_q, path, "multi").value)
    assert "2 problem(s)" in load_bench_q_multi_problems  # frame_idx does not matter with all-frame masks


# -------------------------------------------------------------------------------------------------- CLI
def test_cli_end_to_end(golden_checkpoint, mini, tmp_path, capsys):
    questions, root = mini
    output = tmp_path / "pred.jsonl"
    status = run_cli([
        "eval", "bench-q", "--model", str(golden_checkpoint), "--questions", str(questions), "--video-root", str(root),
        "--mode", "single", "--output", str(output), "--batch-size", "4", "--max-new-tokens", "3",
        "--dtype", "float32", "--device", "cpu", "--no-progress",
    ])
    out = capsys.readouterr().out
    assert status == 0
    lines = read_predictions(output)
    assert [line["id"] for line in lines] == list(range(NUM_QUESTIONS))
    for line, item in zip(lines, json.loads(questions.read_text())):
        assert {"id", "video", "Answer", "pred", "type", "mode", "num_frames"} <= set(line)
        assert line["video"] == item["video"] and line["Answer"] == item["Answer"] and line["type"] == item["type"]
        assert isinstance(line["pred"], str) and line["num_frames"] == 8 and line["mode"] == "single"
    report = json.loads((tmp_path / "pred.report.json").read_text())
    assert set(report) >= {"overall", "per_type", "count", "settings"}
    assert report["count"] == NUM_QUESTIONS and 0.0 <= report["overall"] <= 1.0
    assert report["settings"]["num_frames"] == 8  # the released scripts' 8 frames by default, recorded
    assert "(8 frames)" in out and "Overall" in out
    assert (tmp_path / "pred.png").read_bytes()[:4] == b"\x89PNG"
    # A rerun of a finished run needs no model (this path does not exist) and writes nothing new.
    before = output.read_bytes()
    status = run_cli([
        "eval", "bench-q", "--model", str(tmp_path / "no_model_needed"), "--questions", str(questions),
        "--video-root", str(root), "--output", str(output), "--device", "cpu", "--no-progress", "--no-plot",
    ])
    assert status == 0 and output.read_bytes() == before
    assert "Overall" in capsys.readouterr().out


def test_runner_names_still_import_from_bench_q_with_a_warning():
    from transformers_videorefer.evaluation import bench_q, predictions, runner

    with pytest.warns(FutureWarning, match=r"evaluation\.runner\.run_predictions"):
        assert bench_q.run_predictions is runner.run_predictions
    with pytest.warns(FutureWarning, match=r"evaluation\.predictions\.read_predictions"):
        from transformers_videorefer.evaluation.bench_q import read_predictions as old_read_predictions
    assert old_read_predictions is predictions.read_predictions
    with pytest.raises(AttributeError, match="no_such_name"):
        bench_q.no_such_name  # noqa: B018


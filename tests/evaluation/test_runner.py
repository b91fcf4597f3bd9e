"""The prediction runner on the golden tiny checkpoint with mini Bench-Q samples: batches, mask modes, resuming after
an interruption, refusing other settings, shards (simulated in one process, and a real 2-process launch)."""

import pytest

from transformers_videorefer.evaluation.bench_q import bench_q_samples, load_bench_q
from transformers_videorefer.evaluation.media import resolve_media
from transformers_videorefer.evaluation.predictions import read_predictions, shard_files
from transformers_videorefer.evaluation.runner import run_predictions

from .benchmark_fixtures import fresh_accelerate_state, make_mini_bench_q  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("fresh_accelerate_state")

NUM_QUESTIONS = 6
FAST = {"num_frames": 4, "max_new_tokens": 2, "progress": False}


@pytest.fixture(scope="module")
def model_and_processor(golden_checkpoint):
    from transformers_videorefer.cli.loading import load_model_and_processor

    return load_model_and_processor(str(golden_checkpoint), dtype="float32", device="cpu")


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench_q")
    return make_mini_bench_q(root), root


def samples_of(mini, mode="single"):
    questions, root = mini
    items = load_bench_q(questions, mode)
    return bench_q_samples(items, resolve_media(items, root), mode)


class Shard:
    """Process `index` of `count` of a sharded run, simulated in one process (run non-main shards first)."""

    def __init__(self, index: int, count: int):
        self.process_index, self.num_processes, self.is_main_process = index, count, index == 0

    def wait_for_everyone(self) -> None:
        pass


def test_multi_mode_lines(model_and_processor, mini, tmp_path):
    model, processor = model_and_processor
    output = tmp_path / "multi.jsonl"
    result = run_predictions(
        model, processor, samples_of(mini, "multi"), output, batch_size=3,
        settings={"mode": "multi", "num_frames": 4}, **FAST,
    )
    assert result.written == NUM_QUESTIONS and result.finished
    assert {line["mode"] for line in read_predictions(output)} == {"multi"}


def test_interrupted_run_continues_without_duplicates(model_and_processor, mini, tmp_path):
    model, processor = model_and_processor
    samples = samples_of(mini)
    output = tmp_path / "pred.jsonl"
    first = run_predictions(model, processor, samples, output, batch_size=2, max_batches=1, **FAST)
    assert (first.written, first.finished) == (2, False)
    kept = output.read_bytes()
    with open(output, "ab") as handle:  # killed in the middle of writing the next line
        handle.write(b'{"id": 2, "video": "DAVIS/JPEG')
    second = run_predictions(model, processor, samples, output, batch_size=2, **FAST)
    assert (second.done_before, second.written, second.finished) == (2, 4, True)
    assert output.read_bytes().startswith(kept)  # the lines already there are kept as they were
    assert [line["id"] for line in read_predictions(output)] == list(range(NUM_QUESTIONS))
    third = run_predictions(model, processor, samples, output, batch_size=2, **FAST)
    assert third.written == 0 and len(read_predictions(output)) == NUM_QUESTIONS


def test_resume_with_other_settings_is_refused(model_and_processor, mini, tmp_path):
    model, processor = model_and_processor
    output = tmp_path / "pred.jsonl"
    samples = samples_of(mini)
    run_predictions(model, processor, samples, output, max_batches=1, settings={"num_frames": 4}, **FAST)
    with pytest.raises(ValueError, match="num_frames"):
        run_predictions(model, processor, samples, output, settings={"num_frames": 8}, **FAST)


def test_shards_are_merged_once(model_and_processor, mini, tmp_path):
    model, processor = model_and_processor
    samples = samples_of(mini)
    output = tmp_path / "pred.jsonl"
    run_predictions(model, processor, samples, output, batch_size=2, state=Shard(1, 2), **FAST)
    assert [p.rsplit(".", 1)[-1] for p in shard_files(output)] == ["shard1-of-2"]
    assert [line["id"] for line in read_predictions(shard_files(output)[0])] == [1, 3, 5]
    # The main process starts after shard 1 finished (the worst ordering): it merges it, then does its own share.
    result = run_predictions(model, processor, samples, output, batch_size=2, state=Shard(0, 2), **FAST)
    assert result.written == 3
    assert shard_files(output) == []
    assert sorted(line["id"] for line in read_predictions(output)) == list(range(NUM_QUESTIONS))


def test_interrupted_sharded_run_resumes_single_process(model_and_processor, mini, tmp_path):
    model, processor = model_and_processor
    samples = samples_of(mini)
    output = tmp_path / "pred.jsonl"
    run_predictions(model, processor, samples, output, state=Shard(1, 2), max_batches=1, **FAST)  # wrote id 1
    result = run_predictions(model, processor, samples, output, batch_size=3, **FAST)
    assert (result.done_before, result.written) == (1, 5)
    assert [line["id"] for line in read_predictions(output)] == [1, 0, 2, 3, 4, 5]
    assert shard_files(output) == []


def test_bad_input_names_the_items(model_and_processor, mini, tmp_path):
    model, processor = model_and_processor
    samples = samples_of(mini)[:2]
    samples[1].objects = [{99: samples[1].objects[0]["6"]}]  # past the end of the 12-frame clip
    with pytest.raises(ValueError, match=r"items \[0, 1\].*past the end"):
        run_predictions(model, processor, samples, tmp_path / "pred.jsonl", batch_size=2, **FAST)


LAUNCHER = """
import argparse, sys
from transformers_videorefer.cli.eval import add_eval_parser
parser = argparse.ArgumentParser(prog="videorefer")
add_eval_parser(parser.add_subparsers(dest="command", required=True))
args = parser.parse_args(sys.argv[1:])
sys.exit(args.run(args))
"""


def test_two_processes_with_torch_distributed(golden_checkpoint, mini, tmp_path, model_and_processor):
    """A real 2-process launch (what `accelerate launch` starts; gloo on the CPU), continuing an interrupted run:
    2 questions already in PRED.jsonl and 1 in a leftover shard of an earlier 3-process run."""
    import subprocess
    import sys

    model, processor = model_and_processor
    samples = samples_of(mini)
    output = tmp_path / "pred.jsonl"
    settings = {"mode": "single", "num_frames": 8}
    run_predictions(model, processor, samples, output, batch_size=2, max_batches=1, settings=settings, **FAST)
    run_predictions(model, processor, samples, output, state=Shard(2, 3), max_batches=1, settings=settings, **FAST)
    assert len(read_predictions(output)) == 2 and len(shard_files(output)) == 1
    launcher = tmp_path / "launch.py"
    launcher.write_text(LAUNCHER)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(launcher),
        "eval", "bench-q", "--model", str(golden_checkpoint), "--questions", str(mini[0]), "--video-root", str(mini[1]),
        "--output", str(output), "--max-new-tokens", "2", "--no-progress", "--no-plot", "--device", "cpu",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [line["id"] for line in read_predictions(output)] == [0, 1, 2, 3, 4, 5]
    assert shard_files(output) == []
    assert done.stdout.count("VideoRefer-Bench-Q (8 frames)") == 1  # the report comes from the main process only


# ------------------------------------------------------------------ input pipeline: batches built in worker processes
def test_worker_processes_write_exactly_what_the_main_process_writes(model_and_processor, mini, tmp_path):
    """Mixed media (frame folders and mp4 files), several batches, inputs built by 2 workers ahead of generation."""
    model, processor = model_and_processor
    samples = samples_of(mini)
    serial, parallel = tmp_path / "serial.jsonl", tmp_path / "parallel.jsonl"
    run_predictions(model, processor, samples, serial, batch_size=2, **FAST)
    result = run_predictions(model, processor, samples, parallel, batch_size=2, num_workers=2, **FAST)
    assert result.written == NUM_QUESTIONS and result.finished
    assert parallel.read_bytes() == serial.read_bytes()
    assert {line["video"].rsplit(".", 1)[-1] == "mp4" for line in read_predictions(serial)} == {True, False}


def test_interrupted_run_with_workers_resumes_each_question_once(model_and_processor, mini, tmp_path):
    model, processor = model_and_processor
    samples = samples_of(mini)
    output = tmp_path / "pred.jsonl"
    first = run_predictions(model, processor, samples, output, batch_size=2, max_batches=2, num_workers=2, **FAST)
    assert (first.written, first.finished) == (4, False)
    second = run_predictions(model, processor, samples, output, batch_size=2, num_workers=2, **FAST)
    assert (second.done_before, second.written) == (4, 2)
    assert [line["id"] for line in read_predictions(output)] == list(range(NUM_QUESTIONS))


@pytest.mark.timeout(120)
def test_worker_that_hits_a_bad_sample_names_it_and_stops_the_run(model_and_processor, mini, tmp_path):
    """As without workers: the batches before it are written, the run stops with the items named, no hang."""
    model, processor = model_and_processor
    samples = samples_of(mini)
    samples[3].objects = [{99: samples[3].objects[0]["6"]}]  # past the end of the 12-frame clip
    output = tmp_path / "pred.jsonl"
    with pytest.raises(ValueError, match=r"^Cannot build the inputs of the batch of items \[2, 3\] .*past the end"):
        run_predictions(model, processor, samples, output, batch_size=2, num_workers=2, **FAST)
    assert [line["id"] for line in read_predictions(output)] == [0, 1]


def test_num_workers_default_shares_half_the_cores_and_refuses_negative(monkeypatch):
    import argparse

    from transformers_videorefer.cli import eval as cli_eval
    from transformers_videorefer.evaluation.runner import batch_inputs
    from transformers_videorefer.inputs import media

    monkeypatch.setattr(media.os, "cpu_count", lambda: 64)  # the machine's cores ...
    monkeypatch.setattr(media.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)  # ... this process's
    auto = argparse.Namespace(num_workers=None)
    assert cli_eval._num_workers(auto, Shard(0, 1)) == 8
    assert cli_eval._num_workers(auto, Shard(0, 4)) == 2
    monkeypatch.setattr(media.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert cli_eval._num_workers(auto, Shard(0, 1)) == 2
    assert cli_eval._num_workers(argparse.Namespace(num_workers=0), Shard(0, 1)) == 0
    with pytest.raises(ValueError, match="num_workers must be 0 or more, got -1"):
        list(batch_inputs(None, [[]], 4, num_workers=-1))

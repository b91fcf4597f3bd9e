"""One writer per prediction file: a second `eval bench-q` run on the same --output is refused at once (exit 2, one
line), the first run's file holds each id once, and a killed run's leftover lock file does not block the next run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from transformers_videorefer.cli import main as cli_main
from transformers_videorefer.evaluation.predictions import (
    PredictionFileLock,
    PredictionFileLockedError,
    lock_path,
    read_predictions,
)

from .benchmark_fixtures import fresh_accelerate_state, make_mini_bench_q  # noqa: F401 (a fixture)

pytestmark = pytest.mark.usefixtures("fresh_accelerate_state")
REPO_ROOT = Path(__file__).resolve().parents[2]
# The first run is slowed down (a pause before each batch) so that the second one surely meets it at work.
SLOW_RUN = (
    "import sys, time\n"
    "import transformers_videorefer.evaluation.runner as runner\n"
    "generate = runner.answers_from_inputs\n"
    "def slow(*args, **kwargs):\n"
    "    time.sleep(float(sys.argv[1]))\n"
    "    return generate(*args, **kwargs)\n"
    "runner.answers_from_inputs = slow\n"
    "from transformers_videorefer.cli import main\n"
    "raise SystemExit(main(sys.argv[2:]))\n"
)


def bench_q_argv(golden_checkpoint, questions, output) -> list[str]:
    return ["eval", "bench-q", "--model", str(golden_checkpoint), "--questions", str(questions), "--video-root",
            str(questions.parent), "--output", str(output), "--max-new-tokens", "2", "--device", "cpu", "--no-progress",
            "--no-plot"]


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"the first run ended (exit {process.returncode}) before taking the lock: "
                                 f"{process.communicate()[1][-2000:]}")
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def test_lock_is_exclusive_and_released(tmp_path):
    output = tmp_path / "pred.jsonl"
    with PredictionFileLock(output):
        assert Path(lock_path(output)).read_text().strip() == str(os.getpid())
        with pytest.raises(PredictionFileLockedError, match=rf"another run \(pid {os.getpid()}\) is writing"):
            PredictionFileLock(output).acquire()
    assert not Path(lock_path(output)).exists()
    with PredictionFileLock(output):  # free again
        pass


def test_two_runs_on_one_output_one_refused_file_clean(golden_checkpoint, tmp_path):
    questions = make_mini_bench_q(tmp_path / "bench")
    output = tmp_path / "out" / "pred.jsonl"
    argv = bench_q_argv(golden_checkpoint, questions, output)
    first = subprocess.Popen([sys.executable, "-c", SLOW_RUN, "2.0", *argv], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_for(Path(lock_path(output)), first)
        second = subprocess.run([sys.executable, "-m", "transformers_videorefer", *argv], cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=300)
        stdout, stderr = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode == 2, second.stderr[-2000:]
    assert second.stderr.startswith("videorefer eval bench-q: another run (pid ")
    assert f"is writing {output}; wait for it to finish, or write to another --output" in second.stderr
    assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
    assert first.returncode == 0, stderr[-2000:]
    ids = [record["id"] for record in read_predictions(output)]
    assert sorted(ids) == list(range(6))  # each id once
    assert not Path(lock_path(output)).exists()


def test_killed_run_leaves_no_blocking_lock(golden_checkpoint, tmp_path, capsys):
    questions = make_mini_bench_q(tmp_path / "bench")
    output = tmp_path / "out" / "pred.jsonl"
    argv = bench_q_argv(golden_checkpoint, questions, output)
    killed = subprocess.Popen([sys.executable, "-c", SLOW_RUN, "30", *argv], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_for(Path(lock_path(output)), killed)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=60)
    assert Path(lock_path(output)).exists()  # left behind by the killed run, but no longer locked
    assert cli_main(argv) == 0, capsys.readouterr().err
    ids = [record["id"] for record in read_predictions(output)]
    assert sorted(ids) == list(range(6))
    assert not Path(lock_path(output)).exists()

"""Crash-safe training output: resume from the last COMPLETE checkpoint, one run per output folder."""

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file
from transformers import Trainer

import transformers_videorefer  # noqa: F401
from transformers_videorefer.training import checkpoints, script
from transformers_videorefer.training.checkpoints import (
    OutputDirInUseError,
    ResumeCheckpointError,
    exclusive_output_dir,
    last_complete_checkpoint,
    resolve_resume_from_checkpoint,
)

from .training_fixtures import samples, write_dataset


def _checkpoint(root, step, state="complete"):
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    if state == "complete":
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    elif state == "cut":
        (folder / "trainer_state.json").write_text('{"global_step": ')
    return folder


def test_resume_true_takes_the_newest_complete_checkpoint(tmp_path):
    _checkpoint(tmp_path, 2)
    _checkpoint(tmp_path, 10)
    _checkpoint(tmp_path, 12, state="missing")  # killed before trainer_state.json
    _checkpoint(tmp_path, 14, state="cut")  # killed while writing it
    assert last_complete_checkpoint(str(tmp_path)) == str(tmp_path / "checkpoint-10")
    for value in (True, "true", "True", "latest"):
        assert resolve_resume_from_checkpoint(value, str(tmp_path)) == str(tmp_path / "checkpoint-10")
    for value in (None, False, "false", ""):
        assert resolve_resume_from_checkpoint(value, str(tmp_path)) is None


def test_resume_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(ResumeCheckpointError, match="holds no complete checkpoint"):
        resolve_resume_from_checkpoint(True, str(tmp_path))
    _checkpoint(tmp_path, 3)
    partial = _checkpoint(tmp_path, 4, state="missing")
    with pytest.raises(ResumeCheckpointError, match=r"checkpoint-4' is not a complete checkpoint: it has no "
                       r"trainer_state.json .*the last complete one is .*checkpoint-3'"):
        resolve_resume_from_checkpoint(str(partial), str(tmp_path))
    with pytest.raises(ResumeCheckpointError, match="no such checkpoint folder"):
        resolve_resume_from_checkpoint(str(tmp_path / "checkpoint-99"), str(tmp_path))
    wrong = _checkpoint(tmp_path, 5, state="complete")
    (wrong / "trainer_state.json").write_text(json.dumps({"global_step": 7}))
    assert "does not describe step 5" in checkpoints.checkpoint_problem(str(wrong))


def test_second_run_into_one_output_folder_is_refused(tmp_path):
    with exclusive_output_dir(str(tmp_path)):
        with pytest.raises(OutputDirInUseError, match=rf"\(pid {os.getpid()}\) is writing into"):
            with exclusive_output_dir(str(tmp_path)):
                pass
    with exclusive_output_dir(str(tmp_path)):  # released at the end of the run
        pass


def test_a_killed_run_leaves_no_lock_behind(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import sys, time\n"
            "from transformers_videorefer.training.checkpoints import exclusive_output_dir\n"
            "with exclusive_output_dir(sys.argv[1]):\n"
            "    print('held', flush=True)\n"
            "    time.sleep(300)\n"
        ), str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputDirInUseError):
            with exclusive_output_dir(str(tmp_path)):
                pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        with exclusive_output_dir(str(tmp_path)):
            pass
    finally:
        if holder.poll() is None:
            holder.kill()


def _recipe(tmp_path, golden_checkpoint, output_dir, **overrides):
    data = write_dataset(tmp_path / "data", samples())
    config = {
        "stage": "3", "model_name_or_path": str(golden_checkpoint), "data_path": [str(data)],
        "media_root": str(tmp_path / "data"), "dtype": "float32", "output_dir": str(output_dir), "max_steps": 3,
        "per_device_train_batch_size": 2, "learning_rate": 1e-3, "lr_scheduler_type": "constant", "use_cpu": True,
        "bf16": False, "logging_steps": 1, "save_strategy": "steps", "save_steps": 1, "report_to": "none",
        "disable_tqdm": True, "seed": 0, "dataloader_num_workers": 0,
    }
    config.update(overrides)
    path = tmp_path / f"{output_dir.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return ["--config", str(path)]


def test_busy_output_folder_fails_in_one_line_before_loading_the_model(golden_checkpoint, tmp_path, monkeypatch, capsys):
    def no_model(args):
        raise AssertionError("the model must not be loaded when the output folder is busy")

    monkeypatch.setattr(script, "load_model", no_model)
    output = tmp_path / "out"
    with exclusive_output_dir(str(output)):
        assert script.main(_recipe(tmp_path, golden_checkpoint, output)) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("transformers_videorefer.train: Another training run (pid ") and "\n" not in error


def test_kill_while_saving_then_resume_true_reaches_the_same_weights(golden_checkpoint, tmp_path, monkeypatch):
    reference = tmp_path / "reference"
    assert script.main(_recipe(tmp_path, golden_checkpoint, reference)) == 0

    crashed = tmp_path / "crashed"
    real_save_rng_state = Trainer._save_rng_state

    def die_while_saving_checkpoint_2(self, output_dir):
        if os.path.basename(output_dir) == "checkpoint-2":
            raise KeyboardInterrupt("killed while saving checkpoint-2")  # weights and optimizer written, no state
        return real_save_rng_state(self, output_dir)

    monkeypatch.setattr(Trainer, "_save_rng_state", die_while_saving_checkpoint_2)
    with pytest.raises(KeyboardInterrupt):
        script.main(_recipe(tmp_path, golden_checkpoint, crashed))
    monkeypatch.setattr(Trainer, "_save_rng_state", real_save_rng_state)
    assert (crashed / "checkpoint-2" / "model.safetensors").is_file()
    assert not (crashed / "checkpoint-2" / "trainer_state.json").exists()

    assert script.main(_recipe(tmp_path, golden_checkpoint, crashed, resume_from_checkpoint=True)) == 0
    state = json.loads((crashed / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    expected, resumed = load_file(reference / "model.safetensors"), load_file(crashed / "model.safetensors")
    assert expected.keys() == resumed.keys()
    for name in expected:
        assert torch.equal(expected[name], resumed[name]), name

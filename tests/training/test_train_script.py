"""`python -m transformers_videorefer.train --config ...` end to end on the tiny checkpoint."""

import json
import math
import types

import pytest
import yaml
from transformers import AutoModelForImageTextToText, AutoProcessor

import transformers_videorefer  # noqa: F401
from transformers_videorefer.train import main, save_final_model

from .training_fixtures import samples, write_dataset


def test_train_script_with_yaml_config(golden_checkpoint, tmp_path):
    data = write_dataset(tmp_path, samples())
    config = {
        "stage": "3",
        "model_name_or_path": str(golden_checkpoint),
        "data_path": [str(data)],
        "media_root": str(tmp_path),
        "dtype": "float32",
        "output_dir": str(tmp_path / "out"),
        "max_steps": 2,
        "per_device_train_batch_size": 2,
        "learning_rate": 1e-4,
        "use_cpu": True,
        "bf16": False,
        "activation_checkpointing": True,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
    }
    (tmp_path / "stage3.yaml").write_text(yaml.safe_dump(config))
    main(["--config", str(tmp_path / "stage3.yaml")])
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "out")
    processor = AutoProcessor.from_pretrained(tmp_path / "out")
    assert model.config.model_type == "videorefer"
    assert processor.region_token_id == model.config.region_token_id
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)


class _FakeFsdpPlugin:
    def __init__(self, state_dict_type: str):
        self.state_dict_type = state_dict_type

    def set_state_dict_type(self, state_dict_type: str) -> None:
        self.state_dict_type = state_dict_type


class _FakeTrainer:
    """What save_final_model touches of a Trainer: FSDP or not, its plugin, and save_model (recording the plugin's type)."""

    def __init__(self, fsdp_state_dict_type: str | None):
        self.is_fsdp_enabled = fsdp_state_dict_type is not None
        plugin = _FakeFsdpPlugin(fsdp_state_dict_type) if self.is_fsdp_enabled else None
        self.accelerator = types.SimpleNamespace(state=types.SimpleNamespace(fsdp_plugin=plugin))
        self.saved: list[tuple[str, str | None]] = []

    def save_model(self, output_dir: str) -> None:
        plugin = self.accelerator.state.fsdp_plugin
        self.saved.append((output_dir, plugin.state_dict_type if plugin else None))


@pytest.mark.parametrize(
    "state_dict_type, saved_as",
    [("SHARDED_STATE_DICT", "FULL_STATE_DICT"), ("StateDictType.SHARDED_STATE_DICT", "FULL_STATE_DICT"),
     ("FULL_STATE_DICT", "FULL_STATE_DICT"), (None, None)],
)
def test_final_save_gathers_fsdp_sharded_state_dicts(state_dict_type, saved_as):
    """Trainer.save_model writes no weights for FSDP's sharded state dicts: the last save must be a full one."""
    trainer = _FakeTrainer(state_dict_type)
    save_final_model(trainer, "out")
    assert trainer.saved == [("out", saved_as)]


def test_train_script_under_accelerate_launch_with_two_cpu_processes(golden_checkpoint, tmp_path):
    """The recipes' launch command, data-parallel over 2 CPU processes (gloo): the multi-GPU plumbing, without GPUs."""
    import os
    import subprocess
    import sys

    data = write_dataset(tmp_path, samples() * 2)
    config = {
        "stage": "3", "model_name_or_path": str(golden_checkpoint), "data_path": [str(data)],
        "media_root": str(tmp_path), "dtype": "float32", "output_dir": str(tmp_path / "out"), "max_steps": 2,
        "per_device_train_batch_size": 2, "learning_rate": 1e-4, "use_cpu": True, "bf16": False,
        "save_strategy": "no", "report_to": "none", "disable_tqdm": True, "logging_steps": 1,
    }
    (tmp_path / "stage3.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no",
        "-m", "transformers_videorefer.train", "--config", str(tmp_path / "stage3.yaml"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("'loss'") + result.stderr.count("'loss'") == 2  # logged by the main process only
    assert AutoModelForImageTextToText.from_pretrained(tmp_path / "out").config.model_type == "videorefer"


# ------------------------------------------------------------------------------ arguments: trl.ModelConfig
def test_train_arguments_extend_trl_model_config():
    from trl import ModelConfig

    from transformers_videorefer.train import VideoReferTrainArguments

    args = VideoReferTrainArguments(data_path=["a.json"])
    assert isinstance(args, ModelConfig)
    assert (args.dtype, args.lora_r, args.lora_alpha, args.lora_dropout) == ("bf16", 64, 128, 0.05)
    assert args.use_peft is False and args.use_lora is False
    assert VideoReferTrainArguments(data_path=[], use_lora=True).use_peft is True
    assert VideoReferTrainArguments(data_path=[], use_peft=True).use_lora is True


def test_train_arguments_reject_bad_values():
    from transformers_videorefer.train import VideoReferTrainArguments

    with pytest.raises(ValueError, match=r"load_in_4bit \(QLoRA\) needs use_lora"):
        VideoReferTrainArguments(data_path=[], load_in_4bit=True)
    with pytest.raises(ValueError, match=r"dtype must be one of"):
        VideoReferTrainArguments(data_path=[], dtype="int3")
    with pytest.raises(TypeError, match=r"data_path"):
        VideoReferTrainArguments()


def test_train_arguments_from_yaml_with_old_and_trl_names(tmp_path):
    from trl import SFTConfig, TrlParser

    from transformers_videorefer.train import VideoReferTrainArguments
    from transformers_videorefer.training.script import peft_config_from_args
    from transformers_videorefer.training.stages import get_stage

    recipe = {"data_path": ["a.json"], "use_lora": True, "lora_r": 8, "use_rslora": True, "dtype": "float32",
              "lora_target_modules": ["q_proj", "v_proj"], "output_dir": str(tmp_path), "report_to": "none",
              "use_cpu": True, "bf16": False}
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    args, training_args = TrlParser((VideoReferTrainArguments, SFTConfig)).parse_args_and_config(
        ["--config", str(tmp_path / "recipe.yaml")]
    )
    assert args.use_peft and args.lora_r == 8 and args.dtype == "float32"
    config = peft_config_from_args(args, get_stage("3"))
    assert config.r == 8 and config.lora_alpha == 128 and config.use_rslora
    assert set(config.target_modules) == {"q_proj", "v_proj"}
    assert peft_config_from_args(VideoReferTrainArguments(data_path=[]), get_stage("3")) is None


@pytest.mark.parametrize("recipe", ["stage1.yaml", "stage2.yaml", "stage2.5.yaml", "stage3.yaml"])
def test_example_recipes_parse(recipe):
    from pathlib import Path

    from trl import SFTConfig, TrlParser

    from transformers_videorefer.train import VideoReferTrainArguments

    path = Path(__file__).resolve().parents[2] / "examples" / "train" / recipe
    argv = ["--config", str(path), "--use_cpu", "true", "--bf16", "false", "--dataloader_num_workers", "0"]
    args, _ = TrlParser((VideoReferTrainArguments, SFTConfig)).parse_args_and_config(argv)
    assert args.data_path and args.stage == yaml.safe_load(path.read_text())["stage"]
    assert args.num_mask_frames is None and args.truncate_after_expansion is False  # as the original trains


def test_script_defaults_train_as_the_original_and_reach_the_collator(monkeypatch, tmp_path):
    """Every mask frame and truncation before expansion unless a recipe opts out (departures named in the docs)."""
    from transformers_videorefer.training import script

    defaults = script.VideoReferTrainArguments(data_path=["unused.json"])
    assert defaults.num_mask_frames is None and defaults.truncate_after_expansion is False

    seen = {}

    class StopAfterCollator(Exception):
        pass

    def fake_collator(processor, **kwargs):
        seen.update(kwargs)
        raise StopAfterCollator

    monkeypatch.setattr(script, "load_model", lambda args: (None, None))
    monkeypatch.setattr(script, "load_videorefer_dataset", lambda path: [])
    monkeypatch.setattr(script, "VideoReferDataCollator", fake_collator)
    from trl import SFTConfig

    args = script.VideoReferTrainArguments(data_path=["unused.json"], num_mask_frames=3, truncate_after_expansion=True)
    with pytest.raises(StopAfterCollator):
        script.run(args, SFTConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, report_to="none", max_length=77))
    assert seen["num_mask_frames"] == 3 and seen["truncate_after_expansion"] is True and seen["max_length"] == 77


def test_settings_the_arguments_refuse_are_one_line_before_any_model(tmp_path, capsys, monkeypatch):
    """bf16 on a machine without a GPU (as the recipes ask) is refused by TrainingArguments: one line, exit 2."""
    import torch

    from transformers_videorefer.training import script

    monkeypatch.setattr(script, "load_model", lambda args: (_ for _ in ()).throw(AssertionError("loaded a model")))
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: bf16 is accepted")
    recipe = {"data_path": ["unused.json"], "output_dir": str(tmp_path / "out"), "bf16": True, "report_to": "none"}
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    assert script.main(["--config", str(tmp_path / "recipe.yaml")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("transformers_videorefer.train: ") and "bf16" in error and "\n" not in error

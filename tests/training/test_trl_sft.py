"""`trl sft` on VideoRefer: TRL's own entry point on a remote-code checkpoint without the package, the example
recipes, and one step's loss and labels against the package's own recipe."""

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from no_package import BLOCK_PACKAGE

import transformers_videorefer  # noqa: F401
from transformers_videorefer.cli import main as cli_main
from transformers_videorefer.training.trl_format import to_trl_rows

from .training_fixtures import samples, write_media

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples" / "trl"

# Run first in every Python process of these subprocesses (a sitecustomize): the package cannot be imported there.
NO_PACKAGE = BLOCK_PACKAGE

RELOAD_SCRIPT = textwrap.dedent(
    """
    import json, sys, torch
    from transformers import AutoModelForImageTextToText, AutoProcessor
    folder, row_file = sys.argv[1], sys.argv[2]
    model = AutoModelForImageTextToText.from_pretrained(folder, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    row = json.loads(open(row_file).readline())
    question = [row["messages"][0]]
    inputs = processor.apply_chat_template(question, add_generation_prompt=True, tokenize=True, return_dict=True,
                                           return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    package = sys.modules.get("transformers_videorefer") is not None
    print(json.dumps({"module": type(model).__module__, "new": out.shape[1] - inputs["input_ids"].shape[1],
                      "package": package}))
    """
)


@pytest.fixture(scope="module")
def converted(golden_checkpoint, tmp_path_factory) -> Path:
    """The golden tiny checkpoint converted to a remote-code repository (as `videorefer convert` writes it)."""
    from transformers_videorefer.hub.convert import convert_checkpoint

    destination = tmp_path_factory.mktemp("converted")
    convert_checkpoint(str(golden_checkpoint), destination, dtype="float32")
    return destination


@pytest.fixture(scope="module")
def trl_rows(tmp_path_factory) -> tuple[Path, list[dict]]:
    """The four training fixtures as `trl sft` rows (media folder, rows)."""
    media = tmp_path_factory.mktemp("media")
    write_media(media)
    return media, to_trl_rows(samples(), str(media))


def _no_package_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose Python processes cannot import the package (a sitecustomize blocks it)."""
    hook = tmp_path / "no_package"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(NO_PACKAGE)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIDEOREFER_GOLDEN")}
    env.update(PYTHONPATH=str(hook), HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"),
               TOKENIZERS_PARALLELISM="false", CUDA_VISIBLE_DEVICES="", WANDB_DISABLED="true")
    return env


def _recipe(tmp_path: Path, converted: Path, data: Path) -> Path:
    """examples/trl/stage3.yaml for 2 CPU steps on the tiny checkpoint."""
    recipe = yaml.safe_load((EXAMPLES / "stage3.yaml").read_text())
    recipe.update(
        model_name_or_path=str(converted), dtype="float32", datasets=[{"path": "json", "data_files": [str(data)]}],
        output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=2, gradient_accumulation_steps=1,
        bf16=False, use_cpu=True, activation_checkpointing=False, dataloader_num_workers=0, logging_steps=1,
        save_steps=2, save_only_model=True, learning_rate=1e-3, seed=0,
    )
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_trl_sft_trains_the_remote_code_checkpoint_without_the_package(converted, trl_rows, tmp_path):
    media, _ = trl_rows
    (tmp_path / "train.json").write_text(json.dumps(samples()))
    data = tmp_path / "train.jsonl"
    assert cli_main(["data", "to-trl", str(tmp_path / "train.json"), "--media-root", str(media), "--out", str(data),
                     "--quiet"]) == 0
    env = _no_package_env(tmp_path)
    trl = Path(sys.executable).parent / "trl"
    command = [str(trl), "sft"] if trl.is_file() else [sys.executable, "-m", "trl.scripts.sft"]
    result = subprocess.run([*command, "--config", str(_recipe(tmp_path, converted, data))], check=False,
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    state = json.loads((tmp_path / "out" / "checkpoint-2" / "trainer_state.json").read_text())
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert len(losses) == 2 and all(math.isfinite(loss) and loss > 0 for loss in losses), state["log_history"]
    saved = tmp_path / "out"
    assert (saved / "modeling_videorefer.py").is_file() and (saved / "processing_videorefer.py").is_file()

    reload = subprocess.run([sys.executable, "-c", RELOAD_SCRIPT, str(saved), str(data)], check=False,
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert reload.returncode == 0, reload.stderr[-4000:]
    payload = json.loads(reload.stdout.strip().splitlines()[-1])
    assert payload == {"module": payload["module"], "new": 4, "package": False}
    assert payload["module"].startswith("transformers_modules.")


def _supervised_ids(batch) -> list[list[int]]:
    """Each sample's supervised token ids (labels != -100), sorted by sample so that batch orders compare."""
    return sorted(batch["input_ids"][row][batch["labels"][row] != -100].tolist() for row in range(len(batch["labels"])))


def _sequences(batch) -> list[list[int]]:
    """Each sample's ids without padding, sorted by sample."""
    ids, mask = batch["input_ids"], batch["attention_mask"]
    return sorted(ids[row][mask[row] == 1].tolist() for row in range(len(ids)))


def test_one_trl_step_has_the_loss_and_labels_of_the_package_recipe(converted, trl_rows, tmp_path):
    import torch
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import SFTConfig, SFTTrainer
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    from transformers_videorefer.training import VideoReferDataCollator, load_videorefer_dataset

    media, rows = trl_rows
    model = AutoModelForImageTextToText.from_pretrained(converted).eval()
    processor = AutoProcessor.from_pretrained(converted)
    recipe = yaml.safe_load((EXAMPLES / "stage3.yaml").read_text())
    config = SFTConfig(
        output_dir=str(tmp_path / "out"), assistant_only_loss=recipe["assistant_only_loss"],
        max_length=recipe["max_length"], remove_unused_columns=recipe["remove_unused_columns"],
        dataset_kwargs=recipe["dataset_kwargs"], per_device_train_batch_size=4, bf16=False, use_cpu=True,
        activation_checkpointing=False, report_to="none", dataloader_num_workers=0,
    )
    trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=processor)
    assert isinstance(trainer.data_collator, DataCollatorForVisionLanguageModeling)
    trl_batch = next(iter(trainer.get_train_dataloader()))  # all four samples, in the sampler's order

    (media / "train.json").write_text(json.dumps(samples()))
    dataset = load_videorefer_dataset(media / "train.json")
    package_batch = VideoReferDataCollator(processor, media_root=str(media))([dataset[i] for i in range(len(dataset))])

    assert _sequences(trl_batch) == _sequences(package_batch)  # the same prompts, visual and region tokens
    assert _supervised_ids(trl_batch) == _supervised_ids(package_batch)
    assert sum(len(ids) for ids in _supervised_ids(trl_batch)) > 20
    with torch.no_grad():
        trl_loss = trainer.compute_loss(model, dict(trl_batch))
        package_loss = model(**package_batch).loss
    assert torch.isfinite(trl_loss)
    assert abs(trl_loss.item() - package_loss.item()) < 1e-5, (trl_loss.item(), package_loss.item())


@pytest.mark.parametrize("name", ["stage2", "stage2.5", "stage3", "stage3_lora"])
def test_example_recipes_parse_with_trl_and_keep_the_settings_that_matter(name):
    from trl.scripts.sft import make_parser

    _, training, model, data = make_parser().parse_args_and_config(
        args=["--config", str(EXAMPLES / f"{name}.yaml"), "--use_cpu", "true"], fail_with_unknown_args=True
    )
    assert training.trust_remote_code and training.assistant_only_loss and training.max_length is None
    assert not training.packing and not training.padding_free and training.bf16
    assert data.datasets and data.datasets[0].path == "json"
    assert model.use_peft == (name == "stage3_lora")
    expected_lr = {"stage2": 1e-3, "stage2.5": 1e-5, "stage3": 1e-5, "stage3_lora": 2e-4}[name]
    assert training.learning_rate == expected_lr


@pytest.mark.parametrize("name", ["stage2", "stage2.5", "stage3"])
def test_full_recipes_freeze_what_the_package_stages_freeze(converted, name):
    """`model_init_kwargs: {frozen_modules: ...}` of a `trl sft` recipe, through `from_pretrained` as `trl sft`
    passes it, leaves trainable exactly the parameters the package's stage trains."""
    from transformers import AutoModelForImageTextToText
    from trl.scripts.sft import make_parser

    from transformers_videorefer.training.stages import apply_stage, get_stage

    training = make_parser().parse_args_and_config(args=["--config", str(EXAMPLES / f"{name}.yaml"), "--use_cpu", "true"])[1]
    model = AutoModelForImageTextToText.from_pretrained(converted, **training.model_init_kwargs)
    trained_by_recipe = {n for n, p in model.named_parameters() if p.requires_grad}
    reference = AutoModelForImageTextToText.from_pretrained(converted)
    trained_by_stage = set(apply_stage(reference, get_stage(name.removeprefix("stage"))))
    assert trained_by_recipe == trained_by_stage
    assert trained_by_recipe and not any("vision_tower" in n for n in trained_by_recipe)


@pytest.mark.parametrize("name, trained", [("stage3_lora", {"language_model", "multi_modal_projector", "region_encoder"})])
def test_lora_recipes_train_only_their_parts(converted, name, trained):
    from peft import get_peft_model
    from transformers import AutoModelForImageTextToText
    from trl import get_peft_config
    from trl.scripts.sft import make_parser

    arguments = ["--config", str(EXAMPLES / f"{name}.yaml"), "--use_cpu", "true"]
    model_args = make_parser().parse_args_and_config(args=arguments)[2]
    model = get_peft_model(AutoModelForImageTextToText.from_pretrained(converted), get_peft_config(model_args))
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    parts = {n.split("base_model.model.model.")[1].split(".")[0] for n in names}
    assert parts == trained
    assert not any("vision_tower" in n or "lm_head" in n or "embed_tokens" in n for n in names)

"""Stages through TRL's SFTTrainer on the tiny checkpoint: what changes, loss, LoRA, resume."""

import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor, TrainerCallback

import transformers_videorefer  # noqa: F401
from transformers_videorefer.training import VideoReferDataCollator, get_stage, load_videorefer_dataset
from transformers_videorefer.training.lora import language_model_lora_config
from transformers_videorefer.training.trainer import build_trainer

from .training_fixtures import caption_samples, cpu_sft_config, samples, write_dataset


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("train_data")
    write_dataset(root, samples(), "train.json")
    write_dataset(root, caption_samples(), "captions.json")
    return root


def _model_and_processor(checkpoint):
    torch.manual_seed(0)
    return AutoModelForImageTextToText.from_pretrained(checkpoint), AutoProcessor.from_pretrained(checkpoint)



def _train(checkpoint, data_root, tmp_path, stage_name, data="train.json", **overrides):
    model, processor = _model_and_processor(checkpoint)
    stage = get_stage(stage_name)
    dataset = load_videorefer_dataset(data_root / data)
    collator = VideoReferDataCollator(processor, plain=stage.plain, media_root=str(data_root))
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    trainer = build_trainer(model, processor, dataset, cpu_sft_config(tmp_path, **overrides), stage, collator)
    trainer.train()
    changed = {name for name, p in model.named_parameters() if not torch.equal(p.detach(), before[name])}
    return model, trainer, changed, set(before)


def _under(names, part):
    return {n for n in names if n.startswith(f"model.{part}.")}


@pytest.mark.parametrize(
    "stage_name, data, trained_parts",
    [
        ("1", "captions.json", {"multi_modal_projector"}),
        ("2", "train.json", {"region_encoder"}),
        ("2.5", "train.json", {"multi_modal_projector", "region_encoder", "language_model", "lm_head"}),
        ("3", "train.json", {"multi_modal_projector", "region_encoder", "language_model", "lm_head"}),
    ],
)
def test_stage_changes_exactly_its_parameters(golden_checkpoint, data_root, tmp_path, stage_name, data, trained_parts):
    model, _, changed, names = _train(golden_checkpoint, data_root, tmp_path, stage_name, data=data)
    expected = set()
    for part in trained_parts:
        expected |= {n for n in names if n.startswith("lm_head.")} if part == "lm_head" else _under(names, part)
    # the last vision layer, post-layernorm and head are not used; everything else of the trained parts moves
    assert changed == expected
    assert not _under(changed, "vision_tower")


def test_loss_falls_when_overfitting_four_samples(golden_checkpoint, data_root, tmp_path):
    _, trainer, _, _ = _train(
        golden_checkpoint, data_root, tmp_path, "3", max_steps=12, per_device_train_batch_size=4, learning_rate=3e-3
    )
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3


def test_training_logs_tokens_per_second_per_device(golden_checkpoint, data_root, tmp_path, monkeypatch):
    """Each log after the first: all processes' new non-padding tokens / wall seconds since the last log / processes."""
    import types

    from transformers_videorefer.training import trainer as trainer_module

    clock = iter(float(2 * tick) for tick in range(1000))  # every reading 2 s after the previous one
    monkeypatch.setattr(trainer_module, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    _, trainer, _, _ = _train(golden_checkpoint, data_root, tmp_path, "3", max_steps=3)
    logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert len(logs) == 3
    assert "tokens_per_second_per_device" not in logs[0]
    for previous, entry in zip(logs, logs[1:]):
        new_tokens = entry["num_tokens"] - previous["num_tokens"]
        assert new_tokens > 0
        assert entry["tokens_per_second_per_device"] == pytest.approx(new_tokens / 2.0, abs=0.05)
    assert "peak_memory_gb" not in logs[0]  # only on a GPU


def test_projector_learning_rate_gets_its_own_groups(golden_checkpoint, data_root, tmp_path):
    model, processor = _model_and_processor(golden_checkpoint)
    dataset = load_videorefer_dataset(data_root / "train.json")
    trainer = build_trainer(model, processor, dataset, cpu_sft_config(tmp_path), get_stage("3"), projector_lr=5e-2)
    optimizer = trainer.create_optimizer()
    by_lr = {}
    for group in optimizer.param_groups:
        by_lr.setdefault(group.get("lr"), set()).update(id(p) for p in group["params"])
    multimodal = {id(p) for n, p in model.named_parameters() if ".multi_modal_projector." in n or ".region_encoder." in n}
    assert by_lr[5e-2] == multimodal
    assert len(by_lr) == 2


def test_lora_trains_saves_reloads_and_merges(golden_checkpoint, data_root, tmp_path):
    from peft import PeftModel

    model, processor = _model_and_processor(golden_checkpoint)
    stage = get_stage("3")
    dataset = load_videorefer_dataset(data_root / "train.json")
    collator = VideoReferDataCollator(processor, media_root=str(data_root))
    config = language_model_lora_config(8, 16, 0.0, stage)
    trainer = build_trainer(model, processor, dataset, cpu_sft_config(tmp_path, max_steps=3), stage, collator, peft_config=config)
    trainer.train()
    peft_model = trainer.model
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in trainable)
    assert all("lora_" in n or "modules_to_save" in n for n in trainable)
    assert not any("vision_tower" in n for n in trainable)
    peft_model.save_pretrained(tmp_path / "adapter")

    batch = collator([dataset[0], dataset[2]])
    peft_model.eval()
    with torch.no_grad():
        expected = peft_model(**batch).logits
    base, _ = _model_and_processor(golden_checkpoint)
    reloaded = PeftModel.from_pretrained(base, tmp_path / "adapter").eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, expected, atol=1e-5, rtol=1e-5)
        merged = reloaded.merge_and_unload()
        torch.testing.assert_close(merged(**batch).logits, expected, atol=1e-4, rtol=1e-4)
    assert type(merged).__name__ == "VideoReferForConditionalGeneration"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="QLoRA needs a CUDA GPU with bitsandbytes")
def test_qlora_path_on_gpu(golden_checkpoint, tmp_path):
    pytest.importorskip("bitsandbytes")
    from transformers_videorefer.train import VideoReferTrainArguments, load_model

    args = VideoReferTrainArguments(data_path=[], model_name_or_path=str(golden_checkpoint), use_lora=True, load_in_4bit=True)
    model, _ = load_model(args)
    assert any("4bit" in type(m).__name__ or "Linear4bit" in type(m).__name__ for m in model.modules())


class StopAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_save = True
            control.should_training_stop = True
        return control


def test_resume_after_interruption_matches_an_uninterrupted_run(golden_checkpoint, data_root, tmp_path):
    common = dict(max_steps=4, per_device_train_batch_size=2, save_strategy="steps", save_steps=2)
    dataset = load_videorefer_dataset(data_root / "train.json")
    stage = get_stage("3")

    def trainer_for(out):
        model, processor = _model_and_processor(golden_checkpoint)
        collator = VideoReferDataCollator(processor, media_root=str(data_root))
        return build_trainer(model, processor, dataset, cpu_sft_config(tmp_path, output_dir=str(out), **common), stage, collator)

    full = trainer_for(tmp_path / "full")
    full.train()

    interrupted = trainer_for(tmp_path / "resumed")
    interrupted.add_callback(StopAt(2))
    interrupted.train()
    checkpoint = tmp_path / "resumed" / "checkpoint-2"
    assert checkpoint.is_dir()
    # a checkpoint loads with from_pretrained and the processor
    loaded = AutoModelForImageTextToText.from_pretrained(checkpoint)
    assert AutoProcessor.from_pretrained(checkpoint).region_token_id == loaded.config.region_token_id

    resumed = trainer_for(tmp_path / "resumed")
    resumed.train(resume_from_checkpoint=str(checkpoint))
    for (name, a), (_, b) in zip(full.model.named_parameters(), resumed.model.named_parameters()):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=f"{name} differs after resuming")


def test_skip_invalid_goes_on_past_a_batch_of_only_invalid_samples(golden_checkpoint, tmp_path):
    """docs/training.md promises that `skip_invalid` skips bad samples: a batch made only of them trains nothing
    (zero loss, weights unchanged by it, no NaN) and training reaches max_steps."""
    records = samples()
    for record in records[:2]:
        record["video"] = "no_such_clip"  # the first batch (batch size 2, no shuffling) is all invalid
    root = tmp_path / "data"
    write_dataset(root, records, "train.json")
    model, processor = _model_and_processor(golden_checkpoint)
    collator = VideoReferDataCollator(processor, media_root=str(root), skip_invalid=True)
    args = cpu_sft_config(tmp_path, max_steps=2, learning_rate=1e-2, optim="sgd", train_sampling_strategy="sequential")
    trainer = build_trainer(model, processor, load_videorefer_dataset(root / "train.json"), args, get_stage("3"), collator)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    losses = []

    class Losses(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append(logs["loss"])

    trainer.add_callback(Losses)
    trainer.train()
    assert trainer.state.global_step == 2
    assert losses[0] == 0.0 and losses[1] > 0.0  # the skipped batch trains nothing; the next one trains
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert any(not torch.equal(p.detach(), before[name]) for name, p in model.named_parameters())
    assert sorted(collator.skipped_ids) == sorted(str(r["id"]) for r in records[:2])

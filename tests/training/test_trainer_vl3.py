"""VideoRefer-VideoLLaMA3 through the package's recipe (TRL's SFTTrainer) on the golden VL3 tiny checkpoint."""

import math

import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

import transformers_videorefer  # noqa: F401
from transformers_videorefer.training import get_stage, load_videorefer_dataset
from transformers_videorefer.training.collator_vl3 import VideoReferVL3DataCollator, collator_for
from transformers_videorefer.training.label_compression import compress_labels_like_model
from transformers_videorefer.training.lora import language_model_lora_config
from transformers_videorefer.training.stages import STAGES, apply_stage, model_part_names
from transformers_videorefer.training.trainer import build_trainer

from .training_fixtures import cpu_sft_config
from .training_fixtures_vl3 import copy_vl3_checkpoint, vl3_golden_or_skip, write_vl3_dataset

PARTS = ("vision_model", "projector", "region_encoder", "language_model")


@pytest.fixture(scope="module")
def vl3_checkpoint(tmp_path_factory):
    return copy_vl3_checkpoint(vl3_golden_or_skip(), tmp_path_factory.mktemp("vl3"))


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("vl3_data")
    write_vl3_dataset(root)
    return root


def _load(checkpoint):
    torch.manual_seed(0)
    return AutoModelForImageTextToText.from_pretrained(checkpoint), AutoProcessor.from_pretrained(checkpoint)



def _losses(trainer) -> list[float]:
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]


@pytest.mark.parametrize(
    "stage_name, trained",
    [
        ("1", {"projector"}),
        ("2", {"region_encoder"}),
        ("2.5", {"projector", "region_encoder", "language_model", "lm_head"}),
        ("3", {"projector", "region_encoder", "language_model", "lm_head"}),
    ],
)
def test_stage_freezing_names_vl3_modules(vl3_checkpoint, stage_name, trained):
    model, _ = _load(vl3_checkpoint)
    assert model_part_names(model)["vision_tower"] == "vision_model"
    trainable = set(apply_stage(model, STAGES[stage_name]))
    expected = {n for n, _ in model.named_parameters() if n.split(".")[0] == "lm_head" and "lm_head" in trained}
    expected |= {n for n, _ in model.named_parameters() if n.split(".")[1] in trained and n.startswith("model.")}
    assert trainable == expected
    assert not any(n.startswith("model.vision_model.") for n in trainable)


def test_stage_1_plain_format_is_refused_for_vl3(vl3_checkpoint):
    _, processor = _load(vl3_checkpoint)
    with pytest.raises(ValueError, match="plain"):
        collator_for(processor, plain=True)
    with pytest.raises(ValueError, match="num_frames"):
        collator_for(processor, num_frames=8)


def test_supervised_tokens_are_the_answers_and_their_end_of_turn(vl3_checkpoint, data_root):
    _, processor = _load(vl3_checkpoint)
    collator = collator_for(processor, media_root=str(data_root))
    assert isinstance(collator, VideoReferVL3DataCollator)
    rows = load_videorefer_dataset(data_root / "train_vl3.json")
    batch = collator([rows[i] for i in range(4)])
    tokenizer = processor.tokenizer
    supervised = [tokenizer.decode(row[row != -100]) for row in batch["labels"]]
    assert supervised == [
        "The red square slides to the right.<|im_end|>",
        "One is a ball, the other a box.<|im_end|>The ball.<|im_end|>",
        "A patch of noise.<|im_end|>",
        "Hello.<|im_end|>",
    ]
    labelled = batch["labels"] != -100
    assert torch.equal(batch["labels"][labelled], batch["input_ids"][labelled])
    # right padding, no supervised placeholder
    assert bool((batch["attention_mask"][:, 0] == 1).all())
    for token in (processor.image_token_id, processor.region_token_id):
        assert not bool((batch["labels"] == token).any())
    # the tracked object has 4 annotated frames: 4 region runs, one per (object, frame)
    assert batch["region_grid_thw"].shape[0] == 4 + 2 + 1


def test_fused_loss_of_the_trainer_equals_the_models_own_loss(vl3_checkpoint, data_root, tmp_path):
    """TRL scores the base model's (compressed) hidden states: the labels it gets must be compressed alike."""
    model, processor = _load(vl3_checkpoint)
    rows = load_videorefer_dataset(data_root / "train_vl3.json")
    collator = collator_for(processor, media_root=str(data_root))
    trainer = build_trainer(model, processor, rows, cpu_sft_config(tmp_path), get_stage("3"), collator)
    batch = collator([rows[0], rows[1]])
    assert not bool(batch["compression_mask"].all())  # the test exercises compression
    compressed = compress_labels_like_model(model, batch)
    assert compressed.shape[1] < batch["labels"].shape[1]
    assert torch.equal(compressed[compressed != -100], batch["labels"][batch["labels"] != -100])
    model.eval()
    with torch.no_grad():
        reference = model(**batch).loss
        fused = trainer.compute_loss(trainer.model, dict(batch))
    torch.testing.assert_close(fused, reference, atol=1e-5, rtol=1e-5)


def test_two_steps_give_a_finite_loss_and_the_checkpoint_reloads_and_generates(vl3_checkpoint, data_root, tmp_path):
    model, processor = _load(vl3_checkpoint)
    rows = load_videorefer_dataset(data_root / "train_vl3.json")
    collator = collator_for(processor, media_root=str(data_root))
    trainer = build_trainer(model, processor, rows, cpu_sft_config(tmp_path), get_stage("3"), collator)
    trainer.train()
    losses = _losses(trainer)
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
    trainer.save_model(str(tmp_path / "saved"))
    processor.save_pretrained(tmp_path / "saved")
    reloaded = AutoModelForImageTextToText.from_pretrained(tmp_path / "saved").eval()
    again = AutoProcessor.from_pretrained(tmp_path / "saved")
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What does <region> do?"}]}]
    prompt = again.apply_chat_template(messages, add_generation_prompt=True)
    from .training_fixtures import rle, square_mask

    inputs = again(text=[prompt], videos=[str(data_root / "clip")], masks=[[{2: rle(square_mask(20, 16))}]])
    model.eval()
    with torch.no_grad():
        assert torch.equal(reloaded(**inputs).logits, model(**inputs).logits)
    out = reloaded.generate(**inputs, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert out.shape == (1, inputs["input_ids"].shape[1] + 4)


def test_loss_falls_on_one_repeated_batch(vl3_checkpoint, data_root, tmp_path):
    model, processor = _load(vl3_checkpoint)
    rows = load_videorefer_dataset(data_root / "train_vl3.json").select([0, 2])
    collator = collator_for(processor, media_root=str(data_root))
    args = cpu_sft_config(tmp_path, max_steps=6, learning_rate=3e-3)
    trainer = build_trainer(model, processor, rows, args, get_stage("3"), collator)
    trainer.train()
    losses = _losses(trainer)
    assert len(losses) == 6 and all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < 0.7 * losses[0]


def test_lora_on_vl3_trains_adapters_and_the_stage_modules(vl3_checkpoint, data_root, tmp_path):
    model, processor = _load(vl3_checkpoint)
    stage = get_stage("3")
    rows = load_videorefer_dataset(data_root / "train_vl3.json")
    collator = collator_for(processor, media_root=str(data_root))
    config = language_model_lora_config(8, 16, 0.0, stage, model_part_names(model))
    assert set(config.modules_to_save) == {"projector", "region_encoder"}
    trainer = build_trainer(model, processor, rows, cpu_sft_config(tmp_path), stage, collator, peft_config=config)
    trainer.train()
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in trainable)
    assert all("lora_" in n or "modules_to_save" in n for n in trainable)
    assert any(".projector." in n for n in trainable) and any(".region_encoder." in n for n in trainable)
    assert not any("vision_model" in n for n in trainable)
    assert all(math.isfinite(loss) for loss in _losses(trainer))

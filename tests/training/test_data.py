"""Dataset loading, prompts and labels of training samples."""

import json

import pytest
import torch

import transformers_videorefer  # noqa: F401
from transformers_videorefer.training import VideoReferDataCollator, load_videorefer_dataset
from transformers_videorefer.training.examples import sample_mask_frames

from .training_fixtures import caption_samples, samples, write_dataset


@pytest.mark.parametrize("jsonl", [False, True])
def test_load_dataset_keeps_nested_fields_as_json(tmp_path, jsonl):
    path = write_dataset(tmp_path, samples(), "train.jsonl" if jsonl else "train.json", jsonl=jsonl)
    dataset = load_videorefer_dataset(path)
    assert len(dataset) == 4
    assert dataset[0]["id"] == "video-track" and dataset[3]["video"] is None
    annotation = json.loads(dataset[0]["annotation"])
    assert sorted(annotation[0]) == ["0", "2", "4", "6"]  # frame keys of one sample are not mixed with others'
    assert json.loads(dataset[1]["annotation"])[0].keys() == {"6"}


def test_bad_data_files_raise(tmp_path):
    (tmp_path / "broken.jsonl").write_text('{"id": 1, "conversations": []}\n{not json\n')
    with pytest.raises(ValueError, match="line 2"):
        load_videorefer_dataset(tmp_path / "broken.jsonl")
    (tmp_path / "empty_conv.json").write_text(json.dumps([{"id": "x", "conversations": []}]))
    with pytest.raises(ValueError, match="sample x: 'conversations'"):
        load_videorefer_dataset(tmp_path / "empty_conv.json")
    with pytest.raises(FileNotFoundError):
        load_videorefer_dataset(tmp_path / "missing.json")


def _target_text(processor, batch, row):
    ids = batch["input_ids"][row]
    return processor.tokenizer.decode(ids[batch["labels"][row] != -100])


def test_labels_are_exactly_the_assistant_answers(tmp_path, processor):
    dataset = load_videorefer_dataset(write_dataset(tmp_path, samples()))
    collator = VideoReferDataCollator(processor, media_root=str(tmp_path))
    batch = collator([dataset[i] for i in range(4)])
    assert _target_text(processor, batch, 0) == "The red square slides to the right.<|im_end|>\n"
    assert _target_text(processor, batch, 1) == "One is a ball, the other a box.<|im_end|>\nThe ball.<|im_end|>\n"
    assert _target_text(processor, batch, 2) == "A patch of noise.<|im_end|>\n"
    assert _target_text(processor, batch, 3) == "Hello.<|im_end|>\n"
    # right padding, labels -100 on padding and on every placeholder
    assert batch["attention_mask"][:, 0].all()
    placeholders = torch.isin(batch["input_ids"], torch.tensor([processor.image_token_id, processor.video_token_id, processor.region_token_id]))
    assert (batch["labels"][placeholders] == -100).all()
    assert (batch["labels"][batch["attention_mask"] == 0] == -100).all()
    # the media marker moved to the start of its turn, as the original does
    text = processor.tokenizer.decode(batch["input_ids"][1][batch["input_ids"][1] != processor.video_token_id])
    assert "<|im_start|>user\n\nCompare" in text
    # every annotated frame of an object by default, as the original: the 4-frame track keeps its 4
    assert batch["region_masks_per_object"].tolist() == [4, 1, 1, 1]
    capped = VideoReferDataCollator(processor, media_root=str(tmp_path), num_mask_frames=2)([dataset[0]])
    assert capped["region_masks_per_object"].tolist() == [2]


def test_plain_format_trains_on_the_caption(tmp_path, processor):
    dataset = load_videorefer_dataset(write_dataset(tmp_path, caption_samples()))
    collator = VideoReferDataCollator(processor, plain=True, media_root=str(tmp_path))
    batch = collator([dataset[0], dataset[1]])
    assert _target_text(processor, batch, 0) == " A red square moving right."  # "<video> caption", as the original
    assert _target_text(processor, batch, 1) == " Coloured noise."
    assert "<|im_start|>" not in processor.tokenizer.decode(batch["input_ids"][0])


def test_mask_frame_sampling_is_seeded_and_sorted():
    import random

    obj = {i: f"mask{i}" for i in range(10)}
    first = sample_mask_frames(obj, 3, random.Random(1))
    assert list(first) == sorted(first) and len(first) == 3
    assert sample_mask_frames(obj, 3, random.Random(1)) == first
    assert sample_mask_frames(obj, None, random.Random(1)) == obj


def test_invalid_sample_fails_with_its_id_or_is_skipped(tmp_path, processor):
    records = samples()
    records[0]["video"] = "no_such_clip"
    records[2]["annotation"].append({"0": {"segmentation": None}})  # one object more than <region> markers
    dataset = load_videorefer_dataset(write_dataset(tmp_path, records))
    strict = VideoReferDataCollator(processor, media_root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="video-track"):
        strict([dataset[0], dataset[1]])
    with pytest.raises(ValueError, match="training sample image: .*1 <region> marker.*2 object"):
        strict([dataset[2], dataset[3]])
    lenient = VideoReferDataCollator(processor, media_root=str(tmp_path), skip_invalid=True)
    batch = lenient([dataset[i] for i in range(4)])
    assert batch["input_ids"].shape[0] == 2
    assert sorted(lenient.skipped_ids) == ["image", "video-track"]
    nothing = lenient([dataset[0]])  # every sample invalid: a batch that trains nothing, training goes on
    assert nothing["input_ids"].shape == (1, 1) and bool((nothing["labels"] == -100).all())
    assert "pixel_values_videos" not in nothing and lenient.skipped_ids[-1] == "video-track"


def test_truncate_after_expansion_cuts_text_but_refuses_to_cut_visual_tokens(tmp_path, processor):
    """The option (a departure from the original, off by default) that cuts the expanded sequence."""
    dataset = load_videorefer_dataset(write_dataset(tmp_path, samples()))
    full = VideoReferDataCollator(processor, media_root=str(tmp_path))([dataset[3]])
    after = {"media_root": str(tmp_path), "max_length": 10, "truncate_after_expansion": True}
    short = VideoReferDataCollator(processor, **after)([dataset[3]])
    assert short["input_ids"].shape[1] == 10
    assert torch.equal(short["input_ids"][0], full["input_ids"][0, :10])
    with pytest.raises(ValueError, match="reach past max_length 10"):
        VideoReferDataCollator(processor, **after)([dataset[0]])

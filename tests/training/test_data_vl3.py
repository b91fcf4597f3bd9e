"""VL3 training samples: the original VL3 file form, the VL3 prompt layout, and refused samples."""

import json

import pytest
from transformers import AutoProcessor

import transformers_videorefer  # noqa: F401
from transformers_videorefer.training import load_videorefer_dataset
from transformers_videorefer.training.collator_vl3 import collator_for
from transformers_videorefer.training.data import decode_row
from transformers_videorefer.training.examples_vl3 import prepare_vl3_example, user_content

from .training_fixtures import samples, write_dataset
from .training_fixtures_vl3 import copy_vl3_checkpoint, vl3_golden_or_skip, vl3_original_format_samples


@pytest.fixture(scope="module")
def vl3_processor(tmp_path_factory):
    checkpoint = copy_vl3_checkpoint(vl3_golden_or_skip(), tmp_path_factory.mktemp("vl3"))
    return AutoProcessor.from_pretrained(checkpoint)


def test_original_vl3_file_form_is_read(tmp_path):
    dataset = load_videorefer_dataset(write_dataset(tmp_path, vl3_original_format_samples()))
    assert dataset[0]["video"] == "clip" and dataset[1]["image"] == "still.png"
    assert list(json.loads(dataset[0]["annotation"])[0]) == ["2"]
    image_object = json.loads(dataset[1]["annotation"])[0]
    assert list(image_object) == ["0"] and set(image_object["0"]["segmentation"]) == {"size", "counts"}
    (tmp_path / "both.json").write_text(json.dumps([{**vl3_original_format_samples()[0], "annotation": []}]))
    with pytest.raises(ValueError, match="not both"):
        load_videorefer_dataset(tmp_path / "both.json")


def test_user_turns_are_split_on_the_media_marker_as_the_original():
    assert user_content("Compare <region> with <region>.\n<video>", "video") == [
        {"type": "text", "text": "Compare <region> with <region>."},
        {"type": "video"},
    ]
    assert user_content("  Say hello. ", None) == [{"type": "text", "text": "Say hello."}]


def test_missing_media_marker_is_added_at_the_start_as_the_original(tmp_path, vl3_processor):
    dataset = load_videorefer_dataset(write_dataset(tmp_path, vl3_original_format_samples()))
    example = prepare_vl3_example(decode_row(dataset[0]), media_root=str(tmp_path))
    assert example.messages[0]["content"][0] == {"type": "video"}
    collator = collator_for(vl3_processor, media_root=str(tmp_path))
    batch = collator([dataset[0], dataset[1]])
    text = vl3_processor.tokenizer.decode(batch["input_ids"][0][batch["attention_mask"][0].bool()])
    assert text.startswith("<|im_start|>user\nTime ") and "What is [<REGION>" in text
    assert text.endswith("<|im_start|>assistant\nSliding.<|im_end|>\n")


def test_one_region_marker_per_object_frame_is_required(tmp_path, vl3_processor):
    dataset = load_videorefer_dataset(write_dataset(tmp_path, samples()))  # VideoRefer-7B form: one <region> per object
    with pytest.raises(ValueError, match=r"training sample video-track: .*4 \(object, frame\) mask"):
        collator_for(vl3_processor, media_root=str(tmp_path))([dataset[0]])
    skipping = collator_for(vl3_processor, media_root=str(tmp_path), skip_invalid=True)
    batch = skipping([dataset[0], dataset[2]])
    assert skipping.skipped_ids == ["video-track"] and batch["input_ids"].shape[0] == 1


def test_max_length_cuts_text_but_refuses_to_cut_placeholders(tmp_path, vl3_processor):
    dataset = load_videorefer_dataset(write_dataset(tmp_path, samples()))
    text_only = collator_for(vl3_processor, media_root=str(tmp_path), max_length=6)([dataset[3]])
    assert text_only["input_ids"].shape[1] == 6 and text_only["labels"].shape[1] == 6
    with pytest.raises(ValueError, match="reach past max_length 20"):
        collator_for(vl3_processor, media_root=str(tmp_path), max_length=20)([dataset[2]])


def test_data_check_applies_the_vl3_region_rule(tmp_path, vl3_processor):
    from transformers_videorefer.training.data_check import check_data_file

    path = write_dataset(tmp_path, samples())  # the tracked object: 1 <region>, 4 annotated frames
    vl3 = check_data_file(path, media_root=str(tmp_path), progress=False, processor=vl3_processor)
    assert [(d.sample_id, d.kind) for d in vl3.defects] == [("video-track", "region_count_mismatch")]
    assert "4 (object, frame) mask(s)" in vl3.defects[0].message
    assert check_data_file(path, media_root=str(tmp_path), progress=False).defects == []
    original_form = write_dataset(tmp_path, vl3_original_format_samples(), "orig.json")
    assert check_data_file(original_form, media_root=str(tmp_path), progress=False, regions_per_frame=True).defects == []

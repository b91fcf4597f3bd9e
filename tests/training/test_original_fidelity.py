"""The training batch is the one the ORIGINAL VideoRefer training code builds (issue 16).

Each rule is written out here from the original's code (DAMO-NLP-SG/VideoRefer, videorefer/train.py and
videorefer/model/layer.py), and the collator's output is checked against it:

1. every annotated frame of an object is used (`num_mask_frames` is declared, never read); the region encoder merges
   an object's masks to at most 4 tokens -> region tokens per object = min(frames, 4);
2. the token ids are cut at `model_max_length` BEFORE the media and `<region>` markers are expanded (each counts as
   one token; `DataCollatorForSupervisedDataset`, `input_ids[:, :model_max_length]`);
3. an object's masks keep the annotation's key order (`ann.keys()`);
4. a conversation without a media marker is trained as text only (no marker is inserted);
5. an image object keyed by a frame other than 0 is the image's mask (`ann_indices = [[0]] * num_objects`).
"""

import json

import pytest
import torch
import yaml

import transformers_videorefer  # noqa: F401
from transformers_videorefer.training import VideoReferDataCollator, load_videorefer_dataset

from .training_fixtures import REPO_ROOT, rle, samples, square_mask, write_dataset

RECIPES = REPO_ROOT / "examples" / "train"
EXAMPLE_DATA = REPO_ROOT / "examples" / "data"
REGION_TOKEN_NUM = 4  # the original's MaskExtractor(region_token_num=4)


def _dataset(tmp_path, records):
    return load_videorefer_dataset(write_dataset(tmp_path, records))


def _track(frames):
    """One object on the `clip/` folder of the fixtures, annotated on `frames` in this key order."""
    return {str(i): {"segmentation": rle(square_mask(20, 4 + 6 * i))} for i in frames}


def _video_sample(sid, frames_per_object, question="<video>\n" + "What do {} do?"):
    regions = " and ".join(["<region>"] * len(frames_per_object))
    return {
        "id": sid,
        "video": "clip",
        "conversations": [{"from": "human", "value": question.format(regions)}, {"from": "gpt", "value": "They slide."}],
        "annotation": [_track(frames) for frames in frames_per_object],
    }


def _unexpanded_length(collator, example):
    return len(collator.unexpanded_tokens(example.text))


# ------------------------------------------------------------------------------------------------ 1. mask frames
@pytest.mark.parametrize("frames_per_object", [[[3]], [[0, 2, 4, 6]], [[0, 1, 2, 3, 4, 5]], [[1, 5], [0, 2, 3, 4, 6, 7]]])
def test_every_annotated_frame_is_used_and_merged_to_at_most_four_tokens(tmp_path, processor, frames_per_object):
    dataset = _dataset(tmp_path, [_video_sample("v", frames_per_object)])
    batch = VideoReferDataCollator(processor, media_root=str(tmp_path))([dataset[0]])
    # the original: every frame of every object is a mask; the object's tokens are min(frames, region_token_num)
    assert batch["region_masks_per_object"].tolist() == [len(f) for f in frames_per_object]
    expected_tokens = sum(min(len(f), REGION_TOKEN_NUM) for f in frames_per_object)
    assert int((batch["input_ids"] == processor.region_token_id).sum()) == expected_tokens


def test_capping_mask_frames_is_an_option(tmp_path, processor):
    dataset = _dataset(tmp_path, [_video_sample("v", [[0, 1, 2, 3, 4, 5]])])
    batch = VideoReferDataCollator(processor, media_root=str(tmp_path), num_mask_frames=2)([dataset[0]])
    assert batch["region_masks_per_object"].tolist() == [2]


# ------------------------------------------------------------------------------------------------ 2. truncation
@pytest.mark.parametrize("max_length", [30, 41, 45, 60])
def test_truncation_happens_before_expansion_at_the_original_position(tmp_path, processor, max_length):
    record = _video_sample("long", [[0, 2, 4, 6]])
    record["conversations"][1]["value"] = "The red square slides to the right, " * 6
    dataset = _dataset(tmp_path, [record])
    full_collator = VideoReferDataCollator(processor, media_root=str(tmp_path))
    full = full_collator([dataset[0]])
    unexpanded = _unexpanded_length(full_collator, full_collator.prepare(dataset[0]))
    assert unexpanded > max_length
    cut = VideoReferDataCollator(processor, media_root=str(tmp_path), max_length=max_length)([dataset[0]])
    # the original's rule: keep the first max_length ids of the UNEXPANDED sequence; the media marker and the
    # <region> are one id each there, so the expanded row keeps max_length + (expansion - 1) per marker kept.
    ids = full["input_ids"][0]
    placeholder = torch.isin(ids, torch.tensor([processor.video_token_id, processor.region_token_id]))
    kept, position, budget = [], 0, max_length
    while budget > 0:  # walk the expanded row, counting each run of one placeholder kind as one original id
        token = int(ids[position])
        run = 1
        if placeholder[position]:
            while position + run < len(ids) and int(ids[position + run]) == token and token == processor.video_token_id:
                run += 1
            if token == processor.region_token_id:
                run = min(4, int((ids == processor.region_token_id).sum()))  # the one object's tokens
        kept += ids[position : position + run].tolist()
        position += run
        budget -= 1
    assert cut["input_ids"][0].tolist() == kept
    assert torch.equal(cut["labels"][0], full["labels"][0, : len(kept)])
    assert cut["input_ids"].shape[1] > max_length  # the expanded sequence may be longer, as in the original


def test_truncation_drops_objects_whose_region_is_cut_and_keeps_long_samples(tmp_path, processor):
    record = _video_sample("two", [[0, 2], [4, 6]], question="<video>\nLook at {} closely, please, now.")
    dataset = _dataset(tmp_path, [record])
    collator = VideoReferDataCollator(processor, media_root=str(tmp_path))
    tokens = collator.unexpanded_tokens(collator.prepare(dataset[0]).text)
    second_region = [k for k, (_, _, what) in enumerate(tokens) if what == "region"][1]
    cut = VideoReferDataCollator(processor, media_root=str(tmp_path), max_length=second_region)([dataset[0]])
    assert cut["region_masks_per_object"].tolist() == [2]  # the first object only
    assert int((cut["input_ids"] == processor.region_token_id).sum()) == 2
    assert (cut["labels"] == -100).all()  # cut before the answer: nothing to train on, as the original


# ------------------------------------------------------------------------------------------------ 3. frame order
def test_an_objects_frames_keep_the_annotation_key_order(tmp_path, processor):
    dataset = _dataset(tmp_path, [_video_sample("given", [[6, 0, 4, 2]]), _video_sample("sorted", [[0, 2, 4, 6]])])
    collator = VideoReferDataCollator(processor, media_root=str(tmp_path))
    given, in_order = collator([dataset[0]]), collator([dataset[1]])
    # same frames read; the masks (and the frame each points at) in the order of the annotation's keys
    assert torch.equal(given["region_pixel_values"], in_order["region_pixel_values"])
    permutation = [3, 0, 2, 1]  # frame 6, 0, 4, 2 among the sorted 0, 2, 4, 6
    assert torch.equal(given["region_masks"], in_order["region_masks"][permutation])
    assert given["region_mask_frame_index"].tolist() == in_order["region_mask_frame_index"][permutation].tolist()
    # and in a batch with another sample before it, the rows are offset but the order is the same
    batch = collator([dataset[1], dataset[0]])
    assert batch["region_mask_frame_index"].tolist() == [0, 1, 2, 3, 7, 4, 6, 5]


# ------------------------------------------------------------------------------------------------ 4. no marker
def test_a_conversation_without_media_marker_is_trained_as_text_only(tmp_path, processor):
    no_marker = {"id": "no-marker", "video": "clip", "conversations": [
        {"from": "human", "value": "Describe the video."}, {"from": "gpt", "value": "A red square moves."}]}
    text_only = {"id": "text", "conversations": no_marker["conversations"]}
    dataset = _dataset(tmp_path, [no_marker, text_only])
    collator = VideoReferDataCollator(processor, media_root=str(tmp_path))
    batch, reference = collator([dataset[0]]), collator([dataset[1]])
    # the original inserts no marker: the ids are those of the text alone, no visual input at all
    assert torch.equal(batch["input_ids"], reference["input_ids"])
    assert torch.equal(batch["labels"], reference["labels"])
    assert "pixel_values_videos" not in batch and "region_masks" not in batch
    plain = VideoReferDataCollator(processor, plain=True, media_root=str(tmp_path))
    with pytest.raises(ValueError, match="needs the video marker"):
        plain([dataset[0]])  # stage 1: the original asserts the marker is in the question


def test_regions_without_media_marker_are_refused_clearly(tmp_path, processor):
    record = _video_sample("regions-no-marker", [[0]], question="What does {} do?")
    dataset = _dataset(tmp_path, [record])
    with pytest.raises(ValueError, match="no <video> marker"):
        VideoReferDataCollator(processor, media_root=str(tmp_path))([dataset[0]])


# ------------------------------------------------------------------------------------------------ 5. image frame N
def test_an_image_object_keyed_by_frame_n_is_the_images_mask(tmp_path, processor):
    image = samples()[2]
    keyed_n = json.loads(json.dumps(image))
    keyed_n["id"] = "image-frame-3"
    keyed_n["annotation"] = [{"3": image["annotation"][0]["0"]}]
    dataset = _dataset(tmp_path, [image, keyed_n])
    collator = VideoReferDataCollator(processor, media_root=str(tmp_path))
    reference, batch = collator([dataset[0]]), collator([dataset[1]])
    for key in ("input_ids", "labels", "pixel_values", "region_masks", "region_mask_frame_index", "region_pixel_values"):
        assert torch.equal(batch[key], reference[key]), key
    two_masks = json.loads(json.dumps(keyed_n))
    two_masks["annotation"] = [{"0": image["annotation"][0]["0"], "3": image["annotation"][0]["0"]}]
    with pytest.raises(ValueError, match="an image object takes one mask"):
        collator([_dataset(tmp_path / "two", [two_masks])[0]])


# ------------------------------------------------------------------------------------------------ the recipes
def _recipe(name):
    return yaml.safe_load((RECIPES / name).read_text())


@pytest.mark.parametrize("name", ["stage1.yaml", "stage2.yaml", "stage2.5.yaml", "stage3.yaml"])
def test_recipes_use_every_mask_frame_and_the_original_truncation(name):
    recipe = _recipe(name)
    assert recipe.get("num_mask_frames", None) is None
    assert not recipe.get("truncate_after_expansion", False)
    assert recipe["max_length"] == 2048  # the original's model_max_length (scripts/train/stage*.sh)


# The ORIGINAL's loss for these two samples, obtained by running the original code (DAMO-NLP-SG/VideoRefer at
# HEAD, `videorefer/train.py` LazySupervisedDataset + DataCollatorForSupervisedDataset and
# `VideoReferQwen2ForCausalLM.forward`; train.py line 362 `::` fixed to `:`), transformers 4.40.0, timm 1.0.31,
# torch 2.13 CPU, float32, eager attention, on the golden tiny checkpoint (its vision tower loaded from
# ./siglip_vision_tower as the original does), num_frames 16 and model_max_length 2048 (stage3.yaml), data_folder
# examples/data, one sample per batch, no_grad. The original's ann_indices were [[2, 1, 3, 0]] / [[0, 2, 3, 1]]
# (its mask frames in set order, each mask pointing at its own frame) and 84 unexpanded ids.
ORIGINAL_LOSS = {"0,6,12,18": 6.1272149085998535, "18,0,12,6": 6.127094268798828}


@pytest.mark.parametrize("order", list(ORIGINAL_LOSS))
def test_stage3_recipe_gives_the_originals_loss_on_the_bundled_clip(golden_checkpoint, tmp_path, order):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    masks = json.loads((EXAMPLE_DATA / "ball_masks.json").read_text())
    record = {
        "id": "ball", "video": "rolling_ball.mp4", "height": 120, "width": 160,
        "conversations": [{"from": "human", "value": "<video>\nWhat is <region> doing?"},
                          {"from": "gpt", "value": "The ball rolls from the left to the right of the frame."}],
        "annotation": [{key: {"segmentation": masks[key]} for key in order.split(",")}],
    }
    path = tmp_path / "ball.json"
    path.write_text(json.dumps([record]))
    recipe = _recipe("stage3.yaml")
    processor = AutoProcessor.from_pretrained(golden_checkpoint)
    model = AutoModelForImageTextToText.from_pretrained(golden_checkpoint, dtype=torch.float32, attn_implementation="eager")
    collator = VideoReferDataCollator(
        processor,
        media_root=str(EXAMPLE_DATA),
        num_frames=recipe["num_frames"],
        num_mask_frames=recipe.get("num_mask_frames"),
        max_length=recipe["max_length"],
    )
    batch = collator([load_videorefer_dataset(path)[0]])
    assert batch["region_masks_per_object"].tolist() == [4]
    with torch.no_grad():
        loss = model(**batch).loss
    assert float(loss) == pytest.approx(ORIGINAL_LOSS[order], abs=1e-5)  # the two orders differ by 1.2e-4

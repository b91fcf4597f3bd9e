"""`apply_chat_template` on the conversational rows `trl sft` trains on: media and region blocks with masks, None-valued
keys, the standard processor kwargs, `assistant_masks`; and TRL's own VLM collator against the package's collator."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from training.training_fixtures import samples, write_media
from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

from transformers_videorefer.inputs.masks import decode_segmentation
from transformers_videorefer.inputs.media import load_image, open_clip
from transformers_videorefer.models.videorefer.processing_kwargs_videorefer import IGNORE_INDEX
from transformers_videorefer.training import VideoReferDataCollator
from transformers_videorefer.training.data import flatten_record

ROLES = {"human": "user", "gpt": "assistant"}
MARKERS = ("<video>", "<image>")
BLOCK_KEYS = ("type", "text", "path", "image", "masks")


@pytest.fixture(scope="module")
def media_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("media")
    write_media(root)
    return root


def rle_mask(frame: int, segmentation, size: tuple[int, int]) -> dict:
    """One annotated frame as the row format's `{"frame", "size", "counts"}` (compressed COCO RLE)."""
    if isinstance(segmentation, dict) and "segmentation" in segmentation:
        segmentation = segmentation["segmentation"]
    mask = decode_segmentation(segmentation, size).astype(np.uint8)
    encoded = mask_utils.encode(np.asfortranarray(mask))
    return {"frame": frame, "size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def text_blocks(text: str, objects: list) -> list[dict]:
    """`text` as text blocks and a region block (taking the next object) per `<region>`."""
    blocks = []
    for piece in re.split("(<region>)", text):
        if piece == "<region>":
            blocks.append({"type": "region", "masks": objects.pop(0)})
        elif piece:
            blocks.append({"type": "text", "text": piece})
    return blocks


def row_from_sample(sample: dict, root: Path, arrow_like: bool = False) -> dict:
    """A fixture sample (VideoRefer-700K format) as the `trl sft` conversational row: the media block first in the turn
    that holds the marker (whose text is stripped, as the package's collator strips it), one region block per
    `<region>`. `arrow_like` gives every block every key, None where it does not apply (as a `datasets` column)."""
    kind = "video" if sample.get("video") else "image" if sample.get("image") else None
    path = str(root / sample[kind]) if kind else None
    size = None
    if kind == "video":
        clip = open_clip(path)
        size = (clip.height, clip.width)
    elif kind == "image":
        size = load_image(path).shape[:2]
    objects = [[rle_mask(int(frame), seg, size) for frame, seg in obj.items()] for obj in sample.get("annotation") or []]
    messages = []
    for turn in sample["conversations"]:
        text = turn["value"]
        content = []
        if any(marker in text for marker in MARKERS):
            for marker in MARKERS:
                text = text.replace(marker, "")
            text = text.strip()
            content.append({"type": "video", "path": path} if kind == "video" else {"type": "image", "image": path})
        content += text_blocks(text, objects)
        if arrow_like:
            content = [{key: block.get(key) for key in BLOCK_KEYS} for block in content]
        messages.append({"role": ROLES[turn["from"]], "content": content})
    return {"messages": messages, "images": []}


def package_collator_batch(processor, rows_samples: list[dict], root: Path):
    collator = VideoReferDataCollator(processor, media_root=str(root))
    return collator([flatten_record(sample, index) for index, sample in enumerate(rows_samples)])


def supervised(input_ids: torch.Tensor, labels: torch.Tensor) -> list[list[tuple[int, int]]]:
    """Per row, the (position, id) pairs that the labels train on."""
    return [[(int(p), int(ids[p])) for p in torch.nonzero(row != IGNORE_INDEX).flatten()] for ids, row in zip(input_ids, labels)]


# ------------------------------------------------------------------------------------------------ rows = direct call
@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_row_through_apply_chat_template_equals_the_direct_call(processor, media_root, index):
    sample = samples()[index]
    row = row_from_sample(sample, media_root)
    out = processor.apply_chat_template(row["messages"], tokenize=True, return_dict=True)
    text = processor.apply_chat_template(row["messages"], tokenize=False)
    objects = [{m["frame"]: {"size": m["size"], "counts": m["counts"]} for m in block["masks"]}
               for message in row["messages"] for block in message["content"] if block["type"] == "region"]
    kind = "video" if sample.get("video") else "image" if sample.get("image") else None
    if kind == "image":
        objects = [{0: next(iter(obj.values()))} for obj in objects]
    media = {f"{kind}s": [str(media_root / sample[kind])]} if kind else {}
    direct = processor(text=text, masks=[objects], **media)
    assert set(out) == set(direct)
    for key in direct:
        assert torch.equal(out[key], direct[key]), key
    assert text.count("<region>") == len(objects)


def test_arrow_none_keys_and_a_batch(processor, media_root):
    rows = [row_from_sample(s, media_root, arrow_like=True) for s in samples()]
    plain = [row_from_sample(s, media_root) for s in samples()]
    batch = processor.apply_chat_template([r["messages"] for r in rows], tokenize=True, return_dict=True)
    reference = processor.apply_chat_template([r["messages"] for r in plain], tokenize=True, return_dict=True)
    assert batch["input_ids"].shape[0] == 4
    for key in reference:
        assert torch.equal(batch[key], reference[key]), key
    assert batch["region_masks_per_object"].tolist() == [4, 1, 1, 1]  # objects of samples 0, 1 (two), 2


def test_region_blocks_render_as_the_marker_and_keep_the_brackets_of_the_text(processor, media_root):
    row = row_from_sample(samples()[0], media_root)
    content = row["messages"][0]["content"]
    content[1]["text"] = content[1]["text"] + "["
    content.insert(3, {"type": "text", "text": "]"})
    text = processor.apply_chat_template(row["messages"], tokenize=False)
    assert "<video>\nWhat does [<region>] do?<|im_end|>" in text


# ------------------------------------------------------------------------------------------------ processor kwargs
def test_trl_processor_kwargs_padding_truncation_max_length(processor, media_root):
    messages = [row_from_sample(s, media_root)["messages"] for s in samples()[:3]]
    common = {"tokenize": True, "return_dict": True, "return_tensors": "pt"}
    longest = processor.apply_chat_template(messages, **common, processor_kwargs={"padding": True, "padding_side": "right"})
    length = longest["input_ids"].shape[1]
    padded = processor.apply_chat_template(messages, **common, processor_kwargs={
        "padding": "max_length", "max_length": length + 5, "padding_side": "right", "add_special_tokens": False})
    assert padded["input_ids"].shape == (3, length + 5)
    assert torch.equal(padded["input_ids"][:, :length], longest["input_ids"])
    assert padded["attention_mask"][:, length:].sum() == 0
    multiple = processor.apply_chat_template(messages, **common, processor_kwargs={
        "padding": True, "pad_to_multiple_of": 64, "truncation": False, "max_length": None})
    assert multiple["input_ids"].shape[1] % 64 == 0
    # truncation cuts text tokens at the end; a cut through the visual tokens is refused
    text_only = [row_from_sample(samples()[3], media_root)["messages"]]
    full = processor.apply_chat_template(text_only, **common)
    cut = processor.apply_chat_template(text_only, **common, processor_kwargs={"truncation": True, "max_length": 8})
    assert torch.equal(cut["input_ids"], full["input_ids"][:, :8])
    with pytest.raises(ValueError, match="would cut its visual / region placeholder tokens"):
        processor.apply_chat_template(messages[:1], **common, processor_kwargs={"truncation": True, "max_length": 20})


def test_bad_kwargs_and_inputs_give_clear_errors(processor, media_root):
    messages = row_from_sample(samples()[0], media_root)["messages"]
    with pytest.raises(TypeError, match=r"unexpected arguments: \['bogus'\]"):
        processor.apply_chat_template(messages, tokenize=True, return_dict=True, processor_kwargs={"bogus": 1})
    with pytest.raises(ValueError, match="padding_side must be 'left' or 'right'"):
        processor.apply_chat_template(messages, tokenize=True, return_dict=True, processor_kwargs={"padding_side": "up"})
    with pytest.raises(ValueError, match="objects are given twice"):
        processor.apply_chat_template(messages, tokenize=True, return_dict=True, processor_kwargs={"masks": [[{}]]})
    broken = [dict(m, content=[dict(b) for b in m["content"]]) for m in messages]
    broken[0]["content"][2]["masks"] = [{"size": [60, 80], "counts": "PP"}]
    with pytest.raises(ValueError, match="region block 0: each mask must be a dict with a 'frame' index"):
        processor.apply_chat_template(broken, tokenize=True, return_dict=True)
    broken[0]["content"][2]["masks"] = None
    with pytest.raises(ValueError, match="marker"):
        processor.apply_chat_template(broken, tokenize=True, return_dict=True)


# ------------------------------------------------------------------------------------------------ assistant masks
def test_assistant_masks_are_the_package_collators_labels(processor, media_root):
    batch_samples = samples()
    messages = [row_from_sample(s, media_root)["messages"] for s in batch_samples]
    out = processor.apply_chat_template(messages, tokenize=True, return_dict=True, return_tensors="pt",
                                        return_assistant_tokens_mask=True,
                                        processor_kwargs={"padding": True, "padding_side": "right"})
    reference = package_collator_batch(processor, batch_samples, media_root)
    assert torch.equal(out["input_ids"], reference["input_ids"])
    assert out["assistant_masks"].shape == out["input_ids"].shape
    assert torch.equal(out["assistant_masks"].bool(), reference["labels"] != IGNORE_INDEX)
    assert "offset_mapping" not in out
    # the supervised tokens are each answer and its <|im_end|> (and the newline the template closes the turn with)
    first = processor.tokenizer.decode(out["input_ids"][0][out["assistant_masks"][0].bool()])
    assert first == "The red square slides to the right.<|im_end|>\n"


def test_assistant_masks_follow_left_padding(processor, media_root):
    messages = [row_from_sample(s, media_root)["messages"] for s in samples()[2:]]
    kwargs = {"tokenize": True, "return_dict": True, "return_assistant_tokens_mask": True}
    left = processor.apply_chat_template(messages, **kwargs, processor_kwargs={"padding_side": "left"})
    right = processor.apply_chat_template(messages, **kwargs, processor_kwargs={"padding_side": "right"})
    for row in range(2):
        assert left["input_ids"][row][left["assistant_masks"][row].bool()].tolist() == \
            right["input_ids"][row][right["assistant_masks"][row].bool()].tolist()


# ------------------------------------------------------------------------------------------------ TRL's collator
@pytest.mark.parametrize("indices", [[0, 1, 2, 3], [1, 2]])
def test_trl_collator_equals_the_package_collator(processor, media_root, indices):
    batch_samples = [samples()[i] for i in indices]
    rows = [row_from_sample(s, media_root, arrow_like=True) for s in batch_samples]
    trl_collator = DataCollatorForVisionLanguageModeling(processor, max_length=None, assistant_only_loss=True)
    ours = trl_collator(rows)
    reference = package_collator_batch(processor, batch_samples, media_root)
    assert torch.equal(ours["input_ids"], reference["input_ids"])
    assert supervised(ours["input_ids"], ours["labels"]) == supervised(reference["input_ids"], reference["labels"])
    for key in reference:
        if key not in ("labels",):
            assert torch.equal(ours[key], reference[key]), key

"""VideoReferProcessor takes transformers' standard kwargs (issue 15, item 2): padding / truncation / max_length,
padding_side, return_tensors, nested text_kwargs / videos_kwargs, tokenizer init defaults, and
`apply_chat_template(tokenize=True, return_dict=True)` with media blocks and masks; bad kwargs give clear errors."""

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

import transformers_videorefer  # noqa: F401  (registers the Auto classes)
from helpers import (
    GOLDEN_CASES,
    case_media_kwargs,
    case_media_path,
    case_messages,
    case_objects,
    expand_placeholders,
    load_case,
    load_case_json,
)
from transformers_videorefer import VideoReferConfig, VideoReferProcessor

PIXEL_ATOL = 2e-2
VIDEO_PROMPT = "<video>\nWhat is [<region>] doing in this clip?"
TEXT_PROMPT = "Hello"


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def cases(golden_dir):
    return {name: (load_case_json(golden_dir, name), load_case(golden_dir, name)) for name in GOLDEN_CASES}


@pytest.fixture(scope="module")
def clip():
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (6, 20, 24, 3), generator=generator, dtype=torch.uint8)


@pytest.fixture(scope="module")
def mask():
    mask = torch.zeros(20, 24, dtype=torch.bool)
    mask[5:12, 6:15] = True
    return mask


def _batch(processor, clip, mask, **kwargs):
    """A video sample with one object and a text-only sample."""
    return processor(text=[VIDEO_PROMPT, TEXT_PROMPT], videos=[clip], masks=[[{0: mask}], []], **kwargs)


def _message_with_media(case, path):
    messages = case_messages(case)
    messages[0]["content"][0]["path"] = str(path)
    return messages


def _placeholder_ids(processor):
    return torch.tensor([processor.image_token_id, processor.video_token_id, processor.region_token_id])


# ----------------------------------------------------------------------------------- padding / truncation
def test_padding_max_length_pads_with_pad_token_and_mask(processor, clip, mask):
    default = _batch(processor, clip, mask)
    lengths = default["attention_mask"].sum(1).tolist()
    target = max(lengths) + 7
    padded = _batch(processor, clip, mask, padding="max_length", max_length=target)
    assert padded["input_ids"].shape == (2, target)
    assert padded["attention_mask"].sum(1).tolist() == lengths
    pad_id = processor.tokenizer.pad_token_id
    for row, length in enumerate(lengths):  # left padding by default
        assert padded["input_ids"][row, : target - length].tolist() == [pad_id] * (target - length)
        assert padded["attention_mask"][row, : target - length].tolist() == [0] * (target - length)
        assert padded["input_ids"][row, target - length :].tolist() == default["input_ids"][row, -length:].tolist()
    for key in ("pixel_values_videos", "region_pixel_values", "region_masks", "region_masks_per_object"):
        assert torch.equal(padded[key], default[key]), key


def test_truncation_cuts_text_tokens(processor, clip, mask):
    default = _batch(processor, clip, mask)
    length = int(default["attention_mask"][0].sum())
    last_placeholder = int(torch.isin(default["input_ids"][0], _placeholder_ids(processor)).nonzero().max())
    keep = last_placeholder + 2  # cuts only text after the region
    assert keep < length
    out = _batch(processor, clip, mask, padding="max_length", max_length=keep, truncation=True)
    assert out["input_ids"].shape == (2, keep)
    assert out["input_ids"][0].tolist() == default["input_ids"][0, :keep].tolist()
    assert out["attention_mask"][0].tolist() == [1] * keep
    assert int((out["input_ids"][0] == processor.region_token_id).sum()) == 1
    assert out["attention_mask"][1].sum() == default["attention_mask"][1].sum()  # the short row is only padded
    # truncation=False leaves the long row: it cannot be stacked with the padded one
    with pytest.raises(ValueError, match=r"cannot be stacked into one tensor"):
        _batch(processor, clip, mask, padding="max_length", max_length=keep, truncation=False)


def test_truncation_through_placeholders_is_refused(processor, clip, mask):
    with pytest.raises(ValueError, match=r"sample 0: truncation to max_length 5 would cut its visual / region placeholder"):
        _batch(processor, clip, mask, truncation=True, max_length=5)
    with pytest.raises(ValueError, match=r"sample 1: truncation to max_length 5 would cut"):
        processor(text=[TEXT_PROMPT, VIDEO_PROMPT], videos=[clip], masks=[[], [{0: mask}]], truncation=True, max_length=5)


def test_truncation_without_max_length_uses_model_max_length(processor, clip, mask):
    out = _batch(processor, clip, mask, truncation=True)
    assert torch.equal(out["input_ids"], _batch(processor, clip, mask)["input_ids"])  # far below 2048
    with pytest.raises(ValueError, match=r"would cut"):
        processor(text=[VIDEO_PROMPT], videos=[clip], masks=[[{0: mask}]], text_kwargs={"truncation": True, "max_length": 3})


def test_padding_side_right_and_pad_to_multiple_of(processor, clip, mask):
    left = _batch(processor, clip, mask)
    right = _batch(processor, clip, mask, padding_side="right", pad_to_multiple_of=16)
    length = right["input_ids"].shape[1]
    assert length % 16 == 0 and length >= left["input_ids"].shape[1]
    n = int(left["attention_mask"][1].sum())
    assert right["input_ids"][1, :n].tolist() == left["input_ids"][1, -n:].tolist()
    assert right["attention_mask"][1].tolist() == [1] * n + [0] * (length - n)
    assert right["input_ids"][1, n:].tolist() == [processor.tokenizer.pad_token_id] * (length - n)


def test_no_padding_and_return_tensors_none(processor, clip, mask):
    default = _batch(processor, clip, mask)
    lengths = default["attention_mask"].sum(1).tolist()
    rows = _batch(processor, clip, mask, padding=False, return_tensors=None)
    assert isinstance(rows["input_ids"], list) and [len(r) for r in rows["input_ids"]] == lengths
    assert rows["input_ids"][1] == default["input_ids"][1, -lengths[1]:].tolist()
    assert rows["attention_mask"] == [[1] * n for n in lengths]
    assert torch.equal(rows["pixel_values_videos"], default["pixel_values_videos"])  # visual inputs stay tensors
    padded = _batch(processor, clip, mask, return_tensors=None)
    assert padded["input_ids"] == default["input_ids"].tolist()
    with pytest.raises(ValueError, match=r"are \[\d+, \d+\] tokens long and cannot be stacked"):
        _batch(processor, clip, mask, padding=False)


def test_return_tensors_np(processor, clip, mask):
    default = _batch(processor, clip, mask)
    arrays = _batch(processor, clip, mask, return_tensors="np")
    assert sorted(arrays) == sorted(default)
    for key in default:
        assert isinstance(arrays[key], np.ndarray), key
        assert np.array_equal(arrays[key], default[key].numpy()), key


def test_return_attention_mask_false(processor, clip, mask):
    out = _batch(processor, clip, mask, return_attention_mask=False)
    assert "attention_mask" not in out and "input_ids" in out


def test_target_spans_labels_follow_padding(processor):
    text = "Q: hi A: yes"
    start = text.index("yes")
    out = processor(text=[text, "x"], target_spans=[[(start, len(text))], []], padding="max_length", max_length=20,
                    padding_side="right")
    labels = out["labels"]
    assert labels.shape == (2, 20)
    kept = labels[0][labels[0] != -100].tolist()
    assert processor.tokenizer.decode(kept).strip() == "yes"
    assert (labels[:, out["attention_mask"].sum(1).max():] == -100).all()


# ----------------------------------------------------------------------------------------- nested kwargs
def test_nested_kwargs_equal_flat(processor, clip, mask):
    flat = _batch(processor, clip, mask, padding_side="right", num_frames=4, padding="max_length", max_length=80)
    nested = _batch(processor, clip, mask, text_kwargs={"padding_side": "right", "padding": "max_length", "max_length": 80},
                    videos_kwargs={"num_frames": 4})
    assert sorted(flat) == sorted(nested)
    for key in flat:
        assert torch.equal(flat[key], nested[key]), key
    assert flat["pixel_values_videos"].shape[1] == 4


def test_videos_kwargs_num_frames_changes_the_video_tokens(processor, clip, mask):
    two = processor(text=VIDEO_PROMPT, videos=[clip], masks=[[{0: mask}]], videos_kwargs={"num_frames": 2})
    eight = processor(text=VIDEO_PROMPT, videos=[clip], masks=[[{0: mask}]], num_frames=8)
    assert two["pixel_values_videos"].shape[1] == 2 and eight["pixel_values_videos"].shape[1] == 8
    for out, frames in ((two, 2), (eight, 8)):
        assert int((out["input_ids"] == processor.video_token_id).sum()) == processor.num_video_tokens(frames)


def test_do_sample_frames_false_keeps_every_frame_and_channels_first_videos(processor, clip, mask):
    every = processor(text=VIDEO_PROMPT, videos=[clip], masks=[[{0: mask}]], do_sample_frames=False)
    assert every["pixel_values_videos"].shape[1] == clip.shape[0]
    assert int((every["input_ids"] == processor.video_token_id).sum()) == processor.num_video_tokens(clip.shape[0])
    first = processor(text=VIDEO_PROMPT, videos=[clip.permute(0, 3, 1, 2)], masks=[[{0: mask}]], do_sample_frames=False)
    for key in every:
        assert torch.equal(every[key], first[key]), key
    with pytest.raises(ValueError, match="different numbers of frames"):
        processor(text=[VIDEO_PROMPT] * 2, videos=[clip, clip[:3]], masks=[[{0: mask}], [{0: mask}]], do_sample_frames=False)


def test_pixel_settings_per_call_apply_to_their_modality_only(processor, clip, mask):
    default = _batch(processor, clip, mask)
    unnormalised = _batch(processor, clip, mask, videos_kwargs={"do_normalize": False})
    assert torch.equal(unnormalised["input_ids"], default["input_ids"])
    assert torch.allclose(unnormalised["pixel_values_videos"], default["pixel_values_videos"] * 0.5 + 0.5, atol=1e-6)
    assert torch.allclose(unnormalised["region_pixel_values"], default["region_pixel_values"] * 0.5 + 0.5, atol=1e-6)
    images_only = _batch(processor, clip, mask, images_kwargs={"rescale_factor": -1.0})  # no image in the batch
    assert torch.equal(images_only["pixel_values_videos"], default["pixel_values_videos"])
    assert processor.video_processor.do_normalize and processor.image_processor.do_normalize  # nothing changed for good


def test_tokenizer_init_kwargs_are_defaults_but_not_its_padding_side(processor, golden_checkpoint):
    tokenizer = AutoTokenizer.from_pretrained(golden_checkpoint, padding="max_length", max_length=64, padding_side="right")
    settings = VideoReferProcessor.settings_from_config(VideoReferConfig.from_pretrained(golden_checkpoint))
    custom = VideoReferProcessor(image_processor=processor.image_processor, tokenizer=tokenizer, **settings)
    out = custom(text=["Hello there", "Hi"])
    assert out["input_ids"].shape == (2, 64)
    assert out["attention_mask"][:, -1].tolist() == [1, 1]  # still left padding (for generation)
    assert custom(text=["Hello there", "Hi"], padding=True)["input_ids"].shape[1] < 64  # the call wins


def test_old_positional_order_and_per_sample_images(processor, golden_dir, cases):
    name = "image_two_objects"
    case, _ = cases[name]
    image = str(case_media_path(golden_dir, name, case))
    keyword = processor(text=[case["prompt_text"], TEXT_PROMPT], images=[image], masks=[case_objects(case), []])
    positional = processor([case["prompt_text"], TEXT_PROMPT], [image], None, [case_objects(case), []])
    per_sample = processor(images=[[image], []], text=[case["prompt_text"], TEXT_PROMPT], masks=[case_objects(case), []])
    for out in (positional, per_sample):
        for key in keyword:
            assert torch.equal(out[key], keyword[key]), key


# ----------------------------------------------------------------------------------------- chat template
@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_apply_chat_template_tokenize_matches_two_step_and_golden(processor, golden_dir, cases, name):
    case, expected = cases[name]
    rendered = processor.apply_chat_template(case_messages(case), add_generation_prompt=True, tokenize=False)
    two_step = processor(text=[rendered], masks=[case_objects(case)], **case_media_kwargs(golden_dir, name, case))
    messages = _message_with_media(case, case_media_path(golden_dir, name, case))
    one_step = processor.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True, processor_kwargs={"masks": [case_objects(case)]}
    )
    as_kwarg = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                             masks=[case_objects(case)], return_tensors="pt")
    assert sorted(one_step) == sorted(two_step) == sorted(as_kwarg)
    for key in two_step:
        assert torch.equal(one_step[key], two_step[key]), key
        assert torch.equal(as_kwarg[key], two_step[key]), key
    ids_only = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, masks=[case_objects(case)])
    assert torch.equal(ids_only, two_step["input_ids"])

    # golden parity through the one-step path
    per_object = [len(indices) for indices in expected["ann_indices"]]
    config = VideoReferConfig.from_pretrained(golden_dir / "checkpoint")
    num_visual = processor.num_video_tokens(case["num_frames"])
    golden_ids = expand_placeholders(expected["input_ids_with_placeholder"], config, num_visual, per_object)
    assert one_step["input_ids"][0].tolist() == golden_ids.tolist()
    pixels = one_step["pixel_values"] if case["modality"] == "image" else one_step["pixel_values_videos"][0]
    assert (pixels - expected["pixel_values"]).abs().max().item() < PIXEL_ATOL
    region = one_step["region_pixel_values"] - expected["region_frame_pixel_values"]
    assert region.abs().max().item() < PIXEL_ATOL


def test_apply_chat_template_batch_with_kwargs(processor, golden_dir, cases):
    names = ["video_mp4_multi_frame_masks", "image_two_objects"]
    conversations = [_message_with_media(cases[n][0], case_media_path(golden_dir, n, cases[n][0])) for n in names]
    masks = [case_objects(cases[n][0]) for n in names]
    out = processor.apply_chat_template(
        conversations, add_generation_prompt=True, tokenize=True, return_dict=True,
        processor_kwargs={"masks": masks, "padding_side": "right", "num_frames": 4},
    )
    texts = [processor.apply_chat_template(case_messages(cases[n][0]), add_generation_prompt=True) for n in names]
    two_step = processor(
        text=texts, videos=[case_media_path(golden_dir, names[0], cases[names[0]][0])],
        images=[case_media_path(golden_dir, names[1], cases[names[1]][0])], masks=masks, padding_side="right",
    )
    assert sorted(out) == sorted(two_step)
    for key in two_step:
        assert torch.equal(out[key], two_step[key]), key
    assert out["attention_mask"][:, 0].tolist() == [1, 1]


def test_apply_chat_template_with_frames_in_the_block(processor, clip, mask):
    messages = [{"role": "user", "content": [{"type": "video", "video": clip}, {"type": "text", "text": "[<region>]?"}]}]
    out = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                        processor_kwargs={"masks": [[{0: mask}]]})
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    two_step = processor(text=text, videos=[clip], masks=[[{0: mask}]])
    for key in two_step:
        assert torch.equal(out[key], two_step[key]), key


def test_apply_chat_template_refuses_audio_and_what_it_cannot_do(processor, clip):
    audio = [{"role": "user", "content": [{"type": "audio", "path": "a.wav"}, {"type": "text", "text": "hi"}]}]
    with pytest.raises(ValueError, match=r"takes no audio: remove the \{'type': 'audio'\} content block"):
        processor.apply_chat_template(audio, tokenize=True, return_dict=True)
    video = [{"role": "user", "content": [{"type": "video", "video": clip}, {"type": "text", "text": "hi"}]}]
    with pytest.raises(ValueError, match=r"load_audio_from_video=True is not supported"):
        processor.apply_chat_template(video, tokenize=True, return_dict=True, load_audio_from_video=True)
    url = [{"role": "user", "content": [{"type": "video", "url": "https://example.com/v.mp4"}, {"type": "text", "text": "hi"}]}]
    with pytest.raises(ValueError, match=r"Video URLs are not downloaded"):
        processor.apply_chat_template(url, tokenize=True, return_dict=True)
    assert processor.apply_chat_template(audio, tokenize=False).endswith("hi<|im_end|>\n")  # rendering alone works


# ---------------------------------------------------------------------------------------------- bad kwargs
@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"unknown_option": 1}, TypeError, r"unexpected arguments: \['unknown_option'\]"),
        ({"sampling_rate": 16000}, TypeError, r"unexpected arguments: \['sampling_rate'\]"),
        ({"videos_kwargs": {"bogus": 1}}, TypeError, r"unexpected arguments in videos_kwargs: \['bogus'\]"),
        ({"text_kwargs": "right"}, TypeError, r"text_kwargs must be a dict of text options, got str"),
        ({"audio_kwargs": {"sampling_rate": 16000}}, ValueError, r"takes no audio"),
        ({"audio": [np.zeros(16000)]}, ValueError, r"takes no audio"),
        ({"padding": "widest"}, ValueError, r"padding must be True, False, 'longest', 'max_length' or 'do_not_pad'"),
        ({"truncation": "only_second"}, ValueError, r"truncation must be .*: VideoRefer takes no text pairs"),
        ({"max_length": 0}, ValueError, r"max_length must be a positive integer or None, got 0"),
        ({"max_length": "long"}, ValueError, r"max_length must be a positive integer or None, got 'long'"),
        ({"padding_side": "middle"}, ValueError, r"padding_side must be 'left' or 'right', got 'middle'"),
        ({"text_kwargs": {"padding_side": "up"}}, ValueError, r"padding_side must be 'left' or 'right', got 'up'"),
        ({"return_tensors": "tf"}, ValueError, r"return_tensors must be 'pt', 'np' or None, got 'tf'"),
        ({"num_frames": 0}, ValueError, r"num_frames must be at least 1, got 0"),
        ({"num_frames": 2.5}, TypeError, r"num_frames must be an integer of at least 1, got 2.5"),
        ({"keep_vanished_masks": "yes"}, TypeError, r"keep_vanished_masks must be a bool, got 'yes'"),
        ({"return_mm_token_type_ids": True}, ValueError, r"does not support return_mm_token_type_ids=True"),
        ({"size": {"height": 5, "width": 5}}, ValueError, r"does not support size=.* \(in images_kwargs\).*image processor"),
        ({"videos_kwargs": {"fps": 2}}, ValueError, r"fps=2 is not supported: VideoRefer samples num_frames frames"),
        ({"do_resize": False}, ValueError, r"does not support do_resize=False \(in images_kwargs\)"),
        ({"padding_side": "right", "text_kwargs": {"padding_side": "left"}}, ValueError, r"passed two times"),
    ],
)
def test_bad_kwargs(processor, clip, mask, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        _batch(processor, clip, mask, **kwargs)


def test_harmless_standard_kwargs_are_accepted(processor, clip, mask):
    """What TRL's collator and apply_chat_template pass: unset flags and settings equal to the checkpoint's."""
    default = _batch(processor, clip, mask)
    out = _batch(processor, clip, mask, add_special_tokens=False, return_token_type_ids=None, verbose=False,
                 do_sample_frames=True, do_resize=True, image_mean=processor.image_processor.image_mean,
                 truncation=False, max_length=None, pad_to_multiple_of=None, common_kwargs={"return_tensors": "pt"})
    for key in default:
        assert torch.equal(out[key], default[key]), key
    assert torch.equal(_batch(processor, clip, mask, add_special_tokens=True)["input_ids"], default["input_ids"])

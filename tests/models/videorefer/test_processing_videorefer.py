"""VideoReferProcessor: golden parity (prompt, ids, pixels, greedy ids), batching, save/reload, chat template,
and the errors about markers and media counts."""

import os

import numpy as np
import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor
from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

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
from transformers_videorefer import VideoReferProcessor
from transformers_videorefer.models.videorefer.modeling_videorefer_region import resize_masks_to_grid

PIXEL_ATOL = 2e-2
NEW_TOKENS = 8
DEFAULT_SYSTEM = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def model(golden_checkpoint):
    return AutoModelForImageTextToText.from_pretrained(golden_checkpoint, attn_implementation="eager").eval()


@pytest.fixture(scope="module")
def cases(golden_dir):
    """name -> (case.json dict, expected.pt dict)."""
    return {name: (load_case_json(golden_dir, name), load_case(golden_dir, name)) for name in GOLDEN_CASES}


def _greedy(model, inputs, new_tokens=NEW_TOKENS):
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
    return out[:, inputs["input_ids"].shape[1] :]


def _case_inputs(processor, golden_dir, name, case, objects=None):
    text = processor.apply_chat_template(case_messages(case), add_generation_prompt=True, tokenize=False)
    objects = case_objects(case) if objects is None else objects
    return processor(text=[text], masks=[objects], **case_media_kwargs(golden_dir, name, case))


# ------------------------------------------------------------------------------------------ golden parity
def test_auto_processor_builds_videorefer_processor_for_original_checkpoint(processor):
    assert isinstance(processor, VideoReferProcessor)
    assert isinstance(processor.image_processor, SiglipImageProcessorPil)
    assert processor.num_frames == 4  # from the legacy config, not the class default of 16
    assert processor.image_processor.size == {"height": 112, "width": 112}
    assert processor.grid_size == 8


@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_golden_prompt_text(processor, cases, name):
    case, _ = cases[name]
    text = processor.apply_chat_template(case_messages(case), add_generation_prompt=True, tokenize=False)
    assert text == case["prompt_text"]


@pytest.mark.parametrize("annotation", ["int_keys", "raw_case_json"])
@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_golden_inputs_and_generation(processor, model, golden_dir, cases, name, annotation):
    case, expected = cases[name]
    objects = case_objects(case) if annotation == "int_keys" else case["annotation"]
    inputs = _case_inputs(processor, golden_dir, name, case, objects)

    # ids: the original's ids with the media slot and each <region> expanded
    assert inputs["input_ids"].shape == (1, expected["expanded_length"])
    per_object = [len(indices) for indices in expected["ann_indices"]]
    num_visual = processor.num_video_tokens(case["num_frames"])
    expected_ids = expand_placeholders(expected["input_ids_with_placeholder"], model.config, num_visual, per_object)
    assert inputs["input_ids"][0].tolist() == expected_ids.tolist()
    assert inputs["attention_mask"].tolist() == [[1] * expected["expanded_length"]]

    # pixels
    if case["modality"] == "image":
        pixels = inputs["pixel_values"]
        assert "pixel_values_videos" not in inputs
    else:
        pixels = inputs["pixel_values_videos"][0]
        assert "pixel_values" not in inputs
    assert pixels.shape == expected["pixel_values"].shape
    assert (pixels - expected["pixel_values"]).abs().max().item() < PIXEL_ATOL
    region_pixels = inputs["region_pixel_values"]
    assert region_pixels.shape == expected["region_frame_pixel_values"].shape
    assert (region_pixels - expected["region_frame_pixel_values"]).abs().max().item() < PIXEL_ATOL

    # region layout and masks
    assert inputs["region_masks_per_object"].tolist() == per_object
    assert inputs["region_mask_frame_index"].tolist() == [i for indices in expected["ann_indices"] for i in indices]
    assert torch.equal(inputs["region_masks"], resize_masks_to_grid(expected["masks"], processor.grid_size))

    assert _greedy(model, inputs)[0].tolist() == expected["generated_ids"].tolist()


def test_batched_golden_cases_match_single(processor, model, golden_dir, cases):
    """All three cases in one call (image between the two videos): each row generates its golden ids."""
    order = ["video_mp4_multi_frame_masks", "image_two_objects", "video_dir_single_frame_mask"]
    texts = [cases[name][0]["prompt_text"] for name in order]
    masks = [cases[name][0]["annotation"] for name in order]
    images = [case_media_path(golden_dir, "image_two_objects", cases["image_two_objects"][0])]
    videos = [case_media_path(golden_dir, name, cases[name][0]) for name in order if cases[name][0]["modality"] == "video"]
    inputs = processor(text=texts, images=images, videos=videos, masks=masks)

    lengths = [cases[name][1]["expanded_length"] for name in order]
    assert inputs["input_ids"].shape == (3, max(lengths))
    assert inputs["attention_mask"].sum(1).tolist() == lengths
    assert inputs["attention_mask"][:, -1].tolist() == [1, 1, 1]  # left padding by default
    assert inputs["pixel_values"].shape[0] == 1 and inputs["pixel_values_videos"].shape[0] == 2
    assert inputs["region_masks_per_object"].tolist() == [6, 2, 1, 1, 1]

    generated = _greedy(model, inputs)
    for row, name in enumerate(order):
        assert generated[row].tolist() == cases[name][1]["generated_ids"].tolist(), name


def test_right_padding_on_request(processor):
    texts = ["<video>\nWhat is in the video?", "Hi"]
    frames = [torch.zeros(20, 24, 3, dtype=torch.uint8)] * 3
    left = processor(text=texts, videos=[frames])
    right = processor(text=texts, videos=[frames], padding_side="right")
    assert left["attention_mask"][1, -1] == 1 and left["attention_mask"][1, 0] == 0
    assert right["attention_mask"][1, 0] == 1 and right["attention_mask"][1, -1] == 0
    assert right["attention_mask"].sum(1).tolist() == left["attention_mask"].sum(1).tolist()
    n = int(left["attention_mask"][1].sum())
    assert right["input_ids"][1, :n].tolist() == left["input_ids"][1, -n:].tolist()


# ----------------------------------------------------------------------------------------- save / reload
def test_processor_save_and_reload(processor, golden_dir, cases, tmp_path):
    processor.save_pretrained(tmp_path)
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(loaded, VideoReferProcessor)
    assert type(loaded.image_processor) is SiglipImageProcessorPil
    assert loaded.chat_template == processor.chat_template
    for attribute in (
        "num_frames",
        "image_token_id",
        "video_token_id",
        "region_token_id",
        "region_token_num",
        "projector_type",
        "projector_downsample",
        "patch_size",
        "image_aspect_ratio",
    ):
        assert getattr(loaded, attribute) == getattr(processor, attribute), attribute

    for name in GOLDEN_CASES:
        case, _ = cases[name]
        assert loaded.apply_chat_template(case_messages(case), add_generation_prompt=True, tokenize=False) == case["prompt_text"]
        before = _case_inputs(processor, golden_dir, name, case)
        after = _case_inputs(loaded, golden_dir, name, case)
        assert sorted(before.keys()) == sorted(after.keys())
        for key in before:
            assert torch.equal(before[key], after[key]), (name, key)


def test_native_model_and_processor_folder_generates_golden_ids(processor, model, golden_dir, cases, tmp_path):
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    loaded_processor = AutoProcessor.from_pretrained(tmp_path)
    loaded_model = AutoModelForImageTextToText.from_pretrained(tmp_path).eval()
    assert isinstance(loaded_processor, VideoReferProcessor)
    assert type(loaded_model) is type(model)
    for name in GOLDEN_CASES:
        case, expected = cases[name]
        inputs = _case_inputs(loaded_processor, golden_dir, name, case)
        assert _greedy(loaded_model, inputs)[0].tolist() == expected["generated_ids"].tolist(), name


# -------------------------------------------------------------------------------------------- chat template
def test_chat_template_multi_turn(processor):
    messages = [
        {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What is [<region>] doing?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "It rolls."}]},
        {"role": "user", "content": [{"type": "text", "text": "Where does it go?"}]},
    ]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == (
        DEFAULT_SYSTEM
        + "<|im_start|>user\n<video>\nWhat is [<region>] doing?<|im_end|>\n"
        + "<|im_start|>assistant\nIt rolls.<|im_end|>\n"
        + "<|im_start|>user\nWhere does it go?<|im_end|>\n"
        + "<|im_start|>assistant\n"
    )
    assert text.count("<|im_start|>system") == 1 and text.count("<video>") == 1
    without_prompt = processor.apply_chat_template(messages, add_generation_prompt=False, tokenize=False)
    assert without_prompt == text[: -len("<|im_start|>assistant\n")]


def test_chat_template_string_content_and_image(processor):
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Hi"}]}]
    assert processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) == (
        DEFAULT_SYSTEM + "<|im_start|>user\n<image>\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    plain = [{"role": "user", "content": "Just text"}]
    assert processor.apply_chat_template(plain, add_generation_prompt=True, tokenize=False) == (
        DEFAULT_SYSTEM + "<|im_start|>user\nJust text<|im_end|>\n<|im_start|>assistant\n"
    )


def test_chat_template_system_message_replaces_default(processor):
    messages = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What is [<region>]?"}]},
    ]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == (
        "<|im_start|>system\nAnswer briefly.<|im_end|>\n"
        "<|im_start|>user\n<video>\nWhat is [<region>]?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert "You are a helpful assistant." not in text


def test_hand_written_markers_without_template(processor, model, golden_dir, cases):
    """Plain text with `<video>` written by hand gives the same inputs as the rendered template."""
    name = "video_dir_single_frame_mask"
    case, _ = cases[name]
    hand_written = DEFAULT_SYSTEM + "<|im_start|>user\n<video>\n" + case["prompt_sent_to_model"]
    hand_written += "<|im_end|>\n<|im_start|>assistant\n"
    inputs = processor(text=hand_written, videos=case_media_path(golden_dir, name, case), masks=[case_objects(case)])
    templated = _case_inputs(processor, golden_dir, name, case)
    for key in templated:
        assert torch.equal(inputs[key], templated[key]), key

    # a bare prompt: just the marker and the question
    bare = processor(text="<video>\nWhat is [<region>] doing?", videos=[case_media_path(golden_dir, name, case)],
                     masks=[case_objects(case)])
    ids = bare["input_ids"][0]
    assert int((ids == processor.video_token_id).sum()) == processor.num_video_tokens(processor.num_frames)
    assert int((ids == processor.region_token_id).sum()) == 1
    assert int((ids == processor.image_token_id).sum()) == 0
    with torch.no_grad():
        logits = model(**bare).logits
    assert logits.shape[:2] == ids[None].shape and torch.isfinite(logits).all()


def test_text_only_sample_in_batch(processor, golden_dir, cases):
    name = "video_dir_single_frame_mask"
    case, expected = cases[name]
    inputs = processor(
        text=[case["prompt_text"], "<|im_start|>user\nHello<|im_end|>\n"],
        videos=[case_media_path(golden_dir, name, case)],
        masks=[case_objects(case), []],
    )
    assert inputs["input_ids"].shape[0] == 2
    assert inputs["attention_mask"][0].sum() == expected["expanded_length"]
    assert inputs["region_masks_per_object"].tolist() == [1]
    assert not bool((inputs["input_ids"][1] == processor.video_token_id).any())


def test_decode_generated(processor, model, golden_dir, cases):
    name = "video_dir_single_frame_mask"
    case, expected = cases[name]
    inputs = _case_inputs(processor, golden_dir, name, case)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False)
    decoded = processor.decode_generated(out, inputs)
    assert decoded == processor.tokenizer.batch_decode(expected["generated_ids"][None], skip_special_tokens=True)


# -------------------------------------------------------------------------------------------------- errors
@pytest.fixture(scope="module")
def small_clip():
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (6, 20, 24, 3), generator=generator, dtype=torch.uint8)


def _mask(height=20, width=24):
    mask = torch.zeros(height, width, dtype=torch.bool)
    mask[5:12, 6:15] = True
    return mask


def test_error_more_region_markers_than_objects(processor, small_clip):
    with pytest.raises(ValueError, match=r"2 <region> marker\(s\) but 1 object\(s\)"):
        processor(text="<video>\n[<region>] and [<region>]?", videos=[small_clip], masks=[[{0: _mask()}]])


def test_error_fewer_region_markers_than_objects(processor, small_clip):
    with pytest.raises(ValueError, match=r"1 <region> marker\(s\) but 2 object\(s\)"):
        processor(text="<video>\n[<region>]?", videos=[small_clip], masks=[[{0: _mask()}, {1: _mask()}]])


def test_error_region_markers_without_masks(processor, small_clip):
    with pytest.raises(ValueError, match=r"1 <region> marker\(s\) but 0 object\(s\)"):
        processor(text="<video>\n[<region>]?", videos=[small_clip])


def test_error_more_videos_than_markers(processor, small_clip):
    with pytest.raises(ValueError, match=r"Got 2 videos but the prompts hold 1 <video> marker"):
        processor(text="<video>\n[<region>]?", videos=[small_clip, small_clip], masks=[[{0: _mask()}]])


def test_error_video_without_marker(processor, small_clip):
    with pytest.raises(ValueError, match=r"Got 1 videos but the prompts hold 0 <video> marker"):
        processor(text="What is this?", videos=[small_clip])


def test_error_marker_without_video(processor):
    with pytest.raises(ValueError, match=r"Got 0 videos but the prompts hold 1 <video> marker"):
        processor(text="<video>\nWhat is this?")


def test_error_image_given_for_video_marker(processor, small_clip):
    with pytest.raises(ValueError, match=r"Got 1 images but the prompts hold 0 <image> marker"):
        processor(text="<video>\nWhat?", videos=[small_clip], images=[small_clip[0]])


def test_error_two_media_markers_in_one_prompt(processor, small_clip):
    with pytest.raises(ValueError, match=r"one media marker per prompt"):
        processor(text="<video>\n<video>\nWhat?", videos=[small_clip, small_clip])


def test_error_regions_without_media(processor):
    with pytest.raises(ValueError, match=r"<region> markers need a video or an image"):
        processor(text="What is [<region>]?", masks=[[{0: _mask()}]])


def test_error_masks_per_sample_count(processor, small_clip):
    with pytest.raises(ValueError, match=r"one list of objects per sample: 2 samples, got 1"):
        processor(text=["<video>\n[<region>]", "hi"], videos=[small_clip], masks=[[{0: _mask()}]])


def test_error_masks_and_boxes_together(processor, small_clip):
    with pytest.raises(ValueError, match=r"masks or as boxes, not both"):
        processor(text="<video>\n[<region>]", videos=[small_clip], masks=[[{0: _mask()}]], boxes=[[{0: [1, 1, 5, 5]}]])


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"text": None}, TypeError, r"text must be a string"),
        ({"text": []}, TypeError, r"text must be a string"),
        ({"text": "hi", "padding_side": "middle"}, ValueError, r"padding_side must be 'left' or 'right'"),
        ({"text": "hi", "return_tensors": "tf"}, ValueError, r"return_tensors must be 'pt'"),
        ({"text": "hi", "num_frames": 0}, ValueError, r"num_frames must be at least 1"),
        ({"text": "hi", "unknown_option": 1}, TypeError, r"unexpected arguments: \['unknown_option'\]"),
        ({"text": "hi", "masks": {0: None}}, TypeError, r"masks must be a list"),
    ],
)
def test_error_bad_call_arguments(processor, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        processor(**kwargs)


# ------------------------------------------------------------------------------------ composition (additions)
def test_default_chat_template_is_the_packaged_file():
    from importlib import resources

    from transformers_videorefer.models.videorefer.processing_videorefer import DEFAULT_CHAT_TEMPLATE

    packaged = resources.files("transformers_videorefer.models.videorefer").joinpath("chat_template.jinja").read_text()
    assert DEFAULT_CHAT_TEMPLATE == packaged
    assert DEFAULT_CHAT_TEMPLATE.startswith("{%- for message in messages -%}") and "{% generation %}" in DEFAULT_CHAT_TEMPLATE


def test_pad_mode_region_frames_and_masks_are_padded(processor):
    pad = VideoReferProcessor(image_processor=processor.image_processor, tokenizer=processor.tokenizer,
                              num_frames=4, image_aspect_ratio="pad")
    frames = [torch.full((20, 40, 3), 200, dtype=torch.uint8)] * 5
    mask = torch.zeros(20, 40)
    mask[:, :20] = 1
    out = pad(text="<video>\n[<region>]", videos=[frames], masks=[[{2: mask}]])
    assert pad.video_processor.do_pad is True
    assert out["region_masks"].shape == (1, pad.grid_size, pad.grid_size)
    # the 20x40 frame sits in rows 10..30 of a 40x40 canvas of the mean colour (0.5 -> 127 -> -0.0039 normalised)
    assert out["pixel_values_videos"][0, 0, :, 0, 0].tolist() == pytest.approx([127 / 255 * 2 - 1] * 3)
    assert out["region_masks"][0, 0].sum() == 0 and out["region_masks"][0, pad.grid_size // 2, 0] == 1


def test_vanishing_mask_warns_through_the_processor_and_can_keep_its_patch(processor):
    from transformers_videorefer.models.videorefer.mask_processing_videorefer import VanishedMaskWarning
    from transformers_videorefer.models.videorefer.modeling_videorefer_region import resize_masks_to_grid

    height, width, grid = 90, 120, processor.grid_size
    video = np.full((4, height, width, 3), 100, dtype=np.uint8)
    mask = None
    for y in range(height):  # a one-pixel object that no grid position samples
        candidate = np.zeros((height, width), dtype=np.uint8)
        candidate[y, 1] = 1
        if not resize_masks_to_grid(torch.from_numpy(candidate).float()[None], grid).any():
            mask = candidate
            break
    assert mask is not None
    text = "<video>\nWhat is [<region>]?"
    with pytest.warns(VanishedMaskWarning, match="sample 0, object 0, frame 2: the mask covers 1 pixel"):
        dropped = processor(text=[text], videos=[video], masks=[[{2: mask}]])
    assert not bool(dropped["region_masks"].any())
    kept = processor(text=[text], videos=[video], masks=[[{2: mask}]], keep_vanished_masks=True)
    assert int(kept["region_masks"].sum()) == 1


def test_training_collator_call_style_still_works(processor, small_clip):
    """The collator's call: flat num_frames (None: the processor's), padding_side and target_spans."""
    text = "<video>\nWhat is [<region>]? It rolls."
    start = text.index("It rolls.")
    out = processor(text=[text, "hi"], images=None, videos=[small_clip], masks=[[{0: _mask()}], []], num_frames=None,
                    padding_side="right", target_spans=[[(start, len(text))], []])
    assert out["pixel_values_videos"].shape[1] == processor.num_frames
    assert out["attention_mask"][:, 0].tolist() == [1, 1]
    targets = out["labels"][0][out["labels"][0] != -100]
    assert processor.tokenizer.decode(targets).strip() == "It rolls."
    assert (out["labels"][1] == -100).all()


def test_a_video_file_is_read_as_the_original_reads_it(processor, golden_dir, monkeypatch):
    """A fresh reader walks the sampled frames, then the frames the masks lie on (decord's frames of some streams
    depend on the reads before them); every region row is the image processor's pixels of its frame."""
    import decord

    from transformers_videorefer.inputs.media import open_clip
    from transformers_videorefer.models.videorefer.image_processing_pil_videorefer import preprocess_frames

    path = case_media_path(golden_dir, "video_mp4_multi_frame_masks", load_case_json(golden_dir, "video_mp4_multi_frame_masks"))
    clip = open_clip(path)
    mask = np.zeros((clip.height, clip.width), dtype=bool)
    mask[20:60, 30:90] = True
    decoded = []
    get_batch = decord.VideoReader.get_batch
    monkeypatch.setattr(decord.VideoReader, "get_batch", lambda self, indices: decoded.extend(indices) or get_batch(self, indices))
    # 4 of 12 frames: 1, 4, 7, 10 sampled; masks on 4 (sampled) and 6 (not)
    inputs = processor(text="<video>\n[<region>] and [<region>]?", videos=[path], masks=[[{4: mask}, {6: mask}]], num_frames=4)
    assert decoded == [1, 4, 7, 10, 4, 6]
    expected = preprocess_frames(processor.image_processor, clip.get_frames([4, 6]))
    assert torch.equal(inputs["region_pixel_values"], expected)
    assert torch.equal(inputs["region_pixel_values"][0], inputs["pixel_values_videos"][0, 1])
    assert inputs["region_mask_frame_index"].tolist() == [0, 1]


def test_a_frame_folders_region_frame_among_the_sampled_ones_is_read_once(processor, golden_dir, monkeypatch):
    from transformers_videorefer.inputs import media
    from transformers_videorefer.models.videorefer.image_processing_pil_videorefer import preprocess_frames

    path = case_media_path(golden_dir, "video_dir_single_frame_mask", load_case_json(golden_dir, "video_dir_single_frame_mask"))
    clip = media.open_clip(path)
    mask = np.zeros((clip.height, clip.width), dtype=bool)
    mask[20:60, 30:90] = True
    read = []
    read_image_file = media.read_image_file
    monkeypatch.setattr(media, "read_image_file", lambda file, what="image": read.append(os.path.basename(file)) or read_image_file(file, what))
    inputs = processor(text="<video>\n[<region>] and [<region>]?", videos=[path], masks=[[{4: mask}, {6: mask}]], num_frames=4)
    assert sorted(read) == sorted(os.path.basename(f) for f in np.array(sorted(os.listdir(path)))[[1, 4, 6, 7, 10]])
    assert torch.equal(inputs["region_pixel_values"], preprocess_frames(processor.image_processor, clip.get_frames([4, 6])))

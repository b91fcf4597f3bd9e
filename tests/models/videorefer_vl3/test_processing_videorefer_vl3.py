"""VideoReferVL3Processor: golden parity from the raw media, batching, loading, errors and generated inputs."""

import json
import os

import numpy as np
import pytest
import torch
from golden_vl3 import VL3_CASES, load_vl3_case
from no_package import BLOCK_PACKAGE

from transformers_videorefer.models.videorefer_vl3.processing_videorefer_vl3 import (
    VideoReferVL3Processor,
    expand_prompt,
    messages_from_question,
)


@pytest.fixture(scope="module")
def vl3_processor(vl3_golden_dir):
    return VideoReferVL3Processor.from_pretrained(vl3_golden_dir / "checkpoint")


def case_inputs(golden_dir, name):
    """(case, expected, prompt from the chat template, processor kwargs) of a golden case, from its raw media."""
    case, expected = load_vl3_case(golden_dir, name)
    media = str(golden_dir / "cases" / name / case["media"])
    kwargs = {"images" if case["modality"] == "image" else "videos": [media], "masks": [case["annotation"]]}
    if case["modality"] == "video":
        kwargs.update(fps=case["fps"], max_frames=case["max_frames"])
    return case, expected, media, kwargs


def unpadded(row_ids, row_mask):
    return row_ids[row_mask.bool()]


def check_visual(output, expected, case):
    assert torch.equal(output["grid_thw"], expected["grid_thws"])
    assert output["merge_sizes"].tolist() == [case["image_downsampling"]] * expected["grid_thws"].shape[0]
    torch.testing.assert_close(output["pixel_values"], expected["pixel_values"], atol=1e-6, rtol=0)
    assert torch.equal(output["compression_mask"], expected["visual_keep_mask"])
    torch.testing.assert_close(output["region_pixel_values"], expected["region_pixel_values"], atol=1e-6, rtol=0)
    assert torch.equal(output["region_grid_thw"], expected["region_grid_thws"])
    for padded, (h, w), mask in zip(output["region_masks"], output["region_mask_sizes"].tolist(), expected["region_masks"]):
        assert torch.equal(padded[:h, :w], mask.to(torch.uint8))
        assert int(padded.sum()) == int(mask.sum())


@pytest.mark.parametrize("name", VL3_CASES)
def test_golden_case_from_raw_media(vl3_processor, vl3_golden_dir, name):
    case, expected, _, kwargs = case_inputs(vl3_golden_dir, name)
    prompt = vl3_processor.apply_chat_template(messages_from_question(case["question"], case["modality"]), add_generation_prompt=True)
    output = vl3_processor(text=[prompt], **kwargs)
    assert torch.equal(output["input_ids"][0], expected["input_ids"])
    assert output["input_ids"].shape[1] == case["input_length"]
    assert bool(output["attention_mask"].all())
    check_visual(output, expected, case)
    assert int(output["compression_mask"].sum()) == case["num_visual_tokens_kept"]
    assert int((output["input_ids"] == 406).sum()) == sum(case["region_token_counts"])


@pytest.mark.parametrize("name", VL3_CASES)
def test_golden_prompt_text(vl3_processor, vl3_golden_dir, name):
    case, _, _, kwargs = case_inputs(vl3_golden_dir, name)
    prompt = vl3_processor.apply_chat_template(messages_from_question(case["question"], case["modality"]), add_generation_prompt=True)
    assert vl3_processor.expanded_prompts([prompt], **kwargs) == [case["prompt_text"]]
    # the pure string step, from the fixture's timestamps and region counts
    times = [case["timestamps"]] if case["modality"] == "video" else []
    assert expand_prompt(prompt, times, case["region_token_counts"]) == case["prompt_text"]


@pytest.mark.parametrize("name", ["video_dir_object_on_two_frames", "image_one_object"])
def test_apply_chat_template_reads_media(vl3_processor, vl3_golden_dir, name):
    case, expected, media, kwargs = case_inputs(vl3_golden_dir, name)
    messages = messages_from_question(case["question"], case["modality"])
    for block in messages[0]["content"]:
        if block["type"] == case["modality"]:
            block["path"] = media
    processor_kwargs = {key: value for key, value in kwargs.items() if key not in ("images", "videos")}
    output = vl3_processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
                                               processor_kwargs=processor_kwargs)
    assert torch.equal(output["input_ids"][0], expected["input_ids"])
    assert torch.equal(output["grid_thw"], expected["grid_thws"])


def test_batch_of_the_four_cases(vl3_processor, vl3_golden_dir):
    cases = [case_inputs(vl3_golden_dir, name) for name in VL3_CASES]
    prompts, videos, images, masks = [], [], [], []
    for case, _, media, _ in cases:
        messages = messages_from_question(case["question"], case["modality"])
        prompts.append(vl3_processor.apply_chat_template(messages, add_generation_prompt=True))
        (images if case["modality"] == "image" else videos).append(media)
        masks.append(case["annotation"])
    # each case with its own sampling settings (fixture parity), then the batch with one setting for all
    outputs = [vl3_processor(text=[p], **kw) for p, (_, _, _, kw) in zip(prompts, cases)]
    per_case_images = [[m] if c["modality"] == "image" else [] for c, _, m, _ in cases]
    per_case_videos = [[m] if c["modality"] == "video" else [] for c, _, m, _ in cases]
    batch = vl3_processor(text=prompts, images=per_case_images, videos=per_case_videos, masks=masks, fps=1, max_frames=768)
    # left padding: padding first, each row's tokens at the end
    assert bool(batch["attention_mask"][:, -1].all())
    for row in range(4):
        first = int(batch["attention_mask"][row].argmax())
        assert bool(batch["attention_mask"][row, first:].all()) and not bool(batch["attention_mask"][row, :first].any())
    # the fps-1 sample (case 0) is identical to its own call; its pixels come first
    expected0 = cases[0][1]
    assert torch.equal(unpadded(batch["input_ids"][0], batch["attention_mask"][0]), expected0["input_ids"])
    n0 = expected0["pixel_values"].shape[0]
    torch.testing.assert_close(batch["pixel_values"][:n0], expected0["pixel_values"], atol=1e-6, rtol=0)
    # every sample's pieces, in order, equal its own single call with the batch's sampling settings
    singles = [vl3_processor(text=[p], images=i or None, videos=v or None, masks=[m], fps=1, max_frames=768)
               for p, i, v, m in zip(prompts, per_case_images, per_case_videos, masks)]
    assert batch["input_ids"].shape == (4, max(single["input_ids"].shape[1] for single in singles))
    for row, single in enumerate(singles):
        assert torch.equal(unpadded(batch["input_ids"][row], batch["attention_mask"][row]), single["input_ids"][0])
    for key in ("pixel_values", "grid_thw", "merge_sizes", "compression_mask", "region_pixel_values", "region_grid_thw",
                "region_mask_sizes"):
        assert torch.equal(batch[key], torch.cat([s[key] for s in singles])), key
    assert batch["region_masks"].shape[0] == sum(s["region_masks"].shape[0] for s in singles)
    # the image case and the fixed-fps cases with their own settings still match the fixture
    for (case, expected, _, _), output in zip(cases, outputs):
        assert torch.equal(output["input_ids"][0], expected["input_ids"]), case["media"]


def test_right_padding(vl3_processor, vl3_golden_dir):
    prompts, media, masks = [], [], []
    for name in ("image_one_object", "video_dir_single_frame_mask"):
        case, _, path, _ = case_inputs(vl3_golden_dir, name)
        prompts.append(vl3_processor.apply_chat_template(messages_from_question(case["question"], case["modality"]),
                                                         add_generation_prompt=True))
        media.append(path)
        masks.append(case["annotation"])
    batch = vl3_processor(text=prompts, images=[[media[0]], []], videos=[[], [media[1]]], masks=masks, padding_side="right")
    assert bool(batch["attention_mask"][:, 0].all())
    short = int(batch["attention_mask"][0].sum())
    assert short < batch["input_ids"].shape[1]
    assert bool((batch["input_ids"][0, short:] == vl3_processor.tokenizer.pad_token_id).all())


def test_auto_processor_from_another_directory_and_round_trip(vl3_golden_dir, tmp_path, monkeypatch):
    from transformers import AutoProcessor

    import transformers_videorefer  # noqa: F401  (registers the Auto classes)

    monkeypatch.chdir(tmp_path)
    processor = AutoProcessor.from_pretrained(str(vl3_golden_dir / "checkpoint"))
    assert isinstance(processor, VideoReferVL3Processor)
    assert (processor.spatial_merge_size, processor.mm_max_length) == (2, 64)
    assert (processor.image_token_id, processor.region_token_id) == (403, 406)
    assert list(processor.image_processor.image_mean) == [0.5, 0.5, 0.5]
    processor.save_pretrained(tmp_path / "saved")
    reloaded = AutoProcessor.from_pretrained(tmp_path / "saved")
    assert isinstance(reloaded, VideoReferVL3Processor)
    case, expected, _, kwargs = case_inputs(vl3_golden_dir, "video_mp4_two_objects")
    prompt = reloaded.apply_chat_template(messages_from_question(case["question"]), add_generation_prompt=True)
    output = reloaded(text=prompt, **kwargs)
    assert torch.equal(output["input_ids"][0], expected["input_ids"])
    torch.testing.assert_close(output["pixel_values"], expected["pixel_values"], atol=1e-6, rtol=0)


def test_missing_vision_encoder_config_falls_back_with_a_warning(vl3_golden_dir, tmp_path):
    import json
    import shutil

    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    for name in os.listdir(vl3_golden_dir / "checkpoint"):
        source = vl3_golden_dir / "checkpoint" / name
        if source.is_file() and name != "model.safetensors":
            shutil.copy(source, checkpoint / name)
    config = json.loads((checkpoint / "config.json").read_text())
    config["vision_encoder"] = "/nonexistent/authors/machine/VL3-SigLIP-NaViT"
    (checkpoint / "config.json").write_text(json.dumps(config))
    with pytest.warns(UserWarning, match="SigLIP"):
        processor = VideoReferVL3Processor.from_pretrained(checkpoint)
    assert processor.image_processor.size["shortest_edge"] == 3136


# ------------------------------------------------------------------------------------------------- errors
def test_region_marker_count_must_match_masks(vl3_processor, vl3_golden_dir):
    case, _, _, kwargs = case_inputs(vl3_golden_dir, "video_dir_object_on_two_frames")  # two (object, frame) masks
    prompt = vl3_processor.apply_chat_template(messages_from_question(case["question"]), add_generation_prompt=True)
    fewer = prompt.replace("<region>", "it", 1)
    with pytest.raises(ValueError, match=r"1 <region> marker\(s\) but 2 mask"):
        vl3_processor(text=[fewer], **kwargs)
    more = prompt.replace("<region>", "<region> <region>", 1)
    with pytest.raises(ValueError, match=r"3 <region> marker\(s\) but 2 mask"):
        vl3_processor(text=[more], **kwargs)


def test_mask_frame_past_the_clip(vl3_processor, vl3_golden_dir):
    case, _, _, kwargs = case_inputs(vl3_golden_dir, "video_dir_single_frame_mask")
    prompt = vl3_processor.apply_chat_template(messages_from_question(case["question"]), add_generation_prompt=True)
    segmentation = next(iter(case["annotation"][0].values()))
    kwargs["masks"] = [[{12: segmentation}]]
    with pytest.raises(ValueError, match="frame index 12 is past the end of the clip, which has 12 frame"):
        vl3_processor(text=[prompt], **kwargs)


@pytest.mark.parametrize("fps", [0, -1.5])
def test_fps_must_be_positive(vl3_processor, fps):
    frames = make_frames(3, 56, 56)
    with pytest.raises(ValueError, match="fps must be a positive number"):
        vl3_processor(text=["<video>hi"], videos=[frames], fps=fps)


def test_max_frames_must_be_positive(vl3_processor):
    with pytest.raises(ValueError, match="max_frames must be an int of at least 1"):
        vl3_processor(text=["<video>hi"], videos=[make_frames(3, 56, 56)], max_frames=0)


def test_media_count_must_match_markers(vl3_processor):
    with pytest.raises(ValueError, match="Got 2 videos but the prompts hold 1 <video>"):
        vl3_processor(text=["<video>hi"], videos=[make_frames(3, 56, 56), make_frames(3, 56, 56)])


# ------------------------------------------------------------------------------------- generated inputs
def make_frames(num_frames: int, height: int, width: int, seed: int = 0) -> list[np.ndarray]:
    """A clip with a moving bright square on a noisy background."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 80, size=(height, width, 3), dtype=np.uint8)
    frames = []
    for t in range(num_frames):
        frame = background.copy()
        top, left = (5 + 3 * t) % max(height - 12, 1), (7 + 5 * t) % max(width - 12, 1)
        frame[top : top + 12, left : left + 12] = 230
        frames.append(frame)
    return frames


def make_mask(height: int, width: int, center: tuple[int, int], radii: tuple[int, int]) -> np.ndarray:
    """An elliptical 0/1 uint8 mask."""
    rows, cols = np.ogrid[:height, :width]
    inside = ((rows - center[0]) / radii[0]) ** 2 + ((cols - center[1]) / radii[1]) ** 2 <= 1
    return inside.astype(np.uint8)


def test_non_square_image_three_objects(vl3_processor):
    image = make_frames(1, 70, 150, seed=3)[0]
    objects = [make_mask(70, 150, (20, 30), (6, 10)), make_mask(70, 150, (50, 110), (12, 30)), np.zeros((70, 150))]
    prompt = vl3_processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Compare <region>, <region> and <region>."}]}],
        add_generation_prompt=True,
    )
    output = vl3_processor(text=prompt, images=[image], masks=[objects])
    grid = output["grid_thw"][0].tolist()
    assert grid[0] == 1 and grid[1] != grid[2]  # non-square grid, merge 1
    assert output["merge_sizes"].tolist() == [1]
    assert int((output["input_ids"] == 403).sum()) == grid[1] * grid[2]
    assert bool(output["compression_mask"].all())
    assert output["region_grid_thw"].shape == (3, 3)
    sizes = output["region_mask_sizes"].tolist()
    assert output["region_masks"].shape[1:] == (max(h for h, _ in sizes), max(w for _, w in sizes))
    # the empty third mask is the whole frame: all of its crop grid is on
    h, w = sizes[2]
    assert bool(output["region_masks"][2, :h, :w].all())
    expected_tokens = [min(10, int(m[:h_, :w_].sum())) for m, (h_, w_) in zip(output["region_masks"], sizes)]
    assert int((output["input_ids"] == 406).sum()) == sum(expected_tokens)
    text = vl3_processor.expanded_prompts(prompt, images=[image], masks=[objects])[0]
    assert text.count("[") == 3 and text.count("<REGION>") == sum(expected_tokens)


@pytest.mark.parametrize("max_frames, expected_frames", [(3, 3), (5, 5), (768, 9)])
def test_other_max_frames_uniform_sampling(vl3_processor, max_frames, expected_frames):
    frames = make_frames(9, 60, 84)
    prompt = "<|im_start|>user\n<video>What moves in <region>?<|im_end|>\n<|im_start|>assistant\n"
    masks = [[{4: make_mask(60, 84, (30, 40), (8, 8))}]]
    output = vl3_processor(text=prompt, videos=[frames], masks=masks, fps=None, max_frames=max_frames)
    assert output["grid_thw"].shape[0] == expected_frames
    assert output["merge_sizes"].tolist() == [2] * expected_frames
    tokens_per_frame = int(output["grid_thw"][0, 1] * output["grid_thw"][0, 2]) // 4
    assert int((output["input_ids"] == 403).sum()) == expected_frames * tokens_per_frame
    assert output["compression_mask"].shape == (expected_frames * tokens_per_frame,)
    text = vl3_processor.expanded_prompts(prompt, videos=[frames], masks=masks, fps=None, max_frames=max_frames)[0]
    assert text.count("Time ") == expected_frames and "<image>\nWhat moves" in text


def test_three_objects_on_a_video_in_object_then_frame_order(vl3_processor):
    frames = make_frames(12, 64, 96, seed=1)
    masks = [[
        {6: make_mask(64, 96, (20, 20), (5, 9)), 1: make_mask(64, 96, (40, 60), (6, 6))},
        {3: make_mask(64, 96, (30, 50), (10, 20))},
        {0: make_mask(64, 96, (10, 80), (4, 8))},
    ]]
    prompt = "<|im_start|>user\n<video><region><region> then <region> and <region>.<|im_end|>\n"
    output = vl3_processor(text=prompt, videos=[frames], masks=masks, fps=1)
    assert output["region_grid_thw"].shape[0] == 4
    # object 0's frame 1 mask comes before its frame 6 mask
    from transformers_videorefer.models.videorefer_vl3.mask_processing_videorefer_vl3 import (
        crop_region,
    )

    first = crop_region(frames[1], masks[0][0][1])
    h, w = output["region_mask_sizes"][0].tolist()
    assert torch.equal(output["region_masks"][0, :h, :w], first.grid_mask.to(torch.uint8))
    # fps 1 on a 3-fps frame list: frames 1, 4, 7, 10
    assert output["grid_thw"].shape[0] == 4


REMOTE_SCRIPT = BLOCK_PACKAGE + """
import numpy as np
from transformers import AutoProcessor
processor = AutoProcessor.from_pretrained(sys.argv[1], trust_remote_code=True)
assert type(processor).__module__.startswith("transformers_modules"), type(processor).__module__
output = processor(text="<|im_start|>user\\n<video>What is <region>?<|im_end|>\\n",
                   videos=[[np.full((56, 84, 3), 9, np.uint8)] * 6], masks=[[{2: np.ones((56, 84))}]])
print(" ".join(str(v) for v in output["input_ids"][0].tolist()))
"""


def test_remote_code_export_loads_without_the_package(vl3_golden_dir, tmp_path):
    import subprocess
    import sys

    from transformers import AutoProcessor

    import transformers_videorefer  # noqa: F401  (registers the Auto classes and the remote-code writer)

    processor = AutoProcessor.from_pretrained(str(vl3_golden_dir / "checkpoint"))
    processor.save_pretrained(tmp_path / "exported")
    assert "auto_map" not in processor.__dict__  # written into the saved config only, the processor is unchanged
    saved_config = json.loads((tmp_path / "exported" / "processor_config.json").read_text())
    assert saved_config["auto_map"] == {"AutoProcessor": "processing_videorefer_vl3.VideoReferVL3Processor"}
    for name in ("processing_videorefer_vl3.py", "mask_processing_videorefer_vl3.py", "media.py", "masks.py",
                 "chat_template.jinja"):
        assert (tmp_path / "exported" / name).is_file(), name
    result = subprocess.run([sys.executable, "-c", REMOTE_SCRIPT, str(tmp_path / "exported")], capture_output=True,
                            text=True, timeout=120, cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    local = processor(text="<|im_start|>user\n<video>What is <region>?<|im_end|>\n",
                      videos=[[np.full((56, 84, 3), 9, np.uint8)] * 6], masks=[[{2: np.ones((56, 84))}]])
    assert result.stdout.split() == [str(v) for v in local["input_ids"][0].tolist()]


def test_labels_cover_the_assistant_turns_with_right_padding(vl3_processor):
    image = make_frames(1, 60, 80, seed=5)[0]
    conversations = [
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is <region>?"}]},
         {"role": "assistant", "content": [{"type": "text", "text": answer}]}]
        for answer in ("A cat.", "A big dog.")
    ]
    prompts = [vl3_processor.apply_chat_template(c) for c in conversations]
    mask = make_mask(60, 80, (30, 40), (10, 14))
    output = vl3_processor(text=prompts, images=[image, image], masks=[[mask], [mask]], return_labels=True,
                           padding_side="right")
    assert output["labels"].shape == output["input_ids"].shape
    for row, answer in enumerate(("A cat.", "A big dog.")):
        targets = output["labels"][row][output["labels"][row] != -100]
        assert vl3_processor.tokenizer.decode(targets) == answer + "<|im_end|>"
        assert not bool(((output["labels"][row] == 403) | (output["labels"][row] == 406)).any())
    assert bool((output["labels"][0][~output["attention_mask"][0].bool()] == -100).all())
    assert "labels" not in vl3_processor(text=prompts[:1], images=[image], masks=[[mask]])


@pytest.mark.parametrize("option", [{"truncation": True, "max_length": 8}, {"padding": "max_length", "max_length": 400},
                                    {"return_tensors": "np"}])
def test_options_that_would_break_placeholders_are_refused(vl3_processor, option):
    with pytest.raises(ValueError, match="does not support|return_tensors must be 'pt'"):
        vl3_processor(text=["<video>hi"], videos=[make_frames(3, 56, 56)], **option)


def test_a_video_files_mask_frames_come_from_a_fresh_reader_as_in_the_original(vl3_processor, vl3_golden_dir, monkeypatch):
    import decord

    opened = []
    init = decord.VideoReader.__init__
    monkeypatch.setattr(decord.VideoReader, "__init__", lambda self, *args, **kwargs: opened.append(args[0]) or init(self, *args, **kwargs))
    case, expected, _, kwargs = case_inputs(vl3_golden_dir, "video_mp4_two_objects")
    prompt = vl3_processor.apply_chat_template(messages_from_question(case["question"]), add_generation_prompt=True)
    output = vl3_processor(text=prompt, **kwargs)
    assert len(opened) == 2  # one reader for the sampled frames, a fresh one for the mask frames
    check_visual(output, expected, case)
    opened.clear()
    vl3_processor(text="<video>\nWhat happens?", videos=kwargs["videos"], fps=kwargs["fps"], max_frames=kwargs["max_frames"])
    assert len(opened) == 1  # no masks: no second reader

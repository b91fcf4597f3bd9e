# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoReferVideoProcessor: the original's frame sampling, bit-identical pixel values (golden cases, processor
path, pad mode), and saving / loading inside a processor (also one saved before the video processor existed)."""

import json

import numpy as np
import pytest
import torch
from helpers import GOLDEN_CASES, case_media_path, case_messages, case_objects, load_case, load_case_json
from PIL import Image
from transformers import AutoProcessor
from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil
from transformers.video_utils import VideoMetadata

import transformers_videorefer  # noqa: F401  (registers the Auto classes)
from transformers_videorefer.inputs.media import sample_frame_indices
from transformers_videorefer.models.videorefer.video_processing_videorefer import VideoReferVideoProcessor

VIDEO_CASES = [name for name in GOLDEN_CASES if name.startswith("video")]
SIGLIP = dict(size={"height": 28, "width": 28}, resample=3, image_mean=[0.5] * 3, image_std=[0.5] * 3)


def _frames(num_frames: int, height: int = 20, width: int = 24, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (num_frames, height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize("clip_frames,num_frames", [(12, 4), (100, 16), (3, 8), (1, 4), (17, 1)])
def test_sample_frames_is_the_original_sampling(clip_frames, num_frames):
    processor = VideoReferVideoProcessor(num_frames=num_frames)
    metadata = VideoMetadata(total_num_frames=clip_frames)
    assert processor.sample_frames(metadata) == sample_frame_indices(clip_frames, num_frames)
    assert processor.sample_frames(metadata, num_frames=2) == sample_frame_indices(clip_frames, 2)
    assert VideoReferVideoProcessor().sample_frames(VideoMetadata(total_num_frames=12), num_frames=4) == [1, 4, 7, 10]


def test_sampled_frames_and_metadata():
    video = _frames(12)
    out = VideoReferVideoProcessor(num_frames=4, **SIGLIP)(video, return_metadata=True)
    assert out["pixel_values_videos"].shape == (1, 4, 3, 28, 28)
    metadata = out["video_metadata"][0]
    assert (metadata.total_num_frames, metadata.height, metadata.width) == (12, 20, 24)
    assert metadata.frames_indices == [1, 4, 7, 10]
    expected = SiglipImageProcessorPil(**SIGLIP)([Image.fromarray(f) for f in video[[1, 4, 7, 10]]], return_tensors="pt")
    assert torch.equal(out["pixel_values_videos"][0], expected["pixel_values"])


def test_list_of_frames_is_one_video_and_list_of_videos_is_a_batch():
    processor = VideoReferVideoProcessor(num_frames=2, **SIGLIP)
    frames = list(_frames(5))
    one = processor(frames)["pixel_values_videos"]
    two = processor([frames, _frames(9, seed=1)], num_frames=3)["pixel_values_videos"]
    assert one.shape == (1, 2, 3, 28, 28) and two.shape == (2, 3, 3, 28, 28)
    assert torch.equal(processor(frames, num_frames=3)["pixel_values_videos"][0], two[0])


def test_pad_mode_pads_to_square_in_the_mean_colour():
    video = _frames(4, height=10, width=16)
    mean = [0.2, 0.4, 0.6]
    settings = dict(SIGLIP, image_mean=mean)
    padded = VideoReferVideoProcessor(num_frames=2, do_pad=True, **settings)(video)["pixel_values_videos"][0]
    canvas = np.empty((2, 16, 16, 3), dtype=np.uint8)
    canvas[...] = np.array([51, 102, 153], dtype=np.uint8)  # int(mean * 255)
    canvas[:, 3:13] = video[sample_frame_indices(4, 2)]  # (16 - 10) // 2 rows above
    expected = SiglipImageProcessorPil(**settings)([Image.fromarray(f) for f in canvas], return_tensors="pt")["pixel_values"]
    assert torch.equal(padded, expected)
    square = VideoReferVideoProcessor(num_frames=2, **settings)(video, do_pad=True)["pixel_values_videos"][0]
    assert torch.equal(square, expected)


def test_bad_arguments_are_refused():
    processor = VideoReferVideoProcessor(num_frames=2, **SIGLIP)
    with pytest.raises(TypeError, match="unexpected arguments: \\['fps'\\]"):
        processor(_frames(3), fps=2)
    with pytest.raises(ValueError, match="return_tensors must be 'pt'"):
        processor(_frames(3), return_tensors="np")
    with pytest.raises(ValueError, match="at least one video"):
        processor([])


@pytest.mark.parametrize("name", VIDEO_CASES)
def test_golden_pixel_values_bit_identical(processor, golden_dir, name):
    case, expected = load_case_json(golden_dir, name), load_case(golden_dir, name)
    media = case_media_path(golden_dir, name, case)
    pixels = processor.video_processor(media, num_frames=case["num_frames"])["pixel_values_videos"]
    assert pixels.shape == (1, *expected["pixel_values"].shape)
    assert (pixels[0] - expected["pixel_values"]).abs().max().item() == 0.0
    text = processor.apply_chat_template(case_messages(case), add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], videos=[media], masks=[case_objects(case)])
    assert torch.equal(inputs["pixel_values_videos"], pixels)


def test_video_processor_follows_the_image_processor(processor):
    video_processor = processor.video_processor
    assert isinstance(video_processor, VideoReferVideoProcessor)
    assert video_processor.num_frames == processor.num_frames == 4
    assert dict(video_processor.size) == processor.image_processor.size == {"height": 112, "width": 112}
    assert video_processor.do_pad is False


def test_round_trip_in_a_saved_processor(processor, golden_dir, tmp_path):
    processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "processor_config.json").read_text())["video_processor"]
    assert saved["video_processor_type"] == "VideoReferVideoProcessor"
    assert (saved["num_frames"], saved["do_pad"], saved["size"]) == (4, False, {"height": 112, "width": 112})
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert type(loaded.video_processor) is VideoReferVideoProcessor
    assert loaded.video_processor.to_dict() == processor.video_processor.to_dict()
    assert VideoReferVideoProcessor.from_dict(saved).to_dict() == processor.video_processor.to_dict()
    video = _frames(7)
    assert torch.equal(loaded.video_processor(video)["pixel_values_videos"], processor.video_processor(video)["pixel_values_videos"])


def test_processor_saved_without_a_video_processor_still_loads(processor, tmp_path):
    processor.save_pretrained(tmp_path)
    config_file = tmp_path / "processor_config.json"
    config = json.loads(config_file.read_text())
    del config["video_processor"]
    config["num_frames"] = 4  # as earlier versions saved it, beside the other processor settings
    config["image_aspect_ratio"] = "pad"
    config_file.write_text(json.dumps(config))
    loaded = AutoProcessor.from_pretrained(tmp_path)
    assert type(loaded.video_processor) is VideoReferVideoProcessor
    assert loaded.video_processor.num_frames == 4 and loaded.video_processor.do_pad is True
    assert dict(loaded.video_processor.size) == {"height": 112, "width": 112}
    video = _frames(6, height=30, width=40)
    padded = VideoReferVideoProcessor.from_image_processor(processor.image_processor, 4, do_pad=True)(video)
    assert torch.equal(loaded.video_processor(video)["pixel_values_videos"], padded["pixel_values_videos"])

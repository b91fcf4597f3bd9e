"""VideoReferVL3ImageProcessor: the native VideoLLaMA3 PIL processor with the original's resize order."""

import numpy as np
import pytest
import torch
from golden_vl3 import VL3_CASES, load_vl3_case
from transformers.models.video_llama_3.image_processing_pil_video_llama_3 import (
    VideoLlama3ImageProcessorPil,
)

from transformers_videorefer.models.videorefer_vl3.image_processing_videorefer_vl3 import (
    VideoReferVL3ImageProcessor,
    budget_max_pixels,
)

SETTINGS = {"image_mean": [0.5] * 3, "image_std": [0.5] * 3, "min_pixels": 3136}


def run(processor_class, frames, merge):
    processor = processor_class(**SETTINGS)
    size = {"shortest_edge": 3136, "longest_edge": budget_max_pixels(64, 2, merge, len(frames))}
    return processor(list(frames), size=size, merge_size=merge, return_tensors="pt")


@pytest.mark.parametrize("name", VL3_CASES)
def test_golden_pixel_values_from_frames(vl3_golden_dir, name):
    case, expected = load_vl3_case(vl3_golden_dir, name)
    output = run(VideoReferVL3ImageProcessor, expected["frames_uint8"].numpy(), case["image_downsampling"])
    assert torch.equal(output["image_grid_thw"], expected["grid_thws"])
    torch.testing.assert_close(output["pixel_values"], expected["pixel_values"], atol=1e-6, rtol=0)


def test_native_processor_differs_only_where_the_width_grows(vl3_golden_dir):
    """What differs from the native processor: one uint8 step where the width grows (mp4 and image cases)."""
    for name, differs in (("video_dir_single_frame_mask", False), ("video_mp4_two_objects", True), ("image_one_object", True)):
        case, expected = load_vl3_case(vl3_golden_dir, name)
        native = run(VideoLlama3ImageProcessorPil, expected["frames_uint8"].numpy(), case["image_downsampling"])
        error = float((native["pixel_values"] - expected["pixel_values"]).abs().max())
        assert (error > 1e-3) == differs
        assert error < 2 * 2 / 255 + 1e-6


def test_budget():
    assert budget_max_pixels(64, 2, 2, 4) == 12544
    assert budget_max_pixels(64, 2, 1, 1) == 12544
    assert budget_max_pixels(64, 2, 1, 3) == 4181
    with pytest.raises(ValueError, match="num_images must be at least 1"):
        budget_max_pixels(64, 2, 1, 0)


def test_non_square_grid_and_merge_order():
    image = np.random.default_rng(0).integers(0, 255, (60, 140, 3), dtype=np.uint8)
    output = run(VideoReferVL3ImageProcessor, [image], 2)
    _, h, w = output["image_grid_thw"][0].tolist()
    assert h % 2 == 0 and w % 2 == 0 and w > h
    assert output["pixel_values"].shape == (h * w, 588)
    assert output["image_merge_sizes"].tolist() == [2]

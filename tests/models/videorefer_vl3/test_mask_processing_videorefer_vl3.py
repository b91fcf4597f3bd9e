"""Region crops of VL3: crop boxes, scales, OpenCV-exact bilinear resize, crop-grid masks and token counts."""

import numpy as np
import pytest
import torch
from golden_vl3 import VL3_CASES, load_vl3_case

from transformers_videorefer.inputs.media import ArrayClip, load_image, open_clip
from transformers_videorefer.models.videorefer_vl3.mask_processing_videorefer_vl3 import (
    VideoReferVL3MaskProcessor,
    crop_region,
    crop_scale,
    cv2_linear_resize,
    pad_grid_masks,
)


def case_frames(golden_dir, name, case):
    media = str(golden_dir / "cases" / name / case["media"])
    if case["modality"] == "image":
        return ArrayClip([load_image(media)])
    return open_clip(media)


@pytest.mark.parametrize("name", VL3_CASES)
def test_golden_crops(vl3_golden_dir, name):
    case, expected = load_vl3_case(vl3_golden_dir, name)
    clip = case_frames(vl3_golden_dir, name, case)
    frames = clip.get_frames(case["mask_frame_ids"])
    crops = [crop_region(frames[frame], mask.numpy()) for frame, mask in zip(case["mask_ids"], expected["masks_full"])]
    assert [list(crop.image.shape) for crop in crops] == case["region_crop_shapes"]
    assert [crop.num_tokens for crop in crops] == case["region_token_counts"]
    for crop, mask in zip(crops, expected["region_masks"]):
        assert torch.equal(crop.grid_mask, mask)


@pytest.mark.parametrize("name", VL3_CASES)
def test_golden_decode_from_annotation(vl3_golden_dir, name):
    case, expected = load_vl3_case(vl3_golden_dir, name)
    clip = case_frames(vl3_golden_dir, name, case)
    sample = VideoReferVL3MaskProcessor().decode(case["annotation"], clip, case["modality"] == "image")
    assert sample.token_counts == case["region_token_counts"]
    assert sample.frame_indices == [int(frame) for _, frame in case["mask_order"]]
    assert all(torch.equal(crop.grid_mask, mask) for crop, mask in zip(sample.crops, expected["region_masks"]))


def test_cv2_linear_resize_properties():
    flat = np.full((5, 7, 3), 137, dtype=np.uint8)
    assert (cv2_linear_resize(flat, 23, 19) == 137).all()
    ramp = np.tile(np.arange(0, 250, 10, dtype=np.uint8)[None, :, None], (4, 1, 3))
    same = cv2_linear_resize(ramp, 4, ramp.shape[1])
    assert np.array_equal(same, ramp)
    doubled = cv2_linear_resize(ramp, 8, 2 * ramp.shape[1])
    assert doubled.shape == (8, 50, 3)
    assert doubled[0, 0, 0] == 0 and doubled[0, -1, 0] == 240
    assert (np.diff(doubled[0, :, 0].astype(int)) >= 0).all()
    with pytest.raises(ValueError, match="uint8"):
        cv2_linear_resize(ramp.astype(np.float32), 4, 4)


def test_crop_scale():
    assert crop_scale(10) == 14  # ceil(sqrt(196))
    assert crop_scale(1960) == 1
    assert crop_scale(196 * 400) == pytest.approx(0.5)  # 400 patches of area -> about 100


def test_crop_box_margins():
    frame = np.zeros((200, 300, 3), dtype=np.uint8)
    mask = np.zeros((200, 300), dtype=np.uint8)
    mask[100:110, 150:170] = 1  # rows 100-109, columns 150-169; area 200 -> scale ceil(sqrt(9.8)) = 4
    crop = crop_region(frame, mask)
    # rows 72 .. 137 (28 before, 27 after) -> 65 rows; columns 122 .. 197 -> 75 columns
    assert crop.image.shape == (int(np.ceil(65 * 4 / 14)) * 14, int(np.ceil(75 * 4 / 14)) * 14, 3)
    assert crop.grid_mask.shape == (crop.image.shape[0] // 14, crop.image.shape[1] // 14)
    assert crop.num_tokens == min(10, int(crop.grid_mask.sum()))


def test_empty_mask_is_the_whole_frame():
    frame = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    crop = crop_region(frame, np.zeros((60, 80)))
    assert bool(crop.grid_mask.all())
    assert crop.num_tokens == 10


def test_decode_errors():
    clip = ArrayClip([np.zeros((40, 50, 3), dtype=np.uint8)] * 3)
    with pytest.raises(ValueError, match="frame index 3 is past the end of the clip"):
        VideoReferVL3MaskProcessor().decode([{3: np.ones((40, 50))}], clip, False)
    with pytest.raises(ValueError, match="masks must be given at the clip's resolution"):
        VideoReferVL3MaskProcessor().decode([{0: np.ones((41, 50))}], clip, False)


def test_pad_grid_masks():
    masks = [torch.ones(2, 3, dtype=torch.uint8), torch.ones(4, 1, dtype=torch.uint8)]
    padded, sizes = pad_grid_masks(masks)
    assert padded.shape == (2, 4, 3) and padded.dtype == torch.uint8
    assert sizes.tolist() == [[2, 3], [4, 1]]
    assert int(padded[0].sum()) == 6 and int(padded[1].sum()) == 4 and int(padded[1, :, 1:].sum()) == 0

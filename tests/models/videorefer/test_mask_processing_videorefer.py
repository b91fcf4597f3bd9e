# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoReferMaskProcessor: objects over several frames, unsorted frame keys, boxes, pad mode, the batch layout of
the region inputs, and agreement with the processor on the golden cases."""

import numpy as np
import pytest
import torch
from helpers import GOLDEN_CASES, case_media_path, case_objects, load_case, load_case_json

from transformers_videorefer.inputs.media import ArrayClip, load_image, open_clip
from transformers_videorefer.models.videorefer.mask_processing_videorefer import (
    VideoReferMaskProcessor,
    objects_per_sample,
    pad_masks_to_square,
)
from transformers_videorefer.models.videorefer.modeling_videorefer_region import resize_masks_to_grid

HEIGHT, WIDTH, GRID = 20, 24, 4


def _clip(num_frames: int = 10) -> ArrayClip:
    """Frames whose every pixel holds the frame's index, so that a frame read back tells which it is."""
    return ArrayClip([np.full((HEIGHT, WIDTH, 3), index, dtype=np.uint8) for index in range(num_frames)])


def _mask(top: int, left: int, bottom: int, right: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[top:bottom, left:right] = 1
    return mask


def _at_grid(mask: np.ndarray) -> torch.Tensor:
    return resize_masks_to_grid(torch.from_numpy(mask.astype(np.float32))[None], GRID)[0]


def test_multi_object_multi_frame_unsorted_keys_keep_their_order():
    a7, a2, b5 = _mask(0, 0, 10, 12), _mask(10, 12, 20, 24), _mask(5, 0, 15, 24)
    regions = VideoReferMaskProcessor(GRID).decode([{7: a7, 2: a2}, {"5": b5}], _clip(), False, False, "sample 0")
    assert [list(obj) for obj in regions.masks] == [[7, 2], [5]]  # each object's frames in the annotation's order
    assert torch.equal(regions.masks[0][2], _at_grid(a2)) and torch.equal(regions.masks[0][7], _at_grid(a7))
    assert torch.equal(regions.masks[1][5], _at_grid(b5))
    assert list(regions.frames) == [2, 5, 7]
    assert [int(frame[0, 0, 0]) for frame in regions.frames.values()] == [2, 5, 7]

    data, frames = VideoReferMaskProcessor.collate([regions])
    assert [int(frame[0, 0, 0]) for frame in frames] == [2, 5, 7]
    assert data["region_masks_per_object"].tolist() == [2, 1]
    assert data["region_mask_frame_index"].tolist() == [2, 0, 1]  # frames 7, 2 of object 0, frame 5 of object 1
    assert data["region_masks"].shape == (3, GRID, GRID)
    assert torch.equal(data["region_masks"], torch.stack([_at_grid(a7), _at_grid(a2), _at_grid(b5)]))


def test_collate_offsets_frames_sample_by_sample():
    processor = VideoReferMaskProcessor(GRID)
    first = processor.decode([{3: _mask(0, 0, 5, 5)}, {3: _mask(5, 5, 9, 9), 1: _mask(1, 1, 4, 4)}], _clip(), False, False, "s0")
    second = processor.decode([{4: _mask(2, 2, 8, 8)}], _clip(6), False, False, "s1")
    data, frames = VideoReferMaskProcessor.collate([first, second])
    assert [int(frame[0, 0, 0]) for frame in frames] == [1, 3, 4]
    assert data["region_mask_frame_index"].tolist() == [1, 1, 0, 2]  # object 1: frame 3, then frame 1
    assert data["region_masks_per_object"].tolist() == [1, 2, 1]
    assert VideoReferMaskProcessor.collate([]) == ({}, [])


def test_boxes_become_rectangles():
    regions = VideoReferMaskProcessor(GRID).decode([{0: [12, 0, 24, 10]}], _clip(2), False, True, "sample 0")
    assert torch.equal(regions.masks[0][0], _at_grid(_mask(0, 12, 10, 24)))
    assert regions.masks[0][0].tolist() == [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]]


def test_image_object_is_frame_zero():
    image = np.full((HEIGHT, WIDTH, 3), 9, dtype=np.uint8)
    mask = _mask(0, 0, 20, 12)
    regions = VideoReferMaskProcessor(GRID).decode([mask], ArrayClip([image], "the image"), True, False, "sample 0")
    assert list(regions.masks[0]) == [0] and list(regions.frames) == [0]
    assert torch.equal(regions.masks[0][0], _at_grid(mask))
    assert regions.masks[0][0].tolist() == [[1, 1, 0, 0]] * GRID


def test_pad_mode_pads_masks_like_frames():
    mask = _mask(0, 0, HEIGHT, WIDTH)  # the whole 20x24 frame
    padded = pad_masks_to_square(torch.from_numpy(mask.astype(np.float32))[None])[0]
    assert padded.shape == (WIDTH, WIDTH)
    assert padded[:2].sum() == 0 and padded[22:].sum() == 0 and padded[2:22].min() == 1  # 2 rows above, 2 below
    regions = VideoReferMaskProcessor(GRID, pad_to_square=True).decode([{0: mask}], _clip(1), False, False, "s0")
    assert torch.equal(regions.masks[0][0], resize_masks_to_grid(padded[None], GRID)[0])
    tall = pad_masks_to_square(torch.ones(1, 6, 3))[0]
    assert tall.shape == (6, 6) and tall.sum(0).tolist() == [0, 6, 6, 6, 0, 0]  # (6 - 3) // 2 = 1 column left


def test_frame_past_the_end_is_refused():
    with pytest.raises(ValueError, match="sample 0, object 1: frame index 10 is past the end of the clip, which has 10"):
        VideoReferMaskProcessor(GRID).decode([{0: _mask(0, 0, 2, 2)}, {10: _mask(0, 0, 2, 2)}], _clip(), False, False, "sample 0")
    with pytest.raises(ValueError, match="grid_size must be a positive int"):
        VideoReferMaskProcessor(0)


def test_objects_per_sample_pairs_objects_with_markers():
    texts = ["<video> [<region>] and [<region>]", "<image> [<region>]"]
    result = objects_per_sample([["a", "b"], ["c"]], None, texts, "<region>")
    assert result == [(["a", "b"], False), (["c"], False)]
    assert objects_per_sample(None, [[[0, 0, 1, 1]]], texts[1:], "<region>") == [([[0, 0, 1, 1]], True)]
    assert objects_per_sample(["x"], None, texts[1:], "<region>") == [(["x"], False)]  # one sample's bare list
    with pytest.raises(ValueError, match="Sample 1: the prompt holds 1 <region> marker\\(s\\) but 2 object"):
        objects_per_sample([["a", "b"], ["c", "d"]], None, texts, "<region>")
    with pytest.raises(ValueError, match="Sample 0: give its objects as masks or as boxes, not both"):
        objects_per_sample([["a"]], [["b"]], texts[1:], "<region>")
    with pytest.raises(TypeError, match="masks must be a list"):
        objects_per_sample("a", None, texts, "<region>")


@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_golden_region_inputs(processor, golden_dir, name):
    case, expected = load_case_json(golden_dir, name), load_case(golden_dir, name)
    media = case_media_path(golden_dir, name, case)
    is_image = case["modality"] == "image"
    clip = ArrayClip([load_image(media)], "the image") if is_image else open_clip(media)
    regions = processor.mask_processor.decode(case_objects(case), clip, is_image, False, "sample 0")
    data, frames = VideoReferMaskProcessor.collate([regions])
    assert data["region_masks_per_object"].tolist() == [len(indices) for indices in expected["ann_indices"]]
    assert data["region_mask_frame_index"].tolist() == [i for indices in expected["ann_indices"] for i in indices]
    assert torch.equal(data["region_masks"], resize_masks_to_grid(expected["masks"], processor.grid_size))
    assert len(frames) == expected["region_frame_pixel_values"].shape[0]


def test_mask_that_vanishes_at_the_grid_warns_with_its_place_or_keeps_its_best_patch():
    from transformers_videorefer.models.videorefer.mask_processing_videorefer import VanishedMaskWarning

    tiny = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    tiny[3:5, 3:5] = 1  # 4 pixels between the grid's sample points (rows 2, 7, 12, 17)
    processor = VideoReferMaskProcessor(GRID)
    with pytest.warns(VanishedMaskWarning, match=r"sample 2, object 1, frame 3: the mask covers 4 pixel\(s\) of the "
                      rf"clip but no patch of the {GRID}x{GRID} vision grid"):
        regions = processor.decode([{0: _mask(0, 0, 10, 12)}, {3: tiny}], _clip(), False, False, "sample 2")
    assert not bool(regions.masks[1][3].any())  # as the original: the region token carries no object
    kept = processor.decode([{3: tiny}], _clip(), False, False, "sample 2", keep_vanished=True)
    expected = torch.zeros(GRID, GRID)
    expected[0, 0] = 1.0  # the patch the mask covers most
    assert torch.equal(kept.masks[0][3], expected)


def test_empty_mask_does_not_warn():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        regions = VideoReferMaskProcessor(GRID).decode([{0: np.zeros((HEIGHT, WIDTH))}], _clip(), False, False, "s")
    assert not bool(regions.masks[0][0].any())

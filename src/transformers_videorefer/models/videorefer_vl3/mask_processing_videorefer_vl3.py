# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoReferVL3MaskProcessor: objects' masks -> region crops, crop-grid masks and region-token counts.

VideoRefer-VideoLLaMA3 re-encodes each (object, frame) mask's neighbourhood at its own resolution:

1. An empty mask is the whole frame.
2. The crop box spans the mask's rows / columns with 28 pixels before and 27 after (the original stops one short of
   `max + 28`), never past the frame's last row / column.
3. The crop is scaled by `ceil(sqrt(1960 / area))` (or shrunk to about 100 patches when that is 1 and the mask covers
   more than 100 patches' area) to sides rounded up to multiples of 14: the image with OpenCV's bilinear resize (here
   re-implemented bit-exactly in numpy: no OpenCV needed), the uint8 mask straight to the patch grid with torch's
   bilinear interpolation, which rounds to 0/1.
4. `min(10, positive cells)` `<REGION>` tokens stand for the mask.

The crops then go through the image processor (merge 1, the pixel budget split over the sample's masks).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...inputs.masks import decode_segmentation, normalize_object
from ...inputs.media import Clip

PATCH_SIZE = 14
MAX_REGION_TOKENS = 10
# OpenCV's bilinear resize of uint8 images: 11-bit fixed-point weights
_COEF_BITS = 11
_COEF_SCALE = 1 << _COEF_BITS


@dataclass
class RegionCrop:
    """One mask's region input.

    Attributes:
        image: `(crop_height, crop_width, 3)` uint8, the resized crop (sides multiples of 14).
        grid_mask: `(crop_height // 14, crop_width // 14)` uint8 0/1, the mask at the crop's patch grid.
        num_tokens: `<REGION>` tokens of the mask, `min(10, grid_mask.sum())`.
    """

    image: np.ndarray
    grid_mask: torch.Tensor
    num_tokens: int


def _linear_taps(source: int, target: int, clamp_weights: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The two source indices and their 11-bit fixed-point weights of each target pixel (OpenCV's INTER_LINEAR).

    OpenCV moves the weight onto the border pixel for columns (`clamp_weights`) but keeps the weights for rows and
    only clamps the row indices, which its vertical rounding can tell apart.
    """
    scale = 1.0 / (target / source)
    position = ((np.arange(target, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    index = np.floor(position).astype(np.int64)
    fraction = (position - index.astype(np.float32)).astype(np.float32)
    if clamp_weights:
        low = index < 0
        index[low], fraction[low] = 0, 0
        high = index >= source - 1
        index[high], fraction[high] = source - 1, 0
    first, second = np.clip(index, 0, source - 1), np.clip(index + 1, 0, source - 1)
    weights = np.stack([np.rint((1.0 - fraction) * _COEF_SCALE), np.rint(fraction * _COEF_SCALE)], axis=-1)
    return first, second, weights.astype(np.int64)


def cv2_linear_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """`cv2.resize(image, (width, height))` (INTER_LINEAR) of an `(H, W, C)` uint8 image, in numpy.

    Horizontal pass in exact integers; the vertical pass as OpenCV's vectorised kernel rounds:
    `((h0 >> 4) * b0 >> 16) + ((h1 >> 4) * b1 >> 16) + 2 >> 2`.
    """
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"cv2_linear_resize takes an (H, W, C) uint8 image, got {image.dtype} {image.shape}.")
    source_h, source_w = image.shape[:2]
    columns, right, column_weights = _linear_taps(source_w, width, clamp_weights=True)
    rows, below, row_weights = _linear_taps(source_h, height, clamp_weights=False)
    pixels = image.astype(np.int64)
    horizontal = pixels[:, columns] * column_weights[None, :, 0, None] + pixels[:, right] * column_weights[None, :, 1, None]
    top = ((horizontal[rows] >> 4) * row_weights[:, 0, None, None]) >> 16
    bottom = ((horizontal[below] >> 4) * row_weights[:, 1, None, None]) >> 16
    return np.clip((top + bottom + 2) >> 2, 0, 255).astype(np.uint8)


def crop_scale(area: int) -> float:
    """The original's scale of a crop for a mask of `area` pixels (float32 arithmetic as its torch code)."""
    scale: float = math.ceil(math.sqrt(float(np.float32(1960) / np.float32(area))))
    if scale == 1:
        patches = np.float32(area) / np.float32(196)
        if patches > 100:
            scale = 1 / math.sqrt(float(patches / np.float32(100)))
    return scale


def crop_region(frame: np.ndarray, mask: np.ndarray) -> RegionCrop:
    """The region input of one `(H, W)` 0/1 mask on its `(H, W, 3)` uint8 frame (steps 1-4 of the module docstring)."""
    height, width = mask.shape
    if frame.shape[:2] != (height, width):
        raise ValueError(f"The mask is {height}x{width} but its frame is {frame.shape[0]}x{frame.shape[1]}.")
    mask = (mask > 0).astype(np.uint8)
    if not mask.any():
        mask = np.ones_like(mask)
    rows, columns = np.nonzero(mask)
    margin = 2 * PATCH_SIZE
    top, bottom = max(0, int(rows.min()) - margin), min(height - 1, int(rows.max()) + margin)
    left, right = max(0, int(columns.min()) - margin), min(width - 1, int(columns.max()) + margin)
    if bottom <= top or right <= left:
        raise ValueError(
            f"A mask on a {height}x{width} frame gives an empty crop (rows {top}:{bottom}, columns {left}:{right}); "
            "frames must be at least 2x2 pixels."
        )
    scale = crop_scale(int(mask.sum()))
    crop_h = math.ceil((bottom - top) * scale / PATCH_SIZE) * PATCH_SIZE
    crop_w = math.ceil((right - left) * scale / PATCH_SIZE) * PATCH_SIZE
    image = cv2_linear_resize(np.ascontiguousarray(frame[top:bottom, left:right]), crop_h, crop_w)
    cropped_mask = torch.from_numpy(np.ascontiguousarray(mask[top:bottom, left:right]))
    grid_mask = torch.nn.functional.interpolate(
        cropped_mask[None, None], size=(crop_h // PATCH_SIZE, crop_w // PATCH_SIZE), mode="bilinear", align_corners=False
    )[0, 0]
    return RegionCrop(image, grid_mask, min(MAX_REGION_TOKENS, int(grid_mask.sum())))


@dataclass
class SampleMasks:
    """The masks of one sample, in `<region>` order (object after object, each object's frames in increasing order).

    Attributes:
        crops: one `RegionCrop` per (object, frame) mask.
        frame_indices: the source frame of each mask.
    """

    crops: list[RegionCrop]
    frame_indices: list[int]

    @property
    def token_counts(self) -> list[int]:
        """`<REGION>` tokens of each mask."""
        return [crop.num_tokens for crop in self.crops]


class VideoReferVL3MaskProcessor:
    """Decodes a sample's objects (`{frame_index: mask}` each, a bare mask for an image) into `RegionCrop`s.

    Masks may be COCO RLE dicts, polygons, arrays, tensors or PIL images at the clip's resolution (see
    `inputs.masks.decode_segmentation`); non-zero is the object. The mask frames are read from the clip itself
    (they need not be among the sampled frames).
    """

    def decode(self, objects: Sequence[Any], clip: Clip, is_image: bool, where: str = "sample") -> SampleMasks:
        """The sample's `RegionCrop`s, one per (object, frame) mask, in `<region>` order.

        Raises:
            ValueError: a mask frame past the end of the clip, or a mask not at the clip's size.
        """
        size = (clip.height, clip.width)
        entries = []
        for number, obj in enumerate(objects):
            obj_where = f"{where}, object {number}"
            for frame_index, segmentation in sorted(normalize_object(obj, is_image, obj_where).items()):
                if frame_index >= clip.num_frames:
                    raise ValueError(
                        f"{obj_where}: frame index {frame_index} is past the end of the clip, which has "
                        f"{clip.num_frames} frame(s) (valid: 0 to {clip.num_frames - 1})."
                    )
                mask = decode_segmentation(segmentation, size, f"{obj_where}, frame {frame_index}")
                entries.append((frame_index, mask))
        needed = sorted({frame for frame, _ in entries})
        frames = dict(zip(needed, clip.get_frames(needed))) if needed else {}
        crops = [crop_region(frames[frame], mask) for frame, mask in entries]
        return SampleMasks(crops, [frame for frame, _ in entries])


def pad_grid_masks(masks: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop-grid masks of different sizes -> `(n, Hmax, Wmax)` uint8 (zero-padded bottom / right) and their true
    `(n, 2)` sizes."""
    sizes = torch.tensor([list(mask.shape) for mask in masks], dtype=torch.long).reshape(-1, 2)
    height = int(sizes[:, 0].max()) if len(masks) else 0
    width = int(sizes[:, 1].max()) if len(masks) else 0
    padded = torch.zeros((len(masks), height, width), dtype=torch.uint8)
    for row, mask in enumerate(masks):
        padded[row, : mask.shape[0], : mask.shape[1]] = mask.to(torch.uint8)
    return padded, sizes


__all__ = [
    "RegionCrop",
    "SampleMasks",
    "VideoReferVL3MaskProcessor",
    "crop_region",
    "cv2_linear_resize",
    "pad_grid_masks",
]

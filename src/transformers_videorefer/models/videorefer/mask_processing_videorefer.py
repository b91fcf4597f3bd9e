# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoReferMaskProcessor: the objects of each sample (masks or boxes per frame) -> the region inputs of the model.

An object is `{frame_index: mask}` with frame indices of the ORIGINAL clip (a bare mask for an image). Each mask is
decoded at the clip's size (`inputs/masks.py`), padded to a square in pad mode, and resized to the vision grid
(`resize_masks_to_grid`). The frames the masks lie on are read from the clip; across a batch they are laid out
sample by sample, each sample's frames in increasing frame order, and `region_mask_frame_index` points each mask at
its frame's row there.
"""

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ...inputs.masks import box_to_mask, decode_segmentation, normalize_object
from ...inputs.media import Clip
from .modeling_videorefer_region import resize_masks_to_grid


class VanishedMaskWarning(UserWarning):
    """A mask covers pixels of the clip but no patch of the vision grid: its region token carries no object."""


@dataclass
class SampleRegions:
    """The objects of one sample.

    Attributes:
        masks: per object, `{frame_index: (grid, grid) float32 0/1 mask}` in the annotation's order (the order
            the model pools and merges them in, as the original).
        frames: `{frame_index: (height, width, 3) uint8 frame}` for every frame a mask lies on, in increasing order
            (`{frame_index: None}` from `decode(..., read_frames=False)`, for the caller to fill: the processor puts
            each frame's pixel values there).
    """

    masks: list[dict[int, torch.Tensor]] = field(default_factory=list)
    frames: dict[int, np.ndarray] = field(default_factory=dict)


def pad_masks_to_square(masks: torch.Tensor) -> torch.Tensor:
    """`(..., height, width)` masks -> `(..., side, side)`, side = max(height, width), zero-padded around the centre
    (the placement of `pad_frames_to_square`, so that masks stay on their pixels)."""
    height, width = masks.shape[-2:]
    side = max(height, width)
    left, top = (side - width) // 2, (side - height) // 2
    return torch.nn.functional.pad(masks, (left, side - width - left, top, side - height - top))


def objects_per_sample(masks: Any, boxes: Any, texts: Sequence[str], region_token: str) -> list[tuple[list, bool]]:
    """Per sample, `(objects, given_as_boxes)`, checking one object per `region_token` marker of its prompt.

    `masks` / `boxes`: one list of objects per sample (a single sample's list may be given bare); at most one of the
    two per sample.
    """
    per_sample = []
    for name, given in (("masks", masks), ("boxes", boxes)):
        if given is None:
            per_sample.append([None] * len(texts))
            continue
        if not isinstance(given, (list, tuple)):
            raise TypeError(f"{name} must be a list (one list of objects per sample), got {type(given).__name__}.")
        if len(texts) == 1 and given and not isinstance(given[0], (list, tuple)):
            given = [given]  # a single sample's list of objects
        if len(given) != len(texts):
            raise ValueError(f"{name} must hold one list of objects per sample: {len(texts)} samples, got {len(given)}.")
        per_sample.append(list(given))
    result = []
    for index, (prompt, sample_masks, sample_boxes) in enumerate(zip(texts, *per_sample)):
        if sample_masks is not None and sample_boxes is not None:
            raise ValueError(f"Sample {index}: give its objects as masks or as boxes, not both.")
        objects = sample_boxes if sample_boxes is not None else sample_masks
        objects = [] if objects is None else objects
        if not isinstance(objects, (list, tuple)):
            raise TypeError(f"Sample {index}: objects must be a list (one entry per <region>), got {type(objects).__name__}.")
        num_regions = prompt.count(region_token)
        if len(objects) != num_regions:
            raise ValueError(
                f"Sample {index}: the prompt holds {num_regions} {region_token} marker(s) but "
                f"{len(objects)} object(s) were given; give exactly one object per marker, in order."
            )
        result.append((list(objects), sample_boxes is not None))
    return result


class VideoReferMaskProcessor:
    """Decodes objects' masks and lays out the region inputs.

    Args:
        grid_size: side of the vision patch grid of one frame (image size // patch size).
        pad_to_square: pad masks to a square before resizing, as frames are in `image_aspect_ratio="pad"`.
    """

    def __init__(self, grid_size: int, pad_to_square: bool = False):
        if int(grid_size) < 1:
            raise ValueError(f"grid_size must be a positive int, got {grid_size!r}.")
        self.grid_size = int(grid_size)
        self.pad_to_square = bool(pad_to_square)

    def to_grid(self, mask: torch.Tensor, keep_vanished: bool = False, where: str = "mask") -> torch.Tensor:
        """One `(height, width)` mask -> `(grid, grid)` float32 0/1 (padded to a square first in pad mode).

        A non-empty mask that no grid position samples (a thin or small object: the original's resize drops it
        too) gives a `VanishedMaskWarning` naming `where`; with `keep_vanished`, the patch the mask covers most is
        kept instead (a departure from the original).
        """
        mask = mask[None]
        if self.pad_to_square:
            mask = pad_masks_to_square(mask)
        grid = resize_masks_to_grid(mask, self.grid_size)[0]
        if bool(grid.any()) or not bool(mask.any()):
            return grid
        side = self.grid_size
        if keep_vanished:
            coverage = torch.nn.functional.adaptive_avg_pool2d(mask[None].to(torch.float32), side)[0, 0]
            grid.view(-1)[int(coverage.argmax())] = 1.0
            return grid
        warnings.warn(
            f"{where}: the mask covers {int((mask != 0).sum())} pixel(s) of the clip but no patch of the {side}x{side} "
            "vision grid, so its region token carries no object (the original drops it the same way); give a larger "
            "mask, or pass keep_vanished_masks=True to keep the patch it covers most.",
            VanishedMaskWarning,
            stacklevel=4,
        )
        return grid

    def decode(
        self,
        objects: Sequence[Any],
        clip: Clip,
        is_image: bool,
        from_boxes: bool,
        where: str,
        keep_vanished: bool = False,
        read_frames: bool = True,
    ) -> SampleRegions:
        """Decode a sample's objects on `clip` (an image is a one-frame clip) and read the frames they lie on
        (`read_frames=False`: only name them, for a caller that reads them with other frames of the clip).

        `keep_vanished`: see `to_grid`.
        """
        size = (clip.height, clip.width)
        masks = []
        for number, obj in enumerate(objects):
            obj_where = f"{where}, object {number}"
            decoded = {}
            for frame_index, segmentation in normalize_object(obj, is_image, obj_where).items():
                if frame_index >= clip.num_frames:
                    raise ValueError(
                        f"{obj_where}: frame index {frame_index} is past the end of the clip, which has "
                        f"{clip.num_frames} frame(s) (valid: 0 to {clip.num_frames - 1})."
                    )
                mask_where = f"{obj_where}, frame {frame_index}"
                array = box_to_mask(segmentation, size, mask_where) if from_boxes else decode_segmentation(
                    segmentation, size, mask_where
                )
                decoded[frame_index] = torch.from_numpy(np.asarray(array, dtype=np.float32))
            masks.append(decoded)
        needed = sorted({frame for obj in masks for frame in obj})
        if not read_frames:
            frames = dict.fromkeys(needed)
        else:
            frames = dict(zip(needed, clip.get_frames(needed))) if needed else {}
        grids = [
            {frame: self.to_grid(mask, keep_vanished, f"{where}, object {number}, frame {frame}") for frame, mask in obj.items()}
            for number, obj in enumerate(masks)
        ]
        return SampleRegions(grids, frames)

    @staticmethod
    def collate(samples: Sequence[SampleRegions]) -> tuple[dict[str, torch.Tensor], list[np.ndarray]]:
        """The batch's region inputs and the frames to preprocess into `region_pixel_values` (in row order).

        Returns:
            `({"region_masks": (num_masks, grid, grid), "region_mask_frame_index": (num_masks,),
            "region_masks_per_object": (num_objects,)}, frames)`; `({}, [])` when no sample has objects.
        """
        frames, masks, frame_index, per_object = [], [], [], []
        for sample in samples:
            if not sample.masks:
                continue
            row_of_frame = {frame: len(frames) + row for row, frame in enumerate(sorted(sample.frames))}
            frames += [sample.frames[frame] for frame in sorted(sample.frames)]
            for obj in sample.masks:
                per_object.append(len(obj))
                for frame, mask in obj.items():
                    frame_index.append(row_of_frame[frame])
                    masks.append(mask)
        if not masks:
            return {}, []
        data = {
            "region_masks": torch.stack(masks),
            "region_mask_frame_index": torch.tensor(frame_index, dtype=torch.long),
            "region_masks_per_object": torch.tensor(per_object, dtype=torch.long),
        }
        return data, frames


__all__ = ["VanishedMaskWarning", "VideoReferMaskProcessor", "SampleRegions", "objects_per_sample", "pad_masks_to_square"]

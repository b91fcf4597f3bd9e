# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoReferVL3ImageProcessor: transformers' native VideoLLaMA3 PIL image processor with the original's resize.

Everything but the resize is the native `VideoLlama3ImageProcessorPil` (smart resize to multiples of
`patch_size * merge_size`, rescale, normalise, patches in merge-block order, `(1, h, w)` grids): checked against the
golden fixture to the last bit.

What differs: the original's Pillow resizes an image whose width grows (and whose height changes) height first,
then width; the native processor hands PIL one two-axis resize, which runs width first. The two orders round the
intermediate uint8 image differently (one uint8 step, 2/255 after normalisation, on a few hundred values of the
fixture's mp4 and image cases). This class resizes in the original's order, so the pixel values match exactly.

The pixel budget is the original's: `max_pixels = mm_max_length * merge^2 * 196`, divided by `(merge / ds)^2`
(`ds` = the image's own merge size: the model's merge for video frames, 1 for images and region crops) and shared
between the images of one call (`budget_max_pixels`).
"""

import numpy as np
from transformers.image_utils import SizeDict
from transformers.models.video_llama_3.image_processing_pil_video_llama_3 import (
    VideoLlama3ImageProcessorPil,
    smart_resize,
)

PATCH_AREA = 14 * 14


def budget_max_pixels(mm_max_length: int, spatial_merge_size: int, merge_size: int, num_images: int) -> int:
    """The original's `max_pixels` of each of `num_images` images preprocessed together with merge `merge_size`.

    >>> budget_max_pixels(64, 2, 2, 4)  # four video frames of the tiny fixture
    12544
    >>> budget_max_pixels(64, 2, 1, 2)  # two region crops
    6272
    """
    if num_images < 1:
        raise ValueError(f"num_images must be at least 1, got {num_images}.")
    if merge_size < 1 or spatial_merge_size < 1:
        raise ValueError(f"merge sizes must be at least 1, got {merge_size} and {spatial_merge_size}.")
    total = int(mm_max_length) * spatial_merge_size**2 * PATCH_AREA
    return int(total / (spatial_merge_size / merge_size) ** 2) // int(num_images)


class VideoReferVL3ImageProcessor(VideoLlama3ImageProcessorPil):
    r"""
    The native VideoLLaMA3 PIL image processor, resizing in the original's axis order (see the module docstring).

    Returns (as the native one) `pixel_values` `(sum of h*w, 3 * 14 * 14)`, `image_grid_thw` `(num_images, 3)` and
    `image_merge_sizes` `(num_images,)`.

    Example:

    ```python
    >>> processor = VideoReferVL3ImageProcessor(image_mean=[0.5] * 3, image_std=[0.5] * 3, min_pixels=3136)
    >>> out = processor([frame], size={"shortest_edge": 3136, "longest_edge": 12544}, merge_size=2)
    >>> out["pixel_values"].shape  # (h * w, 588)
    ```
    """

    def resize(self, image: np.ndarray, size: SizeDict, resample, factor: int, **kwargs) -> np.ndarray:
        """Smart-resize a `(channels, height, width)` image; a growing width is resized after the height."""
        if not size.shortest_edge or not size.longest_edge:
            raise ValueError(f"`size` must hold 'shortest_edge' and 'longest_edge' (min / max pixels), got {size}.")
        height, width = image.shape[-2:]
        new_height, new_width = smart_resize(
            height, width, factor=factor, min_pixels=size.shortest_edge, max_pixels=size.longest_edge
        )
        resize_pil = super(VideoLlama3ImageProcessorPil, self).resize
        if new_width > width and new_height != height:
            image = resize_pil(image, size=SizeDict(height=new_height, width=width), resample=resample)
        return resize_pil(image, size=SizeDict(height=new_height, width=new_width), resample=resample)


__all__ = ["VideoReferVL3ImageProcessor", "budget_max_pixels"]

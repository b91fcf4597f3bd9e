# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""A `Sam2VideoProcessor` without torchvision: plain torch resize and normalisation behind the same interface.

`Sam2VideoProcessor`'s own image and video processors are torchvision-backed; the SAM2 tracker of the demo uses
:func:`build_torch_sam2_processor` where torchvision is not installed (and the tests use it everywhere).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import Sam2VideoProcessor
from transformers.feature_extraction_utils import BatchFeature
from transformers.image_processing_base import ImageProcessingMixin
from transformers.image_utils import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from transformers.video_processing_utils import VideoProcessorMixin

__all__ = ["TorchBackedSam2VideoProcessor", "TorchSam2ImageProcessor", "TorchSam2VideoProcessor", "build_torch_sam2_processor"]




class TorchSam2ImageProcessor(ImageProcessingMixin):
    """The part of SAM2's image processor that `Sam2VideoProcessor` uses for video: `size` and mask upscaling."""

    model_input_names = ["pixel_values"]

    def __init__(self, size: Mapping[str, int] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = dict(size) if size is not None else {"height": 1024, "width": 1024}

    def post_process_masks(
        self,
        masks: Sequence[torch.Tensor | np.ndarray],
        original_sizes: Sequence[Sequence[int]] | torch.Tensor | np.ndarray,
        mask_threshold: float = 0.0,
        binarize: bool = True,
        *args: Any,
        **kwargs: Any,
    ) -> list[torch.Tensor]:
        """Upscale each `(N, C, h, w)` mask-logit tensor to its `(H, W)` original size; `> mask_threshold` if
        `binarize`. Hole/sprinkle filling and non-overlap constraints (the extra arguments) are not applied."""
        if isinstance(original_sizes, (torch.Tensor, np.ndarray)):
            original_sizes = original_sizes.tolist()
        output = []
        for mask, original_size in zip(masks, original_sizes):
            mask = torch.from_numpy(mask) if isinstance(mask, np.ndarray) else mask
            upscaled = F.interpolate(mask.float(), tuple(int(s) for s in original_size), mode="bilinear", align_corners=False)
            output.append(upscaled > mask_threshold if binarize else upscaled)
        return output


class TorchSam2VideoProcessor(VideoProcessorMixin):
    """SAM2 video preprocessing in plain torch: resize to `size` (bilinear, antialiased), scale to [0, 1],
    normalise with `image_mean`/`image_std`. Returns `pixel_values_videos` `(1, T, 3, S, S)` and
    `original_sizes` `[[H, W]]`, as `Sam2VideoProcessor.init_video_session` expects."""

    model_input_names = ["pixel_values_videos"]

    def __init__(
        self,
        size: Mapping[str, int] | None = None,
        image_mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
        image_std: Sequence[float] = IMAGENET_DEFAULT_STD,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.size = dict(size) if size is not None else {"height": 1024, "width": 1024}
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)

    def __call__(
        self,
        videos: np.ndarray | torch.Tensor,
        device: str | torch.device | None = None,
        return_tensors: str | None = "pt",
        **kwargs: Any,
    ) -> BatchFeature:
        """`videos`: one clip, `(T, H, W, 3)` uint8 (numpy or torch)."""
        video = torch.as_tensor(np.asarray(videos)) if not isinstance(videos, torch.Tensor) else videos
        if video.ndim != 4 or video.shape[-1] != 3:
            raise ValueError(f"expected one clip of shape (T, H, W, 3), got {tuple(video.shape)}")
        height, width = int(video.shape[1]), int(video.shape[2])
        pixels = video.to(device or "cpu").permute(0, 3, 1, 2).float()
        pixels = F.interpolate(
            pixels, (self.size["height"], self.size["width"]), mode="bilinear", align_corners=False, antialias=True
        )
        pixels = pixels / 255.0
        mean = torch.tensor(self.image_mean, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
        std = torch.tensor(self.image_std, dtype=pixels.dtype, device=pixels.device).view(1, 3, 1, 1)
        pixels = (pixels - mean) / std
        return BatchFeature(
            {"pixel_values_videos": pixels.unsqueeze(0), "original_sizes": [[height, width]]},
            tensor_type=None,
        )


class TorchBackedSam2VideoProcessor(Sam2VideoProcessor):
    """`Sam2VideoProcessor` (all its prompt handling, sessions and post-processing) over the torch-only parts.

    Only the sub-processor class check differs: without torchvision, transformers does not export
    `VideoProcessorMixin` at top level, so `ProcessorMixin`'s name-based check cannot resolve it.
    """

    def check_argument_for_proper_class(self, argument_name: str, argument: Any) -> type:
        expected = {"image_processor": ImageProcessingMixin, "video_processor": VideoProcessorMixin}.get(argument_name)
        if expected is None:
            return super().check_argument_for_proper_class(argument_name, argument)
        if not isinstance(argument, expected):
            raise TypeError(f"{argument_name} must be a {expected.__name__}, got {type(argument).__name__}")
        return expected


def build_torch_sam2_processor(
    image_size: int = 1024,
    image_mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
    image_std: Sequence[float] = IMAGENET_DEFAULT_STD,
) -> Sam2VideoProcessor:
    """A real `Sam2VideoProcessor` whose image/video parts are the torch-only ones above (no torchvision).

    Args:
        image_size: side of the square model input (`Sam2VideoConfig.image_size`, 1024 for released SAM2).
        image_mean, image_std: per-channel normalisation of [0, 1] pixels.
    """
    size = {"height": int(image_size), "width": int(image_size)}
    return TorchBackedSam2VideoProcessor(
        image_processor=TorchSam2ImageProcessor(size=size),
        video_processor=TorchSam2VideoProcessor(size=size, image_mean=image_mean, image_std=image_std),
    )

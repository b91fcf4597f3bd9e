# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The image side of VideoRefer: SigLIP preprocessing on the PIL backend (the backend the original used), with the
original's optional padding to a square in the mean colour (`image_aspect_ratio="pad"`).

Both steps are transformers' own: `SiglipImageProcessorPil` resizes, rescales and normalises; the padding is
`LlavaImageProcessorPil.pad_to_square`, which centres the frame on a square canvas exactly as the original's
`expand2square` (offsets `(side - height) // 2` and `(side - width) // 2`, uint8 fill `int(mean * 255)`).
"""

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from transformers.image_processing_utils import BaseImageProcessor
from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil
from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

from .conversion_videorefer import KNOWN_VISION_PREPROCESSORS, locate_vision_tower_folder

# The settings of `SiglipImageProcessorPil` that decide its output (what a video processor must share with it).
PIL_PREPROCESSING_KEYS = (
    "do_convert_rgb",
    "do_resize",
    "size",
    "resample",
    "do_rescale",
    "rescale_factor",
    "do_normalize",
    "image_mean",
    "image_std",
)


def as_pil_image_processor(image_processor: BaseImageProcessor) -> SiglipImageProcessorPil:
    """The same SigLIP preprocessing settings on the PIL backend (the backend the original used)."""
    if isinstance(image_processor, SiglipImageProcessorPil):
        return image_processor
    settings = {
        key: value
        for key, value in image_processor.to_dict().items()
        if not key.startswith("_") and key not in ("image_processor_type", "processor_class", "backend")
    }
    return SiglipImageProcessorPil(**settings)


def image_processor_for_vision_tower(
    tower: str | None, image_size: int, source: str | os.PathLike | None = None, **hub_kwargs: Any
) -> SiglipImageProcessorPil:
    """SigLIP preprocessing (PIL backend, as the original) of the vision tower `tower` names.

    A known Hub name needs no download; a folder (absolute, or relative to `source`) is read when it has a
    `preprocessor_config.json`; a folder inside the Hub repository `source`, or another Hub name, is fetched.
    Otherwise SigLIP's defaults at `image_size` (bicubic resize, rescale 1/255, mean = std = 0.5).
    """
    if tower in KNOWN_VISION_PREPROCESSORS:
        settings = dict(KNOWN_VISION_PREPROCESSORS[tower])
        settings.pop("image_processor_type")
        return SiglipImageProcessorPil(**settings)
    if tower:
        folder = locate_vision_tower_folder(tower, source)
        source_is_hub_repo = source is not None and not os.path.isdir(str(source))
        if folder is not None:
            if os.path.isfile(os.path.join(folder, "preprocessor_config.json")):
                return SiglipImageProcessorPil.from_pretrained(folder)
        elif tower.startswith(("./", "../")):
            if source_is_hub_repo:
                subfolder = os.path.normpath(tower).replace(os.sep, "/")
                return SiglipImageProcessorPil.from_pretrained(str(source), subfolder=subfolder, **hub_kwargs)
        elif not os.path.isabs(tower):
            return SiglipImageProcessorPil.from_pretrained(tower, **hub_kwargs)
    return SiglipImageProcessorPil(
        size={"height": image_size, "width": image_size}, resample=3, image_mean=[0.5] * 3, image_std=[0.5] * 3
    )


def pad_frames_to_square(frames: Sequence[np.ndarray], image_mean: Sequence[float]) -> list[np.ndarray]:
    """Pad `(height, width, 3)` uint8 frames to `(side, side, 3)`, side = max(height, width), centred on a canvas of
    the colour `int(mean * 255)` per channel (the original's `expand2square`), with `LlavaImageProcessorPil`'s
    `pad_to_square`."""
    fill = tuple(int(x * 255) for x in image_mean)
    padder = LlavaImageProcessorPil()
    return [np.ascontiguousarray(padder.pad_to_square(frame.transpose(2, 0, 1), fill).transpose(1, 2, 0)) for frame in frames]


def preprocess_frames(
    image_processor: SiglipImageProcessorPil,
    frames: Sequence[np.ndarray],
    pad_to_square: bool = False,
    overrides: dict[str, Any] | None = None,
) -> torch.Tensor:
    """`(height, width, 3)` uint8 frames -> `(num_frames, 3, size, size)` pixel values through the PIL SigLIP path
    (padded to a square in the mean colour first when `pad_to_square`); `overrides` are SigLIP settings for this
    call (`do_rescale`, `rescale_factor`, `image_mean`, ...)."""
    from PIL import Image

    if pad_to_square:
        frames = pad_frames_to_square(frames, image_processor.image_mean)
    images = [Image.fromarray(frame) for frame in frames]
    return image_processor(images, return_tensors="pt", **(overrides or {}))["pixel_values"]


__all__ = ["as_pil_image_processor", "image_processor_for_vision_tower", "pad_frames_to_square", "preprocess_frames"]

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The image side of VideoRefer: SigLIP preprocessing on the PIL backend (the backend the original used), with the
original's optional padding to a square in the mean colour (`image_aspect_ratio="pad"`).

Both steps are transformers' own: `SiglipImageProcessorPil` resizes, rescales and normalises; the padding is
`LlavaImageProcessorPil.pad_to_square`, which centres the frame on a square canvas exactly as the original's
`expand2square` (offsets `(side - height) // 2` and `(side - width) // 2`, uint8 fill `int(mean * 255)`).
`preprocess_frames` computes the processor's pixel values bit for bit with less work per frame (one PIL resize per
frame on a thread pool, rescale + normalise as a lookup in a table the processor's own methods fill).
"""

import functools
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from transformers.image_processing_utils import BaseImageProcessor
from transformers.image_utils import PILImageResampling, SizeDict
from transformers.models.llava.image_processing_pil_llava import LlavaImageProcessorPil
from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

from ...inputs.media import Clip, map_frames
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


@functools.lru_cache(maxsize=1)
def _square_padder() -> LlavaImageProcessorPil:
    return LlavaImageProcessorPil()


def pad_frames_to_square(frames: Sequence[np.ndarray], image_mean: Sequence[float]) -> list[np.ndarray]:
    """Pad `(height, width, 3)` uint8 frames to `(side, side, 3)`, side = max(height, width), centred on a canvas of
    the colour `int(mean * 255)` per channel (the original's `expand2square`), with `LlavaImageProcessorPil`'s
    `pad_to_square`."""
    fill = tuple(int(x * 255) for x in image_mean)
    padder = _square_padder()
    return [np.ascontiguousarray(padder.pad_to_square(frame.transpose(2, 0, 1), fill).transpose(1, 2, 0)) for frame in frames]


def pixel_value_table(image_processor: SiglipImageProcessorPil, settings: dict[str, Any]) -> np.ndarray | None:
    """`(3, 256)`: the pixel value each uint8 value of each channel becomes after the processor's own rescale and
    normalise (its methods, run on the 256 values), so that looking pixels up in it gives its output bit for bit;
    None when neither step runs (the output stays uint8)."""
    values = np.broadcast_to(np.arange(256, dtype=np.uint8), (3, 1, 256)).copy()  # (channels, 1, 256), as CHW
    table: np.ndarray = values
    if settings["do_rescale"]:
        table = image_processor.rescale(table, settings["rescale_factor"])
    if settings["do_normalize"]:
        table = image_processor.normalize(table, settings["image_mean"], settings["image_std"])
    return None if table is values else np.ascontiguousarray(table[:, 0])


def _frame_settings(image_processor: SiglipImageProcessorPil, overrides: dict[str, Any]) -> dict[str, Any] | None:
    """The processor's settings for this call, or None where the direct path does not apply (center crop, padding,
    a size rule other than height x width): those calls take the processor's own path."""
    names = ("do_resize", "size", "resample", "do_rescale", "rescale_factor", "do_normalize", "image_mean", "image_std")
    settings = {name: overrides.get(name, getattr(image_processor, name, None)) for name in names}
    unsupported = set(overrides) - set(names) - {"do_convert_rgb"}
    if unsupported or getattr(image_processor, "do_center_crop", None) or getattr(image_processor, "do_pad", None):
        return None
    size = settings["size"]
    size = size if isinstance(size, SizeDict) else SizeDict(**size) if isinstance(size, dict) else None
    if settings["do_resize"] and (size is None or not (size.height and size.width)):
        return None
    settings["size"] = size
    resample = settings["resample"]
    if settings["do_resize"] and not isinstance(resample, (PILImageResampling, int)):
        return None
    return settings


def _resized(frame: np.ndarray, settings: dict[str, Any]) -> np.ndarray:
    """One `(height, width, 3)` uint8 frame resized with PIL as the processor's `resize` does (same call)."""
    from PIL import Image

    if not settings["do_resize"]:
        return frame
    size = settings["size"]
    resample = settings["resample"] if settings["resample"] is not None else PILImageResampling.BILINEAR
    return np.asarray(Image.fromarray(frame).resize((size.width, size.height), resample=resample))


class FramePreprocessor:
    """One call's SigLIP preprocessing (an image processor's settings, `overrides` for this call, optional padding to a
    square), applied frame by frame: `(height, width, 3)` uint8 frames -> `(3, size, size)` rows of pixel values.

    Bit for bit the output of `image_processor(frames)`, computed with less work: each frame goes from its array to
    PIL once and is resized there (PIL releases the GIL, so frames run on threads), and rescale + normalise become
    one lookup in `pixel_value_table` instead of float64 / float32 passes over every pixel. Settings the direct path
    does not cover (center crop, a size rule other than height x width) take the processor's own call (`direct` is
    False then; `rows` runs it).

    Two preprocessors with equal `key`s give equal rows for equal frames.
    """

    def __init__(
        self, image_processor: SiglipImageProcessorPil, pad_to_square: bool = False, overrides: dict[str, Any] | None = None
    ):
        self.image_processor = image_processor
        self.pad_to_square = bool(pad_to_square)
        self.overrides = dict(overrides or {})
        self.settings = _frame_settings(image_processor, self.overrides)
        self.direct = self.settings is not None
        self.table = pixel_value_table(image_processor, self.settings) if self.direct else None
        self.key = self._key()

    def _key(self) -> tuple:
        """What decides the rows of the direct path: the resize, the value table and the padding colour (a
        preprocessor off the direct path shares its rows with no other)."""
        if not self.direct:
            return ("own call", id(self))
        size, resample, resize = self.settings["size"], self.settings["resample"], bool(self.settings["do_resize"])
        return (
            resize,
            (size.height, size.width) if resize else None,
            int(resample) if resize and resample is not None else None,
            None if self.table is None else (self.table.dtype.str, self.table.tobytes()),
            tuple(int(x * 255) for x in self.image_processor.image_mean) if self.pad_to_square else None,
        )

    def output(self, count: int, frame_size: tuple[int, int]) -> np.ndarray:
        """An empty `(count, 3, height, width)` array for the rows of `count` frames of `frame_size` (direct path)."""
        size = self.settings["size"]
        height, width = (size.height, size.width) if self.settings["do_resize"] else self._padded_size(frame_size)
        return np.empty((count, 3, height, width), dtype=np.uint8 if self.table is None else self.table.dtype)

    def fill(self, output: np.ndarray, row: int, frame: np.ndarray) -> None:
        """Preprocess one `(height, width, 3)` uint8 frame into `output[row]` (direct path)."""
        if self.pad_to_square:
            frame = pad_frames_to_square([frame], self.image_processor.image_mean)[0]
        resized = _resized(frame, self.settings)  # (height, width, 3) uint8
        for channel in range(3):
            if self.table is None:
                output[row, channel] = resized[..., channel]
            else:
                np.take(self.table[channel], resized[..., channel], out=output[row, channel])

    def rows(self, frames: Sequence[Any]) -> torch.Tensor:
        """`(num_frames, 3, height, width)` pixel values of `frames` (arrays or PIL images, of any sizes)."""
        from PIL import Image

        frames = list(frames)
        direct = self.direct and bool(frames) and all(_is_rgb_uint8(frame) for frame in frames)
        if direct and not self.settings["do_resize"]:
            direct = len({self._padded_size(frame.shape[:2]) for frame in frames}) == 1  # else the processor decides
        if not direct:
            if self.pad_to_square:
                frames = pad_frames_to_square([np.asarray(frame) for frame in frames], self.image_processor.image_mean)
            images = [Image.fromarray(frame) if isinstance(frame, np.ndarray) else frame for frame in frames]
            return self.image_processor(images, return_tensors="pt", **self.overrides)["pixel_values"]
        output = self.output(len(frames), frames[0].shape[:2])
        map_frames(lambda row: self.fill(output, row, frames[row]), range(len(frames)))
        return torch.from_numpy(output)

    def _padded_size(self, frame_size: tuple[int, int]) -> tuple[int, int]:
        """A frame's `(height, width)` after the optional padding to a square."""
        return (max(frame_size),) * 2 if self.pad_to_square else tuple(frame_size)


def _is_rgb_uint8(frame: Any) -> bool:
    return isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[-1] == 3


def preprocess_frames(
    image_processor: SiglipImageProcessorPil,
    frames: Sequence[np.ndarray],
    pad_to_square: bool = False,
    overrides: dict[str, Any] | None = None,
) -> torch.Tensor:
    """`(height, width, 3)` uint8 frames -> `(num_frames, 3, size, size)` pixel values through the PIL SigLIP path
    (padded to a square in the mean colour first when `pad_to_square`); `overrides` are SigLIP settings for this
    call (`do_rescale`, `rescale_factor`, `image_mean`, ...). Bit for bit `image_processor(frames)`: see
    `FramePreprocessor`. Inputs other than `(height, width, 3)` uint8 arrays take the processor's own call.
    """
    return FramePreprocessor(image_processor, pad_to_square, overrides).rows(list(frames))


def preprocess_clip_frames(clip: Clip, requests: Sequence[tuple[FramePreprocessor, Sequence[int]]]) -> list[torch.Tensor]:
    """Read the frames of `clip` that `requests` name and preprocess each while the next ones are read.

    Args:
        clip: an opened clip (`inputs.media.open_clip`).
        requests: `(preprocessor, frame_indices)` pairs: the rows wanted, frame indices of the clip (repeats
            allowed, as uniform sampling of a short clip gives).

    Returns:
        One `(len(frame_indices), 3, height, width)` tensor per request, in order.

    Frames are read in one pass over the clip, and a frame that two requests with equal `FramePreprocessor.key`s
    both name (a region's frame among the sampled ones) is read and preprocessed once. A clip whose reads depend on
    their history (`Clip.reads_depend_on_history`: video files) is read one request after the other instead, each
    request's frames in one pass, as the original reads the sampled frames and then the region frames.
    """
    outputs: list[np.ndarray | None] = []
    collected: list[dict[int, np.ndarray]] = []  # frames of the requests that take the processor's own call
    for preprocessor, indices in requests:
        outputs.append(preprocessor.output(len(indices), (clip.height, clip.width)) if preprocessor.direct else None)
        collected.append({})
    numbers = list(range(len(requests)))
    for group in [[number] for number in numbers] if clip.reads_depend_on_history else [numbers]:
        _fill_in_one_pass(clip, requests, group, outputs, collected)
    results = []
    for number, (preprocessor, indices) in enumerate(requests):
        if outputs[number] is None:
            results.append(preprocessor.rows([collected[number][int(index)] for index in indices]))
        else:
            results.append(torch.from_numpy(outputs[number]))
    return results


def _fill_in_one_pass(
    clip: Clip,
    requests: Sequence[tuple[FramePreprocessor, Sequence[int]]],
    group: Sequence[int],
    outputs: list[np.ndarray | None],
    collected: list[dict[int, np.ndarray]],
) -> None:
    """One `for_each_frame` pass over the frames the requests numbered `group` name: each frame's rows filled (or the
    frame kept, for a request off the direct path), a frame's row computed once per preprocessing `key`."""
    owner: dict[tuple, int] = {}  # preprocessing key -> the first request of the group with it
    wanted: dict[int, list[tuple[int, int]]] = {}  # frame index -> the (request, row) pairs that want it
    for number in group:
        preprocessor, indices = requests[number]
        owner.setdefault(preprocessor.key, number)
        for row, index in enumerate(indices):
            wanted.setdefault(int(index), []).append((number, row))

    def process(index: int, frame: np.ndarray) -> None:
        done: dict[int, tuple[int, int]] = {}  # owner request -> the (request, row) already holding this frame's row
        for number, row in wanted[index]:
            preprocessor, output = requests[number][0], outputs[number]
            if output is None:
                collected[number][index] = frame
                continue
            first = done.get(owner[preprocessor.key])
            if first is None:
                preprocessor.fill(output, row, frame)
                done[owner[preprocessor.key]] = (number, row)
            else:
                output[row] = outputs[first[0]][first[1]]

    clip.for_each_frame(list(wanted), process)


__all__ = [
    "FramePreprocessor",
    "as_pil_image_processor",
    "image_processor_for_vision_tower",
    "pad_frames_to_square",
    "pixel_value_table",
    "preprocess_clip_frames",
    "preprocess_frames",
]

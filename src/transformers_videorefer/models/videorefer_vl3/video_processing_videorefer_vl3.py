# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Frame sampling of VideoRefer-VideoLLaMA3 and VideoLLaMA3's frame-difference token compression.

Sampling follows the original's `load_video`:

- Frame folders (and frame lists / arrays) count as 3 fps, gifs as 25 fps. With `fps` given and
  `frames / clip_fps < max_frames`, every `clip_fps // fps`-th frame is taken starting at half that step; a step of 0
  (`fps` above the clip's rate) falls back, as the original's exception handler does, to the uniform rule. The
  uniform rule: every frame when there are at most `max_frames`, else `linspace(0, n - 1, max_frames)` truncated.
  Timestamps are `index / clip_fps`.
- Video files: the original decodes with ffmpeg's `fps` filter (`round=down`); here decord's frame timestamps give
  the same frames: output slot k of the filter holds the last frame whose `floor(t * fps)` is at most k, for the
  slots from the first frame's to `floor(end * fps)`. Timestamps are `start + k / fps`. Without `fps`, every frame,
  timestamps spread linearly from the start to the end (decord's end of the last frame; the original reads the
  container's duration). More than `max_frames` frames are thinned with `linspace` as above.

The compression mask is the rule of transformers' native `VideoLlama3VideoProcessor._get_compression_mask` (that
module needs torchvision, so it is restated here): a merged token of frame t >= 1 is kept when the mean absolute
difference of its normalised pixel values from frame t - 1, times 255, exceeds 0.1; frame 0 is kept whole and a
frame with nothing kept keeps its first token. Images and one-frame videos keep everything.
"""

import math
from dataclasses import dataclass

import numpy as np
import torch

from ...inputs.media import (
    ArrayClip,
    Clip,
    FolderClip,
    GifClip,
    ImageFilesClip,
    VideoFileClip,
)

FOLDER_FPS = 3
GIF_FPS = 25
DEFAULT_MAX_FRAMES = 768
COMPRESSION_THRESHOLD = 0.1


@dataclass
class SampledClip:
    """The frames of a clip chosen for the model.

    Attributes:
        indices: source frame index of each sampled frame.
        timestamps: its time in seconds, as the prompt's `Time t s:` shows it.
    """

    indices: list[int]
    timestamps: list[float]


def check_sampling(fps: float | None, max_frames: int | None) -> tuple[float | None, int]:
    """Validated `(fps, max_frames)`; `max_frames` None is the original's 768.

    Raises:
        ValueError: `fps <= 0` or `max_frames < 1`.
    """
    if fps is not None:
        if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)):
            raise TypeError(f"fps must be a number of frames per second, got {type(fps).__name__}.")
        if not math.isfinite(float(fps)) or fps <= 0:
            raise ValueError(f"fps must be a positive number of frames per second, got {fps}.")
    if max_frames is None:
        max_frames = DEFAULT_MAX_FRAMES
    if isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer)) or max_frames < 1:
        raise ValueError(f"max_frames must be an int of at least 1, got {max_frames!r}.")
    return fps, int(max_frames)


def uniform_indices(num_frames: int, max_frames: int) -> list[int]:
    """All frames when there are at most `max_frames`, else `linspace(0, n - 1, max_frames)` truncated to ints."""
    if num_frames <= max_frames:
        return list(range(num_frames))
    return np.linspace(0, num_frames - 1, max_frames, dtype=int).tolist()


def sample_fixed_rate(num_frames: int, clip_fps: float, fps: float | None, max_frames: int) -> SampledClip:
    """Sampling of a clip with a fixed frame rate (frame folders: 3, gifs: 25), as the original.

    >>> sample_fixed_rate(12, 3, 1, 768).indices
    [1, 4, 7, 10]
    >>> sample_fixed_rate(12, 3, 4, 6).indices  # step 3 // 4 = 0: the original's uniform fallback
    [0, 2, 4, 6, 8, 11]
    """
    indices = None
    if fps is not None and num_frames / clip_fps < max_frames:
        step = min(clip_fps // fps, num_frames)
        if step > 0:
            indices = np.arange(step // 2, num_frames, step, dtype=int).tolist()
    if indices is None:
        indices = uniform_indices(num_frames, max_frames)
    return SampledClip(indices, [index / clip_fps for index in indices])


def sample_timed(frame_times: np.ndarray, end_time: float, fps: float | None, max_frames: int) -> SampledClip:
    """Sampling of a video file whose frame `k` starts at `frame_times[k]` seconds (the first is the stream's start)
    and which ends at `end_time`, as ffmpeg's `fps` filter (`round=down`) and the original's thinning give it.

    >>> sample_timed(np.arange(18) / 6, 3.0, 2, 4).indices  # 6 fps, 3 s, fps 2 -> 6 frames -> 4
    [2, 5, 11, 17]
    """
    times = np.asarray(frame_times, dtype=np.float64)
    start = float(times[0])
    if fps is None:
        indices = list(range(len(times)))
        timestamps = np.linspace(start, end_time, len(times)).tolist()
    else:
        slots = np.floor(times * fps + 1e-9).astype(np.int64)
        first, last = int(slots[0]), math.floor(end_time * fps + 1e-9)
        outputs = range(first, max(last, first + 1))
        indices = [max(int(np.searchsorted(slots, slot, side="right")) - 1, 0) for slot in outputs]
        timestamps = [start + k / fps for k in range(len(indices))]
    if len(indices) > max_frames:
        keep = np.linspace(0, len(indices) - 1, max_frames, dtype=int).tolist()
        indices, timestamps = [indices[k] for k in keep], [timestamps[k] for k in keep]
    return SampledClip(indices, [float(t) for t in timestamps])


def sample_clip(clip: Clip, fps: float | None, max_frames: int | None) -> SampledClip:
    """The original's frame choice for `clip` (see the module docstring)."""
    fps, max_frames = check_sampling(fps, max_frames)
    if isinstance(clip, VideoFileClip):
        times = clip.frame_times()
        return sample_timed(times[:, 0], float(times[-1, 1]), fps, max_frames)
    clip_fps = GIF_FPS if isinstance(clip, GifClip) else FOLDER_FPS
    if not isinstance(clip, (ArrayClip, FolderClip, ImageFilesClip, GifClip)):
        raise TypeError(f"Cannot sample frames of a {type(clip).__name__}.")
    return sample_fixed_rate(clip.num_frames, clip_fps, fps, max_frames)


def compression_mask(pixel_values: torch.Tensor, num_frames: int, merge_size: int) -> torch.Tensor:
    """Which merged tokens of one video survive the frame-difference compression.

    Args:
        pixel_values: `(num_frames * h * w, C * 14 * 14)`, frames of one size, each in merge-block order.
        num_frames: frames of the video.
        merge_size: its merge size (every `merge_size ** 2` rows form one merged token).

    Returns:
        `(num_frames * h * w / merge_size ** 2,)` bool.
    """
    tokens = pixel_values.shape[0] // (num_frames * merge_size**2)
    if num_frames == 1:
        return torch.ones(tokens, dtype=torch.bool)
    frames = pixel_values.reshape(num_frames, tokens, -1)
    difference = (frames[1:] - frames[:-1]).abs().mean(dim=-1) * 255
    keep = torch.cat([torch.ones_like(difference[:1], dtype=torch.bool), difference > COMPRESSION_THRESHOLD])
    keep[keep.sum(dim=1) < 1, 0] = True
    return keep.flatten()


__all__ = [
    "SampledClip",
    "check_sampling",
    "compression_mask",
    "sample_clip",
    "sample_fixed_rate",
    "sample_timed",
    "uniform_indices",
]

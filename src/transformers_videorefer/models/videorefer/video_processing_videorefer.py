# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoReferVideoProcessor: a clip -> the original's uniformly sampled frames -> SigLIP pixel values.

Media are opened with the package's readers (`inputs/media.py`: video files through decord, frame folders, gifs,
frame lists, arrays), frames are sampled with the original's rule (`sample_frame_indices`), and each frame goes
through the same PIL SigLIP path as images (optionally padded to a square first), so that the pixel values are
those of the original bit for bit. Nothing here calls torchvision.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from transformers import BatchFeature
from transformers.image_processing_utils import BaseImageProcessor
from transformers.image_utils import IMAGENET_STANDARD_MEAN, IMAGENET_STANDARD_STD, PILImageResampling
from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil
from transformers.video_processing_utils import BaseVideoProcessor
from transformers.video_utils import VideoMetadata

from ...inputs.media import Clip, open_clip, sample_frame_indices
from .image_processing_pil_videorefer import PIL_PREPROCESSING_KEYS, FramePreprocessor, preprocess_clip_frames

# The frame settings a call may change (they change pixel values, never the number of frames or tokens).
PIXEL_OVERRIDES = ("do_convert_rgb", "resample", "do_rescale", "rescale_factor", "do_normalize", "image_mean", "image_std")


def is_frame(value: Any) -> bool:
    """Whether `value` is one frame (a PIL image or an (H, W, C) array / tensor) rather than a whole video."""
    from PIL import Image

    return isinstance(value, Image.Image) or (isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 3)


def channels_last(video: Any) -> Any:
    """A decoded video given channels first, `(T, 3, H, W)` (or `(T, 1, H, W)`), as transformers' video utils
    accept it -> `(T, H, W, 3)`; anything else unchanged."""
    if isinstance(video, (np.ndarray, torch.Tensor)) and video.ndim == 4 and video.shape[1] in (1, 3) and video.shape[-1] not in (1, 3):
        video = video.permute(0, 2, 3, 1) if isinstance(video, torch.Tensor) else np.moveaxis(video, 1, -1)
        if video.shape[-1] == 1:
            video = video.repeat(1, 1, 1, 3) if isinstance(video, torch.Tensor) else np.repeat(video, 3, axis=-1)
    return video


def as_video_list(videos: Any) -> list:
    """One item per video. A list of frames (PIL images or (H, W, 3) arrays) is ONE video; several videos given as
    frame lists are wrapped in an outer list."""
    if videos is None:
        return []
    if isinstance(videos, (list, tuple)) and videos and all(is_frame(v) for v in videos):
        return [videos]
    if isinstance(videos, (list, tuple)):
        return list(videos)
    return [videos]


def as_media_list(media: Any, name: str, expected: int) -> list:
    """`images` or `videos` (per `name`) of a processor call as a list, one item per `<image>` / `<video>` marker of
    the prompts; `expected` is the number of those markers."""
    if name == "videos":
        items = as_video_list(media)
    else:
        items = [] if media is None else list(media) if isinstance(media, (list, tuple)) else [media]
    if len(items) != expected:
        marker = "<image>" if name == "images" else "<video>"
        raise ValueError(
            f"Got {len(items)} {name} but the prompts hold {expected} {marker} marker(s): give one {name[:-1]} per "
            f"{marker} marker (apply_chat_template writes the marker for a {{'type': '{name[:-1]}'}} entry)."
        )
    return items


class VideoReferVideoProcessor(BaseVideoProcessor):
    r"""
    Samples `num_frames` frames of each clip as the original VideoRefer does and preprocesses them like images.

    Args:
        num_frames (`int`, defaults to 16): frames sampled per video (overridable per call).
        do_pad (`bool`, defaults to `False`): pad each frame to a square in the mean colour before resizing (the
            original's `image_aspect_ratio="pad"`).
        size, resample, do_rescale, rescale_factor, do_normalize, image_mean, image_std, do_resize,
            do_convert_rgb: SigLIP's preprocessing settings (as `SiglipImageProcessorPil`).

    Example:

    ```python
    >>> video_processor = VideoReferVideoProcessor(size={"height": 384, "width": 384}, num_frames=16)
    >>> video_processor(["dog.mp4"])["pixel_values_videos"].shape
    torch.Size([1, 16, 3, 384, 384])
    ```
    """

    resample = PILImageResampling.BICUBIC
    image_mean = IMAGENET_STANDARD_MEAN
    image_std = IMAGENET_STANDARD_STD
    size = {"height": 384, "width": 384}
    do_resize = True
    do_rescale = True
    rescale_factor = 1 / 255
    do_normalize = True
    do_convert_rgb = True
    do_pad = False
    do_sample_frames = True
    num_frames = 16
    model_input_names = ["pixel_values_videos"]

    @classmethod
    def from_image_processor(
        cls, image_processor: BaseImageProcessor, num_frames: int = 16, do_pad: bool = False
    ) -> "VideoReferVideoProcessor":
        """The video processor that preprocesses frames exactly as `image_processor` (its SigLIP settings)."""
        settings = image_processor.to_dict()
        settings = {key: settings[key] for key in PIL_PREPROCESSING_KEYS if settings.get(key) is not None}
        return cls(num_frames=int(num_frames), do_pad=bool(do_pad), **settings)

    def frame_processor(self, overrides: dict[str, Any] | None = None) -> SiglipImageProcessorPil:
        """The PIL SigLIP image processor with this processor's preprocessing settings (`overrides` replacing some)."""
        settings = {key: getattr(self, key) for key in PIL_PREPROCESSING_KEYS if getattr(self, key, None) is not None}
        settings.update(overrides or {})
        settings["size"] = {"height": int(self.size["height"]), "width": int(self.size["width"])}
        settings["image_mean"], settings["image_std"] = list(settings["image_mean"]), list(settings["image_std"])
        return SiglipImageProcessorPil(**settings)

    def sample_frames(self, metadata: VideoMetadata, num_frames: int | None = None, **kwargs) -> list[int]:
        """The indices of the original's uniform sampling (`sample_frame_indices`) of a clip of
        `metadata.total_num_frames` frames: `num_frames` (default: `self.num_frames`) indices, repeats for short clips."""
        if kwargs:
            raise TypeError(f"VideoReferVideoProcessor.sample_frames got unexpected arguments: {sorted(kwargs)}.")
        count = self.num_frames if num_frames is None else int(num_frames)
        return sample_frame_indices(int(metadata.total_num_frames), count)

    def clip_metadata(self, clip: Clip, num_frames: int | None = None, do_sample_frames: bool | None = None) -> VideoMetadata:
        """The `VideoMetadata` of an opened clip, with `frames_indices` the frames the model sees: the sampled ones
        (every frame, in order, when sampling is off: `do_sample_frames=False`)."""
        metadata = VideoMetadata(total_num_frames=clip.num_frames, height=clip.height, width=clip.width)
        sample = self.do_sample_frames if do_sample_frames is None else do_sample_frames
        if sample:
            metadata.frames_indices = self.sample_frames(metadata, num_frames=num_frames)
        else:
            metadata.frames_indices = list(range(clip.num_frames))
        return metadata

    def sample_clip(
        self, video: Any, num_frames: int | None = None, do_sample_frames: bool | None = None
    ) -> tuple[list[np.ndarray], VideoMetadata]:
        """Open `video` (see `inputs.media.open_clip`) and read its sampled frames, `(height, width, 3)` uint8 each
        (every frame, in order, when sampling is off: `do_sample_frames=False`)."""
        clip = video if isinstance(video, Clip) else open_clip(channels_last(video))
        metadata = self.clip_metadata(clip, num_frames, do_sample_frames)
        return clip.get_frames(metadata.frames_indices), metadata

    def frame_preprocessor(self, do_pad: bool | None = None, overrides: dict[str, Any] | None = None) -> FramePreprocessor:
        """The per-frame preprocessing of this processor's settings (`overrides` replacing some) for one call."""
        pad = self.do_pad if do_pad is None else do_pad
        return FramePreprocessor(self.frame_processor(overrides), bool(pad), overrides)

    def clip_pixel_values(
        self,
        clip: Clip,
        num_frames: int | None = None,
        do_pad: bool | None = None,
        do_sample_frames: bool | None = None,
        overrides: dict[str, Any] | None = None,
        also: Sequence[tuple[FramePreprocessor, Sequence[int]]] = (),
    ) -> tuple[torch.Tensor, VideoMetadata, list[torch.Tensor]]:
        """The pixel values of an opened clip's sampled frames, `(num_frames, 3, height, width)`, and its metadata.

        Each frame is read once and preprocessed while the next ones are read (`preprocess_clip_frames`); `also`
        names more `(preprocessor, frame_indices)` rows wanted from the same clip (a region's frames), read in the
        same pass, returned third (a list, one tensor per request).
        """
        metadata = self.clip_metadata(clip, num_frames, do_sample_frames)
        requests = [(self.frame_preprocessor(do_pad, overrides), metadata.frames_indices), *also]
        pixels, *more = preprocess_clip_frames(clip, requests)
        return pixels, metadata, more

    def preprocess(
        self,
        videos: Any,
        num_frames: int | None = None,
        return_tensors: str | None = "pt",
        return_metadata: bool = False,
        do_pad: bool | None = None,
        do_sample_frames: bool | None = None,
        **kwargs,
    ) -> BatchFeature:
        r"""
        Args:
            videos: one video or a list of videos; a video is a file path (decord), a folder of frames, a gif, a list
                of frames, a `(T, H, W, 3)` array / tensor or an opened `Clip`.
            num_frames: frames sampled per video for this call (default: `self.num_frames`).
            return_tensors: `"pt"` (or None, which also gives torch tensors).
            return_metadata: also return each video's `VideoMetadata` (with `frames_indices`).
            do_pad: pad frames to a square for this call (default: `self.do_pad`).
            do_sample_frames: False keeps every frame of each video, in order (default: `self.do_sample_frames`).
            **kwargs: SigLIP settings for this call's frames: `do_convert_rgb`, `resample`, `do_rescale`,
                `rescale_factor`, `do_normalize`, `image_mean`, `image_std`.

        Returns:
            [`BatchFeature`] with `pixel_values_videos` `(num_videos, num_frames, 3, height, width)` (and
            `video_metadata`, a list of `VideoMetadata`, on request).
        """
        unknown = sorted(key for key in kwargs if key not in PIXEL_OVERRIDES)
        if unknown:
            raise TypeError(
                f"VideoReferVideoProcessor got unexpected arguments: {unknown}; it takes num_frames, do_sample_frames, "
                f"do_pad, return_tensors, return_metadata and the frame settings {list(PIXEL_OVERRIDES)}."
            )
        overrides = {key: value for key, value in kwargs.items() if value is not None}
        if return_tensors not in ("pt", None):
            raise ValueError(f"return_tensors must be 'pt' (or None, which also gives torch tensors), got {return_tensors!r}.")
        items = as_video_list(videos)
        if not items:
            raise ValueError("VideoReferVideoProcessor needs at least one video, got none.")
        pixels, metadata = [], []
        for video in items:
            clip = video if isinstance(video, Clip) else open_clip(channels_last(video))
            video_pixels, video_metadata, _ = self.clip_pixel_values(clip, num_frames, do_pad, do_sample_frames, overrides)
            pixels.append(video_pixels)
            metadata.append(video_metadata)
        stacked = pixels[0][None] if len(pixels) == 1 else torch.stack(pixels)  # one video: a view, no copy
        output = BatchFeature(data={"pixel_values_videos": stacked}, tensor_type="pt")
        if return_metadata:
            output["video_metadata"] = metadata
        return output

    def frames_to_pixel_values(
        self, frames: Sequence[np.ndarray], do_pad: bool | None = None, overrides: dict[str, Any] | None = None
    ) -> torch.Tensor:
        """Already read `(height, width, 3)` uint8 frames -> `(num_frames, 3, height, width)` pixel values."""
        return self.frame_preprocessor(do_pad, overrides).rows(list(frames))


__all__ = ["VideoReferVideoProcessor", "channels_last"]

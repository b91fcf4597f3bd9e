# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoReferVL3Processor: media + object masks + text -> the inputs of the VideoRefer-VideoLLaMA3 model.

Composed like transformers' processors: `VideoReferVL3ImageProcessor` (transformers' native VideoLLaMA3 PIL image
processor, resizing in the original's axis order) for frames, images and region crops, the frame sampling and token
compression of `video_processing_videorefer_vl3`, the region crops of `mask_processing_videorefer_vl3`, and the
tokenizer.
"""

import json
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Unpack

import numpy as np
import torch
from transformers import AutoTokenizer, BatchFeature
from transformers.configuration_utils import PreTrainedConfig
from transformers.processing_utils import ProcessingKwargs, ProcessorMixin, VideosKwargs
from transformers.utils import PROCESSOR_NAME, cached_file

from ...inputs.media import ArrayClip, Clip, load_image, open_clip
from .image_processing_videorefer_vl3 import (
    VideoReferVL3ImageProcessor,
    budget_max_pixels,
)
from .mask_processing_videorefer_vl3 import VideoReferVL3MaskProcessor, pad_grid_masks
from .video_processing_videorefer_vl3 import (
    DEFAULT_MAX_FRAMES,
    check_sampling,
    compression_mask,
    sample_clip,
)

REGION_MARKER = "<region>"
IMAGE_TOKEN = "<image>"
VIDEO_MARKER = "<video>"
REGION_TOKEN = "<REGION>"
CHAT_TEMPLATE_FILE = Path(__file__).with_name("chat_template.jinja")
DEFAULT_CHAT_TEMPLATE = CHAT_TEMPLATE_FILE.read_text(encoding="utf-8") if CHAT_TEMPLATE_FILE.is_file() else None
HUB_KWARGS = ("cache_dir", "token", "revision", "local_files_only", "force_download")
PREPROCESSOR_FILE = "preprocessor_config.json"
# What the original's image processor reads from the vision encoder's preprocessor config
PREPROCESSOR_KEYS = ("image_mean", "image_std", "min_pixels", "resample", "rescale_factor", "patch_size",
                     "do_resize", "do_rescale", "do_normalize", "do_convert_rgb")
SIGLIP_DEFAULTS = {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "min_pixels": 3136}
IGNORE_INDEX = -100
UNSUPPORTED_TEXT_OPTIONS = {
    "truncation": (None, False, "do_not_truncate"),
    "max_length": (None,),
    "pad_to_multiple_of": (None,),
    "padding": (None, True, False, "longest", "do_not_pad"),
}
ASSISTANT_TURN = re.compile(r"<\|im_start\|>assistant\n(.*?(?:<\|im_end\|>|$))", re.DOTALL)


class VideoReferVL3VideosKwargs(VideosKwargs, total=False):
    """Video kwargs of `VideoReferVL3Processor`: transformers' standard ones (`fps`) plus `max_frames`.

    Attributes:
        max_frames: at most this many frames per video (the original's 768 by default).
    """

    max_frames: int | None


class VideoReferVL3ProcessorKwargs(ProcessingKwargs, total=False):
    """The kwargs of `VideoReferVL3Processor.__call__`: transformers' standard groups, flat or nested.

    Attributes:
        return_labels: also return `labels` for training: the ids of the assistant turns' text (from after
            `<|im_start|>assistant\n` through its `<|im_end|>`), -100 elsewhere (prompt, placeholders, padding).
    """

    videos_kwargs: VideoReferVL3VideosKwargs
    return_labels: bool
    _defaults = {  # noqa: RUF012  (transformers' ProcessingKwargs idiom)
        "text_kwargs": {"padding": True, "padding_side": "left", "return_attention_mask": True},
        "videos_kwargs": {},
    }


@dataclass
class SampleMedia:
    """The visual inputs of one sample.

    Attributes:
        timestamps: per `<video>` marker, its frames' times (None for an image).
        pixel_values / grid_thw / merge_sizes / keep: the frames' patches, grids, merge sizes and compression mask.
        tokens_per_frame: merged visual tokens of each frame, in order.
        clip: the clip the sample's frames were read from (a one-frame clip for an image).
        source: the video as given, to open a fresh reader for the mask frames where reads depend on their history.
    """

    timestamps: list[list[float] | None] = field(default_factory=list)
    pixel_values: list[torch.Tensor] = field(default_factory=list)
    grid_thw: list[torch.Tensor] = field(default_factory=list)
    merge_sizes: list[int] = field(default_factory=list)
    keep: list[torch.Tensor] = field(default_factory=list)
    tokens_per_frame: list[int] = field(default_factory=list)
    clip: Clip | None = None
    source: Any = None
    is_image: bool = False


def format_time(seconds: float) -> str:
    """A frame time as the original's template writes it (Jinja's `round(1)`): `0.3`, `2.0`."""
    return str(round(float(seconds), 1))


def video_prompt(timestamps: Sequence[float]) -> str:
    """What a `<video>` marker becomes: `Time t0s:<image>,Time t1s:<image>,...Time tNs:<image>` and a newline."""
    entries = [f"Time {format_time(t)}s:{IMAGE_TOKEN}" for t in timestamps]
    return ",".join(entries) + "\n"


def region_prompt(num_tokens: int) -> str:
    """What one `<region>` marker becomes: `[` + `<REGION>` x n + `]`."""
    return "[" + REGION_TOKEN * num_tokens + "]"


def expand_prompt(prompt: str, video_timestamps: Sequence[Sequence[float]], region_token_counts: Sequence[int]) -> str:
    """The original's prompt: each `<video>` marker -> its frames' `Time t s:<image>` entries (in order of
    `video_timestamps`), each `<region>` marker -> `[<REGION> x n_i]` (in order of `region_token_counts`).

    Raises:
        ValueError: the prompt holds another number of `<video>` / `<region>` markers than given.
    """
    num_regions = prompt.count(REGION_MARKER)
    if num_regions != len(region_token_counts):
        raise ValueError(
            f"The prompt holds {num_regions} {REGION_MARKER} marker(s) but {len(region_token_counts)} mask(s) were "
            f"given: VideoRefer-VideoLLaMA3 takes one {REGION_MARKER} per (object, frame) mask, object after object, "
            "each object's frames in increasing order."
        )
    pieces = prompt.split(VIDEO_MARKER)
    if len(pieces) - 1 != len(video_timestamps):
        raise ValueError(f"The prompt holds {len(pieces) - 1} {VIDEO_MARKER} marker(s) but {len(video_timestamps)} videos were given.")
    text = pieces[0] + "".join(video_prompt(times) + piece for times, piece in zip(video_timestamps, pieces[1:]))
    pieces = text.split(REGION_MARKER)
    return pieces[0] + "".join(region_prompt(n) + piece for n, piece in zip(region_token_counts, pieces[1:]))


def messages_from_question(question: str, modality: str = "video") -> list[dict[str, Any]]:
    """The chat messages of an original-style question (`"<video>\\nWhat is <region> doing?"`), as the original's
    `mm_infer` builds them: split on the media marker, text chunks stripped and empty ones dropped, the media block
    where the marker stood (first when there is none)."""
    if modality not in ("video", "image"):
        raise ValueError(f"modality must be 'video' or 'image', got {modality!r}.")
    marker = VIDEO_MARKER if modality == "video" else IMAGE_TOKEN
    chunks = question.split(marker)
    content: list[dict[str, Any]] = [] if len(chunks) > 1 else [{"type": modality}]
    for number, chunk in enumerate(chunks):
        if number > 0:
            content.append({"type": modality})
        if chunk.strip():
            content.append({"type": "text", "text": chunk.strip()})
    return [{"role": "user", "content": content}]


def _is_frame(value: Any) -> bool:
    """Whether `value` is one frame / image (PIL image or `(H, W, C)` array / tensor) rather than a whole video."""
    from PIL import Image

    return isinstance(value, Image.Image) or (isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 3)


def _is_video(value: Any) -> bool:
    """Whether `value` is one video: a path, a `(T, H, W, C)` array / tensor, an opened clip or a list of frames
    (PIL images / arrays; a list of paths is a list of videos)."""
    if isinstance(value, (str, os.PathLike, Clip)):
        return True
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.ndim == 4
    return isinstance(value, (list, tuple)) and bool(value) and all(_is_frame(v) for v in value)


def media_per_sample(media: Any, texts: Sequence[str], marker: str, name: str) -> list[list[Any]]:
    """`images` / `videos` of a call -> one list per sample, following the samples' `marker` counts.

    Accepted: one list per sample (`[[video], [], ...]`), a flat list in marker order, or a single item (one image,
    one video; a list of frames is ONE video).

    Raises:
        ValueError: the number of items differs from the number of markers.
    """
    counts = [text.count(marker) for text in texts]
    is_single = _is_video if name == "videos" else _is_frame
    if media is None:
        items: list[Any] = []
    elif is_single(media) or not isinstance(media, (list, tuple)):
        items = [media]
    elif len(media) == len(texts) and all(isinstance(m, (list, tuple)) and not is_single(m) for m in media):
        per_sample = [list(m) for m in media]
        if [len(m) for m in per_sample] != counts:
            raise ValueError(f"Got {[len(m) for m in per_sample]} {name} per sample but the prompts hold {counts} {marker} "
                             "marker(s): give one per marker.")
        return per_sample
    else:
        items = list(media)
    if len(items) != sum(counts):
        raise ValueError(
            f"Got {len(items)} {name} but the prompts hold {sum(counts)} {marker} marker(s): give one {name[:-1]} per "
            f"marker (apply_chat_template writes {marker} for a {{'type': '{name[:-1]}'}} block)."
        )
    nested, start = [], 0
    for count in counts:
        nested.append(items[start : start + count])
        start += count
    return nested


class VideoReferVL3Processor(ProcessorMixin):
    r"""
    Builds VideoRefer-VideoLLaMA3 inputs as the original's `mm_infer` does: samples frames (by `fps`, at most
    `max_frames`), preprocesses them (merge `spatial_merge_size`) or an image (merge 1), writes each frame's
    `Time t s:` prompt entry, crops and re-encodes the region of every (object, frame) mask, and expands the markers.

    Args:
        image_processor ([`VideoReferVL3ImageProcessor`]): the VL3-SigLIP-NaViT preprocessing.
        tokenizer: the Qwen2 tokenizer with `<image>` and `<REGION>`.
        chat_template (`str`, *optional*): defaults to the original's prompt format (no system turn).
        image_token_id (`int`, *optional*): id of `<image>` (default: the tokenizer's).
        region_token_id (`int`, *optional*): id of `<REGION>` (default: the tokenizer's).
        spatial_merge_size (`int`, defaults to 2): merge size of video frames (images and region crops use 1).
        mm_max_length (`int`, defaults to 16384): visual-token budget; the pixel budget of one sample's frames is
            `mm_max_length * merge^2 * 196`, shared between the frames (and between the masks for region crops).
        fps (`float`, *optional*, defaults to 1): default frames per second sampled (the VL3 notebooks and
            Bench-Q use 1, Bench-D 4); None samples uniformly, at most `max_frames`.
        max_frames (`int`, defaults to 768): default cap on sampled frames.

    Outputs (the processor -> model interface): `input_ids` / `attention_mask` `(B, L)` (left padding by default);
    `pixel_values` `(sum of patches, 588)`, `grid_thw` `(n_frames_total, 3)`, `merge_sizes` `(n_frames_total,)`,
    `compression_mask` `(n_merged_tokens_total,)` bool; with masks, `region_pixel_values` `(sum of crop patches,
    588)`, `region_grid_thw` `(n_masks, 3)`, `region_masks` `(n_masks, Hmax, Wmax)` uint8 (zero-padded bottom /
    right), `region_mask_sizes` `(n_masks, 2)`. `<image>` appears once per merged token of every frame before
    compression; each `<region>` marker becomes `[` + `<REGION>` x min(10, mask cells) + `]`.

    Departures from the original (deliberate): masks are binarised (non-zero = object); an object's masks are taken
    in increasing frame order; the number of `<region>` markers must equal the number of (object, frame) masks
    (the original silently leaves the `<REGION>` tokens as text otherwise); video files are decoded with decord,
    frame-exact to the original's ffmpeg `fps` filter.

    Example:

    ```python
    >>> processor = AutoProcessor.from_pretrained("DAMO-NLP-SG/VideoRefer-VideoLLaMA3-7B")
    >>> messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What is <region> doing?"}]}]
    >>> prompt = processor.apply_chat_template(messages, add_generation_prompt=True)
    >>> inputs = processor(text=[prompt], videos=["dog.mp4"], masks=[[{12: mask}]], fps=1)
    ```
    """

    valid_processor_kwargs = VideoReferVL3ProcessorKwargs

    def __init__(
        self,
        image_processor=None,
        tokenizer=None,
        chat_template: str | None = None,
        image_token_id: int | None = None,
        region_token_id: int | None = None,
        spatial_merge_size: int = 2,
        mm_max_length: int = 16384,
        fps: float | None = 1,
        max_frames: int = DEFAULT_MAX_FRAMES,
        **kwargs,
    ):
        if tokenizer is None:
            raise ValueError("VideoReferVL3Processor needs a tokenizer.")
        if image_processor is None:
            raise ValueError("VideoReferVL3Processor needs an image processor (VideoReferVL3ImageProcessor).")
        vocab = tokenizer.get_vocab()
        for token in (IMAGE_TOKEN, REGION_TOKEN):
            if token not in vocab:
                raise ValueError(f"The tokenizer has no {token} token; VideoRefer-VideoLLaMA3 tokenizers add it.")
        self.image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_TOKEN) if image_token_id is None else int(image_token_id)
        self.region_token_id = tokenizer.convert_tokens_to_ids(REGION_TOKEN) if region_token_id is None else int(region_token_id)
        if int(spatial_merge_size) < 1 or int(mm_max_length) < 1:
            raise ValueError(f"spatial_merge_size and mm_max_length must be positive, got {spatial_merge_size}, {mm_max_length}.")
        self.spatial_merge_size = int(spatial_merge_size)
        self.mm_max_length = int(mm_max_length)
        self.fps, self.max_frames = check_sampling(fps, max_frames)
        self.mask_processor = VideoReferVL3MaskProcessor()
        super().__init__(image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template or DEFAULT_CHAT_TEMPLATE)

    @property
    def model_input_names(self) -> list[str]:
        return ["input_ids", "attention_mask", "pixel_values", "grid_thw", "merge_sizes", "compression_mask",
                "region_pixel_values", "region_grid_thw", "region_masks", "region_mask_sizes"]

    # ------------------------------------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> "VideoReferVL3Processor":
        """Load a saved processor, or build one for an original-format checkpoint (which has no processor config).

        For an original checkpoint, the preprocessing comes from `preprocessor_config.json` of the folder or Hub id
        that config.json's `vision_encoder` names (a relative path is resolved against the checkpoint folder), the
        tokenizer from the checkpoint, the merge size / budget / token ids from config.json.
        """
        hub_kwargs = {k: kwargs[k] for k in HUB_KWARGS if k in kwargs}
        processor_file = cached_file(
            pretrained_model_name_or_path, PROCESSOR_NAME, _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False, **hub_kwargs,
        )
        if processor_file is not None:
            return super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        return cls.from_original_checkpoint(pretrained_model_name_or_path, **kwargs)

    # Set by transformers-videorefer (`hub.remote_code`): writes this processor's code, whose shared input modules
    # transformers' own code copying cannot follow. None where the class was itself loaded as remote code.
    remote_code_writer = None

    def save_pretrained(self, save_directory: str | os.PathLike, push_to_hub: bool = False, **kwargs) -> list[str]:
        """`ProcessorMixin.save_pretrained`, plus the processor's code and `auto_map` where this class comes from the
        transformers-videorefer package, so that the folder loads with `trust_remote_code=True` alone."""
        if self.remote_code_writer is None:
            return super().save_pretrained(save_directory, push_to_hub=push_to_hub, **kwargs)
        files = super().save_pretrained(save_directory)
        self.remote_code_writer(save_directory, type(self))  # the code files and processor_config.json's auto_map
        if push_to_hub:
            repo_id = kwargs.pop("repo_id", os.path.basename(os.path.normpath(save_directory)))
            self.push_to_hub(repo_id, **kwargs)
        return files

    @classmethod
    def _get_arguments_from_pretrained(cls, pretrained_model_name_or_path, processor_dict=None, **kwargs):
        """The image processor (this package's class, from its entry of `processor_config.json` or its own
        `preprocessor_config.json`) and the tokenizer."""
        subfolder = kwargs.pop("subfolder", "")
        hub_kwargs = {k: kwargs[k] for k in HUB_KWARGS if k in kwargs}
        saved = (processor_dict or {}).get("image_processor")
        if isinstance(saved, Mapping):
            settings = {k: v for k, v in saved.items() if k not in ("image_processor_type", "processor_class")}
            image_processor = VideoReferVL3ImageProcessor.from_dict(settings)
        else:
            image_processor = VideoReferVL3ImageProcessor.from_pretrained(
                pretrained_model_name_or_path, subfolder=subfolder, **hub_kwargs
            )
        tokenizer = AutoTokenizer.from_pretrained(pretrained_model_name_or_path, subfolder=subfolder, **hub_kwargs)
        return [image_processor, tokenizer]

    @classmethod
    def from_original_checkpoint(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> "VideoReferVL3Processor":
        """The processor of an original-format VideoRefer-VideoLLaMA3 checkpoint (see `from_pretrained`)."""
        hub_kwargs = {k: kwargs.pop(k) for k in HUB_KWARGS if k in kwargs}
        for key in ("trust_remote_code", "_from_auto", "use_fast"):
            kwargs.pop(key, None)
        raw, _ = PreTrainedConfig.get_config_dict(pretrained_model_name_or_path, **hub_kwargs)
        image_processor = kwargs.pop("image_processor", None) or image_processor_for_vision_encoder(
            raw.get("vision_encoder") or raw.get("mm_vision_encoder"), pretrained_model_name_or_path, **hub_kwargs
        )
        tokenizer = kwargs.pop("tokenizer", None) or AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **hub_kwargs)
        settings = settings_from_config_dict(raw)
        settings.update(kwargs)
        return cls(image_processor=image_processor, tokenizer=tokenizer, **settings)

    # -------------------------------------------------------------------------------------------- chat
    def apply_chat_template(self, conversation, chat_template: str | None = None, tokenize: bool = False,
                            return_dict: bool = False, processor_kwargs: dict | None = None, **kwargs):
        """Render `conversation` (or a list of them) with the VL3 prompt format.

        With `tokenize=False` (default): the prompt(s), a `<video>` marker where a video block stands (the processor
        call writes its frames' `Time t s:` entries after sampling) and `<image>\\n` for an image block. With
        `tokenize=True`: the processor's output on the prompt(s) and the media named by the blocks (`path`,
        `video`, `image` or `url` keys), with `processor_kwargs` (masks, fps, ...); only `input_ids` unless
        `return_dict=True`.
        """
        batched = bool(conversation) and isinstance(conversation[0], (list, tuple))
        conversations = conversation if batched else [conversation]
        template = chat_template or self.chat_template
        prompts = [
            super(VideoReferVL3Processor, self).apply_chat_template(c, chat_template=template, tokenize=False, **kwargs)
            for c in conversations
        ]
        if not tokenize:
            return prompts if batched else prompts[0]
        images, videos = media_of_conversations(conversations)
        output = self(text=prompts, images=images if any(images) else None, videos=videos if any(videos) else None,
                      **(processor_kwargs or {}))
        return output if return_dict else output["input_ids"]

    # -------------------------------------------------------------------------------------------- call
    def __call__(
        self,
        text: str | list[str] | None = None,
        images: Any = None,
        videos: Any = None,
        masks: Any = None,
        **kwargs: Unpack[VideoReferVL3ProcessorKwargs],
    ) -> BatchFeature:
        r"""
        Args:
            text: one prompt or a list (one per sample) with `<video>` / `<image>` where the media goes (as the chat
                template writes it) and one `<region>` per (object, frame) mask.
            images / videos: one per `<image>` / `<video>` marker, in order (flat, or one list per sample). A video
                is a file path (decord), a frame folder (3 fps), a gif, a list of frames or a `(T, H, W, 3)` array; an
                image a path, PIL image or `(H, W, 3)` array.
            masks: per sample, a list of objects `{frame_index: mask}` (frame indices of the source clip; a bare
                mask for an image): COCO RLE, polygons, arrays, tensors or PIL images at the clip's size.
            fps / max_frames (flat or in `videos_kwargs`): frame sampling (defaults: the processor's).
            padding / padding_side / return_tensors / return_attention_mask (flat or in `text_kwargs`): left
                padding by default ("right" for training); `return_tensors` "pt" only; truncation, `max_length` and
                `pad_to_multiple_of` are refused (they could cut visual / region placeholders).
            return_labels: also return `labels` (assistant turns' tokens; -100 elsewhere), for training.

        Returns:
            [`BatchFeature`] with the keys of the class docstring.

        Raises:
            ValueError: marker / media / mask counts that disagree, a mask frame past the clip, `fps <= 0`,
                `max_frames < 1`.
        """
        text_options, fps, max_frames = self._options(kwargs)
        samples = self._prepare(text, images, videos, masks, fps, max_frames)
        rows, targets = [], []
        for index, (expanded, media, _) in enumerate(samples):
            ids, is_target = self._token_ids(expanded, media.tokens_per_frame, index)
            rows.append(ids)
            targets.append(is_target)
        data = self._pad(rows, targets, text_options)
        data.update(self._visual_inputs([media for _, media, _ in samples]))
        data.update(self._region_inputs([sample_masks for _, _, sample_masks in samples]))
        return BatchFeature(data=data, tensor_type="pt")

    def expanded_prompts(self, text: str | list[str], images: Any = None, videos: Any = None, masks: Any = None,
                         **kwargs: Unpack[VideoReferVL3ProcessorKwargs]) -> list[str]:
        """The prompts as the original's tokenizer sees them (before each `<image>` is repeated per token), for the
        same arguments as a processor call."""
        _, fps, max_frames = self._options(kwargs)
        return [expanded for expanded, _, _ in self._prepare(text, images, videos, masks, fps, max_frames)]

    def _prepare(self, text: Any, images: Any, videos: Any, masks: Any, fps: float | None,
                 max_frames: int) -> list[tuple[str, "SampleMedia", Any]]:
        """Per sample: the expanded prompt, its `SampleMedia` and its `SampleMasks` (None without masks)."""
        if text is None:
            raise ValueError("VideoReferVL3Processor needs text (the prompt, with <video>/<image> and <region> markers).")
        texts = [text] if isinstance(text, str) else list(text)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise TypeError("text must be a string or a list of strings.")
        per_images = media_per_sample(images, texts, IMAGE_TOKEN, "images")
        per_videos = media_per_sample(videos, texts, VIDEO_MARKER, "videos")
        per_masks = self._masks_per_sample(masks, texts)
        samples = []
        for index, prompt in enumerate(texts):
            media = self._sample_media(per_images[index], per_videos[index], fps, max_frames, index)
            sample_masks = self._sample_masks(per_masks[index], media, index)
            counts = sample_masks.token_counts if sample_masks is not None else []
            samples.append((expand_prompt(prompt, [t for t in media.timestamps if t is not None], counts), media, sample_masks))
        return samples

    # ------------------------------------------------------------------------------------------ pieces
    def _options(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], float | None, int]:
        """The merged text options and the checked `(fps, max_frames)` of a call (the processor's by default; an
        explicit `fps=None` samples uniformly)."""
        merged = self._merge_kwargs(VideoReferVL3ProcessorKwargs, tokenizer_init_kwargs={}, **kwargs)
        videos = merged["videos_kwargs"]
        given = {**kwargs.get("videos_kwargs", {}), **{k: kwargs[k] for k in ("fps", "max_frames") if k in kwargs}}
        fps = videos.get("fps") if "fps" in given else self.fps
        max_frames = videos.get("max_frames") if given.get("max_frames") is not None else self.max_frames
        fps, max_frames = check_sampling(fps, max_frames)
        text = dict(merged["text_kwargs"])
        for key, allowed in UNSUPPORTED_TEXT_OPTIONS.items():
            if text.get(key) not in allowed:
                raise ValueError(f"VideoReferVL3Processor does not support {key}={text[key]!r}: the visual and region "
                                 "placeholders must stay whole (pad with padding=True, truncate the text yourself).")
        if text.get("return_tensors") not in (None, "pt"):
            raise ValueError(f"return_tensors must be 'pt', got {text['return_tensors']!r}.")
        labels = merged.get("return_labels", kwargs.get("return_labels"))
        if labels is not None and not isinstance(labels, bool):
            raise TypeError(f"return_labels must be a bool, got {type(labels).__name__}.")
        text["return_labels"] = bool(labels)
        return text, fps, max_frames

    @staticmethod
    def _masks_per_sample(masks: Any, texts: Sequence[str]) -> list[list[Any]]:
        if masks is None:
            return [[] for _ in texts]
        if not isinstance(masks, (list, tuple)):
            raise TypeError(f"masks must be a list (per sample, a list of objects), got {type(masks).__name__}.")
        if len(texts) == 1 and masks and not isinstance(masks[0], (list, tuple)):
            masks = [masks]
        if len(masks) != len(texts):
            raise ValueError(f"masks must hold one list of objects per sample: {len(texts)} samples, got {len(masks)}.")
        return [list(m) if m is not None else [] for m in masks]

    def _preprocess(self, frames: Sequence[np.ndarray], merge_size: int) -> BatchFeature:
        max_pixels = budget_max_pixels(self.mm_max_length, self.spatial_merge_size, merge_size, len(frames))
        min_pixels = self.image_processor.size["shortest_edge"]
        return self.image_processor(
            list(frames), size={"shortest_edge": min_pixels, "longest_edge": max_pixels}, merge_size=merge_size,
            return_tensors="pt",
        )

    def _sample_media(self, images: list, videos: list, fps: float | None, max_frames: int, index: int) -> SampleMedia:
        if len(images) + len(videos) > 1:
            raise ValueError(f"sample {index}: VideoRefer-VideoLLaMA3 takes one video or one image per sample, got "
                             f"{len(videos)} video(s) and {len(images)} image(s).")
        media = SampleMedia()
        if videos:
            clip = open_clip(videos[0])
            sampled = sample_clip(clip, fps, max_frames)
            frames, merge = clip.get_frames(sampled.indices), self.spatial_merge_size
            media.timestamps.append(sampled.timestamps)
            media.source = videos[0]
        elif images:
            frame = load_image(images[0])
            clip, frames, merge = ArrayClip([frame], "the image"), [frame], 1
            media.timestamps.append(None)
            media.is_image = True
        else:
            return media
        processed = self._preprocess(frames, merge)
        grids = processed["image_grid_thw"]
        if len({tuple(g.tolist()) for g in grids}) > 1:
            raise ValueError(f"sample {index}: the video's frames differ in size; all frames of a clip must have one size.")
        media.clip = clip
        media.pixel_values.append(processed["pixel_values"].to(torch.float32))
        media.grid_thw.append(grids)
        media.merge_sizes += [merge] * len(frames)
        media.tokens_per_frame += [int(g[1] * g[2]) // merge**2 for g in grids]
        media.keep.append(compression_mask(media.pixel_values[-1], len(frames), merge))
        return media

    def _sample_masks(self, objects: list, media: SampleMedia, index: int):
        if not objects:
            return None
        if media.clip is None:
            raise ValueError(f"sample {index}: masks need a video or an image (the prompt has no <video>/<image> marker).")
        clip = media.clip
        if clip.reads_depend_on_history and not isinstance(media.source, Clip):
            # the original reads a video file's mask frames with a fresh decord reader: decord's frames of some
            # streams depend on the reads before them (`VideoFileClip`)
            clip = open_clip(media.source)
        return self.mask_processor.decode(objects, clip, media.is_image, f"sample {index}")

    def _token_ids(self, prompt: str, tokens_per_frame: list[int], index: int) -> tuple[list[int], list[bool]]:
        """The ids of an expanded prompt, each `<image>` repeated per merged token of its frame, and for each id
        whether it is a training target (text of an assistant turn, see `return_labels`)."""
        spans = [match.span(1) for match in ASSISTANT_TURN.finditer(prompt)]
        encoded = self.tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=bool(spans))
        offsets = encoded["offset_mapping"] if spans else [(0, 0)] * len(encoded["input_ids"])
        frames = iter(tokens_per_frame)
        ids: list[int] = []
        targets: list[bool] = []
        for token, (start, end) in zip(encoded["input_ids"], offsets):
            if token == self.image_token_id:
                count = next(frames, None)
                if count is None:
                    raise ValueError(f"sample {index}: the prompt holds more {IMAGE_TOKEN} tokens than its media has frames.")
                ids += [token] * count
                targets += [False] * count
            else:
                ids.append(token)
                targets.append(token != self.region_token_id and any(low <= start and end <= high for low, high in spans))
        if next(frames, None) is not None:
            raise ValueError(f"sample {index}: the prompt holds fewer {IMAGE_TOKEN} tokens than its media has frames.")
        return ids, targets

    def _pad(self, rows: list[list[int]], targets: list[list[bool]], options: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        side = options.get("padding_side") or "left"
        if side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {side!r}.")
        padding = options.get("padding", True)
        if padding in (False, "do_not_pad") and len({len(r) for r in rows}) > 1:
            raise ValueError("The samples differ in length and cannot be stacked without padding: pass padding=True.")
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        length = max(len(r) for r in rows)
        ids, attention, labels = [], [], []
        for row, target in zip(rows, targets):
            fill = length - len(row)
            row_labels = [token if is_target else IGNORE_INDEX for token, is_target in zip(row, target)]
            for out, values, pad in ((ids, row, pad_id), (attention, [1] * len(row), 0), (labels, row_labels, IGNORE_INDEX)):
                out.append([pad] * fill + values if side == "left" else values + [pad] * fill)
        data = {"input_ids": torch.tensor(ids, dtype=torch.long)}
        if options.get("return_labels"):
            data["labels"] = torch.tensor(labels, dtype=torch.long)
        if options.get("return_attention_mask", True) is not False:
            data["attention_mask"] = torch.tensor(attention, dtype=torch.long)
        return data

    @staticmethod
    def _visual_inputs(samples: Sequence[SampleMedia]) -> dict[str, torch.Tensor]:
        pixels = [p for s in samples for p in s.pixel_values]
        if not pixels:
            return {}
        return {
            "pixel_values": torch.cat(pixels),
            "grid_thw": torch.cat([g for s in samples for g in s.grid_thw]).to(torch.long),
            "merge_sizes": torch.tensor([m for s in samples for m in s.merge_sizes], dtype=torch.long),
            "compression_mask": torch.cat([k for s in samples for k in s.keep]),
        }

    def _region_inputs(self, samples: Sequence[Any]) -> dict[str, torch.Tensor]:
        pixels, grids, masks = [], [], []
        for sample in samples:
            if sample is None or not sample.crops:
                continue
            processed = self._preprocess([crop.image for crop in sample.crops], 1)
            pixels.append(processed["pixel_values"].to(torch.float32))
            grids.append(processed["image_grid_thw"].to(torch.long))
            masks += [crop.grid_mask for crop in sample.crops]
        if not masks:
            return {}
        padded, sizes = pad_grid_masks(masks)
        return {"region_pixel_values": torch.cat(pixels), "region_grid_thw": torch.cat(grids),
                "region_masks": padded, "region_mask_sizes": sizes}


def media_of_conversations(conversations: Sequence[Sequence[Mapping[str, Any]]]) -> tuple[list[list], list[list]]:
    """Per conversation, the images and videos its content blocks name (`image` / `video` / `path` / `url` keys)."""
    all_images, all_videos = [], []
    for conversation in conversations:
        images, videos = [], []
        for message in conversation:
            content = message.get("content")
            for block in [] if isinstance(content, str) or content is None else content:
                kind = block.get("type")
                if kind not in ("image", "video"):
                    continue
                source = next((block[key] for key in (kind, "path", "url") if key in block), None)
                if source is None:
                    raise ValueError(f"A {{'type': '{kind}'}} block needs a 'path' (or '{kind}') to be read with tokenize=True.")
                if isinstance(source, str) and source.startswith(("http://", "https://")):
                    raise ValueError(f"Media URLs are not downloaded: download {source} and give its path.")
                (images if kind == "image" else videos).append(source)
        all_images.append(images)
        all_videos.append(videos)
    return all_images, all_videos


def image_processor_for_vision_encoder(vision_encoder: str | None, checkpoint: str | os.PathLike, **hub_kwargs) -> VideoReferVL3ImageProcessor:
    """The image processor of the vision encoder a checkpoint names: its `preprocessor_config.json`, read from the
    folder (a relative path resolved against the checkpoint folder) or Hub id. Where it cannot be read, SigLIP's
    settings (mean / std 0.5, min_pixels 3136) with a warning: the releases name a path of the authors' machine."""
    settings = dict(SIGLIP_DEFAULTS)
    found = None
    if vision_encoder:
        candidates = []
        if os.path.isdir(os.fspath(checkpoint)) and not os.path.isabs(vision_encoder):
            candidates.append(os.path.normpath(os.path.join(os.fspath(checkpoint), vision_encoder)))
        if os.path.isdir(vision_encoder):
            candidates.append(vision_encoder)
        for candidate in candidates:
            path = os.path.join(candidate, PREPROCESSOR_FILE)
            if os.path.isfile(path):
                found = path
                break
        if found is None and not vision_encoder.startswith((".", "/")) and vision_encoder.count("/") == 1:
            found = cached_file(vision_encoder, PREPROCESSOR_FILE, _raise_exceptions_for_missing_entries=False,
                                _raise_exceptions_for_connection_errors=False, **hub_kwargs)
    if found is None:
        warnings.warn(
            f"Could not read {PREPROCESSOR_FILE} of the vision encoder {vision_encoder!r} (named by the checkpoint's "
            "config.json): using SigLIP's settings (mean / std 0.5, min_pixels 3136). Pass image_processor= to "
            "override.",
            UserWarning,
            stacklevel=3,
        )
    else:
        with open(found, encoding="utf-8") as handle:
            saved = json.load(handle)
        settings.update({key: saved[key] for key in PREPROCESSOR_KEYS if key in saved})
    return VideoReferVL3ImageProcessor(**settings)


def settings_from_config_dict(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Processor settings from a checkpoint's config.json (original flat format or the package's native one)."""
    settings: dict[str, Any] = {}
    for key, names in (("image_token_id", ("image_token_index", "image_token_id")),
                       ("region_token_id", ("region_token_index", "region_token_id")),
                       ("spatial_merge_size", ("spatial_merge_size",)),
                       ("mm_max_length", ("mm_max_length",))):
        value = next((raw[name] for name in names if raw.get(name) is not None), None)
        if value is not None:
            settings[key] = int(value)
    return settings


__all__ = ["VideoReferVL3Processor", "VideoReferVL3ProcessorKwargs", "expand_prompt", "messages_from_question"]

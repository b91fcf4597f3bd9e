# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoReferProcessor: media + object masks + text -> the inputs of `VideoReferForConditionalGeneration`."""

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from transformers import AutoTokenizer, BatchFeature
from transformers.configuration_utils import PreTrainedConfig
from transformers.image_processing_utils import BaseImageProcessor
from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil
from transformers.processing_utils import ProcessorMixin
from transformers.utils import PROCESSOR_NAME, cached_file

from ...inputs.masks import box_to_mask, decode_segmentation, normalize_object
from ...inputs.media import load_image, open_clip, sample_frame_indices
from .configuration_videorefer import VideoReferConfig
from .conversion_videorefer import KNOWN_VISION_PREPROCESSORS, is_legacy_config_dict, locate_vision_tower_folder
from .modeling_videorefer_region import resize_masks_to_grid
from .token_layout_videorefer import num_visual_tokens

# The prompt format of the original: Qwen2's chat format, the default system turn, and the media marker first in
# the user turn followed by a newline. `{% generation %}` marks the assistant's turns (answer, <|im_end|> and the
# newline after it), the tokens the original trains on.
DEFAULT_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if loop.first and message['role'] != 'system' -%}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['content'] is string -%}"
    "{%- set body = message['content'] -%}"
    "{%- else -%}"
    "{%- set ns = namespace(media='', text='') -%}"
    "{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'video' -%}{%- set ns.media = ns.media + '<video>\\n' -%}"
    "{%- elif item['type'] == 'image' -%}{%- set ns.media = ns.media + '<image>\\n' -%}"
    "{%- elif item['type'] == 'text' -%}{%- set ns.text = ns.text + item['text'] -%}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- set body = ns.media + ns.text -%}"
    "{%- endif -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{% generation %}{{ body + '<|im_end|>\\n' }}{% endgeneration %}"
    "{%- else -%}"
    "{{ body + '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
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


IGNORE_INDEX = -100
REGION_TOKEN = "<region>"
IMAGE_TOKEN = "<image>"
VIDEO_TOKEN = "<video>"


def _is_frame(value: Any) -> bool:
    """Whether `value` is one frame (a PIL image or an (H, W, C) array / tensor) rather than a whole video."""
    from PIL import Image

    return isinstance(value, Image.Image) or (isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 3)


def _expand2square(frame: np.ndarray, fill: tuple[int, int, int]) -> np.ndarray:
    height, width = frame.shape[:2]
    side = max(height, width)
    canvas = np.empty((side, side, 3), dtype=np.uint8)
    canvas[...] = np.asarray(fill, dtype=np.uint8)
    top, left = (side - height) // 2, (side - width) // 2
    canvas[top : top + height, left : left + width] = frame
    return canvas


def _pad_masks_to_square(masks: torch.Tensor) -> torch.Tensor:
    height, width = masks.shape[-2:]
    side = max(height, width)
    left, top = (side - width) // 2, (side - height) // 2
    return torch.nn.functional.pad(masks, (left, side - width - left, top, side - height - top))


class VideoReferProcessor(ProcessorMixin):
    r"""
    Builds VideoRefer inputs: samples and preprocesses frames, decodes object masks, and expands the media marker
    (`<video>` / `<image>`) and each `<region>` into one placeholder per token the model puts there.

    Args:
        image_processor ([`SiglipImageProcessorPil`]): SigLIP preprocessing (resize, rescale, normalise).
        tokenizer: the Qwen2 tokenizer with `<region>`.
        chat_template (`str`, *optional*): defaults to the original VideoRefer prompt format.
        num_frames (`int`, defaults to 16): frames sampled per video (overridable per call); an image counts as
            this many copies of itself.
        image_token_id / video_token_id (`int`, *optional*): placeholder ids of the model config (by default the
            two ids after `<region>`).
        region_token_num (`int`, defaults to 4): at most this many tokens per object.
        projector_type, projector_downsample, patch_size: the connector's layout, to count visual tokens.
        image_aspect_ratio (`str`, defaults to `"square"`): `square` (resize) or `pad` (pad to square first).

    Example:

    ```python
    >>> processor = AutoProcessor.from_pretrained("DAMO-NLP-SG/VideoRefer-7B")
    >>> messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What is [<region>] doing?"}]}]
    >>> text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    >>> inputs = processor(text=[text], videos=["dog.mp4"], masks=[[{12: mask}]], return_tensors="pt")
    >>> inputs["input_ids"].shape  # (1, sequence length the model sees)
    ```
    """

    def __init__(
        self,
        image_processor=None,
        tokenizer=None,
        chat_template: str | None = None,
        num_frames: int = 16,
        image_token_id: int | None = None,
        video_token_id: int | None = None,
        region_token_num: int = 4,
        projector_type: str = "stc_connector_v35",
        projector_downsample: Sequence[int] = (2, 2, 2),
        patch_size: int = 14,
        image_aspect_ratio: str = "square",
        **kwargs,
    ):
        if tokenizer is None:
            raise ValueError("VideoReferProcessor needs a tokenizer.")
        if image_processor is None:
            raise ValueError("VideoReferProcessor needs an image processor (SigLIP preprocessing).")
        if REGION_TOKEN not in tokenizer.get_vocab():
            tokenizer.add_tokens([REGION_TOKEN], special_tokens=True)
        self.region_token = REGION_TOKEN
        self.image_token = IMAGE_TOKEN
        self.video_token = VIDEO_TOKEN
        self.region_token_id = tokenizer.convert_tokens_to_ids(REGION_TOKEN)
        self.image_token_id = self.region_token_id + 1 if image_token_id is None else int(image_token_id)
        self.video_token_id = self.region_token_id + 2 if video_token_id is None else int(video_token_id)
        self.num_frames = int(num_frames)
        self.region_token_num = int(region_token_num)
        self.projector_type = projector_type
        self.projector_downsample = [int(v) for v in projector_downsample]
        self.patch_size = int(patch_size)
        if image_aspect_ratio not in ("square", "pad"):
            raise ValueError(f"image_aspect_ratio must be 'square' or 'pad', got {image_aspect_ratio!r}.")
        self.image_aspect_ratio = image_aspect_ratio
        super().__init__(image_processor, tokenizer, chat_template=chat_template or DEFAULT_CHAT_TEMPLATE)

    # Set by transformers-videorefer (`hub.remote_code`): writes this processor's code, whose shared input modules
    # transformers' own code copying cannot follow. None where the class was itself loaded as remote code.
    remote_code_writer = None

    def save_pretrained(self, save_directory: str | os.PathLike, push_to_hub: bool = False, **kwargs) -> list[str]:
        """`ProcessorMixin.save_pretrained`, plus the processor's code and `auto_map` where this class comes from the
        transformers-videorefer package, so that the folder loads with `trust_remote_code=True` alone."""
        if self.remote_code_writer is None:
            return super().save_pretrained(save_directory, push_to_hub=push_to_hub, **kwargs)
        self.auto_map = {"AutoProcessor": f"{type(self).__module__.rsplit('.', 1)[-1]}.{type(self).__name__}"}
        files = super().save_pretrained(save_directory)
        self.remote_code_writer(save_directory, type(self).__module__)
        if push_to_hub:
            repo_id = kwargs.pop("repo_id", os.path.basename(os.path.normpath(save_directory)))
            self.push_to_hub(repo_id, **kwargs)
        return files

    # ------------------------------------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> "VideoReferProcessor":
        """Load a saved processor, or build one for an original release (which has no processor config).

        For an original release, the SigLIP preprocessing comes from the vision tower named by `mm_vision_tower`
        (a known Hub name, a folder, or a Hub repository), the chat template from this package, and the token
        layout from the model config.
        """
        hub_kwargs = {
            k: kwargs[k] for k in ("cache_dir", "token", "revision", "local_files_only", "force_download") if k in kwargs
        }
        processor_file = cached_file(
            pretrained_model_name_or_path,
            PROCESSOR_NAME,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
            **hub_kwargs,
        )
        if processor_file is not None:
            return super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        return cls.from_original_checkpoint(pretrained_model_name_or_path, **kwargs)

    @classmethod
    def _get_arguments_from_pretrained(cls, pretrained_model_name_or_path, processor_dict=None, **kwargs):
        """Load the parts of a saved processor, keeping the PIL SigLIP preprocessing of the original.

        (Where torchvision is installed, `AutoImageProcessor` would pick the torchvision backend, whose resize
        differs by up to one uint8 step.)
        """
        args = super()._get_arguments_from_pretrained(pretrained_model_name_or_path, processor_dict, **kwargs)
        return [as_pil_image_processor(arg) if isinstance(arg, BaseImageProcessor) else arg for arg in args]

    @classmethod
    def from_original_checkpoint(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> "VideoReferProcessor":
        """Build the processor of an original (legacy-format) VideoRefer checkpoint."""
        hub_kwargs = {k: kwargs.pop(k) for k in ("cache_dir", "token", "revision", "local_files_only") if k in kwargs}
        kwargs.pop("trust_remote_code", None)
        kwargs.pop("_from_auto", None)
        raw_config, _ = PreTrainedConfig.get_config_dict(pretrained_model_name_or_path, **hub_kwargs)
        config = VideoReferConfig.from_pretrained(pretrained_model_name_or_path, **hub_kwargs)
        tower = raw_config.get("mm_vision_tower") if is_legacy_config_dict(raw_config) else None
        image_processor = kwargs.pop("image_processor", None) or image_processor_for_vision_tower(
            tower, config.vision_config.image_size, pretrained_model_name_or_path, **hub_kwargs
        )
        tokenizer = kwargs.pop("tokenizer", None) or AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **hub_kwargs)
        settings = cls.settings_from_config(config)
        settings.update(kwargs)
        processor = cls(image_processor=image_processor, tokenizer=tokenizer, **settings)
        if processor.region_token_id != config.region_token_id:
            raise ValueError(
                f"The tokenizer's <region> id is {processor.region_token_id} but the model config expects "
                f"{config.region_token_id}."
            )
        return processor

    @staticmethod
    def settings_from_config(config: VideoReferConfig) -> dict[str, Any]:
        """The processor settings that must agree with a model config."""
        return {
            "num_frames": config.num_frames,
            "image_token_id": config.image_token_id,
            "video_token_id": config.video_token_id,
            "region_token_num": config.region_token_num,
            "projector_type": config.projector_type,
            "projector_downsample": list(config.projector_downsample),
            "patch_size": config.vision_config.patch_size,
            "image_aspect_ratio": config.image_aspect_ratio,
        }

    # ---------------------------------------------------------------------------------------- token layout
    @property
    def grid_size(self) -> int:
        """Side of the patch grid of one frame."""
        return int(self.image_processor.size["height"]) // self.patch_size

    def num_video_tokens(self, num_frames: int) -> int:
        return num_visual_tokens(self.projector_type, num_frames, self.grid_size, self.projector_downsample)

    @property
    def model_input_names(self) -> list[str]:
        return [
            "input_ids",
            "attention_mask",
            "pixel_values",
            "pixel_values_videos",
            "region_pixel_values",
            "region_masks",
            "region_mask_frame_index",
            "region_masks_per_object",
        ]

    # -------------------------------------------------------------------------------------------- call
    def __call__(
        self,
        text: str | list[str] | None = None,
        images: Any = None,
        videos: Any = None,
        masks: Any = None,
        boxes: Any = None,
        num_frames: int | None = None,
        padding_side: str = "left",
        return_tensors: str | None = "pt",
        target_spans: Sequence[Sequence[tuple[int, int]]] | None = None,
        **kwargs,
    ) -> BatchFeature:
        r"""
        Args:
            text: one prompt or a list (one per sample), with `<video>` / `<image>` where the media goes (as the
                chat template writes it) and one `<region>` per object.
            images / videos: the media of the samples, in the order of their `<image>` / `<video>` markers. A video
                is a file path (decord), a folder of frames, a gif, a list of frames or a `(T, H, W, 3)` array; an
                image a path, PIL image or `(H, W, 3)` array.
            masks: per sample, a list of objects in the order of its `<region>` markers; an object is
                `{frame_index: mask}` with indices of the ORIGINAL clip (a bare mask for an image). A mask is a
                binary array / tensor / PIL image at the clip's resolution, a COCO RLE or polygons.
            boxes: like `masks`, with boxes `[x1, y1, x2, y2]` that become rectangular masks.
            num_frames: frames sampled per video for this call (default: the processor's `num_frames`).
            padding_side: `left` (default, for generation) or `right`.
            target_spans: for training, per sample the `(start, end)` character spans of `text` whose tokens are
                targets; the output then has `labels` (the ids there, -100 elsewhere and at every placeholder).

        Returns:
            [`BatchFeature`] with `input_ids` `(batch, seq_len)` (already expanded), `attention_mask`,
            `pixel_values` `(num_images, 3, H, W)`, `pixel_values_videos` `(num_videos, frames, 3, H, W)`,
            `region_pixel_values` `(num_region_frames, 3, H, W)`, `region_masks` `(num_masks, grid, grid)`,
            `region_mask_frame_index` `(num_masks,)`, `region_masks_per_object` `(num_objects,)` — the keys present
            depend on the inputs.
        """
        if kwargs:
            raise TypeError(f"VideoReferProcessor got unexpected arguments: {sorted(kwargs)}.")
        if return_tensors not in ("pt", None):
            raise ValueError(f"return_tensors must be 'pt' (or None, which also gives torch tensors), got {return_tensors!r}.")
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}.")
        texts = self._as_text_list(text)
        frames_per_video = self.num_frames if num_frames is None else int(num_frames)
        if frames_per_video < 1:
            raise ValueError(f"num_frames must be at least 1, got {num_frames}.")
        media_kinds = [self._media_kind(t, i) for i, t in enumerate(texts)]
        images_in = self._as_media_list(images, "images", sum(kind == "image" for kind in media_kinds))
        videos_in = self._as_media_list(videos, "videos", sum(kind == "video" for kind in media_kinds))
        objects_in = self._objects_per_sample(masks, boxes, texts)

        if target_spans is not None and len(target_spans) != len(texts):
            raise ValueError(f"target_spans must hold one list of spans per sample: {len(texts)} samples, got {len(target_spans)}.")
        batch_ids, batch_targets, image_pixels, video_pixels = [], [], [], []
        region_frames, region_masks, mask_frame_index, masks_per_object = [], [], [], []
        image_iter, video_iter = iter(images_in), iter(videos_in)
        for index, (prompt, kind, (objects, from_boxes)) in enumerate(zip(texts, media_kinds, objects_in)):
            where = f"sample {index}"
            media = next(image_iter) if kind == "image" else next(video_iter) if kind == "video" else None
            frames, object_masks, mask_frames = self._load_sample(
                media, kind, objects, from_boxes, frames_per_video, where
            )
            if kind == "image":
                image_pixels.append(self._preprocess(frames))
            elif kind == "video":
                video_pixels.append(self._preprocess(frames))
            if object_masks:
                offset = sum(len(f) for f in region_frames)
                region_frames.append(mask_frames)
                row_of_frame = {frame: row for row, frame in enumerate(sorted(mask_frames))}
                for obj in object_masks:
                    masks_per_object.append(len(obj))
                    for frame_index, mask in obj.items():
                        mask_frame_index.append(offset + row_of_frame[frame_index])
                        region_masks.append(self._mask_at_grid(mask))
            ids, targets = self._token_ids(
                prompt, [len(obj) for obj in object_masks], frames_per_video, target_spans[index] if target_spans is not None else None
            )
            batch_ids.append(ids)
            batch_targets.append(targets)

        data: dict[str, Any] = self._pad(batch_ids, padding_side, batch_targets if target_spans is not None else None)
        if image_pixels:
            data["pixel_values"] = torch.cat(image_pixels)
        if video_pixels:
            data["pixel_values_videos"] = torch.stack(video_pixels)
        if region_masks:
            ordered = [sample_frames[frame] for sample_frames in region_frames for frame in sorted(sample_frames)]
            data["region_pixel_values"] = self._preprocess(ordered)
            data["region_masks"] = torch.stack(region_masks)
            data["region_mask_frame_index"] = torch.tensor(mask_frame_index, dtype=torch.long)
            data["region_masks_per_object"] = torch.tensor(masks_per_object, dtype=torch.long)
        return BatchFeature(data=data, tensor_type="pt")

    # ------------------------------------------------------------------------------------ call helpers
    @staticmethod
    def _as_text_list(text: Any) -> list[str]:
        if isinstance(text, str):
            return [text]
        if isinstance(text, (list, tuple)) and text and all(isinstance(t, str) for t in text):
            return list(text)
        raise TypeError(f"text must be a string or a non-empty list of strings, got {type(text).__name__}.")

    def _media_kind(self, prompt: str, index: int) -> str | None:
        num_images, num_videos = prompt.count(self.image_token), prompt.count(self.video_token)
        if num_images + num_videos > 1:
            raise ValueError(
                f"Sample {index}: one media marker per prompt is supported (VideoRefer takes one image or video per "
                f"sample), found {num_images} {self.image_token} and {num_videos} {self.video_token}."
            )
        return "image" if num_images else "video" if num_videos else None

    @staticmethod
    def _as_media_list(media: Any, name: str, expected: int) -> list:
        """The media as a list, one item per marker. A list of frames (PIL images or (H, W, 3) arrays) passed
        as `videos` is one video; to pass several videos given as frame lists, wrap them in an outer list."""
        if media is None:
            items = []
        elif name == "videos" and isinstance(media, (list, tuple)) and media and all(_is_frame(m) for m in media):
            items = [media]
        elif isinstance(media, (list, tuple)):
            items = list(media)
        else:
            items = [media]
        if len(items) != expected:
            marker = IMAGE_TOKEN if name == "images" else VIDEO_TOKEN
            raise ValueError(
                f"Got {len(items)} {name} but the prompts hold {expected} {marker} marker(s): give one {name[:-1]} per "
                f"{marker} marker (apply_chat_template writes the marker for a {{'type': '{name[:-1]}'}} entry)."
            )
        return items

    def _objects_per_sample(self, masks: Any, boxes: Any, texts: list[str]) -> list[tuple[list, bool]]:
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
            num_regions = prompt.count(self.region_token)
            if len(objects) != num_regions:
                raise ValueError(
                    f"Sample {index}: the prompt holds {num_regions} {self.region_token} marker(s) but "
                    f"{len(objects)} object(s) were given; give exactly one object per marker, in order."
                )
            result.append((list(objects), sample_boxes is not None))
        return result

    def _load_sample(
        self, media: Any, kind: str | None, objects: list, from_boxes: bool, frames_per_video: int, where: str
    ) -> tuple[list[np.ndarray], list[dict[int, torch.Tensor]], dict[int, np.ndarray]]:
        """Sampled frames, the objects' masks (frame -> mask at clip size) and the mask frames (frame -> pixels)."""
        if kind is None:
            if objects:
                raise ValueError(f"{where}: <region> markers need a video or an image (no <video>/<image> marker).")
            return [], [], {}
        if kind == "image":
            image = load_image(media)
            sampled, num_clip_frames, size = [image], 1, image.shape[:2]
            read = lambda indices: [image for _ in indices]  # noqa: E731
        else:
            clip = open_clip(media)
            sampled = clip.get_frames(sample_frame_indices(clip.num_frames, frames_per_video))
            num_clip_frames, size, read = clip.num_frames, (clip.height, clip.width), clip.get_frames
        object_masks = []
        for number, obj in enumerate(objects):
            obj_where = f"{where}, object {number}"
            frames = normalize_object(obj, kind == "image", obj_where)
            decoded = {}
            for frame_index, segmentation in frames.items():
                if frame_index >= num_clip_frames:
                    raise ValueError(
                        f"{obj_where}: frame index {frame_index} is past the end of the clip, which has "
                        f"{num_clip_frames} frame(s) (valid: 0 to {num_clip_frames - 1})."
                    )
                mask_where = f"{obj_where}, frame {frame_index}"
                array = box_to_mask(segmentation, size, mask_where) if from_boxes else decode_segmentation(
                    segmentation, size, mask_where
                )
                decoded[frame_index] = torch.from_numpy(np.asarray(array, dtype=np.float32))
            object_masks.append(decoded)
        needed = sorted({frame for obj in object_masks for frame in obj})
        mask_frames = dict(zip(needed, read(needed))) if needed else {}
        return sampled, object_masks, mask_frames

    def _preprocess(self, frames: list[np.ndarray]) -> torch.Tensor:
        from PIL import Image

        if self.image_aspect_ratio == "pad":
            fill = tuple(int(x * 255) for x in self.image_processor.image_mean)
            frames = [_expand2square(frame, fill) for frame in frames]
        pixels = self.image_processor([Image.fromarray(frame) for frame in frames], return_tensors="pt")["pixel_values"]
        return pixels

    def _mask_at_grid(self, mask: torch.Tensor) -> torch.Tensor:
        mask = mask[None]
        if self.image_aspect_ratio == "pad":
            mask = _pad_masks_to_square(mask)
        return resize_masks_to_grid(mask, self.grid_size)[0]

    def _token_ids(
        self,
        prompt: str,
        masks_per_object: list[int],
        frames_per_video: int,
        target_spans: Sequence[tuple[int, int]] | None = None,
    ) -> tuple[list[int], list[bool]]:
        """Tokenize around the media marker (as the original does) and expand the placeholders.

        Returns the ids and, for each id, whether it is a training target: a text token lying inside one of the
        character spans `target_spans` of `prompt` (placeholders never are).
        """
        spans = list(target_spans or [])
        ids: list[int] = []
        is_target: list[bool] = []
        position = 0
        for piece in re.split(f"({re.escape(self.image_token)}|{re.escape(self.video_token)})", prompt):
            if piece in (self.image_token, self.video_token):
                count = self.num_video_tokens(self.num_frames if piece == self.image_token else frames_per_video)
                ids += [self.image_token_id if piece == self.image_token else self.video_token_id] * count
                is_target += [False] * count
            elif piece:
                encoded = self.tokenizer(piece, add_special_tokens=False, return_offsets_mapping=bool(spans))
                ids += encoded["input_ids"]
                if spans:
                    for start, end in encoded["offset_mapping"]:
                        start, end = start + position, end + position
                        is_target.append(any(low <= start and end <= high for low, high in spans))
                else:
                    is_target += [False] * len(encoded["input_ids"])
            position += len(piece)
        expanded: list[int] = []
        expanded_target: list[bool] = []
        objects = iter(masks_per_object)
        for token, target in zip(ids, is_target):
            if token == self.region_token_id:
                copies = min(next(objects), self.region_token_num)
                expanded += [token] * copies
                expanded_target += [False] * copies
            else:
                expanded.append(token)
                expanded_target.append(target)
        return expanded, expanded_target

    def _pad(
        self, batch_ids: list[list[int]], padding_side: str, batch_targets: list[list[bool]] | None = None
    ) -> dict[str, torch.Tensor]:
        pad_id = self.tokenizer.pad_token_id
        if pad_id is None:
            pad_id = self.tokenizer.eos_token_id if self.tokenizer.eos_token_id is not None else 0
        length = max(len(ids) for ids in batch_ids)
        input_ids = torch.full((len(batch_ids), length), pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(batch_ids), length), dtype=torch.long)
        labels = torch.full((len(batch_ids), length), IGNORE_INDEX, dtype=torch.long)
        for row, ids in enumerate(batch_ids):
            if not ids:
                continue
            span = slice(length - len(ids), length) if padding_side == "left" else slice(0, len(ids))
            row_ids = torch.tensor(ids, dtype=torch.long)
            input_ids[row, span] = row_ids
            attention_mask[row, span] = 1
            if batch_targets is not None:
                targets = torch.tensor(batch_targets[row], dtype=torch.bool)
                labels[row, span] = row_ids.masked_fill(~targets, IGNORE_INDEX)
        data = {"input_ids": input_ids, "attention_mask": attention_mask}
        if batch_targets is not None:
            data["labels"] = labels
        return data

    def decode_generated(self, generated_ids: torch.Tensor, inputs: Mapping, **kwargs) -> list[str]:
        """Decode what `generate` added after the prompt: `generated_ids[:, prompt_length:]`."""
        prompt_length = inputs["input_ids"].shape[1]
        return self.batch_decode(generated_ids[:, prompt_length:], skip_special_tokens=True, **kwargs)


__all__ = ["VideoReferProcessor", "DEFAULT_CHAT_TEMPLATE"]

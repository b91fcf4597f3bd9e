# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoReferProcessor: media + object masks + text -> the inputs of `VideoReferForConditionalGeneration`.

Composed like transformers' processors: the SigLIP image processor (PIL backend) for images and region frames,
`VideoReferVideoProcessor` for videos, `VideoReferMaskProcessor` for the objects, and the tokenizer for the text,
tokenized around the media marker as the original does.
"""

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer, BatchFeature
from transformers.configuration_utils import PreTrainedConfig
from transformers.processing_utils import ProcessorMixin
from transformers.utils import PROCESSOR_NAME, cached_file
from transformers.video_processing_utils import VideoProcessorMixin

from ...inputs.media import ArrayClip, load_image, open_clip
from .configuration_videorefer import VideoReferConfig
from .conversion_videorefer import is_legacy_config_dict
from .image_processing_pil_videorefer import as_pil_image_processor, image_processor_for_vision_tower, preprocess_frames
from .mask_processing_videorefer import VideoReferMaskProcessor, objects_per_sample
from .token_layout_videorefer import num_visual_tokens
from .video_processing_videorefer import VideoReferVideoProcessor, as_media_list

IGNORE_INDEX = -100
REGION_TOKEN = "<region>"
IMAGE_TOKEN = "<image>"
VIDEO_TOKEN = "<video>"
CHAT_TEMPLATE_FILE = Path(__file__).with_name("chat_template.jinja")
# The prompt format of the original: Qwen2's chat format, the default system turn, and the media marker first in
# the user turn followed by a newline; `{% generation %}` marks the assistant's turns, the tokens the original
# trains on. None where this module runs as remote code without the file: the repository's chat_template.jinja
# is used there.
DEFAULT_CHAT_TEMPLATE = CHAT_TEMPLATE_FILE.read_text(encoding="utf-8") if CHAT_TEMPLATE_FILE.is_file() else None
HUB_KWARGS = ("cache_dir", "token", "revision", "local_files_only", "force_download")


class VideoReferProcessor(ProcessorMixin):
    r"""
    Builds VideoRefer inputs: samples and preprocesses frames, decodes object masks, and expands the media marker
    (`<video>` / `<image>`) and each `<region>` into one placeholder per token the model puts there.

    Args:
        image_processor ([`SiglipImageProcessorPil`]): SigLIP preprocessing (resize, rescale, normalise).
        tokenizer: the Qwen2 tokenizer with `<region>`.
        video_processor ([`VideoReferVideoProcessor`], *optional*): frame sampling and preprocessing; by default
            built from the image processor's settings.
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
        video_processor=None,
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
        self.region_token, self.image_token, self.video_token = REGION_TOKEN, IMAGE_TOKEN, VIDEO_TOKEN
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
        if video_processor is None:
            video_processor = VideoReferVideoProcessor.from_image_processor(
                image_processor, self.num_frames, do_pad=image_aspect_ratio == "pad"
            )
        super().__init__(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=video_processor,
            chat_template=chat_template or DEFAULT_CHAT_TEMPLATE,
        )
        self.mask_processor = VideoReferMaskProcessor(self.grid_size, pad_to_square=image_aspect_ratio == "pad")

    def check_argument_for_proper_class(self, argument_name: str, argument: Any) -> type:
        """`ProcessorMixin`'s class check, but the video processor's done here: without torchvision, transformers'
        top-level `VideoProcessorMixin` is a placeholder that its lookup cannot use."""
        if argument_name != "video_processor":
            return super().check_argument_for_proper_class(argument_name, argument)
        if not isinstance(argument, VideoProcessorMixin):
            raise TypeError(f"Received a {type(argument).__name__} for argument video_processor, but a VideoProcessorMixin was expected.")
        return VideoProcessorMixin

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
        hub_kwargs = {k: kwargs[k] for k in HUB_KWARGS if k in kwargs}
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
        differs by up to one uint8 step.) The video processor is built from its entry of `processor_config.json`
        (no `AutoVideoProcessor`, no torchvision); processors saved without one get it from the image processor.
        """
        from transformers import AutoImageProcessor

        subfolder = kwargs.pop("subfolder", "")
        image_processor = AutoImageProcessor.from_pretrained(pretrained_model_name_or_path, subfolder=subfolder, **kwargs)
        tokenizer = cls._load_tokenizer_from_pretrained("tokenizer", pretrained_model_name_or_path, subfolder=subfolder, **kwargs)
        saved = (processor_dict or {}).get("video_processor")
        video_processor = None
        if isinstance(saved, Mapping):
            settings = {k: v for k, v in saved.items() if k not in ("video_processor_type", "processor_class")}
            video_processor = VideoReferVideoProcessor.from_dict(settings)
        return [as_pil_image_processor(image_processor), tokenizer, video_processor]

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
        """Visual tokens the connector makes of `num_frames` frames (an image counts as `self.num_frames`)."""
        return num_visual_tokens(self.projector_type, num_frames, self.grid_size, self.projector_downsample)

    @property
    def model_input_names(self) -> list[str]:
        return ["input_ids", "attention_mask", "pixel_values", "pixel_values_videos", "region_pixel_values",
                "region_masks", "region_mask_frame_index", "region_masks_per_object"]

    def replace_media_token(self, marker: str, frames_per_video: int) -> list[int]:
        """The placeholder ids that replace one media marker (`<image>` or `<video>`)."""
        if marker == self.image_token:
            return [self.image_token_id] * self.num_video_tokens(self.num_frames)
        return [self.video_token_id] * self.num_video_tokens(frames_per_video)

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
        keep_vanished_masks: bool = False,
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
            keep_vanished_masks: a mask too small or thin for any position of the vision grid gives a
                `VanishedMaskWarning` (naming the sample, object and frame) and a region token with no object, as in
                the original; True keeps the grid patch it covers most instead (a departure from the original).

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
        kinds = [self._media_kind(t, i) for i, t in enumerate(texts)]
        media = {
            "image": iter(as_media_list(images, "images", kinds.count("image"))),
            "video": iter(as_media_list(videos, "videos", kinds.count("video"))),
        }
        objects_in = objects_per_sample(masks, boxes, texts, self.region_token)
        if target_spans is not None and len(target_spans) != len(texts):
            raise ValueError(f"target_spans must hold one list of spans per sample: {len(texts)} samples, got {len(target_spans)}.")
        pad = self.image_aspect_ratio == "pad"
        batch_ids, batch_targets, image_pixels, video_pixels, regions = [], [], [], [], []
        for index, (prompt, kind, (objects, from_boxes)) in enumerate(zip(texts, kinds, objects_in)):
            clip = None
            if kind == "image":
                image = load_image(next(media["image"]))
                image_pixels.append(preprocess_frames(self.image_processor, [image], pad))
                clip = ArrayClip([image], "the image")
            elif kind == "video":
                clip = open_clip(next(media["video"]))
                video = self.video_processor(clip, num_frames=frames_per_video, do_pad=pad)
                video_pixels.append(video["pixel_values_videos"][0])
            elif objects:
                raise ValueError(f"sample {index}: <region> markers need a video or an image (no <video>/<image> marker).")
            sample_regions = None if clip is None else self.mask_processor.decode(
                objects, clip, kind == "image", from_boxes, f"sample {index}", keep_vanished_masks
            )
            regions += [sample_regions] if sample_regions is not None else []
            per_object = [len(obj) for obj in sample_regions.masks] if sample_regions is not None else []
            spans = target_spans[index] if target_spans is not None else None
            ids, targets = self._token_ids(prompt, per_object, frames_per_video, spans)
            batch_ids.append(ids)
            batch_targets.append(targets)

        data: dict[str, Any] = self._pad(batch_ids, padding_side, batch_targets if target_spans is not None else None)
        if image_pixels:
            data["pixel_values"] = torch.cat(image_pixels)
        if video_pixels:
            data["pixel_values_videos"] = torch.stack(video_pixels)
        region_data, region_frames = self.mask_processor.collate(regions)
        if region_data:
            data["region_pixel_values"] = preprocess_frames(self.image_processor, region_frames, pad)
            data.update(region_data)
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
                placeholders = self.replace_media_token(piece, frames_per_video)
                ids += placeholders
                is_target += [False] * len(placeholders)
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
            copies = min(next(objects), self.region_token_num) if token == self.region_token_id else 1
            expanded += [token] * copies
            expanded_target += [target and token != self.region_token_id] * copies
        return expanded, expanded_target

    def _pad(
        self, batch_ids: list[list[int]], padding_side: str, batch_targets: list[list[bool]] | None = None
    ) -> dict[str, torch.Tensor]:
        """Pad to the longest row: `input_ids`, `attention_mask` (and `labels` with targets) `(batch, seq_len)`."""
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
                labels[row, span] = row_ids.masked_fill(~torch.tensor(batch_targets[row], dtype=torch.bool), IGNORE_INDEX)
        data = {"input_ids": input_ids, "attention_mask": attention_mask}
        if batch_targets is not None:
            data["labels"] = labels
        return data

    def decode_generated(self, generated_ids: torch.Tensor, inputs: Mapping, **kwargs) -> list[str]:
        """Decode what `generate` added after the prompt: `generated_ids[:, prompt_length:]`."""
        prompt_length = inputs["input_ids"].shape[1]
        return self.batch_decode(generated_ids[:, prompt_length:], skip_special_tokens=True, **kwargs)


__all__ = ["VideoReferProcessor", "DEFAULT_CHAT_TEMPLATE"]

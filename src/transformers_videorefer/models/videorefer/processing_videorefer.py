# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoReferProcessor: media + object masks + text -> the inputs of `VideoReferForConditionalGeneration`.

Composed like transformers' processors: the SigLIP image processor (PIL backend) for images and region frames,
`VideoReferVideoProcessor` for videos, `VideoReferMaskProcessor` for the objects, and the tokenizer for the text,
tokenized around the media marker as the original does.
"""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Unpack

import numpy as np
import torch
from transformers import AutoTokenizer, BatchFeature
from transformers.configuration_utils import PreTrainedConfig
from transformers.processing_utils import ProcessorMixin
from transformers.utils import PROCESSOR_NAME, cached_file
from transformers.video_processing_utils import VideoProcessorMixin

from ...inputs.media import ArrayClip, load_image, open_clip
from .configuration_videorefer import VideoReferConfig
from .conversion_videorefer import is_legacy_config_dict
from .image_processing_pil_videorefer import (
    PIL_PREPROCESSING_KEYS,
    FramePreprocessor,
    as_pil_image_processor,
    image_processor_for_vision_tower,
    preprocess_clip_frames,
)
from .mask_processing_videorefer import VideoReferMaskProcessor, objects_per_sample
from .processing_kwargs_videorefer import (
    IGNORE_INDEX,  # noqa: F401  (the training collator imports it from here)
    NO_OFFSET,
    VideoReferProcessorKwargs,
    call_options,
    chat_template_media,
    chat_template_regions,
    finish_text,
    flatten_images,
    flatten_videos,
    looks_like_text,
    prompt_token_ids,
)
from .token_layout_videorefer import num_visual_tokens
from .video_processing_videorefer import VideoReferVideoProcessor, as_media_list, channels_last

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
# The settings of a saved video processor that `from_pretrained(..., setting=value)` overrides.
VIDEO_SETTINGS = (*PIL_PREPROCESSING_KEYS, "num_frames", "do_pad", "do_sample_frames")


class VideoReferProcessor(ProcessorMixin):
    r"""
    Builds VideoRefer inputs: samples and preprocesses frames, decodes object masks, and expands the media marker
    (`<video>` / `<image>`) and each `<region>` into one placeholder per token the model puts there.

    Args:
        image_processor ([`SiglipImageProcessorPil`]): SigLIP preprocessing (resize, rescale, normalise).
        tokenizer: the Qwen2 tokenizer with `<region>`.
        video_processor ([`VideoReferVideoProcessor`], *optional*): frame sampling and preprocessing; by default
            built from the image processor's settings. Its `num_frames` (16 by default) is the frames sampled per
            video (overridable per call, `num_frames=`); an image counts as this many copies of itself.
            (`num_frames=` given here, as `settings_from_config` and earlier versions do, sets the video
            processor's.)
        chat_template (`str`, *optional*): defaults to the original VideoRefer prompt format.
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
    >>> # or in one step, the media read from the content blocks:
    >>> messages[0]["content"][0]["path"] = "dog.mp4"
    >>> inputs = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True,
    ...                                        processor_kwargs={"masks": [[{12: mask}]]})
    ```
    """

    valid_processor_kwargs = VideoReferProcessorKwargs
    # Defaults of the standard kwargs (transformers' order: call > text_kwargs / videos_kwargs > tokenizer init
    # kwargs > these). Left padding (for generation) whatever padding side the tokenizer was saved with.
    text_kwargs: ClassVar[dict[str, Any]] = {
        "padding": True, "padding_side": "left", "return_tensors": "pt", "add_special_tokens": False,
        "return_attention_mask": True,
    }
    images_kwargs: ClassVar[dict[str, Any]] = {"return_tensors": "pt"}
    keep_vanished_masks = False

    def __init__(
        self,
        image_processor=None,
        tokenizer=None,
        video_processor=None,
        chat_template: str | None = None,
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
        legacy_num_frames = kwargs.pop("num_frames", None)
        if kwargs:
            raise TypeError(f"VideoReferProcessor got unexpected arguments: {sorted(kwargs)}.")
        self.region_token_num = int(region_token_num)
        self.projector_type = projector_type
        self.projector_downsample = [int(v) for v in projector_downsample]
        self.patch_size = int(patch_size)
        if image_aspect_ratio not in ("square", "pad"):
            raise ValueError(f"image_aspect_ratio must be 'square' or 'pad', got {image_aspect_ratio!r}.")
        self.image_aspect_ratio = image_aspect_ratio
        if video_processor is None:
            video_processor = VideoReferVideoProcessor.from_image_processor(
                image_processor, 16 if legacy_num_frames is None else int(legacy_num_frames),
                do_pad=image_aspect_ratio == "pad",
            )
        elif legacy_num_frames is not None:
            video_processor.num_frames = int(legacy_num_frames)
        super().__init__(
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=video_processor,
            chat_template=chat_template or DEFAULT_CHAT_TEMPLATE,
        )
        self.mask_processor = VideoReferMaskProcessor(self.grid_size, pad_to_square=image_aspect_ratio == "pad")

    @property
    def num_frames(self) -> int:
        """Frames sampled per video by default (the video processor's `num_frames`)."""
        return int(self.video_processor.num_frames)

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
        files = super().save_pretrained(save_directory)
        self.remote_code_writer(save_directory, type(self))  # the code files and processor_config.json's auto_map
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
        (no `AutoVideoProcessor`, no torchvision); processors saved without one (earlier versions) get it from the
        image processor and the saved `num_frames`.
        """
        from transformers import AutoImageProcessor

        subfolder = kwargs.pop("subfolder", "")
        image_processor = AutoImageProcessor.from_pretrained(pretrained_model_name_or_path, subfolder=subfolder, **kwargs)
        tokenizer = cls._load_tokenizer_from_pretrained("tokenizer", pretrained_model_name_or_path, subfolder=subfolder, **kwargs)
        saved = (processor_dict or {}).get("video_processor")
        video_processor = None
        if isinstance(saved, Mapping):
            settings = {k: v for k, v in saved.items() if k not in ("video_processor_type", "processor_class")}
            # Settings given to from_pretrained apply to the video processor as to the image processor.
            settings.update({k: v for k, v in kwargs.items() if k in VIDEO_SETTINGS})
            video_processor = VideoReferVideoProcessor.from_dict(settings)
        image_processor = as_pil_image_processor(image_processor)
        if video_processor is None:
            # Saved by an earlier version: `num_frames` beside the processor settings, frames preprocessed as images.
            saved_settings = processor_dict or {}
            video_processor = VideoReferVideoProcessor.from_image_processor(
                image_processor, int(saved_settings.get("num_frames", 16)),
                do_pad=saved_settings.get("image_aspect_ratio") == "pad",
            )
        return [image_processor, tokenizer, video_processor]

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
        images: Any = None,
        text: str | list[str] | None = None,
        videos: Any = None,
        masks: Any = None,
        boxes: Any = None,
        audio: Any = None,
        **kwargs: Unpack[VideoReferProcessorKwargs],
    ) -> BatchFeature:
        r"""
        Args:
            images / videos: the media of the samples, in the order of their `<image>` / `<video>` markers (images
                may also be given per sample, `[[image], [], ...]`). A video is a file path (decord), a folder of
                frames, a gif, a list of frames or a `(T, H, W, 3)` array; an image a path, PIL image or `(H, W, 3)`
                array.
            text: one prompt or a list (one per sample), with `<video>` / `<image>` where the media goes (as the
                chat template writes it) and one `<region>` per object. (`processor(text, images)`, the old
                positional order, still works.)
            masks: per sample, a list of objects in the order of its `<region>` markers; an object is
                `{frame_index: mask}` with indices of the ORIGINAL clip (a bare mask for an image). A mask is a
                binary array / tensor / PIL image at the clip's resolution, a COCO RLE or polygons.
            boxes: like `masks`, with boxes `[x1, y1, x2, y2]` that become rectangular masks.
            audio: not supported (None only); `apply_chat_template` passes it.
            **kwargs: transformers' standard kwargs, flat or nested (`text_kwargs`, `videos_kwargs`, ...):
                - text: `padding` (True / "longest", default; "max_length"; False), `max_length`, `truncation`
                  (of text tokens; a cut through visual / region placeholders is refused), `pad_to_multiple_of`,
                  `padding_side` ("left", default; "right"), `return_attention_mask`, `return_tensors` ("pt",
                  default; "np"; None: lists of ids, the visual inputs stay tensors), `return_offsets_mapping`
                  (`offset_mapping` `(batch, seq_len, 2)`: each token's character span in its prompt, `(0, 0)` at
                  placeholders and padding).
                - videos: `num_frames` (default: the video processor's), `do_sample_frames` (False: every frame
                  given, for decoded videos).
                - images / videos: the SigLIP settings `do_rescale`, `rescale_factor`, `do_normalize`,
                  `image_mean`, `image_std`, `resample`, `do_convert_rgb` for this call's frames of that medium
                  (region frames included); settings that change the number of tokens (`size`, ...) are refused.
                - `target_spans`: for training, per sample the `(start, end)` character spans of `text` whose tokens
                  are targets; the output then has `labels` (the ids there, -100 elsewhere and at placeholders).
                - `keep_vanished_masks`: a mask too small for any position of the vision grid gives a
                  `VanishedMaskWarning` and a region token with no object, as in the original; True keeps the grid
                  patch it covers most instead (a departure from the original).

        Returns:
            [`BatchFeature`] with `input_ids` `(batch, seq_len)` (already expanded), `attention_mask`,
            `pixel_values` `(num_images, 3, H, W)`, `pixel_values_videos` `(num_videos, frames, 3, H, W)`,
            `region_pixel_values` `(num_region_frames, 3, H, W)`, `region_masks` `(num_masks, grid, grid)`,
            `region_mask_frame_index` `(num_masks,)`, `region_masks_per_object` `(num_objects,)` — the keys present
            depend on the inputs.
        """
        if audio is not None and not (isinstance(audio, (list, tuple)) and not audio):
            raise ValueError("VideoReferProcessor takes no audio (VideoRefer sees frames, images and text); got audio input.")
        if looks_like_text(images) and (text is None or not looks_like_text(text)):
            text, images = images, text  # the old positional order, processor(text, images, ...)
        options = call_options(self, kwargs)
        texts = self._as_text_list(text)
        kinds = [self._media_kind(t, i) for i, t in enumerate(texts)]
        media = {
            "image": iter(as_media_list(flatten_images(images), "images", kinds.count("image"))),
            "video": iter(as_media_list(flatten_videos(videos), "videos", kinds.count("video"))),
        }
        objects_in = objects_per_sample(masks, boxes, texts, self.region_token)
        target_spans = options.target_spans
        if target_spans is not None and len(target_spans) != len(texts):
            raise ValueError(f"target_spans must hold one list of spans per sample: {len(texts)} samples, got {len(target_spans)}.")
        pad = self.image_aspect_ratio == "pad"
        batch_ids, batch_targets, batch_offsets, image_pixels, video_pixels, regions = [], [], [], [], [], []
        for index, (prompt, kind, (objects, from_boxes)) in enumerate(zip(texts, kinds, objects_in)):
            clip, frames_per_video = None, options.num_frames
            if kind == "image":
                clip = ArrayClip([load_image(next(media["image"]))], "the image")
            elif kind == "video":
                clip = open_clip(channels_last(next(media["video"])))
            elif objects:
                raise ValueError(f"sample {index}: <region> markers need a video or an image (no <video>/<image> marker).")
            sample_regions = None if clip is None else self.mask_processor.decode(
                objects, clip, kind == "image", from_boxes, f"sample {index}", options.keep_vanished_masks,
                read_frames=False,
            )
            # the frames the masks lie on, preprocessed with the call's settings for the sample's medium, in the
            # same pass over the clip as its own frames (a frame that is both is preprocessed once)
            overrides = options.image_overrides if kind == "image" else options.video_overrides
            image_preprocessor = FramePreprocessor(self.image_processor, pad, overrides)  # images and region frames
            region_request = []
            if sample_regions is not None and sample_regions.masks and sample_regions.frames:
                region_request = [(image_preprocessor, list(sample_regions.frames))]
            if kind == "image":
                image_rows, *region_rows = preprocess_clip_frames(clip, [(image_preprocessor, [0]), *region_request])
                image_pixels.append(image_rows)
            elif kind == "video":
                video, _, region_rows = self.video_processor.clip_pixel_values(
                    clip, options.num_frames, pad, options.do_sample_frames, overrides, also=region_request
                )
                video_pixels.append(video)
                frames_per_video = video.shape[0]
            if region_request:
                sample_regions.frames = dict(zip(sample_regions.frames, region_rows[0]))
            if sample_regions is not None:
                regions.append(sample_regions)
            per_object = [len(obj) for obj in sample_regions.masks] if sample_regions is not None else []
            spans = target_spans[index] if target_spans is not None else None
            ids, targets, offsets = prompt_token_ids(
                self, prompt, per_object, frames_per_video, spans, with_offsets=options.return_offsets_mapping
            )
            batch_ids.append(ids)
            batch_targets.append(targets)
            batch_offsets.append(offsets)

        placeholders = (self.image_token_id, self.video_token_id, self.region_token_id)
        targets = batch_targets if target_spans is not None else None
        offsets = batch_offsets if options.return_offsets_mapping else None
        data: dict[str, Any] = finish_text(batch_ids, targets, options, self.tokenizer, placeholders, offsets)
        visual: dict[str, torch.Tensor] = {}
        if image_pixels:
            visual["pixel_values"] = torch.cat(image_pixels)
        if video_pixels:
            if len({tuple(v.shape) for v in video_pixels}) > 1:
                raise ValueError(
                    "The videos have different numbers of frames "
                    f"({[v.shape[0] for v in video_pixels]}) and cannot be batched: with do_sample_frames=False give "
                    "videos of equal length, or let the processor sample num_frames frames of each."
                )
            # one video: a view, no copy
            visual["pixel_values_videos"] = video_pixels[0][None] if len(video_pixels) == 1 else torch.stack(video_pixels)
        region_data, region_rows = self.mask_processor.collate(regions)
        if region_data:
            visual["region_pixel_values"] = torch.stack(region_rows)
            visual.update(region_data)
        if options.return_tensors == "np":
            visual = {key: value.numpy() for key, value in visual.items()}
        return BatchFeature(data={**data, **visual}, tensor_type="pt" if options.return_tensors == "pt" else None)

    def apply_chat_template(self, conversation: list | tuple, chat_template: str | None = None, **kwargs) -> Any:
        """transformers' `apply_chat_template`, for one conversation or a batch.

        With `tokenize=True` the media of `{"type": "video" / "image", "path" / "url" / "video" / "image": ...}`
        content blocks are read by this package's readers, and the objects come from the `{"type": "region",
        "masks": [{"frame", "size", "counts"}, ...]}` blocks, each conversation's in order, or from `masks` /
        `boxes` (in `processor_kwargs`, or as keyword arguments) when no block carries masks. A region block renders
        as the `<region>` marker (the original's `[<region>]` keeps its brackets in the text blocks around it), or as
        its `text` when it has one. Keys whose value is None count as absent (as a `datasets` column gives them).
        `return_assistant_tokens_mask=True` adds `assistant_masks` `(batch, seq_len)`, aligned with the expanded and
        padded `input_ids`: 1 on the tokens inside the template's `{% generation %}` spans (each answer, its
        `<|im_end|>` and the newline closing the turn; never a placeholder), the tokens `VideoReferDataCollator`
        trains on. Audio is refused.
        """
        moved = {key: kwargs.pop(key) for key in ("masks", "boxes", "target_spans", "keep_vanished_masks") if key in kwargs}
        if moved:
            kwargs["processor_kwargs"] = {**(kwargs.get("processor_kwargs") or {}), **moved}
        given = kwargs.get("processor_kwargs") or {}
        if kwargs.get("tokenize") and (given.get("masks") is not None or given.get("boxes") is not None):
            conversations, _ = self._normalize_conversations(conversation)
            if chat_template_regions(conversations) is not None:
                raise ValueError(
                    "The objects are given twice: the region blocks of the conversation carry masks and masks / boxes "
                    "were passed as well; give them one way."
                )
        return super().apply_chat_template(conversation, chat_template, **kwargs)

    def _multimodal_inputs_from_conversations(
        self, conversations: list, audio_loading_params: dict, load_audio_from_video: bool = False
    ) -> tuple[list, list, list, dict]:
        """The images and videos of the content blocks, per conversation, unread (see `chat_template_media`), and
        the objects of the region blocks as `masks` (see `chat_template_regions`)."""
        if load_audio_from_video:
            raise ValueError("VideoReferProcessor takes no audio: load_audio_from_video=True is not supported.")
        images, videos = chat_template_media(conversations)
        regions = chat_template_regions(conversations)
        return images, videos, [], {} if regions is None else {"masks": regions}

    def _adjust_assistant_masks_indices(self, processed_dict: BatchFeature, generation_indices: list) -> BatchFeature:
        """`assistant_masks` `(batch, seq_len)` from the `offset_mapping` of the call (character spans in each prompt,
        `(0, 0)` at placeholders and padding): 1 on a token lying inside a `{% generation %}` span, as the training
        labels of `target_spans` (the same rule, so that `assistant_only_loss` trains exactly those tokens)."""
        offsets = processed_dict.pop("offset_mapping")
        processed_dict.pop("text_replacement_offsets", None)
        offsets = offsets.tolist() if hasattr(offsets, "tolist") else offsets
        masks = []
        for row, spans in zip(offsets, generation_indices):
            masks.append([
                int(tuple(pair) != NO_OFFSET and any(low <= pair[0] and pair[1] <= high for low, high in spans))
                for pair in row
            ])
        input_ids = processed_dict["input_ids"]
        if isinstance(input_ids, torch.Tensor):  # the type of the other outputs, whatever return_tensors says
            masks = torch.tensor(masks, dtype=torch.long).reshape(input_ids.shape)
        elif isinstance(input_ids, np.ndarray):
            masks = np.array(masks, dtype=np.int64).reshape(input_ids.shape)
        processed_dict["assistant_masks"] = masks
        return processed_dict

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

    def decode_generated(self, generated_ids: torch.Tensor, inputs: Mapping, **kwargs) -> list[str]:
        """Decode what `generate` added after the prompt: `generated_ids[:, prompt_length:]`."""
        prompt_length = inputs["input_ids"].shape[1]
        return self.batch_decode(generated_ids[:, prompt_length:], skip_special_tokens=True, **kwargs)


__all__ = ["VideoReferProcessor", "VideoReferProcessorKwargs", "DEFAULT_CHAT_TEMPLATE"]

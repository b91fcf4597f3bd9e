# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoRefer: SigLIP -> spatio-temporal connector -> Qwen2, with a mask-pooling region encoder.

The processor expands every media marker into one placeholder per visual token and every `<region>` into one
placeholder per region token, so `input_ids` already has the length of the sequence the language model sees.
[`VideoReferModel.forward`] replaces the placeholders with features; the language-model head lives in
[`VideoReferForConditionalGeneration`].
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModel, GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache
from transformers.modeling_outputs import (
    BaseModelOutputWithPooling,
    MultimodalBaseModelOutputWithPast,
    MultimodalCausalLMOutputWithPast,
)
from transformers.modeling_utils import slice_logits_to_keep
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs, torch_compilable_check
from transformers.utils.deprecation import deprecate_kwarg
from transformers.utils.generic import can_return_tuple

from .configuration_videorefer import FREEZABLE_MODULES, VideoReferConfig
from .conversion_videorefer import register_legacy_weight_names
from .modeling_videorefer_connector import build_connector
from .modeling_videorefer_expansion import VideoReferExpansionMixin
from .modeling_videorefer_region import (
    VideoReferRegionEncoder,
    check_region_layout,
    masks_at_grid,
    region_slots,
)
from .modeling_videorefer_vision import VideoReferVisionMixin
from .token_layout_videorefer import num_visual_tokens

register_legacy_weight_names()


REGION_INPUT_NAMES = ("region_pixel_values", "region_masks", "region_mask_frame_index", "region_masks_per_object")
VISUAL_INPUT_NAMES = ("pixel_values", "pixel_values_videos") + REGION_INPUT_NAMES


@dataclass
class VideoReferModelOutputWithPast(MultimodalBaseModelOutputWithPast):
    r"""
    Outputs of [`VideoReferModel`]: those of transformers' multimodal models (`last_hidden_state`, `cache`,
    `hidden_states`, `attentions`, and `image_outputs` / `video_outputs`, the [`BaseModelOutputWithPooling`] of
    `get_image_features` / `get_video_features`, None when no images / videos were given), plus:

    region_keep_mask (`torch.BoolTensor` of shape `(batch_size, sequence_length)`, *optional*):
        False at `<region>` placeholders left over when token merging gave an object fewer tokens than it has
        placeholders (tied similarities); those positions are masked out of attention, as if absent.
    """

    region_keep_mask: torch.BoolTensor | None = None


@dataclass
class VideoReferCausalLMOutputWithPast(MultimodalCausalLMOutputWithPast):
    r"""
    Outputs of [`VideoReferForConditionalGeneration`]: `loss`, `logits`, `cache`, `hidden_states`, `attentions`,
    `image_outputs`, `video_outputs` (see [`VideoReferModelOutputWithPast`]), plus:

    region_keep_mask (`torch.BoolTensor` of shape `(batch_size, sequence_length)`, *optional*):
        See [`VideoReferModelOutputWithPast`].
    """

    region_keep_mask: torch.BoolTensor | None = None


class VideoReferPreTrainedModel(PreTrainedModel):
    config: VideoReferConfig
    config_class = VideoReferConfig
    base_model_prefix = "model"
    input_modalities = ("image", "video", "text")
    supports_gradient_checkpointing = True
    _no_split_modules = ["Qwen2DecoderLayer", "SiglipEncoderLayer", "SiglipVisionEmbeddings"]
    _skip_keys_device_placement = "cache"
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    # The decoding forward (input_ids without visual inputs, a static cache) has no data-dependent Python branch.
    _can_compile_fullgraph = True
    # Weight init: the vision tower (transformers' SiglipVisionModel) and the language model (Qwen2Model) are
    # initialised by their own `initialize_weights` (see below); the connector and region encoder (Linear, Conv3d,
    # LayerNorm) get the generic init with `text_config.initializer_range`. Weights missing from a checkpoint are
    # initialised so, exactly as a freshly built model.

    @torch.no_grad()
    def initialize_weights(self) -> None:
        """`PreTrainedModel.initialize_weights`, with transformers' own sub-models initialised first by their own
        rules. Dispatched from a model outside transformers (`is_custom_code()`), transformers would skip a module
        whose parameters all live in already-initialised children (SigLIP's attention and MLP, whose `_init_weights`
        sets their Linear layers), so missing SigLIP weights would get the generic Linear init instead of SigLIP's.
        """
        for module in self.modules():
            if module is not self and isinstance(module, PreTrainedModel) and not module.is_custom_code():
                module.initialize_weights()
        super().initialize_weights()

    def tie_weights(self, *args, **kwargs) -> None:
        """`PreTrainedModel.tie_weights`, then the freezing that `config.frozen_modules` asks for.

        `from_pretrained` ties the weights once they are loaded (loading resets `requires_grad`), and `post_init`
        ties them for a new model: the parts named there are frozen in both, before any trainer sees the model.
        """
        super().tie_weights(*args, **kwargs)
        self.freeze_modules(self.config.frozen_modules or ())

    def freeze_modules(self, names: Sequence[str]) -> None:
        """Set `requires_grad=False` on the parameters of the parts `names` (see `config.frozen_modules`); parts
        this class does not hold (`lm_head` of the base model) are left to the class that holds them."""
        if isinstance(names, str) or not set(names) <= set(FREEZABLE_MODULES):
            raise ValueError(
                f"frozen_modules must be a list of some of {list(FREEZABLE_MODULES)}, got {names!r}."
            )
        base = getattr(self, self.base_model_prefix, self)
        for name in names:
            part = getattr(base, name, None) if name != "lm_head" else getattr(self, "lm_head", None)
            if isinstance(part, nn.Module):
                part.requires_grad_(False)

    def save_pretrained(self, save_directory, *args, save_original_format: bool = False, **kwargs):
        """Save in the native layout (native weight names and config); see `PreTrainedModel.save_pretrained`."""
        return super().save_pretrained(save_directory, *args, save_original_format=save_original_format, **kwargs)


class VideoReferModel(VideoReferVisionMixin, VideoReferExpansionMixin, VideoReferPreTrainedModel):
    """The VideoRefer backbone: merges visual and region features into the text embeddings and runs Qwen2.

    Sub-modules: `vision_tower` (SigLIP vision model), `multi_modal_projector` (the connector), `region_encoder`,
    `language_model` (Qwen2 model without head).
    """

    def __init__(self, config: VideoReferConfig):
        super().__init__(config)
        self.vision_tower = AutoModel.from_config(config.vision_config)
        self.multi_modal_projector = build_connector(config)
        self.region_encoder = VideoReferRegionEncoder(config)
        self.language_model = AutoModel.from_config(config.text_config)
        self._compiled_frame_encoder = None
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        """The language model's token embedding table, `(text vocab_size, hidden)`.

        The image and video placeholder ids (`config.image_token_id`, `config.video_token_id`) lie past the end of
        this table (they are never embedded, only replaced by features), so `get_input_embeddings()(input_ids)` on
        processor output raises IndexError. Use [`~VideoReferModel.embed_input_ids`] to embed such ids.
        """
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_input_embeddings(value)

    def embed_input_ids(self, input_ids: torch.LongTensor) -> torch.Tensor:
        """Token embeddings of `input_ids` `(batch, seq_len)` -> `(batch, seq_len, hidden)`, placeholders included.

        Image and video placeholders (outside the table) get the embedding of id 0; the forward replaces them with
        visual features anyway. This is what the forward embeds, and a valid `inputs_embeds` to pass beside
        `input_ids`.
        """
        image_mask, video_mask, _ = self._placeholder_masks(input_ids)
        return self.get_input_embeddings()(input_ids.masked_fill(image_mask | video_mask, 0))

    @can_return_tuple
    def get_video_features(
        self,
        pixel_values_videos: torch.Tensor,
        frame_features: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> tuple | BaseModelOutputWithPooling:
        """Vision features and connector tokens of videos `(num_videos, frames, 3, H, W)`.

        Args:
            pixel_values_videos: `(num_videos, frames, 3, H, W)` sampled frames.
            frame_features: `(num_videos * frames, grid * grid, vision_hidden)`, skips the vision tower when the
                frames were already encoded.
            output_hidden_states: also return the tower's hidden states (embeddings + one per layer; not with
                `frame_features`); defaults to `config.output_hidden_states`. `output_attentions=True` (eager
                attention) returns the tower's attentions likewise.
            return_dict: False returns a tuple of the non-None fields; defaults to `config.return_dict`.

        Returns:
            [`BaseModelOutputWithPooling`]: `last_hidden_state` `(num_videos * frames, grid * grid, vision_hidden)`,
            the vision features at `vision_feature_layer`; `pooler_output` `(num_videos, tokens, text_hidden)`,
            the connector tokens that replace the video placeholders; `hidden_states` when asked.
        """
        if pixel_values_videos.ndim != 5:
            raise ValueError(
                "pixel_values_videos must be (num_videos, frames, 3, height, width), got shape "
                f"{tuple(pixel_values_videos.shape)}."
            )
        num_videos, frames = pixel_values_videos.shape[:2]
        frame_features, hidden_states, attentions = self._frame_encoder_outputs(
            pixel_values_videos.flatten(0, 1), frame_features, output_hidden_states, kwargs.get("output_attentions")
        )
        tokens = self.multi_modal_projector(frame_features.reshape(num_videos, frames, *frame_features.shape[1:]))
        return BaseModelOutputWithPooling(
            last_hidden_state=frame_features, pooler_output=tokens, hidden_states=hidden_states, attentions=attentions
        )

    @can_return_tuple
    def get_image_features(
        self,
        pixel_values: torch.Tensor,
        frame_features: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> tuple | BaseModelOutputWithPooling:
        """Vision features and connector tokens of images, each seen as a clip of `config.num_frames` copies.

        Args:
            pixel_values: `(num_images, 3, H, W)`.
            frame_features: `(num_images, grid * grid, vision_hidden)`, when already encoded.
            output_hidden_states / return_dict: as in [`~VideoReferModel.get_video_features`].

        Returns:
            [`BaseModelOutputWithPooling`]: `last_hidden_state` `(num_images, grid * grid, vision_hidden)`,
            `pooler_output` `(num_images, tokens, text_hidden)` (the tokens that replace the image placeholders),
            `hidden_states` when asked.
        """
        if pixel_values.ndim != 4:
            raise ValueError(f"pixel_values must be (num_images, 3, height, width), got shape {tuple(pixel_values.shape)}.")
        frame_features, hidden_states, attentions = self._frame_encoder_outputs(
            pixel_values, frame_features, output_hidden_states, kwargs.get("output_attentions")
        )
        tokens = self.multi_modal_projector(frame_features[:, None].expand(-1, self.config.num_frames, -1, -1))
        return BaseModelOutputWithPooling(
            last_hidden_state=frame_features, pooler_output=tokens, hidden_states=hidden_states, attentions=attentions
        )

    def get_region_features(
        self,
        region_pixel_values: torch.Tensor,
        region_masks: torch.Tensor | list[torch.Tensor],
        region_mask_frame_index: torch.Tensor,
        region_masks_per_object: torch.Tensor,
        frame_features: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Region tokens of all objects of the batch.

        Args:
            region_pixel_values: `(num_region_frames, 3, H, W)`, the frames the masks are on.
            region_masks: `(num_masks, h, w)` masks (any resolution; resized to the feature grid), or a list of
                `(h_i, w_i)` masks of different sizes. Object after object, frame after frame.
            region_mask_frame_index: `(num_masks,)`: row of `region_pixel_values` each mask is on.
            region_masks_per_object: `(num_objects,)`: masks of each object, objects in `<region>` order.
            frame_features: the vision features of `region_pixel_values`, when already computed.

        Returns:
            `(features (num_tokens, text_hidden), tokens_per_object (num_objects,))`.
        """
        masks = masks_at_grid(region_masks, self.config.vision_grid_size)
        frame_index = torch.as_tensor(region_mask_frame_index, dtype=torch.long)
        masks_per_object = torch.as_tensor(region_masks_per_object, dtype=torch.long)
        check_region_layout(masks, frame_index, masks_per_object, region_pixel_values.shape[0])
        if frame_features is None:
            frame_features = self.get_frame_features(region_pixel_values)
        return self.region_encoder(frame_features, masks, frame_index, masks_per_object)

    # ------------------------------------------------------------------------------------------- merging
    def expected_visual_tokens(self, num_frames: int) -> int:
        """Tokens the connector makes for a clip of `num_frames` frames."""
        return num_visual_tokens(
            self.config.projector_type, num_frames, self.config.vision_grid_size, self.config.projector_downsample
        )

    def placeholder_ids_from_embeds(self, inputs_embeds: torch.Tensor, given: Sequence[str] = ()) -> torch.LongTensor:
        """Locate the placeholders of `inputs_embeds` `(batch, seq_len, hidden)`, as transformers' VLMs do: the rows
        equal to the embedding of `image_token_id` / `video_token_id` / `region_token_id`.

        Returns `(batch, seq_len)` ids holding the placeholder id at each placeholder and -1 elsewhere, which the
        forward uses in place of `input_ids` to find the placeholders (never to embed).

        Raises:
            ValueError: a placeholder id the visual inputs `given` (names of `VISUAL_INPUT_NAMES`) need lies past the
                embedding table, so it has no embedding to recognise (the released checkpoints' image and video
                ids: the original marks media with ids that are never embedded); pass `input_ids` then.
        """
        table = self.get_input_embeddings()
        config = self.config
        needs = (
            ("image_token_id", config.image_token_id, "pixel_values" in given),
            ("video_token_id", config.video_token_id, "pixel_values_videos" in given),
            ("region_token_id", config.region_token_id, any(name in REGION_INPUT_NAMES for name in given)),
        )
        ids = torch.full(inputs_embeds.shape[:2], -1, dtype=torch.long, device=inputs_embeds.device)
        for name, token_id, needed in needs:
            if token_id is None or token_id >= table.num_embeddings or token_id < 0:
                if needed:
                    raise ValueError(
                        f"{', '.join(given)} given with inputs_embeds but without input_ids, and config.{name} "
                        f"({token_id}) lies outside the embedding table ({table.num_embeddings} rows), so its "
                        "placeholders have no embedding to be found by in inputs_embeds. Pass input_ids beside "
                        "inputs_embeds (model.model.embed_input_ids(input_ids) gives valid inputs_embeds)."
                    )
                continue
            row = table(torch.tensor(token_id, device=table.weight.device)).to(inputs_embeds.device, inputs_embeds.dtype)
            ids = ids.masked_fill((inputs_embeds == row).all(-1), token_id)
        return ids

    def _placeholder_masks(self, input_ids: torch.LongTensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`(batch, seq_len)` bool masks of the image, video and `<region>` placeholders of `input_ids`."""
        config = self.config
        return (
            input_ids == config.image_token_id,
            input_ids == config.video_token_id,
            input_ids == config.region_token_id,
        )

    def get_placeholder_mask(
        self,
        input_ids: torch.LongTensor,
        inputs_embeds: torch.Tensor,
        image_features: torch.Tensor | None = None,
        video_features: torch.Tensor | None = None,
        region_features: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Placeholder masks of `input_ids`, checked against the features that will replace them.

        Args:
            input_ids: `(batch, seq_len)` ids with one placeholder per feature token.
            inputs_embeds: `(batch, seq_len, hidden)` embeddings the features are scattered into.
            image_features / video_features: `(num_tokens, hidden)` connector tokens, one per image / video
                placeholder.
            region_features: `(num_region_placeholders, hidden)`, one row per `<region>` placeholder (unused
                slots included; which object owns which slot is checked by `region_slots`).

        Returns:
            The image, video and region masks, each `(batch, seq_len, 1)` bool on `inputs_embeds.device`, ready
            for `inputs_embeds.masked_scatter`.

        Raises:
            ValueError: when the number of placeholders of a kind given features differs from the number of
                feature tokens.
        """
        if input_ids is None:
            raise ValueError(
                "get_placeholder_mask needs input_ids: the image and video placeholder ids lie outside the embedding "
                "table, so they cannot be found in inputs_embeds."
            )
        masks = self._placeholder_masks(input_ids)
        named_features = (("Images", image_features), ("Videos", video_features), ("Regions", region_features))
        for mask, (what, features) in zip(masks, named_features):
            if features is not None:
                torch_compilable_check(
                    mask.sum() == features.shape[0],
                    lambda mask=mask, what=what, features=features: (
                        f"{what}: {features.shape[0]} feature tokens but {int(mask.sum())} placeholder tokens in "
                        "input_ids. input_ids must hold one placeholder per visual token (use VideoReferProcessor to "
                        "build them)."
                    ),
                )
        return tuple(mask.unsqueeze(-1).to(inputs_embeds.device) for mask in masks)

    def _check_prompt_length(self, length: int, cache: Cache | None) -> None:
        """A prompt (the first forward, with an empty cache) longer than the language model's positions is refused:
        Qwen2 would run past `max_position_embeddings` without complaint and answer from positions it never saw."""
        limit = getattr(self.config.text_config, "max_position_embeddings", None)
        if limit is None or length <= limit or (cache is not None and cache.get_seq_length() > 0):
            return
        raise ValueError(
            f"The prompt is {length} tokens (visual and region placeholders included) but the language model "
            f"handles at most {limit} positions (text_config.max_position_embeddings): use fewer frames "
            "(num_frames), a shorter text, or fewer objects."
        )

    @can_return_tuple
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        pixel_values_videos: torch.FloatTensor | None = None,
        region_pixel_values: torch.FloatTensor | None = None,
        region_masks: torch.Tensor | list[torch.Tensor] | None = None,
        region_mask_frame_index: torch.LongTensor | None = None,
        region_masks_per_object: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        use_cache: bool | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> tuple | VideoReferModelOutputWithPast:
        r"""
        Args:
            input_ids (`(batch, seq_len)`): text ids with one placeholder per visual token (`image_token_id`,
                `video_token_id`) and per region token (`region_token_id`).
            pixel_values (`(num_images, 3, H, W)`): images, in order of appearance in the batch.
            pixel_values_videos (`(num_videos, frames, 3, H, W)`): sampled video frames.
            region_pixel_values (`(num_region_frames, 3, H, W)`): the frames the masks are on.
            region_masks (`(num_masks, h, w)` or list of `(h_i, w_i)`): masks, object after object.
            region_mask_frame_index (`(num_masks,)`): row of `region_pixel_values` each mask is on.
            region_masks_per_object (`(num_objects,)`): masks per object, objects in `<region>` order over the batch.
            attention_mask (`(batch, seq_len)`), position_ids (`(batch, seq_len)`), cache, use_cache: as for the
                language model. `past_key_values=` is the deprecated name of `cache` (a FutureWarning, as in
                transformers' own models).
            inputs_embeds (`(batch, seq_len, hidden)`): embeddings to use instead of embedding `input_ids`. With
                visual inputs and no `input_ids`, the placeholders are found in `inputs_embeds` as transformers' VLMs
                find them (rows equal to the placeholder id's embedding, see `placeholder_ids_from_embeds`), which
                needs the placeholder ids inside the embedding table. The released checkpoints put the image and
                video ids past the table (the original never embeds them): pass `input_ids` beside `inputs_embeds`
                then; `input_ids` locate the placeholders and `inputs_embeds` supply every other position
                (`embed_input_ids` builds valid `inputs_embeds` from such ids).
            return_dict (`bool`, *optional*): False returns a tuple (the output's non-None fields, in order);
                defaults to `config.return_dict`.

        Returns:
            [`VideoReferModelOutputWithPast`] with `last_hidden_state` of shape `(batch, seq_len, hidden)`.
        """
        if input_ids is None and inputs_embeds is None:
            raise ValueError("Pass input_ids or inputs_embeds (or both, to give embeddings beside visual inputs).")
        if input_ids is not None and inputs_embeds is not None and tuple(inputs_embeds.shape[:2]) != tuple(input_ids.shape):
            raise ValueError(
                f"inputs_embeds of shape {tuple(inputs_embeds.shape)} do not match input_ids of shape "
                f"{tuple(input_ids.shape)}: with both, inputs_embeds must be (batch, seq_len, hidden) for the same "
                "(batch, seq_len)."
            )
        self._check_prompt_length((input_ids if input_ids is not None else inputs_embeds).shape[1], cache)
        if input_ids is None:
            visual = dict(zip(VISUAL_INPUT_NAMES, (pixel_values, pixel_values_videos, region_pixel_values, region_masks, region_mask_frame_index, region_masks_per_object)))
            given = [name for name, value in visual.items() if value is not None]
            if not given:
                return self._run_language_model(
                    inputs_embeds, attention_mask, position_ids, cache, use_cache, None, **kwargs
                )
            # Only the placeholders are located from the embeddings; inputs_embeds stay what the model embeds.
            input_ids = self.placeholder_ids_from_embeds(inputs_embeds, given)

        image_mask, video_mask, region_mask = self._placeholder_masks(input_ids)
        if inputs_embeds is None:
            inputs_embeds = self.embed_input_ids(input_ids)

        if pixel_values_videos is not None and pixel_values_videos.ndim != 5:
            raise ValueError(
                "pixel_values_videos must be (num_videos, frames, 3, height, width), got shape "
                f"{tuple(pixel_values_videos.shape)}."
            )
        image_frames, video_frames, region_frames = self.encode_frames_once(
            pixel_values, None if pixel_values_videos is None else pixel_values_videos.flatten(0, 1), region_pixel_values
        )
        image_outputs = video_outputs = None
        if pixel_values is not None:
            image_outputs = self.get_image_features(pixel_values, image_frames, return_dict=True)
            features = image_outputs.pooler_output.flatten(0, 1)
            special_image_mask, _, _ = self.get_placeholder_mask(input_ids, inputs_embeds, image_features=features)
            features = features.to(inputs_embeds.device, inputs_embeds.dtype)
            inputs_embeds = inputs_embeds.masked_scatter(special_image_mask, features)
        elif cache is None and bool(image_mask.any()):
            raise ValueError("input_ids hold image placeholders but no pixel_values were given.")
        if pixel_values_videos is not None:
            video_outputs = self.get_video_features(pixel_values_videos, video_frames, return_dict=True)
            features = video_outputs.pooler_output.flatten(0, 1)
            _, special_video_mask, _ = self.get_placeholder_mask(input_ids, inputs_embeds, video_features=features)
            features = features.to(inputs_embeds.device, inputs_embeds.dtype)
            inputs_embeds = inputs_embeds.masked_scatter(special_video_mask, features)
        elif cache is None and bool(video_mask.any()):
            raise ValueError("input_ids hold video placeholders but no pixel_values_videos were given.")

        region_keep_mask = None
        if region_pixel_values is not None:
            if region_masks is None or region_mask_frame_index is None or region_masks_per_object is None:
                raise ValueError(
                    "region_pixel_values needs region_masks, region_mask_frame_index and region_masks_per_object."
                )
            masks_per_object = torch.as_tensor(region_masks_per_object, dtype=torch.long)
            features, tokens_per_object = self.get_region_features(
                region_pixel_values, region_masks, region_mask_frame_index, masks_per_object, region_frames
            )
            # The region rule: each object owns min(masks, region_token_num) placeholders (checked here, with its
            # own messages); merging may leave some of them unused, which get zero features and are masked out.
            slot, used = region_slots(region_mask, masks_per_object, tokens_per_object, self.config.region_token_num)
            slot_features = features.new_zeros(used.numel(), features.shape[-1]).index_copy(0, slot, features)
            _, _, special_region_mask = self.get_placeholder_mask(
                input_ids, inputs_embeds, region_features=slot_features
            )
            slot_features = slot_features.to(inputs_embeds.device, inputs_embeds.dtype)
            inputs_embeds = inputs_embeds.masked_scatter(special_region_mask, slot_features)
            if not bool(used.all()):
                region_keep_mask = torch.ones_like(region_mask)
                region_keep_mask[region_mask] = used
        elif cache is None and bool(region_mask.any()):
            raise ValueError(
                "input_ids hold <region> placeholders but no region inputs (region_pixel_values, region_masks, ...) "
                "were given: every <region> needs an object mask."
            )

        if region_keep_mask is not None:
            attention_mask = torch.ones_like(input_ids, dtype=torch.long) if attention_mask is None else attention_mask
            attention_mask = attention_mask * region_keep_mask.to(attention_mask.dtype)
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        return self._run_language_model(
            inputs_embeds,
            attention_mask,
            position_ids,
            cache,
            use_cache,
            region_keep_mask,
            image_outputs=image_outputs,
            video_outputs=video_outputs,
            **kwargs,
        )

    def _run_language_model(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None,
        position_ids: torch.LongTensor | None,
        cache: Cache | None,
        use_cache: bool | None,
        region_keep_mask: torch.BoolTensor | None,
        image_outputs: BaseModelOutputWithPooling | None = None,
        video_outputs: BaseModelOutputWithPooling | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> VideoReferModelOutputWithPast:
        """Run Qwen2 on the merged `(batch, seq_len, hidden)` embeddings; always returns the output dataclass
        (`return_dict` is handled by `forward`'s `can_return_tuple`, whatever the text config says)."""
        outputs = self.language_model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=use_cache,
            return_dict=True,
            **kwargs,
        )
        return VideoReferModelOutputWithPast(
            last_hidden_state=outputs.last_hidden_state,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            image_outputs=image_outputs,
            video_outputs=video_outputs,
            region_keep_mask=region_keep_mask,
        )


class VideoReferForConditionalGeneration(VideoReferPreTrainedModel, GenerationMixin):
    """VideoRefer with its language-model head: `model(**processor(...))` and `model.generate(**processor(...))`."""

    _tied_weights_keys = {"lm_head.weight": "model.language_model.embed_tokens.weight"}
    _tp_plan = {"lm_head": "colwise_gather_output"}

    def __init__(self, config: VideoReferConfig):
        super().__init__(config)
        self.model = VideoReferModel(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Module:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Module) -> None:
        self.lm_head = value

    @can_return_tuple
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        pixel_values_videos: torch.FloatTensor | None = None,
        region_pixel_values: torch.FloatTensor | None = None,
        region_masks: torch.Tensor | list[torch.Tensor] | None = None,
        region_mask_frame_index: torch.LongTensor | None = None,
        region_masks_per_object: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs: Unpack[TransformersKwargs],
    ) -> tuple | VideoReferCausalLMOutputWithPast:
        r"""
        Same inputs as [`VideoReferModel.forward`] (`return_dict=False` included), plus `labels`
        (`(batch, seq_len)`, -100 where no loss) and `logits_to_keep`. Returns logits of shape
        `(batch, seq_len, vocab_size)` (fewer positions with `logits_to_keep`).
        """
        outputs = self.model(
            input_ids=input_ids,
            pixel_values=pixel_values,
            pixel_values_videos=pixel_values_videos,
            region_pixel_values=region_pixel_values,
            region_masks=region_masks,
            region_mask_frame_index=region_mask_frame_index,
            region_masks_per_object=region_masks_per_object,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            return_dict=True,
            **kwargs,
        )
        hidden_states = slice_logits_to_keep(outputs.last_hidden_state, logits_to_keep)
        logits = self.lm_head(hidden_states)
        loss = None
        if labels is not None:
            loss = self.loss_function(logits=logits, labels=labels, vocab_size=self.config.text_config.vocab_size, **kwargs)
        return VideoReferCausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            image_outputs=outputs.image_outputs,
            video_outputs=outputs.video_outputs,
            region_keep_mask=outputs.region_keep_mask,
        )

    def get_image_features(self, pixel_values: torch.Tensor, **kwargs) -> tuple | BaseModelOutputWithPooling:
        """See [`VideoReferModel.get_image_features`]."""
        return self.model.get_image_features(pixel_values, **kwargs)

    def get_video_features(self, pixel_values_videos: torch.Tensor, **kwargs) -> tuple | BaseModelOutputWithPooling:
        """See [`VideoReferModel.get_video_features`]."""
        return self.model.get_video_features(pixel_values_videos, **kwargs)

    def prepare_inputs_for_generation(
        self,
        input_ids: torch.LongTensor,
        next_sequence_length: int | None = None,
        cache: Cache | None = None,
        attention_mask: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        is_first_iteration: bool | None = False,
        **kwargs,
    ) -> dict:
        """`GenerationMixin.prepare_inputs_for_generation`, plus:

        - visual and region inputs are used on the first step only (their features are in the cache);
        - with `generate(input_ids=..., inputs_embeds=...)` the first step gets both, `input_ids` `(batch, seq_len)`
          locating the placeholders and `inputs_embeds` `(batch, seq_len, hidden)` the embeddings (see
          [`VideoReferModel.forward`]); `generate(inputs_embeds=...)` alone works for text.
        """
        model_inputs = super().prepare_inputs_for_generation(
            input_ids,
            next_sequence_length=next_sequence_length,
            cache=cache,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            is_first_iteration=is_first_iteration,
            **kwargs,
        )
        prompt_embeds = model_inputs.get("inputs_embeds")
        if prompt_embeds is not None and input_ids is not None:
            prompt_ids = input_ids[:, -next_sequence_length:] if next_sequence_length is not None else input_ids
            if tuple(prompt_ids.shape) == tuple(prompt_embeds.shape[:2]):
                model_inputs["input_ids"] = prompt_ids.clone(memory_format=torch.contiguous_format)
        if not is_first_iteration and kwargs.get("use_cache", True):
            for key in VISUAL_INPUT_NAMES:
                model_inputs.pop(key, None)
        return model_inputs

    def _expand_inputs_for_generation(
        self,
        expand_size: int = 1,
        is_encoder_decoder: bool = False,
        input_ids: torch.LongTensor | None = None,
        **model_kwargs,
    ) -> tuple[torch.LongTensor, dict]:
        """Repeat every sample `expand_size` times (beam search, `num_return_sequences`), visual inputs included.

        `GenerationMixin` repeats each row of every tensor, which is right for per-sample tensors but not for the
        image, video and region inputs, whose rows are items (images, masks, objects) of all samples together. Here
        each sample's items are repeated as a block, in the interleaved order of the repeated rows
        (sample 0 x expand_size, sample 1 x expand_size, ...); see [`VideoReferModel.expand_visual_inputs`].
        """
        if expand_size == 1:
            return super()._expand_inputs_for_generation(
                expand_size=expand_size, is_encoder_decoder=is_encoder_decoder, input_ids=input_ids, **model_kwargs
            )
        visual = {key: model_kwargs.pop(key) for key in VISUAL_INPUT_NAMES if model_kwargs.get(key) is not None}
        if visual:
            located = input_ids
            if input_ids is None or input_ids.ndim != 2 or input_ids.shape[1] == 0:
                if model_kwargs.get("inputs_embeds") is None:
                    raise ValueError(
                        f"{', '.join(visual)} need input_ids (batch, seq_len) or inputs_embeds holding their "
                        "placeholders, but generate() was given neither."
                    )
                located = self.model.placeholder_ids_from_embeds(model_kwargs["inputs_embeds"], tuple(visual))
            visual = self.model.expand_visual_inputs(located, expand_size, **visual)
        expanded_ids, model_kwargs = super()._expand_inputs_for_generation(
            expand_size=expand_size, is_encoder_decoder=is_encoder_decoder, input_ids=input_ids, **model_kwargs
        )
        model_kwargs.update(visual)
        return expanded_ids, model_kwargs

    def _update_model_kwargs_for_generation(self, outputs, model_kwargs: dict, *args, **kwargs) -> dict:
        """Carry the masking of unused `<region>` placeholders (see `region_keep_mask`) into later steps."""
        keep = getattr(outputs, "region_keep_mask", None)
        if keep is not None:
            # generate() drops an all-ones attention mask; the unused placeholders then need one of their own.
            attention_mask = model_kwargs.get("attention_mask")
            if attention_mask is None:
                attention_mask = torch.ones_like(keep, dtype=torch.long)
            model_kwargs["attention_mask"] = attention_mask * keep.to(attention_mask.dtype)
            if model_kwargs.get("position_ids") is not None:
                positions = (model_kwargs["attention_mask"].long().cumsum(-1) - 1).clamp(min=0)
                model_kwargs["position_ids"] = positions
        return super()._update_model_kwargs_for_generation(outputs, model_kwargs, *args, **kwargs)


__all__ = ["VideoReferPreTrainedModel", "VideoReferModel", "VideoReferForConditionalGeneration"]

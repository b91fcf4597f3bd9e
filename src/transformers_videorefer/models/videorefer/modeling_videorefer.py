# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoRefer: SigLIP -> spatio-temporal connector -> Qwen2, with a mask-pooling region encoder.

The processor expands every media marker into one placeholder per visual token and every `<region>` into one
placeholder per region token, so `input_ids` already has the length of the sequence the language model sees.
[`VideoReferModel.forward`] replaces the placeholders with features; the language-model head lives in
[`VideoReferForConditionalGeneration`].
"""

from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoModel, GenerationMixin, PreTrainedModel
from transformers.cache_utils import Cache
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.modeling_utils import slice_logits_to_keep
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs, torch_compilable_check
from transformers.utils.generic import can_return_tuple

from .configuration_videorefer import VideoReferConfig
from .conversion_videorefer import register_legacy_weight_names
from .modeling_videorefer_connector import build_connector
from .modeling_videorefer_region import (
    VideoReferRegionEncoder,
    check_region_layout,
    masks_at_grid,
    region_slots,
)
from .token_layout_videorefer import num_visual_tokens

register_legacy_weight_names()


@dataclass
class VideoReferModelOutputWithPast(BaseModelOutputWithPast):
    r"""
    region_keep_mask (`torch.BoolTensor` of shape `(batch_size, sequence_length)`, *optional*):
        False at `<region>` placeholders left over when token merging gave an object fewer tokens than it has
        placeholders (tied similarities); those positions are masked out of attention, as if absent.
    """

    region_keep_mask: torch.BoolTensor | None = None


@dataclass
class VideoReferCausalLMOutputWithPast(CausalLMOutputWithPast):
    r"""
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

    def save_pretrained(self, save_directory, *args, save_original_format: bool = False, **kwargs):
        """Save in the native layout (native weight names and config); see `PreTrainedModel.save_pretrained`."""
        return super().save_pretrained(save_directory, *args, save_original_format=save_original_format, **kwargs)


class VideoReferModel(VideoReferPreTrainedModel):
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
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_input_embeddings(value)

    # ----------------------------------------------------------------------------------------------- vision
    def _num_vision_layers_to_run(self) -> int:
        layers = self.config.vision_config.num_hidden_layers
        index = self.config.vision_feature_layer
        return index if index >= 0 else layers + 1 + index

    def get_frame_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Patch features of frames: `(num_frames, 3, H, W)` -> `(num_frames, grid * grid, vision_hidden)`.

        The hidden state at `vision_feature_layer` (index into the tower's hidden states, 0 = embeddings); the
        layers after it are not run.
        """
        if pixel_values.ndim != 4:
            raise ValueError(f"Frame pixel values must be (num_frames, 3, height, width), got shape {tuple(pixel_values.shape)}.")
        pixel_values = pixel_values.to(dtype=self.vision_tower.embeddings.patch_embedding.weight.dtype)
        if self._compiled_frame_encoder is not None and not torch.is_grad_enabled():
            return self._compiled_frame_encoder(pixel_values)
        return self._encode_frames(pixel_values)

    def _encode_frames(self, pixel_values: torch.Tensor) -> torch.Tensor:
        tower = self.vision_tower
        hidden_states = tower.embeddings(pixel_values)
        for layer in tower.encoder.layers[: self._num_vision_layers_to_run()]:
            hidden_states = layer(hidden_states, None)
        return hidden_states

    def compile_vision_tower(self, **compile_kwargs) -> None:
        """Use a `torch.compile`d vision tower for inference (not while gradients are recorded).

        One graph per number of frames in a batch; `compile_kwargs` go to `torch.compile` (default
        `dynamic=False`). Same results up to floating-point rounding of fused kernels.
        """
        compile_kwargs.setdefault("dynamic", False)
        self._compiled_frame_encoder = torch.compile(self._encode_frames, **compile_kwargs)

    def prune_unused_vision_layers(self) -> int:
        """Delete the vision layers after `vision_feature_layer`, the post-layernorm and the pooling head.

        They are never computed; removing them saves their memory (about 61 MB at the 7B shapes) for inference.
        The model can still be saved, without them (loading such a checkpoint reports them missing, harmlessly).
        Returns the number of parameters removed.
        """
        tower = self.vision_tower
        keep = self._num_vision_layers_to_run()
        removed = sum(p.numel() for layer in tower.encoder.layers[keep:] for p in layer.parameters())
        tower.encoder.layers = tower.encoder.layers[:keep]
        for name in ("post_layernorm", "head"):
            module = getattr(tower, name, None)
            if isinstance(module, nn.Module):
                removed += sum(p.numel() for p in module.parameters())
                setattr(tower, name, nn.Identity())
        return removed

    def get_video_features(
        self, pixel_values_videos: torch.Tensor, frame_features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Connector tokens of videos: `(num_videos, frames, 3, H, W)` -> `(num_videos, tokens, text_hidden)`.

        `frame_features` (`(num_videos * frames, grid * grid, vision_hidden)`) skips the vision tower when the
        frames were already encoded.
        """
        if pixel_values_videos.ndim != 5:
            raise ValueError(
                "pixel_values_videos must be (num_videos, frames, 3, height, width), got shape "
                f"{tuple(pixel_values_videos.shape)}."
            )
        num_videos, frames = pixel_values_videos.shape[:2]
        if frame_features is None:
            frame_features = self.get_frame_features(pixel_values_videos.flatten(0, 1))
        return self.multi_modal_projector(frame_features.reshape(num_videos, frames, *frame_features.shape[1:]))

    def get_image_features(self, pixel_values: torch.Tensor, frame_features: torch.Tensor | None = None) -> torch.Tensor:
        """Connector tokens of images, each seen as a clip of `config.num_frames` copies of itself.

        `(num_images, 3, H, W)` -> `(num_images, tokens, text_hidden)`; `frame_features` as in
        `get_video_features`.
        """
        if frame_features is None:
            frame_features = self.get_frame_features(pixel_values)
        return self.multi_modal_projector(frame_features[:, None].expand(-1, self.config.num_frames, -1, -1))

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

    def encode_frames_once(self, *pixel_groups: torch.Tensor | None) -> list[torch.Tensor | None]:
        """Vision features of several groups of frames with one pass of the vision tower.

        Each group is `(n_i, 3, H, W)` (or None); returns one `(n_i, grid * grid, vision_hidden)` tensor per group.
        """
        present = [group for group in pixel_groups if group is not None]
        if not present:
            return [None] * len(pixel_groups)
        if len({tuple(group.shape[1:]) for group in present}) > 1:  # frames of different sizes: one pass each
            pieces = iter([self.get_frame_features(group) for group in present])
        else:
            features = self.get_frame_features(torch.cat(present) if len(present) > 1 else present[0])
            pieces = iter(torch.split(features, [group.shape[0] for group in present]))
        return [None if group is None else next(pieces) for group in pixel_groups]

    # ------------------------------------------------------------------------------------------- merging
    def expected_visual_tokens(self, num_frames: int) -> int:
        """Tokens the connector makes for a clip of `num_frames` frames."""
        return num_visual_tokens(
            self.config.projector_type, num_frames, self.config.vision_grid_size, self.config.projector_downsample
        )

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
        if limit is None or (cache is not None and cache.get_seq_length() > 0) or length <= limit:
            return
        raise ValueError(
            f"The prompt is {length} tokens (visual and region placeholders included) but the language model "
            f"handles at most {limit} positions (text_config.max_position_embeddings): use fewer frames "
            "(num_frames), a shorter text, or fewer objects."
        )

    @can_return_tuple
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
            attention_mask (`(batch, seq_len)`), position_ids (`(batch, seq_len)`), cache, inputs_embeds
                (`(batch, seq_len, hidden)`), use_cache: as for the language model. `past_key_values=` is accepted
                as the older name of `cache`.
            return_dict (`bool`, *optional*): False returns a tuple (the output's non-None fields, in order);
                defaults to `config.return_dict`.

        Returns:
            [`VideoReferModelOutputWithPast`] with `last_hidden_state` of shape `(batch, seq_len, hidden)`.
        """
        if "past_key_values" in kwargs:
            cache = kwargs.pop("past_key_values")
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids or inputs_embeds.")
        self._check_prompt_length((input_ids if input_ids is not None else inputs_embeds).shape[1], cache)
        if input_ids is None:
            if any(v is not None for v in (pixel_values, pixel_values_videos, region_pixel_values)):
                raise ValueError("Visual inputs need input_ids, to find the placeholders they replace.")
            return self._run_language_model(inputs_embeds, attention_mask, position_ids, cache, use_cache, None, **kwargs)

        image_mask, video_mask, region_mask = self._placeholder_masks(input_ids)
        embed_ids = input_ids.masked_fill(image_mask | video_mask, 0)
        inputs_embeds = self.get_input_embeddings()(embed_ids)

        if pixel_values_videos is not None and pixel_values_videos.ndim != 5:
            raise ValueError(
                "pixel_values_videos must be (num_videos, frames, 3, height, width), got shape "
                f"{tuple(pixel_values_videos.shape)}."
            )
        image_frames, video_frames, region_frames = self.encode_frames_once(
            pixel_values, None if pixel_values_videos is None else pixel_values_videos.flatten(0, 1), region_pixel_values
        )
        if pixel_values is not None:
            features = self.get_image_features(pixel_values, image_frames).flatten(0, 1)
            special_image_mask, _, _ = self.get_placeholder_mask(input_ids, inputs_embeds, image_features=features)
            features = features.to(inputs_embeds.device, inputs_embeds.dtype)
            inputs_embeds = inputs_embeds.masked_scatter(special_image_mask, features)
        elif cache is None and bool(image_mask.any()):
            raise ValueError("input_ids hold image placeholders but no pixel_values were given.")
        if pixel_values_videos is not None:
            features = self.get_video_features(pixel_values_videos, video_frames).flatten(0, 1)
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
            attention_mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
            attention_mask = attention_mask * region_keep_mask.to(attention_mask.dtype)
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        return self._run_language_model(
            inputs_embeds, attention_mask, position_ids, cache, use_cache, region_keep_mask, **kwargs
        )

    def _run_language_model(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None,
        position_ids: torch.LongTensor | None,
        cache: Cache | None,
        use_cache: bool | None,
        region_keep_mask: torch.BoolTensor | None,
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
            region_keep_mask=region_keep_mask,
        )


class VideoReferForConditionalGeneration(VideoReferPreTrainedModel, GenerationMixin):
    """VideoRefer with its language-model head: `model(**processor(...))` and `model.generate(**processor(...))`."""

    _tied_weights_keys = {"lm_head.weight": "model.language_model.embed_tokens.weight"}

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
            region_keep_mask=outputs.region_keep_mask,
        )

    def prepare_inputs_for_generation(self, *args, is_first_iteration: bool | None = False, **kwargs):
        """Region inputs, like pixel values, are used on the first step only (their features are in the cache)."""
        model_inputs = super().prepare_inputs_for_generation(*args, is_first_iteration=is_first_iteration, **kwargs)
        if not is_first_iteration and kwargs.get("use_cache", True):
            for key in ("region_pixel_values", "region_masks", "region_mask_frame_index", "region_masks_per_object"):
                model_inputs.pop(key, None)
        return model_inputs

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

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoRefer-VideoLLaMA3: VideoLLaMA3 (SigLIP-NaViT -> mlp2x_gelu -> Qwen2) with a mask-pooling region encoder.

The processor expands every frame's `<image>` into one placeholder per merged visual token (before token
compression) and every `<region>` into `[` + `<REGION>` x n_i + `]`. [`VideoReferVL3Model.forward`] embeds the ids,
writes the projected visual features and the region tokens into their placeholders, then drops the `<image>`
positions that token compression discards (`compression_mask`) and re-pads the batch, as the original does. The
vision encoder and the projector are transformers' own VideoLLaMA3 modules.
"""

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
from transformers.models.video_llama_3.modeling_video_llama_3 import (
    VideoLlama3Projector,
    VideoLlama3VisionModel,
)
from transformers.processing_utils import Unpack
from transformers.utils import TransformersKwargs
from transformers.utils.generic import can_return_tuple

from .configuration_videorefer_vl3 import VideoReferVL3Config
from .conversion_videorefer_vl3 import register_legacy_weight_names
from .modeling_videorefer_vl3_compression import (
    compress_sequences,
    is_left_padded,
    positions_from_mask,
    sequence_keep_mask,
)
from .modeling_videorefer_vl3_region import (
    VideoReferVL3RegionEncoder,
    region_token_counts,
)

register_legacy_weight_names()

VISUAL_INPUT_NAMES = ("pixel_values", "grid_thw", "merge_sizes", "compression_mask")
REGION_INPUT_NAMES = ("region_pixel_values", "region_grid_thw", "region_masks", "region_mask_sizes")


@dataclass
class VideoReferVL3ModelOutputWithPast(MultimodalBaseModelOutputWithPast):
    r"""
    Outputs of [`VideoReferVL3Model`] (those of transformers' multimodal models), plus:

    token_keep_mask (`torch.BoolTensor` of shape `(batch_size, input_seq_len)`, *optional*):
        False at the `<image>` positions that token compression removed; set only when positions were removed (the
        outputs then have the shorter, re-padded length).
    attention_mask (`torch.LongTensor` of shape `(batch_size, seq_len)`, *optional*):
        The attention mask of the sequence the language model saw (after compression).
    """

    token_keep_mask: torch.BoolTensor | None = None
    attention_mask: torch.Tensor | None = None
    region_outputs: torch.FloatTensor | None = None


@dataclass
class VideoReferVL3CausalLMOutputWithPast(MultimodalCausalLMOutputWithPast):
    r"""
    Outputs of [`VideoReferVL3ForConditionalGeneration`]: `loss`, `logits` (over the compressed sequence),
    `cache`, ..., plus `token_keep_mask` and `attention_mask` (see [`VideoReferVL3ModelOutputWithPast`]).
    """

    token_keep_mask: torch.BoolTensor | None = None
    attention_mask: torch.Tensor | None = None


class VideoReferVL3PreTrainedModel(PreTrainedModel):
    config: VideoReferVL3Config
    config_class = VideoReferVL3Config
    base_model_prefix = "model"
    input_modalities = ("image", "video", "text")
    supports_gradient_checkpointing = True
    _no_split_modules = ["Qwen2DecoderLayer", "VideoLlama3VisionEncoderLayer"]
    _skip_keys_device_placement = "cache"
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_attention_backend = True

    def save_pretrained(self, save_directory, *args, save_original_format: bool = False, **kwargs):
        """Save in the native layout (native weight names and config); see `PreTrainedModel.save_pretrained`."""
        return super().save_pretrained(save_directory, *args, save_original_format=save_original_format, **kwargs)


def _check_patch_rows(pixel_values: torch.Tensor, grid_thw: torch.Tensor, pixels_name: str, grid_name: str) -> None:
    """`pixel_values` must be `(sum of t*h*w, channels*patch^2)`: one row per patch of the grids."""
    patches = int(grid_thw.prod(-1).sum())
    if pixel_values.ndim != 2 or pixel_values.shape[0] != patches:
        raise ValueError(
            f"{pixels_name} has shape {tuple(pixel_values.shape)} but {grid_name} describes {patches} patch(es); "
            "expected (sum of t*h*w over the grids, 3*patch*patch)."
        )


def _check_region_inputs(given: dict[str, torch.Tensor | None]) -> None:
    missing = [name for name, value in given.items() if value is None]
    if missing and len(missing) < len(given):
        raise ValueError(
            f"Region inputs are incomplete: {', '.join(missing)} missing; give all of {', '.join(given)} or none."
        )
    if missing:
        return
    masks, sizes, grids = given["region_masks"], given["region_mask_sizes"], given["region_grid_thw"]
    if masks.ndim != 3 or sizes.shape != (masks.shape[0], 2) or grids.shape != (masks.shape[0], 3):
        raise ValueError(
            f"region_masks {tuple(masks.shape)}, region_mask_sizes {tuple(sizes.shape)} and region_grid_thw "
            f"{tuple(grids.shape)} must be (num_masks, Hmax, Wmax), (num_masks, 2) and (num_masks, 3)."
        )
    if bool((sizes[:, 0] > masks.shape[1]).any() or (sizes[:, 1] > masks.shape[2]).any()):
        raise ValueError(f"region_mask_sizes exceed the padded region_masks of shape {tuple(masks.shape)}.")
    _check_patch_rows(given["region_pixel_values"], grids, "region_pixel_values", "region_grid_thw")


class VideoReferVL3Model(VideoReferVL3PreTrainedModel):
    """The VideoRefer-VideoLLaMA3 backbone: merges visual and region features into the text embeddings, applies
    token compression and runs Qwen2.

    Sub-modules: `vision_model` (transformers' `VideoLlama3VisionModel`), `projector` (`VideoLlama3Projector`),
    `region_encoder`, `language_model` (Qwen2 model without head).
    """

    def __init__(self, config: VideoReferVL3Config):
        super().__init__(config)
        self.vision_model = VideoLlama3VisionModel._from_config(config.vision_config)
        self.projector = VideoLlama3Projector(config)
        self.region_encoder = VideoReferVL3RegionEncoder(config)
        self.language_model = AutoModel.from_config(config.text_config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.language_model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        self.language_model.set_input_embeddings(value)

    @can_return_tuple
    def get_image_features(
        self, pixel_values: torch.FloatTensor, grid_thw: torch.LongTensor, merge_sizes: torch.LongTensor, **kwargs
    ) -> tuple | BaseModelOutputWithPooling:
        """Projected visual tokens of images / video frames.

        Args:
            pixel_values: `(sum of h*w patches, 3*14*14)`, each frame in merge-block order.
            grid_thw: `(num_frames, 3)` `(1, h, w)` in patches.
            merge_sizes: `(num_frames,)` 2 for video frames, 1 for images.

        Returns:
            `BaseModelOutputWithPooling`: `last_hidden_state` `(sum of h*w/merge^2, vision_hidden)` (merged,
            before projection) and `pooler_output` `(sum of h*w/merge^2, text_hidden)` (projected).
        """
        outputs = self.vision_model(pixel_values, grid_thw=grid_thw, merge_sizes=merge_sizes, return_dict=True, **kwargs)
        outputs.pooler_output = self.projector(outputs.last_hidden_state)
        return outputs

    @can_return_tuple
    def get_video_features(
        self, pixel_values: torch.FloatTensor, grid_thw: torch.LongTensor, merge_sizes: torch.LongTensor, **kwargs
    ) -> tuple | BaseModelOutputWithPooling:
        """Same as [`~VideoReferVL3Model.get_image_features`]: a video is a list of frames here."""
        return self.get_image_features(pixel_values, grid_thw, merge_sizes, **kwargs)

    def get_region_features(
        self,
        region_pixel_values: torch.FloatTensor,
        region_grid_thw: torch.LongTensor,
        region_masks: torch.Tensor,
        region_mask_sizes: torch.LongTensor,
    ) -> torch.Tensor:
        """Region tokens `(sum of min(region_token_num, cells_i), text_hidden)` of all masks, mask after mask.

        The crops `(sum of h_i*w_i patches, 588)` are encoded at merge size 1 (no projector); see
        [`VideoReferVL3RegionEncoder`].
        """
        ones = torch.ones(region_grid_thw.shape[0], dtype=torch.long, device=region_grid_thw.device)
        crops = self.vision_model(
            region_pixel_values, grid_thw=region_grid_thw, merge_sizes=ones, return_dict=True
        ).last_hidden_state
        return self.region_encoder(crops, region_grid_thw, region_masks, region_mask_sizes)

    def _scatter(
        self, inputs_embeds: torch.Tensor, positions: torch.Tensor, features: torch.Tensor, what: str, hint: str
    ) -> torch.Tensor:
        count = int(positions.sum())
        if count != features.shape[0]:
            raise ValueError(
                f"input_ids hold {count} {what} position(s) but {features.shape[0]} {what} feature(s) were computed; "
                f"{hint}"
            )
        return inputs_embeds.masked_scatter(positions[..., None], features.to(inputs_embeds.device, inputs_embeds.dtype))

    def merge_inputs(
        self,
        input_ids: torch.LongTensor,
        inputs_embeds: torch.Tensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        grid_thw: torch.LongTensor | None = None,
        merge_sizes: torch.LongTensor | None = None,
        region_pixel_values: torch.FloatTensor | None = None,
        region_grid_thw: torch.LongTensor | None = None,
        region_masks: torch.Tensor | None = None,
        region_mask_sizes: torch.LongTensor | None = None,
    ) -> tuple[torch.Tensor, BaseModelOutputWithPooling | None, torch.Tensor | None]:
        """Embed `input_ids` `(batch, seq_len)` and write visual and region features into their placeholders.

        Returns:
            `inputs_embeds` `(batch, seq_len, hidden)` (before compression), the image outputs, the region tokens.

        Raises:
            ValueError: placeholders and features disagree in number, or inputs are missing / malformed.
        """
        if inputs_embeds is None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
        image_positions = input_ids == self.config.image_token_id
        region_positions = input_ids == self.config.region_token_id
        image_outputs = region_features = None
        if pixel_values is not None:
            if grid_thw is None or merge_sizes is None:
                raise ValueError("pixel_values need grid_thw (num_frames, 3) and merge_sizes (num_frames,).")
            if grid_thw.shape[0] != merge_sizes.shape[0]:
                raise ValueError(
                    f"grid_thw has {grid_thw.shape[0]} row(s) but merge_sizes {merge_sizes.shape[0]}: one per frame."
                )
            _check_patch_rows(pixel_values, grid_thw, "pixel_values", "grid_thw")
            image_outputs = self.get_image_features(pixel_values, grid_thw, merge_sizes)
            inputs_embeds = self._scatter(
                inputs_embeds,
                image_positions,
                image_outputs.pooler_output,
                "<image>",
                "give one <image> per merged visual token (h*w/merge^2 per frame) before compression.",
            )
        elif bool(image_positions.any()):
            raise ValueError("input_ids hold <image> placeholders but no pixel_values were given.")
        region = {
            "region_pixel_values": region_pixel_values,
            "region_grid_thw": region_grid_thw,
            "region_masks": region_masks,
            "region_mask_sizes": region_mask_sizes,
        }
        _check_region_inputs(region)
        if region_pixel_values is not None:
            counts = region_token_counts(region_masks, region_mask_sizes, self.config.region_token_num)
            region_features = self.get_region_features(region_pixel_values, region_grid_thw, region_masks, region_mask_sizes)
            inputs_embeds = self._scatter(
                inputs_embeds,
                region_positions,
                region_features,
                "<REGION>",
                f"the {counts.numel()} mask(s) give {counts.tolist()} token(s) (min({self.config.region_token_num}, "
                "positive cells)); give exactly one [<REGION> x n_i] run per mask, in order.",
            )
        elif bool(region_positions.any()):
            raise ValueError(
                "input_ids hold <REGION> placeholders but no region inputs (region_pixel_values, region_grid_thw, "
                "region_masks, region_mask_sizes) were given: every <region> needs a mask."
            )
        return inputs_embeds, image_outputs, region_features

    def compress(
        self,
        input_ids: torch.LongTensor,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor | None,
        compression_mask: torch.Tensor | None,
        labels: torch.LongTensor | None = None,
        left_padding: bool | None = None,
    ) -> tuple[dict[str, torch.Tensor | None], torch.BoolTensor | None]:
        """Drop the `<image>` positions whose `compression_mask` entry is False and re-pad.

        Args:
            input_ids `(batch, seq_len)`, inputs_embeds `(batch, seq_len, hidden)`, attention_mask `(batch, seq_len)`,
            compression_mask `(number of <image> positions,)`, labels `(batch, seq_len)`.
            left_padding: pad the shorter samples on the left; None: left unless the input is right-padded.

        Returns:
            (dict of the compressed `input_ids`, `inputs_embeds`, `attention_mask`, `labels`; the keep mask
            `(batch, seq_len)`, None when nothing was dropped).
        """
        tensors = {"input_ids": input_ids, "inputs_embeds": inputs_embeds, "attention_mask": attention_mask, "labels": labels}
        if compression_mask is None or not self.config.use_token_compression or bool(compression_mask.all()):
            if compression_mask is not None:
                sequence_keep_mask(input_ids, self.config.image_token_id, compression_mask)  # shape check only
            return tensors, None
        keep = sequence_keep_mask(input_ids, self.config.image_token_id, compression_mask)
        if left_padding is None:
            left_padding = is_left_padded(attention_mask)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        tensors["attention_mask"] = attention_mask
        keep = keep & attention_mask.bool()
        pads = {"labels": -100, "input_ids": self.config.text_config.pad_token_id or 0}
        return compress_sequences(keep, tensors, pads, left_padding), keep

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        grid_thw: torch.LongTensor | None = None,
        merge_sizes: torch.LongTensor | None = None,
        compression_mask: torch.BoolTensor | None = None,
        region_pixel_values: torch.FloatTensor | None = None,
        region_grid_thw: torch.LongTensor | None = None,
        region_masks: torch.Tensor | None = None,
        region_mask_sizes: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        use_cache: bool | None = None,
        **kwargs: Unpack[TransformersKwargs],
    ) -> tuple | VideoReferVL3ModelOutputWithPast:
        r"""
        Args:
            input_ids (`(batch, seq_len)`): ids with one `<image>` per merged visual token of every frame (before
                compression) and `[<REGION> x n_i]` per mask.
            attention_mask (`(batch, seq_len)`): 1 on tokens, 0 on padding.
            position_ids (`(batch, seq_len)`): ignored (recomputed from the mask) when compression removes tokens.
            pixel_values (`(sum of patches, 588)`), grid_thw (`(num_frames, 3)`), merge_sizes (`(num_frames,)`):
                the main media of the whole batch, frame after frame.
            compression_mask (`(num <image> positions,)` bool): which merged visual tokens survive compression.
            region_pixel_values (`(sum of crop patches, 588)`), region_grid_thw (`(num_masks, 3)`), region_masks
                (`(num_masks, Hmax, Wmax)`), region_mask_sizes (`(num_masks, 2)`): the region crops and masks, in
                the order of their `<REGION>` runs.
            cache, inputs_embeds, use_cache: as for the language model. With visual inputs, `input_ids` are needed
                to locate the placeholders; `inputs_embeds` then supplies every other position.

        Returns:
            [`VideoReferVL3ModelOutputWithPast`]; `last_hidden_state` `(batch, compressed_len, hidden)`.
        """
        if input_ids is None and inputs_embeds is None:
            raise ValueError("Pass input_ids or inputs_embeds.")
        if input_ids is not None and inputs_embeds is not None and tuple(inputs_embeds.shape[:2]) != tuple(input_ids.shape):
            raise ValueError(
                f"inputs_embeds of shape {tuple(inputs_embeds.shape)} do not match input_ids of shape "
                f"{tuple(input_ids.shape)}: with both, inputs_embeds must be (batch, seq_len, hidden) for the same "
                "(batch, seq_len)."
            )
        image_outputs = region_features = keep = None
        if input_ids is not None:
            inputs_embeds, image_outputs, region_features = self.merge_inputs(
                input_ids,
                inputs_embeds,
                pixel_values,
                grid_thw,
                merge_sizes,
                region_pixel_values,
                region_grid_thw,
                region_masks,
                region_mask_sizes,
            )
            compressed, keep = self.compress(input_ids, inputs_embeds, attention_mask, compression_mask)
            if keep is not None:
                inputs_embeds, attention_mask = compressed["inputs_embeds"], compressed["attention_mask"]
                position_ids = positions_from_mask(attention_mask)
        elif pixel_values is not None or region_pixel_values is not None:
            raise ValueError("Visual inputs need input_ids to locate their placeholders.")
        outputs = self.language_model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=use_cache,
            return_dict=True,
            **kwargs,
        )
        return VideoReferVL3ModelOutputWithPast(
            last_hidden_state=outputs.last_hidden_state,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            image_outputs=image_outputs,
            region_outputs=region_features,
            token_keep_mask=keep,
            attention_mask=attention_mask if keep is not None else None,
        )


class VideoReferVL3ForConditionalGeneration(VideoReferVL3PreTrainedModel, GenerationMixin):
    """VideoRefer-VideoLLaMA3 with its LM head: `model(**processor(...))` and `model.generate(**processor(...))`."""

    _tied_weights_keys = {"lm_head.weight": "model.language_model.embed_tokens.weight"}
    _tp_plan = {"lm_head": "colwise_gather_output"}

    def __init__(self, config: VideoReferVL3Config):
        super().__init__(config)
        self.model = VideoReferVL3Model(config)
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

    def get_image_features(self, *args, **kwargs) -> tuple | BaseModelOutputWithPooling:
        """See [`VideoReferVL3Model.get_image_features`]."""
        return self.model.get_image_features(*args, **kwargs)

    def get_video_features(self, *args, **kwargs) -> tuple | BaseModelOutputWithPooling:
        """See [`VideoReferVL3Model.get_video_features`]."""
        return self.model.get_video_features(*args, **kwargs)

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        pixel_values: torch.FloatTensor | None = None,
        grid_thw: torch.LongTensor | None = None,
        merge_sizes: torch.LongTensor | None = None,
        compression_mask: torch.BoolTensor | None = None,
        region_pixel_values: torch.FloatTensor | None = None,
        region_grid_thw: torch.LongTensor | None = None,
        region_masks: torch.Tensor | None = None,
        region_mask_sizes: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs: Unpack[TransformersKwargs],
    ) -> tuple | VideoReferVL3CausalLMOutputWithPast:
        r"""
        Same inputs as [`VideoReferVL3Model.forward`], plus `labels` (`(batch, seq_len)` aligned with `input_ids`,
        -100 where no loss; compressed with the sequence) and `logits_to_keep`. Returns logits of shape
        `(batch, compressed_len, vocab_size)`: positions removed by token compression have no logits.
        """
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            pixel_values=pixel_values,
            grid_thw=grid_thw,
            merge_sizes=merge_sizes,
            compression_mask=compression_mask,
            region_pixel_values=region_pixel_values,
            region_grid_thw=region_grid_thw,
            region_masks=region_masks,
            region_mask_sizes=region_mask_sizes,
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
            if outputs.token_keep_mask is not None:
                keep = outputs.token_keep_mask
                left = is_left_padded(attention_mask)
                labels = compress_sequences(keep, {"labels": labels}, {"labels": -100}, left)["labels"]
            loss = self.loss_function(logits=logits, labels=labels, vocab_size=self.config.text_config.vocab_size, **kwargs)
        return VideoReferVL3CausalLMOutputWithPast(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
            image_outputs=outputs.image_outputs,
            token_keep_mask=outputs.token_keep_mask,
            attention_mask=outputs.attention_mask,
        )

    @torch.no_grad()
    def generate(self, input_ids: torch.LongTensor | None = None, attention_mask: torch.Tensor | None = None, **kwargs):
        """`GenerationMixin.generate`, with the visual and region inputs merged (and compressed) once up front.

        With visual inputs, the prompt's embeddings are built first (features in their placeholders, compressed
        `<image>` positions removed, the batch left-padded again), and generation runs from those embeddings, so
        beam search and `num_return_sequences` repeat them like any other input. The returned sequences are the
        given `input_ids` `(batch, seq_len)` followed by the new tokens, as for any decoder-only model.
        """
        visual = {k: kwargs.pop(k) for k in VISUAL_INPUT_NAMES + REGION_INPUT_NAMES if kwargs.get(k) is not None}
        for name in VISUAL_INPUT_NAMES + REGION_INPUT_NAMES:
            kwargs.pop(name, None)
        if not visual or input_ids is None:
            if visual:
                raise ValueError("generate() with visual inputs needs input_ids to locate their placeholders.")
            return super().generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        compression_mask = visual.pop("compression_mask", None)
        embeds, _, _ = self.model.merge_inputs(input_ids, kwargs.pop("inputs_embeds", None), **visual)
        compressed, _ = self.model.compress(input_ids, embeds, attention_mask, compression_mask, left_padding=True)
        prompt_ids = compressed["input_ids"]
        mask = compressed["attention_mask"]
        if mask is None:
            mask = torch.ones_like(prompt_ids)
        outputs = super().generate(
            input_ids=prompt_ids, inputs_embeds=compressed["inputs_embeds"], attention_mask=mask, **kwargs
        )
        return self._restore_prompt(outputs, input_ids, prompt_ids.shape[1])

    @staticmethod
    def _restore_prompt(outputs, input_ids: torch.LongTensor, prompt_len: int):
        """Replace the compressed prompt at the start of the generated sequences by the caller's `input_ids`."""
        sequences = outputs if isinstance(outputs, torch.Tensor) else outputs.sequences
        repeat = sequences.shape[0] // input_ids.shape[0]
        prompt = input_ids.repeat_interleave(repeat, dim=0).to(sequences.device)
        new_tokens = sequences[:, prompt_len:] if sequences.shape[1] >= prompt_len else sequences[:, :0]
        restored = torch.cat([prompt, new_tokens], dim=1)
        if isinstance(outputs, torch.Tensor):
            return restored
        outputs.sequences = restored
        return outputs


__all__ = ["VideoReferVL3ForConditionalGeneration", "VideoReferVL3Model", "VideoReferVL3PreTrainedModel"]

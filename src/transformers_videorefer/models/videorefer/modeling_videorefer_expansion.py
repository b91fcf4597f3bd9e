# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Repeating a batch's visual inputs per sample for generation (beam search, `num_return_sequences`).

`GenerationMixin` repeats each row of every tensor, which is right for per-sample tensors but not for the image,
video and region inputs, whose rows are items (images, masks, objects) of all samples together.
`VideoReferExpansionMixin.expand_visual_inputs` repeats each sample's items as a block instead.
"""

import torch

from .modeling_videorefer_region import objects_per_sample


def _repeat_blocks_index(counts: torch.Tensor, expand_size: int) -> torch.LongTensor:
    """Indices that repeat each sample's block of items `expand_size` times, samples in order.

    `counts` `(batch,)`: items of each sample, stored sample after sample. Returns `(expand_size * counts.sum(),)`:
    e.g. counts `[2, 1]`, expand_size 2 -> `[0, 1, 0, 1, 2, 2]`.
    """
    counts = counts.to(torch.long)
    starts = torch.cumsum(counts, 0) - counts
    repeated_counts = counts.repeat_interleave(expand_size)
    repeated_starts = starts.repeat_interleave(expand_size)
    total = int(repeated_counts.sum())
    block_starts = torch.cumsum(repeated_counts, 0) - repeated_counts
    offsets = torch.arange(total, device=counts.device) - block_starts.repeat_interleave(repeated_counts, output_size=total)
    return repeated_starts.repeat_interleave(repeated_counts, output_size=total) + offsets


class VideoReferExpansionMixin:
    """Per-sample repetition of the visual inputs, for [`VideoReferModel`] (which holds `config` and
    `expected_visual_tokens`)."""

    def expand_visual_inputs(
        self,
        input_ids: torch.LongTensor,
        expand_size: int,
        pixel_values: torch.Tensor | None = None,
        pixel_values_videos: torch.Tensor | None = None,
        region_pixel_values: torch.Tensor | None = None,
        region_masks: torch.Tensor | list[torch.Tensor] | None = None,
        region_mask_frame_index: torch.Tensor | None = None,
        region_masks_per_object: torch.Tensor | None = None,
    ) -> dict:
        """The visual inputs of a batch whose rows are each repeated `expand_size` times (`repeat_interleave`).

        `input_ids` `(batch, seq_len)` (before the repetition) tell how many images, videos and objects each sample
        has; each sample's images `(n_i, 3, H, W)`, videos `(v_i, frames, 3, H, W)`, objects and their masks are
        then repeated as a block, `expand_size` times, so the repeated rows find their own items in order. Region
        frames are a table the masks index (`region_mask_frame_index`): they are kept as they are, unrepeated (the
        vision tower encodes them once), and the mask frame indices stay valid.

        Returns:
            A dict with the given inputs, expanded (inputs left None are left out).

        Raises:
            ValueError: when the placeholders of `input_ids` do not split the items into whole samples.
        """
        config = self.config
        batch = input_ids.shape[0]
        out: dict = {}
        for name, values, token_id, tokens_per_item in (
            ("pixel_values", pixel_values, config.image_token_id, lambda v: self.expected_visual_tokens(config.num_frames)),
            ("pixel_values_videos", pixel_values_videos, config.video_token_id, lambda v: self.expected_visual_tokens(v.shape[1])),
        ):
            if values is None:
                continue
            per_item = tokens_per_item(values)
            placeholders = (input_ids == token_id).sum(-1)
            items = torch.div(placeholders, per_item, rounding_mode="floor")
            if bool((placeholders % per_item != 0).any()) or int(items.sum()) != values.shape[0]:
                raise ValueError(
                    f"Cannot repeat {name} per sample for generation: the samples hold {placeholders.tolist()} "
                    f"placeholders, {per_item} per item, but {name} has {values.shape[0]} items."
                )
            out[name] = values.index_select(0, _repeat_blocks_index(items, expand_size).to(values.device))
        if region_masks_per_object is not None:
            masks_per_object = torch.as_tensor(region_masks_per_object, dtype=torch.long)
            region_mask = (input_ids == config.region_token_id).to(masks_per_object.device)
            objects = objects_per_sample(region_mask, masks_per_object, config.region_token_num)
            sample_of_object = torch.repeat_interleave(torch.arange(batch, device=objects.device), objects)
            masks_per_sample = torch.zeros(batch, dtype=torch.long, device=objects.device).index_add_(
                0, sample_of_object, masks_per_object.to(objects.device)
            )
            object_index = _repeat_blocks_index(objects, expand_size)
            mask_index = _repeat_blocks_index(masks_per_sample, expand_size)
            out["region_masks_per_object"] = masks_per_object[object_index.to(masks_per_object.device)]
            if region_mask_frame_index is not None:
                frame_index = torch.as_tensor(region_mask_frame_index, dtype=torch.long)
                out["region_mask_frame_index"] = frame_index[mask_index.to(frame_index.device)]
            if isinstance(region_masks, (list, tuple)):
                out["region_masks"] = [region_masks[i] for i in mask_index.tolist()]
            elif region_masks is not None:
                out["region_masks"] = region_masks.index_select(0, mask_index.to(region_masks.device))
        elif region_masks is not None or region_mask_frame_index is not None:
            raise ValueError("region_masks and region_mask_frame_index need region_masks_per_object.")
        if region_pixel_values is not None:
            out["region_pixel_values"] = region_pixel_values
        return out

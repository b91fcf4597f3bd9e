# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The region encoder of VideoRefer (mask pooling of frame features, adjacent-token merging, an MLP) and the layout
of its inputs and outputs (masks at the vision grid, which `<region>` placeholder each region token fills).

Everything here works on all objects of a batch at once: no Python loop over objects, tokens or pairs.
"""

import torch
from torch import nn

from .configuration_videorefer import VideoReferConfig

MASK_POOLING_EPS = 1e-8


def resize_masks_to_grid(masks: torch.Tensor, grid_size: int) -> torch.Tensor:
    """Resize `(num_masks, height, width)` masks to `(num_masks, grid_size, grid_size)` as the original does.

    Bilinear interpolation without corner alignment, then `> 0`; masks already at the grid size are only
    binarised (the original skips the interpolation then). Returns float32 0/1 values.
    """
    masks = masks.to(torch.float32)
    if masks.shape[-2:] != (grid_size, grid_size):
        masks = nn.functional.interpolate(
            masks[:, None], size=(grid_size, grid_size), mode="bilinear", align_corners=False
        )[:, 0]
    return (masks > 0).to(torch.float32)


def mask_pool(frame_features: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Average the features under each mask.

    Args:
        frame_features: `(num_masks, channels, grid, grid)`, the features of the frame each mask is on.
        masks: `(num_masks, grid, grid)` binary masks at the feature grid.

    Returns:
        `(num_masks, channels)`: sum(features * mask) / (sum(mask) + 1e-8), in float32.
    """
    masks = masks[:, None].to(torch.float32)
    denominator = masks.sum(dim=(-1, -2), keepdim=True) + MASK_POOLING_EPS
    return (frame_features.to(torch.float32) * (masks / denominator)).sum(-1).sum(-1)


def adjacent_cosine_similarity(tokens: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each token with the next one along dim -2: `(..., n, d)` -> `(..., n - 1)`."""
    normalized = nn.functional.normalize(tokens, p=2, dim=-1)
    return torch.sum(normalized[..., :-1, :] * normalized[..., 1:, :], dim=-1)


def merge_adjacent_tokens(
    tokens: torch.Tensor, tokens_per_object: torch.Tensor, max_tokens: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge neighbouring tokens of each object until (about) `max_tokens` remain, as the original VideoRefer.

    For an object with n > max_tokens tokens, r = n - max_tokens: the pairs of neighbours whose cosine similarity
    is at least the r-th largest (ties included, so possibly more than r pairs) are linked, and every maximal run of
    linked neighbours becomes its mean. Objects with n <= max_tokens are kept as they are.

    Args:
        tokens: `(total_tokens, dim)`, the tokens of all objects, object after object.
        tokens_per_object: `(num_objects,)` int, how many of `tokens` belong to each object (each >= 1).
        max_tokens: the target count per object (`region_token_num`).

    Returns:
        `(merged_tokens (total_merged, dim), merged_per_object (num_objects,))`.
    """
    num_objects = tokens_per_object.numel()
    total = tokens.shape[0]
    if num_objects == 0:
        return tokens, tokens_per_object
    device = tokens.device
    counts = tokens_per_object.to(device=device, dtype=torch.long)
    starts = torch.cumsum(counts, 0) - counts
    max_count = int(counts.max())
    if max_count <= max_tokens:
        return tokens, counts

    # Pad every object to max_count tokens to compute the similarities of neighbours and each object's threshold.
    object_of_token = torch.repeat_interleave(torch.arange(num_objects, device=device), counts, output_size=total)
    slot_of_token = torch.arange(total, device=device) - starts[object_of_token]
    padded = tokens.new_zeros(num_objects, max_count, tokens.shape[-1])
    padded[object_of_token, slot_of_token] = tokens
    similarity = adjacent_cosine_similarity(padded)  # (num_objects, max_count - 1)
    pair_valid = torch.arange(max_count - 1, device=device)[None, :] < (counts[:, None] - 1)
    similarity = similarity.masked_fill(~pair_valid, float("-inf"))
    to_remove = (counts - max_tokens).clamp(min=0)
    ranked = torch.sort(similarity, dim=-1, descending=True).values
    threshold = ranked.gather(1, (to_remove - 1).clamp(min=0)[:, None])  # the r-th largest similarity
    linked = (similarity >= threshold) & pair_valid & (to_remove > 0)[:, None]

    # A token starts a new group unless it is linked to the previous token of the same object.
    linked_to_previous = torch.zeros(num_objects, max_count, dtype=torch.bool, device=device)
    linked_to_previous[:, 1:] = linked
    starts_group = ~linked_to_previous[object_of_token, slot_of_token]
    group_of_token = torch.cumsum(starts_group.to(torch.long), 0) - 1
    num_groups = int(group_of_token[-1]) + 1
    sums = tokens.new_zeros(num_groups, tokens.shape[-1]).index_add_(0, group_of_token, tokens)
    sizes = torch.zeros(num_groups, dtype=tokens.dtype, device=device).index_add_(
        0, group_of_token, torch.ones_like(group_of_token, dtype=tokens.dtype)
    )
    merged = sums / sizes[:, None]
    groups_per_object = torch.zeros(num_objects, dtype=torch.long, device=device).index_add_(
        0, object_of_token, starts_group.to(torch.long)
    )
    return merged, groups_per_object


class VideoReferRegionEncoder(nn.Module):
    """Mask pooling ("pooling" region encoder) + token merging + Linear-GELU-Linear to the text width.

    Parameter names follow the original (`feat_linear.0`, `feat_linear.2`).
    """

    def __init__(self, config: VideoReferConfig):
        super().__init__()
        vision_size = config.vision_config.hidden_size
        text_size = config.text_config.hidden_size
        layers: list[nn.Module] = [nn.Linear(vision_size, text_size)]
        for _ in range(1, config.region_encoder_depth):
            layers += [nn.GELU(), nn.Linear(text_size, text_size)]
        self.feat_linear = nn.Sequential(*layers)
        self.region_token_num = config.region_token_num
        self.grid_size = config.vision_grid_size

    def forward(
        self,
        frame_features: torch.Tensor,
        masks: torch.Tensor,
        mask_frame_index: torch.Tensor,
        masks_per_object: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """
        Args:
            frame_features: `(num_region_frames, grid * grid, vision_hidden)`: features of the mask frames.
            masks: `(num_masks, grid, grid)` binary masks at the feature grid, object after object, frame after frame.
            mask_frame_index: `(num_masks,)`: for each mask, its row in `frame_features`.
            masks_per_object: `(num_objects,)`: how many of `masks` belong to each object.

        Returns:
            `(region_features (num_tokens, text_hidden), tokens_per_object (num_objects,))`.
        """
        grid = self.grid_size
        features = frame_features[mask_frame_index.to(frame_features.device)]
        features = features.reshape(features.shape[0], grid, grid, -1).permute(0, 3, 1, 2)
        pooled = mask_pool(features, masks.to(features.device))
        merged, tokens_per_object = merge_adjacent_tokens(pooled, masks_per_object, self.region_token_num)
        weight = self.feat_linear[0].weight
        return self.feat_linear(merged.to(weight.dtype)), tokens_per_object


# ------------------------------------------------------------------------------------------ region layout
def masks_at_grid(region_masks: torch.Tensor | list[torch.Tensor], grid: int) -> torch.Tensor:
    """`(num_masks, h, w)` masks, or a list of `(h_i, w_i)` masks, -> `(num_masks, grid, grid)` 0/1 masks."""
    if isinstance(region_masks, (list, tuple)):
        if len(region_masks) == 0:
            return torch.zeros(0, grid, grid)
        return torch.cat([resize_masks_to_grid(torch.as_tensor(m).reshape(-1, *m.shape[-2:]), grid) for m in region_masks])
    if not isinstance(region_masks, torch.Tensor) or region_masks.ndim != 3:
        raise ValueError(
            "region_masks must be a (num_masks, height, width) tensor or a list of (height, width) masks, got "
            f"{type(region_masks).__name__} of shape {tuple(getattr(region_masks, 'shape', ()))}."
        )
    return resize_masks_to_grid(region_masks, grid)


def check_region_layout(
    masks: torch.Tensor, frame_index: torch.Tensor, masks_per_object: torch.Tensor, num_frames: int
) -> None:
    """Check that the region inputs describe one frame row per mask and a mask count per object."""
    if frame_index.ndim != 1 or frame_index.numel() != masks.shape[0]:
        raise ValueError(
            f"region_mask_frame_index must hold one frame row per mask: {masks.shape[0]} masks, got shape "
            f"{tuple(frame_index.shape)}."
        )
    if frame_index.numel() and (int(frame_index.min()) < 0 or int(frame_index.max()) >= num_frames):
        raise ValueError(
            f"region_mask_frame_index must be in [0, {num_frames}) (rows of region_pixel_values), got values "
            f"from {int(frame_index.min())} to {int(frame_index.max())}."
        )
    if masks_per_object.ndim != 1 or (masks_per_object.numel() and int(masks_per_object.min()) < 1):
        raise ValueError(
            f"region_masks_per_object must be a 1-D count of masks (>= 1) per object, got {masks_per_object.tolist()}."
        )
    if int(masks_per_object.sum()) != masks.shape[0]:
        raise ValueError(
            f"region_masks_per_object counts {int(masks_per_object.sum())} masks, but {masks.shape[0]} masks were given."
        )


def _check_region_placeholders(
    region_mask: torch.Tensor, masks_per_object: torch.Tensor, slots_per_object: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check that the objects fill the `<region>` placeholders exactly, without straddling two samples.

    Returns `(object_ends (num_objects,), row_ends (batch,))`: cumulative placeholder counts at the end of each
    object and of each sample (flat, row-major order).
    """
    num_placeholders = int(region_mask.sum())
    if int(slots_per_object.sum()) != num_placeholders:
        raise ValueError(
            f"The masks describe {masks_per_object.numel()} objects needing {int(slots_per_object.sum())} "
            f"<region> placeholders, but input_ids hold {num_placeholders}. Give exactly one object (with its "
            "masks) per <region> marker, in the order of the markers."
        )
    row_counts = region_mask.sum(-1).to(slots_per_object.device)
    object_ends = torch.cumsum(slots_per_object, 0)
    row_ends = torch.cumsum(row_counts, 0)
    if not bool(torch.isin(row_ends[row_counts > 0], object_ends).all()):
        raise ValueError(
            "The objects' <region> placeholders straddle two samples: the number of objects per sample does not "
            "match the <region> markers of each sample."
        )
    return object_ends, row_ends


def objects_per_sample(region_mask: torch.Tensor, masks_per_object: torch.Tensor, region_token_num: int) -> torch.Tensor:
    """How many objects each sample of the batch has.

    Args:
        region_mask: `(batch, seq_len)` bool mask of the `<region>` placeholders.
        masks_per_object: `(num_objects,)` masks of each object, objects in `<region>` order over the batch.
        region_token_num: the most placeholders one object owns (`config.region_token_num`).

    Returns:
        `(batch,)` long: objects of each sample; they sum to `num_objects`. Raises ValueError as `region_slots`.
    """
    slots_per_object = masks_per_object.to(region_mask.device).clamp(max=region_token_num)
    object_ends, row_ends = _check_region_placeholders(region_mask, masks_per_object, slots_per_object)
    # An object belongs to the first sample whose placeholders end at or after the object's end.
    sample_of_object = torch.searchsorted(row_ends.contiguous(), object_ends.contiguous())
    return torch.bincount(sample_of_object, minlength=region_mask.shape[0])


def region_slots(
    region_mask: torch.Tensor, masks_per_object: torch.Tensor, tokens_per_object: torch.Tensor, region_token_num: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each region token goes among the `<region>` placeholders (flat, row-major order).

    `region_mask` is the `(batch, seq_len)` bool mask of the `<region>` placeholders. Each object owns
    min(masks, region_token_num) consecutive placeholders; merging may have given it fewer
    tokens (ties), in which case its last placeholders stay unused. Returns the slot of every token and a
    (num_placeholders,) bool of the used slots.
    """
    device = region_mask.device
    masks_per_object = masks_per_object.to(device)
    tokens_per_object = tokens_per_object.to(device)
    slots_per_object = masks_per_object.clamp(max=region_token_num)
    num_placeholders = int(region_mask.sum())
    object_ends, _ = _check_region_placeholders(region_mask, masks_per_object, slots_per_object)
    object_starts = object_ends - slots_per_object
    token_starts = torch.cumsum(tokens_per_object, 0) - tokens_per_object
    total_tokens = int(tokens_per_object.sum())
    object_of_token = torch.repeat_interleave(
        torch.arange(tokens_per_object.numel(), device=device), tokens_per_object, output_size=total_tokens
    )
    slot = object_starts[object_of_token] + torch.arange(total_tokens, device=device) - token_starts[object_of_token]
    used = torch.zeros(num_placeholders, dtype=torch.bool, device=device)
    used[slot] = True
    return slot, used

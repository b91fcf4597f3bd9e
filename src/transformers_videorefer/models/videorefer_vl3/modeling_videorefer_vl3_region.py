# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The VideoRefer-VideoLLaMA3 region encoder: mask pooling of region-crop features, k-means, MLP.

For every mask, the vision encoder's features of its crop (stride 1, NOT projected) are taken at the mask's cells
(bilinearly resized to the mask grid first when the two grids differ), in raster order. A mask with more than
`region_token_num` cells is reduced to that many k-means centroids; the rows of all masks then go through
Linear -> GELU (erf) -> Linear.
"""

import torch
from torch import nn
from torch.nn import functional as F

from .configuration_videorefer_vl3 import VideoReferVL3Config


def region_token_counts(region_masks: torch.Tensor, region_mask_sizes: torch.Tensor, max_tokens: int) -> torch.Tensor:
    """Tokens of each mask: `min(max_tokens, positive cells)`.

    Args:
        region_masks: `(num_masks, Hmax, Wmax)`, zero-padded bottom/right.
        region_mask_sizes: `(num_masks, 2)`, the true `(h_i, w_i)` of each mask.
        max_tokens: the cap (`config.region_token_num`).

    Returns:
        `(num_masks,)` long.
    """
    cells = _valid_cells(region_masks, region_mask_sizes)
    return cells.flatten(1).sum(-1).clamp(max=max_tokens)


def _valid_cells(region_masks: torch.Tensor, region_mask_sizes: torch.Tensor) -> torch.Tensor:
    """`(num_masks, Hmax, Wmax)` bool: mask > 0 inside each mask's true size."""
    _, height, width = region_masks.shape
    rows = torch.arange(height, device=region_masks.device)[None, :, None]
    cols = torch.arange(width, device=region_masks.device)[None, None, :]
    sizes = region_mask_sizes.to(region_masks.device)
    inside = (rows < sizes[:, 0, None, None]) & (cols < sizes[:, 1, None, None])
    return (region_masks > 0) & inside


def batched_kmeans(
    points: torch.Tensor, valid: torch.Tensor, num_clusters: int, iters: int, generator: torch.Generator
) -> torch.Tensor:
    """K-means of several point sets at once (squared Euclidean, Lloyd steps).

    For each set the initial centroids are its rows `randperm(m, generator)[:num_clusters]` (m valid rows, drawn
    set after set); each step assigns every point to its nearest centroid (first on ties) and moves each centroid
    to the mean of its points (a centroid with no points stays); a set stops once its centroids move by less than
    1e-6 (Frobenius norm of the change) or after `iters` steps. Centroids stay in their initial (randperm) order.

    Args:
        points: `(num_sets, max_points, dim)`, rows past each set's count are padding.
        valid: `(num_sets, max_points)` bool, True on real rows (each set has more than `num_clusters`).
        num_clusters: centroids per set.
        iters: at most this many Lloyd steps.
        generator: CPU generator for the initial choice.

    Returns:
        `(num_sets, num_clusters, dim)` centroids.
    """
    counts = valid.sum(-1).tolist()
    init = [torch.randperm(int(m), generator=generator)[:num_clusters] for m in counts]
    index = torch.stack(init).to(points.device)
    centroids = torch.gather(points, 1, index[..., None].expand(-1, -1, points.shape[-1]))
    active = torch.ones(points.shape[0], dtype=torch.bool, device=points.device)
    for _ in range(iters):
        distances = torch.cdist(points, centroids).pow(2)
        assignment = distances.argmin(-1)
        one_hot = F.one_hot(assignment, num_clusters).to(points.dtype) * valid[..., None].to(points.dtype)
        members = one_hot.sum(1)
        sums = one_hot.transpose(1, 2) @ points
        moved = torch.where(members[..., None] > 0, sums / members.clamp(min=1)[..., None], centroids)
        moved = torch.where(active[:, None, None], moved, centroids)
        shift = (moved - centroids).flatten(1).norm(dim=-1)
        centroids = moved
        active = active & (shift >= 1e-6)
        if not bool(active.any()):
            break
    return centroids


def pool_region_features(
    crop_features: list[torch.Tensor],
    crop_grids: torch.Tensor,
    region_masks: torch.Tensor,
    region_mask_sizes: torch.Tensor,
    max_tokens: int,
    kmeans_iters: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Mask pooling of every mask: the features at its cells, k-means-reduced to at most `max_tokens` rows.

    Args:
        crop_features: per mask, `(h_i * w_i, dim)` features of its crop, raster order.
        crop_grids: `(num_masks, 2)` the `(h_i, w_i)` of each crop's feature grid.
        region_masks: `(num_masks, Hmax, Wmax)` masks at their crop's patch grid, zero-padded.
        region_mask_sizes: `(num_masks, 2)` true `(mh_i, mw_i)` of each mask.

    Returns:
        `(sum of min(max_tokens, cells_i), dim)` rows, mask after mask.
    """
    cells = _valid_cells(region_masks, region_mask_sizes)
    rows = []
    for features, (height, width), mask_cells, (mask_h, mask_w) in zip(
        crop_features, crop_grids.tolist(), cells, region_mask_sizes.tolist()
    ):
        grid = features.reshape(height, width, -1).permute(2, 0, 1)
        if (height, width) != (mask_h, mask_w):
            grid = F.interpolate(grid[None], size=(mask_h, mask_w), mode="bilinear", align_corners=False)[0]
        rows.append(grid.permute(1, 2, 0)[mask_cells[:mask_h, :mask_w]])
    large = [i for i, r in enumerate(rows) if r.shape[0] > max_tokens]
    if large:
        longest = max(rows[i].shape[0] for i in large)
        points = rows[0].new_zeros(len(large), longest, rows[0].shape[-1])
        valid = torch.zeros(len(large), longest, dtype=torch.bool, device=points.device)
        for slot, i in enumerate(large):
            points[slot, : rows[i].shape[0]] = rows[i]
            valid[slot, : rows[i].shape[0]] = True
        centroids = batched_kmeans(points, valid, max_tokens, kmeans_iters, generator)
        for slot, i in enumerate(large):
            rows[i] = centroids[slot]
    return torch.cat(rows, dim=0)


class VideoReferVL3RegionEncoder(nn.Module):
    """Mask pooling + MLP: region-crop features `(num_crop_patches, vision_hidden)` -> region tokens
    `(num_region_tokens, text_hidden)`. Its `readout` MLP is `model.region_encoder.feat_linear` of the releases."""

    def __init__(self, config: VideoReferVL3Config):
        super().__init__()
        in_size, out_size = config.vision_config.hidden_size, config.text_config.hidden_size
        layers: list[nn.Module] = [nn.Linear(in_size, out_size)]
        for _ in range(config.region_encoder_depth - 1):
            layers += [nn.GELU(), nn.Linear(out_size, out_size)]
        self.readout = nn.Sequential(*layers)
        self.max_tokens = config.region_token_num
        self.kmeans_iters = config.region_kmeans_iters
        self.kmeans_seed = config.region_kmeans_seed

    def forward(
        self,
        crop_features: torch.Tensor,
        region_grid_thw: torch.Tensor,
        region_masks: torch.Tensor,
        region_mask_sizes: torch.Tensor,
    ) -> torch.Tensor:
        """
        Args:
            crop_features: `(sum of h_i * w_i, vision_hidden)`, the vision encoder's output for all crops.
            region_grid_thw: `(num_masks, 3)` `(1, h_i, w_i)` of each crop.
            region_masks: `(num_masks, Hmax, Wmax)` uint8/bool masks at their crop's patch grid, zero-padded.
            region_mask_sizes: `(num_masks, 2)` true size of each mask.

        Returns:
            `(sum of min(region_token_num, cells_i), text_hidden)` region tokens, mask after mask.
        """
        sizes = region_grid_thw.prod(-1).tolist()
        generator = torch.Generator(device="cpu").manual_seed(self.kmeans_seed)
        pooled = pool_region_features(
            list(crop_features.split(sizes)),
            region_grid_thw[:, 1:],
            region_masks,
            region_mask_sizes,
            self.max_tokens,
            self.kmeans_iters,
            generator,
        )
        return self.readout(pooled)


__all__ = ["VideoReferVL3RegionEncoder", "batched_kmeans", "pool_region_features", "region_token_counts"]

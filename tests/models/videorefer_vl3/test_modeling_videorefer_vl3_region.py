"""The VL3 region encoder: mask pooling, feature resize to the mask grid, k-means reduction."""

import pytest
import torch

from transformers_videorefer.models.videorefer_vl3.modeling_videorefer_vl3_region import (
    batched_kmeans,
    pool_region_features,
    region_token_counts,
)


def grid_features(height: int, width: int, dim: int = 3) -> torch.Tensor:
    """`(height * width, dim)` features whose row r holds (r, r, ...) so that the picked cells are readable."""
    return torch.arange(height * width, dtype=torch.float32)[:, None].repeat(1, dim)


def padded(masks: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    height, width = max(m.shape[0] for m in masks), max(m.shape[1] for m in masks)
    out = torch.zeros(len(masks), height, width, dtype=torch.uint8)
    for i, mask in enumerate(masks):
        out[i, : mask.shape[0], : mask.shape[1]] = mask
    return out, torch.tensor([list(m.shape) for m in masks])


def test_features_at_mask_cells_come_in_raster_order():
    mask = torch.zeros(3, 4, dtype=torch.uint8)
    mask[0, 3] = mask[2, 0] = mask[1, 1] = 1
    masks, sizes = padded([mask])
    rows = pool_region_features([grid_features(3, 4)], torch.tensor([[3, 4]]), masks, sizes, 10, 20, torch.Generator())
    assert rows[:, 0].tolist() == [3.0, 5.0, 8.0]


def test_padding_beyond_a_mask_true_size_is_ignored():
    small = torch.ones(2, 2, dtype=torch.uint8)
    large = torch.zeros(4, 5, dtype=torch.uint8)
    masks, sizes = padded([small, large])
    masks[0, 3, 4] = 1  # outside the 2 x 2 mask: padding
    assert region_token_counts(masks, sizes, 10).tolist() == [4, 0]


def test_features_are_resized_bilinearly_to_the_mask_grid():
    mask = torch.zeros(4, 4, dtype=torch.uint8)
    mask[0, 0] = 1
    masks, sizes = padded([mask])
    features = torch.tensor([[0.0], [4.0], [8.0], [12.0]])  # a 2 x 2 grid
    rows = pool_region_features([features], torch.tensor([[2, 2]]), masks, sizes, 10, 20, torch.Generator())
    expected = torch.nn.functional.interpolate(
        features.reshape(1, 1, 2, 2), size=(4, 4), mode="bilinear", align_corners=False
    )[0, 0, 0, 0]
    assert rows.shape == (1, 1) and rows[0, 0].item() == pytest.approx(expected.item())


def test_kmeans_gives_ten_centroids_from_a_seeded_generator():
    torch.manual_seed(0)
    points = torch.randn(1, 30, 4)
    valid = torch.ones(1, 30, dtype=torch.bool)
    first = batched_kmeans(points, valid, 10, 20, torch.Generator().manual_seed(7))
    torch.manual_seed(123)  # the global RNG plays no part
    second = batched_kmeans(points, valid, 10, 20, torch.Generator().manual_seed(7))
    assert first.shape == (1, 10, 4) and torch.equal(first, second)


def test_kmeans_of_separated_clusters_finds_their_means_in_randperm_order():
    centres = torch.arange(10, dtype=torch.float32)[:, None] * 100.0
    points = torch.cat([centres + 1.0, centres - 1.0])[None]  # two points around each centre
    valid = torch.ones(1, 20, dtype=torch.bool)
    # a seed whose first 10 draws lie in 10 different clusters, so that each centroid finds its own cluster
    seed = next(s for s in range(100) if len(set((torch.randperm(20, generator=torch.Generator().manual_seed(s))[:10] % 10).tolist())) == 10)
    order = torch.randperm(20, generator=torch.Generator().manual_seed(seed))[:10]
    centroids = batched_kmeans(points, valid, 10, 20, torch.Generator().manual_seed(seed))[0, :, 0]
    assert centroids.tolist() == centres[order % 10, 0].tolist()


def test_batched_kmeans_equals_one_set_at_a_time():
    torch.manual_seed(1)
    a, b = torch.randn(14, 3), torch.randn(25, 3)
    points = torch.zeros(2, 25, 3)
    points[0, :14], points[1] = a, b
    valid = torch.zeros(2, 25, dtype=torch.bool)
    valid[0, :14] = True
    valid[1] = True
    together = batched_kmeans(points, valid, 10, 20, torch.Generator().manual_seed(5))
    generator = torch.Generator().manual_seed(5)
    alone_a = batched_kmeans(a[None], torch.ones(1, 14, dtype=torch.bool), 10, 20, generator)
    alone_b = batched_kmeans(b[None], torch.ones(1, 25, dtype=torch.bool), 10, 20, generator)
    torch.testing.assert_close(together, torch.cat([alone_a, alone_b]))


def test_a_mask_with_more_than_ten_cells_gives_ten_rows():
    mask = torch.ones(4, 4, dtype=torch.uint8)
    masks, sizes = padded([mask, mask[:1, :3]])
    rows = pool_region_features(
        [grid_features(4, 4), grid_features(1, 3)], torch.tensor([[4, 4], [1, 3]]), masks, sizes, 10, 20, torch.Generator()
    )
    assert rows.shape == (13, 3)
    assert rows[10:, 0].tolist() == [0.0, 1.0, 2.0]

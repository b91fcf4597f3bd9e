"""The region encoder: mask resizing, mask pooling and adjacent-token merging against direct transcriptions of the
original rules."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import tiny_config
from transformers_videorefer.models.videorefer.modeling_videorefer_region import (
    VideoReferRegionEncoder,
    mask_pool,
    merge_adjacent_tokens,
    resize_masks_to_grid,
)


# --------------------------------------------------------------------------------- reference transcriptions
def reference_merge_object(x: torch.Tensor, max_tokens: int) -> torch.Tensor:
    """The original rule, for one object's `(n, d)` tokens, written as a plain loop."""
    n = x.shape[0]
    if n <= max_tokens:
        return x
    normalized = F.normalize(x, p=2, dim=-1)
    sim = [torch.sum(normalized[i] * normalized[i + 1]) for i in range(n - 1)]
    sim = torch.stack(sim)
    kth = torch.topk(sim, n - max_tokens).values[-1]
    groups, current = [], []
    for i in range(n - 1):
        current.append(x[i])
        if sim[i] < kth:
            groups.append(torch.stack(current).mean(0))
            current = []
    current.append(x[n - 1])
    groups.append(torch.stack(current).mean(0))
    return torch.stack(groups)


def reference_merge(tokens: torch.Tensor, counts: list[int], max_tokens: int) -> tuple[list[torch.Tensor], list[int]]:
    outs, out_counts, start = [], [], 0
    for n in counts:
        merged = reference_merge_object(tokens[start : start + n], max_tokens)
        outs.append(merged)
        out_counts.append(merged.shape[0])
        start += n
    return outs, out_counts


def reference_resize(masks: torch.Tensor, grid: int) -> torch.Tensor:
    resized = F.interpolate(masks.float()[:, None], size=(grid, grid), mode="bilinear", align_corners=False)[:, 0]
    return (resized > 0).float()


def reference_mask_pool(features: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    out = []
    for f, m in zip(features, masks):
        out.append((f * m[None]).sum((-1, -2)) / (m.sum() + 1e-8))
    return torch.stack(out)


def assert_merge_matches(tokens: torch.Tensor, counts: list[int], max_tokens: int) -> list[int]:
    merged, merged_counts = merge_adjacent_tokens(tokens, torch.tensor(counts), max_tokens)
    ref, ref_counts = reference_merge(tokens, counts, max_tokens)
    assert merged_counts.tolist() == ref_counts, (counts, max_tokens)
    assert merged.shape == (sum(ref_counts), tokens.shape[1])
    torch.testing.assert_close(merged, torch.cat(ref), atol=1e-6, rtol=0)
    return ref_counts


# ------------------------------------------------------------------------------------------------ merging
@pytest.mark.parametrize("seed", range(40))
def test_merge_random_matches_reference(seed):
    generator = torch.Generator().manual_seed(seed)
    num_objects = int(torch.randint(1, 6, (1,), generator=generator))
    counts = torch.randint(1, 11, (num_objects,), generator=generator).tolist()
    dim = int(torch.randint(2, 9, (1,), generator=generator))  # dim 1 ties everything (cosine = +-1)
    max_tokens = int(torch.randint(1, 6, (1,), generator=generator))
    tokens = torch.randn(sum(counts), dim, generator=generator)
    ref_counts = assert_merge_matches(tokens, counts, max_tokens)
    # Without ties, exactly min(n, max_tokens) tokens come out.
    assert ref_counts == [min(n, max_tokens) for n in counts]


def test_merge_known_example():
    # Tokens on a line: a, a, b (orthogonal), b, c. max 3 -> merge the two ties of similarity 1.
    a, b, c = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.0, 0.0, 1.0])
    tokens = torch.stack([a, 2 * a, b, 3 * b, c])
    merged, counts = merge_adjacent_tokens(tokens, torch.tensor([5]), 3)
    assert counts.tolist() == [3]
    torch.testing.assert_close(merged, torch.stack([1.5 * a, 2 * b, c]))


def test_merge_keeps_objects_at_or_below_max():
    tokens = torch.randn(7, 4, generator=torch.Generator().manual_seed(0))
    merged, counts = merge_adjacent_tokens(tokens, torch.tensor([4, 3]), 4)
    assert counts.tolist() == [4, 3]
    assert torch.equal(merged, tokens)


def _planted_tie_objects(generator: torch.Generator, dim: int) -> list[torch.Tensor]:
    """Objects whose neighbour similarities tie exactly (so merging gives fewer than max_tokens tokens)."""
    a, b, c = (torch.randn(dim, generator=generator) for _ in range(3))
    return [
        torch.stack([a] * 6),  # all 5 similarities equal -> 1 token
        torch.stack([a, a, a, a, a, b]),  # 4 equal top similarities, r = 2 -> 2 tokens
        torch.stack([a, b, a, b, a, b, a]),  # alternating: all similarities equal -> 1 token
        torch.stack([c, a, a, b, b, c, c]),  # three exact ties of similarity ~1, r = 3 -> 4 tokens
        torch.stack([a, a, b, b, c, c, a, a, b]),  # four ties, r = 5 -> the 5th is below: depends on a.b etc.
        torch.zeros(5, dim),  # empty masks pool to zeros: similarity 0 everywhere -> 1 token
        torch.stack([a, a, torch.zeros(dim), torch.zeros(dim), b, b, b]),
        torch.randn(3, dim, generator=generator),  # at most max_tokens: untouched
        torch.randn(1, dim, generator=generator),
        torch.randn(10, dim, generator=generator),  # no ties
    ]


@pytest.mark.parametrize("seed", range(12))
def test_merge_planted_ties_match_reference(seed):
    generator = torch.Generator().manual_seed(1000 + seed)
    dim = [1, 2, 3, 8][seed % 4]
    objects = _planted_tie_objects(generator, dim)
    order = torch.randperm(len(objects), generator=generator).tolist()
    objects = [objects[i] for i in order]
    six_identical = order.index(0)
    counts = [o.shape[0] for o in objects]
    tokens = torch.cat(objects)
    for max_tokens in (1, 2, 4):
        ref_counts = assert_merge_matches(tokens, counts, max_tokens)
        if max_tokens == 4:
            assert ref_counts[six_identical] == 1
            assert sum(ref_counts) < sum(min(n, max_tokens) for n in counts), "the test needs fewer outputs"


def test_merge_identical_tokens_give_one_token():
    token = torch.randn(16, generator=torch.Generator().manual_seed(3))
    merged, counts = merge_adjacent_tokens(token.repeat(6, 1), torch.tensor([6]), 4)
    assert counts.tolist() == [1]
    torch.testing.assert_close(merged[0], token, atol=1e-6, rtol=0)


def test_merge_no_objects():
    tokens = torch.zeros(0, 4)
    merged, counts = merge_adjacent_tokens(tokens, torch.zeros(0, dtype=torch.long), 4)
    assert merged.shape == (0, 4) and counts.numel() == 0


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    counts=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=6),
    max_tokens=st.integers(min_value=1, max_value=6),
    dim=st.integers(min_value=1, max_value=6),
    seed=st.integers(min_value=0, max_value=2**16),
    duplicate_every=st.integers(min_value=0, max_value=3),
)
def test_merge_hypothesis(counts, max_tokens, dim, seed, duplicate_every):
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randn(sum(counts), dim, generator=generator)
    if duplicate_every:  # plant exact ties by copying tokens onto their right neighbours
        for i in range(1, tokens.shape[0], duplicate_every + 1):
            tokens[i] = tokens[i - 1]
    assert_merge_matches(tokens, counts, max_tokens)


# ------------------------------------------------------------------------------------- masks and pooling
@pytest.mark.parametrize("shape", [(90, 120), (104, 110), (8, 8), (3, 5), (27, 27), (400, 300)])
@pytest.mark.parametrize("grid", [8, 27])
def test_resize_masks_to_grid_matches_reference(shape, grid):
    generator = torch.Generator().manual_seed(shape[0] * 1000 + shape[1] + grid)
    masks = torch.rand(5, *shape, generator=generator)
    masks = torch.where(masks > 0.6, masks, torch.zeros_like(masks))  # non-binary values too
    masks[0] = 0  # an empty mask
    masks[1] = 0
    masks[1, shape[0] // 2, shape[1] // 2] = 1  # a single pixel
    got = resize_masks_to_grid(masks, grid)
    assert got.shape == (5, grid, grid)
    assert got.dtype == torch.float32
    assert torch.equal(got, reference_resize(masks, grid))
    assert got[0].sum() == 0


def test_resize_masks_bool_and_uint8_inputs():
    masks = torch.rand(3, 30, 40, generator=torch.Generator().manual_seed(0)) > 0.5
    expected = reference_resize(masks.float(), 8)
    assert torch.equal(resize_masks_to_grid(masks, 8), expected)
    assert torch.equal(resize_masks_to_grid(masks.to(torch.uint8), 8), expected)


@pytest.mark.parametrize("seed", range(5))
def test_mask_pool_matches_reference(seed):
    generator = torch.Generator().manual_seed(seed)
    num, channels, grid = 6, 7, 8
    features = torch.randn(num, channels, grid, grid, generator=generator)
    masks = (torch.rand(num, grid, grid, generator=generator) > 0.5).float()
    masks[0] = 0  # empty mask -> zeros
    masks[1] = 1  # full mask -> plain mean
    got = mask_pool(features, masks)
    assert got.shape == (num, channels)
    torch.testing.assert_close(got, reference_mask_pool(features, masks), atol=1e-6, rtol=1e-6)
    assert torch.equal(got[0], torch.zeros(channels))
    torch.testing.assert_close(got[1], features[1].mean((-1, -2)), atol=1e-6, rtol=1e-6)


def test_region_encoder_matches_composition():
    """The encoder = gather frame features -> resize/pool -> merge -> MLP, object after object."""
    config = tiny_config(region_token_num=2)
    torch.manual_seed(0)
    encoder = VideoReferRegionEncoder(config).eval()
    grid = config.vision_grid_size
    generator = torch.Generator().manual_seed(1)
    frame_features = torch.randn(3, grid * grid, config.vision_config.hidden_size, generator=generator)
    masks = resize_masks_to_grid(torch.rand(6, 13, 17, generator=generator) > 0.4, grid)
    frame_index = torch.tensor([0, 1, 2, 2, 0, 1])
    per_object = torch.tensor([1, 4, 1])
    with torch.no_grad():
        features, tokens_per_object = encoder(frame_features, masks, frame_index, per_object)

        maps = frame_features.reshape(3, grid, grid, -1).permute(0, 3, 1, 2)
        pooled = reference_mask_pool(maps[frame_index], masks)
        ref, ref_counts = reference_merge(pooled, per_object.tolist(), 2)
        expected = encoder.feat_linear(torch.cat(ref))
    assert tokens_per_object.tolist() == ref_counts == [1, 2, 1]
    torch.testing.assert_close(features, expected, atol=1e-6, rtol=1e-6)


def test_region_encoder_parameter_names():
    encoder = VideoReferRegionEncoder(tiny_config(region_encoder_depth=2))
    assert [n for n, _ in encoder.named_parameters()] == [
        "feat_linear.0.weight",
        "feat_linear.0.bias",
        "feat_linear.2.weight",
        "feat_linear.2.bias",
    ]

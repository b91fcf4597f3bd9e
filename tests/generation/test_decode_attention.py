"""The split-KV decoding attention: when it applies, how it splits the cache, and (on a GPU) what it computes."""

import math

import pytest
import torch

import transformers_videorefer  # noqa: F401
from transformers_videorefer.generation import decode_attention as decode
from transformers_videorefer.generation.attention import grouped_query_sdpa_forward

needs_cuda_triton = pytest.mark.skipif(
    not torch.cuda.is_available() or decode.triton is None, reason="the split-KV kernel needs a CUDA GPU and Triton"
)


@pytest.mark.parametrize("batch, kv_heads, length", [(1, 4, 1700), (1, 4, 1), (32, 4, 1700), (3, 2, 129), (8, 8, 64), (1, 1, 100_000)])
def test_split_count_covers_the_cache_once(batch, kv_heads, length):
    splits, chunk = decode.split_count(batch, kv_heads, length)
    assert chunk % decode.BLOCK_KEYS == 0
    assert (splits - 1) * chunk < length <= splits * chunk  # every position in exactly one chunk, no empty chunk
    blocks_of_keys = math.ceil(length / decode.BLOCK_KEYS)
    assert batch * kv_heads * splits >= min(decode.TARGET_BLOCKS, batch * kv_heads * blocks_of_keys) // 2


def _qkv(batch=1, query_heads=28, kv_heads=4, length=50, dim=128, dtype=torch.float16, device="cpu"):
    generator = torch.Generator().manual_seed(0)
    make = lambda *shape: torch.randn(*shape, generator=generator).to(device=device, dtype=dtype)  # noqa: E731
    return make(batch, query_heads, 1, dim), make(batch, kv_heads, length, dim), make(batch, kv_heads, length, dim)


def test_not_used_on_cpu_float32_float_masks_or_several_positions():
    query, key, _ = _qkv()
    assert not decode.can_use_split_kv_decode(query, key, None)  # CPU
    if torch.cuda.is_available() and decode.triton is not None:
        query, key = query.cuda(), key.cuda()
        assert decode.can_use_split_kv_decode(query, key, None)
        assert decode.can_use_split_kv_decode(query, key, torch.ones(1, 1, 1, 50, dtype=torch.bool, device="cuda"))
        assert not decode.can_use_split_kv_decode(query.float(), key.float(), None)
        assert not decode.can_use_split_kv_decode(query, key, torch.zeros(1, 1, 1, 50, device="cuda", dtype=query.dtype))
        assert not decode.can_use_split_kv_decode(query.expand(1, 28, 2, 128), key, None)


def _reference(query, key, value, mask, scale):
    group = query.shape[1] // key.shape[1]
    keys, values = key.float().repeat_interleave(group, 1), value.float().repeat_interleave(group, 1)
    scores = (query.float() @ keys.transpose(-1, -2)) * scale
    if mask is not None:
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
    return scores.softmax(-1) @ values


@needs_cuda_triton
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(
    "batch, query_heads, kv_heads, length, dim", [(1, 28, 4, 1700, 128), (5, 28, 4, 300, 128), (2, 8, 8, 70, 64), (3, 12, 2, 5, 128)]
)
@pytest.mark.parametrize("masked", [True, False])
def test_kernel_matches_float32_attention(dtype, batch, query_heads, kv_heads, length, dim, masked):
    query, key, value = _qkv(batch, query_heads, kv_heads, length, dim, dtype, "cuda")
    mask = None
    if masked:  # left padding of different lengths and unused static-cache slots at the end
        positions = torch.arange(length, device="cuda")
        starts = torch.randint(0, max(1, length // 3), (batch,), device="cuda")
        mask = (positions[None, :] >= starts[:, None]) & (positions[None, :] < length - length // 5)
    output = decode.split_kv_decode_attention(query, key, value, mask, dim**-0.5)
    assert output.shape == query.shape and output.dtype == dtype
    torch.testing.assert_close(output.float(), _reference(query, key, value, mask, dim**-0.5), atol=2e-2, rtol=2e-2)


@needs_cuda_triton
def test_grouped_sdpa_uses_it_and_agrees_with_sdpa_also_compiled():
    query, key, value = _qkv(2, 28, 4, 1700, 128, torch.bfloat16, "cuda")
    mask = torch.ones(2, 1, 1, 1700, dtype=torch.bool, device="cuda")
    mask[0, ..., :40] = False
    mask[:, ..., 1500:] = False
    module = torch.nn.Module().eval()
    output, _ = grouped_query_sdpa_forward(module, query, key, value, mask, scaling=0.1)
    expected = torch.nn.functional.scaled_dot_product_attention(
        query, key.repeat_interleave(7, 1), value.repeat_interleave(7, 1), attn_mask=mask, scale=0.1
    ).transpose(1, 2)
    torch.testing.assert_close(output, expected, atol=2e-2, rtol=2e-2)
    compiled = torch.compile(lambda q, k, v, m: grouped_query_sdpa_forward(module, q, k, v, m, scaling=0.1)[0], fullgraph=True)
    torch.testing.assert_close(compiled(query, key, value, mask), output, atol=1e-3, rtol=1e-3)

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Split-KV ("flash-decoding") attention for one query position against a long KV cache, on CUDA with Triton.

When decoding, each key/value head of Qwen2 serves 7 query heads. SDPA's kernels parallelise over batch x heads x
query blocks, which for batch 1 is 4 thread blocks, each streaming its head's whole cache: on an H100 ~35 us a layer,
~1 ms of a 7.3 ms decoding step. Here the cache is cut into chunks handled by separate thread blocks: each computes
the attention of the head's 7 query rows over its chunk with a running softmax (scores in float32) and writes a
partial output with its maximum and normaliser; the partials are then combined exactly (log-sum-exp rescaling).

`split_kv_decode_attention` is a `torch.library.triton_op`, so it compiles into `torch.compile` graphs and CUDA
graphs. `can_use_split_kv_decode` says when it applies: CUDA, fp16/bf16, one query position, a boolean or no mask;
other cases stay with SDPA.
"""

import math

import torch

try:
    import triton
    import triton.language as tl
except ImportError:  # CPU-only installs: SDPA serves every case
    triton = None

BLOCK_KEYS = 64  # keys per inner step of a thread block
TARGET_BLOCKS = 264  # thread blocks to aim for: two per SM of an H100 / H200


def can_use_split_kv_decode(query: torch.Tensor, key: torch.Tensor, attention_mask: torch.Tensor | None) -> bool:
    """Whether `split_kv_decode_attention` serves this call (otherwise use SDPA)."""
    return (
        triton is not None
        and query.is_cuda
        and query.dtype in (torch.float16, torch.bfloat16)
        and key.dtype == query.dtype
        and query.shape[2] == 1
        and query.shape[-1] in (64, 128, 256)
        and query.shape[1] % key.shape[1] == 0
        and query.shape[1] // key.shape[1] <= 16
        and (attention_mask is None or attention_mask.dtype == torch.bool)
    )


def split_count(batch: int, kv_heads: int, length: int) -> tuple[int, int]:
    """(chunks, keys per chunk) for a cache of `length` positions: enough thread blocks to fill the GPU."""
    blocks_of_keys = math.ceil(length / BLOCK_KEYS)
    wanted = max(1, min(blocks_of_keys, math.ceil(TARGET_BLOCKS / (batch * kv_heads))))
    chunk = math.ceil(blocks_of_keys / wanted) * BLOCK_KEYS
    return math.ceil(length / chunk), chunk


if triton is not None:

    @triton.jit
    def _split_kv_kernel(
        Q, K, V, Mask, PartialOut, PartialMax, PartialSum,
        stride_qb, stride_qh, stride_kb, stride_kh, stride_kn, stride_vb, stride_vh, stride_vn, stride_mb,
        length, chunk, scale,
        KV_HEADS: tl.constexpr, GROUP: tl.constexpr, SPLITS: tl.constexpr, BLOCK_G: tl.constexpr,
        BLOCK_N: tl.constexpr, HEAD_DIM: tl.constexpr, HAS_MASK: tl.constexpr,
    ):
        batch_head = tl.program_id(0)
        split = tl.program_id(1)
        b = batch_head // KV_HEADS
        h = batch_head % KV_HEADS
        rows = tl.arange(0, BLOCK_G)
        dims = tl.arange(0, HEAD_DIM)
        row_ok = rows < GROUP
        q = tl.load(
            Q + b * stride_qb + (h * GROUP + rows)[:, None] * stride_qh + dims[None, :], mask=row_ok[:, None], other=0.0
        )
        running_max = tl.full([BLOCK_G], float("-inf"), tl.float32)
        running_sum = tl.zeros([BLOCK_G], tl.float32)
        acc = tl.zeros([BLOCK_G, HEAD_DIM], tl.float32)
        start = split * chunk
        end = tl.minimum(start + chunk, length)
        for offset in range(start, end, BLOCK_N):
            keys = offset + tl.arange(0, BLOCK_N)
            in_range = keys < end
            valid = in_range
            if HAS_MASK:
                valid = valid & (tl.load(Mask + b * stride_mb + keys, mask=in_range, other=0) != 0)
            k = tl.load(
                K + b * stride_kb + h * stride_kh + keys[:, None] * stride_kn + dims[None, :],
                mask=in_range[:, None], other=0.0,
            )
            scores = (tl.dot(q, tl.trans(k)) * scale).to(tl.float32)  # compiled graphs may pass `scale` as fp64
            scores = tl.where(valid[None, :], scores, float("-inf"))
            new_max = tl.maximum(running_max, tl.max(scores, 1))
            safe_max = tl.where(new_max == float("-inf"), 0.0, new_max)
            rescale = tl.exp(running_max - safe_max)
            weights = tl.exp(scores - safe_max[:, None])
            running_sum = running_sum * rescale + tl.sum(weights, 1)
            v = tl.load(
                V + b * stride_vb + h * stride_vh + keys[:, None] * stride_vn + dims[None, :],
                mask=in_range[:, None], other=0.0,
            )
            acc = acc * rescale[:, None] + tl.dot(weights.to(v.dtype), v)
            running_max = new_max
        heads = h * GROUP + rows
        partial = (b * KV_HEADS * GROUP + heads) * SPLITS + split
        tl.store(PartialOut + partial[:, None] * HEAD_DIM + dims[None, :], acc, mask=row_ok[:, None])
        tl.store(PartialMax + partial, running_max, mask=row_ok)
        tl.store(PartialSum + partial, running_sum, mask=row_ok)

    @torch.library.triton_op("videorefer::split_kv_decode_attention", mutates_args={})
    def split_kv_decode_attention(
        query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None, scale: float
    ) -> torch.Tensor:
        """Attention of one query position, `query (batch, q_heads, 1, dim)`, over `key`/`value`
        `(batch, kv_heads, length, dim)` (q_heads a multiple of kv_heads), keeping the positions where
        `mask (batch, length)` is True (all when None). Returns `(batch, q_heads, 1, dim)` in the query's dtype."""
        batch, query_heads, _, head_dim = query.shape
        kv_heads, length = key.shape[1], key.shape[2]
        group = query_heads // kv_heads
        splits, chunk = split_count(batch, kv_heads, length)
        partial_out = torch.empty(batch, query_heads, splits, head_dim, device=query.device, dtype=torch.float32)
        partial_max = torch.empty(batch, query_heads, splits, device=query.device, dtype=torch.float32)
        partial_sum = torch.empty_like(partial_max)
        mask_arg = query if mask is None else mask
        torch.library.wrap_triton(_split_kv_kernel)[(batch * kv_heads, splits)](
            query, key, value, mask_arg, partial_out, partial_max, partial_sum,
            query.stride(0), query.stride(1), key.stride(0), key.stride(1), key.stride(2),
            value.stride(0), value.stride(1), value.stride(2), 0 if mask is None else mask.stride(0),
            length, chunk, scale,
            KV_HEADS=kv_heads, GROUP=group, SPLITS=splits, BLOCK_G=max(16, triton.next_power_of_2(group)),
            BLOCK_N=BLOCK_KEYS, HEAD_DIM=head_dim, HAS_MASK=mask is not None,
        )
        overall_max = partial_max.amax(-1, keepdim=True)
        weights = torch.exp(partial_max - torch.where(torch.isinf(overall_max), 0.0, overall_max))
        output = (partial_out * weights[..., None]).sum(2) / (partial_sum * weights).sum(-1, keepdim=True)
        return output.unsqueeze(2).to(query.dtype)

else:

    def split_kv_decode_attention(
        query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None, scale: float
    ) -> torch.Tensor:
        raise RuntimeError("split_kv_decode_attention needs Triton and a CUDA device; check can_use_split_kv_decode.")

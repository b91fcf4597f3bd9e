# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""`sdpa_grouped`: SDPA that serves grouped-query attention without copying keys and values.

transformers' SDPA path expands Qwen2's 4 key/value heads to the 28 query heads (`repeat_kv`) whenever an attention
mask is given on CUDA. When decoding a batch against a long (static) cache, that copy is the largest memory traffic
of the step. For one query position, the query heads that share a key/value head can instead be laid side by side
as extra query rows of that head, which is the same attention with no copy. On CUDA in fp16/bf16 that one position
goes to the split-KV kernel of `decode_attention_videorefer` (the cache spread over the whole GPU). Other cases go to
transformers' SDPA.
"""

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from .decode_attention import can_use_split_kv_decode, split_kv_decode_attention

GROUPED_SDPA = "sdpa_grouped"


def grouped_query_sdpa_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """Query `(batch, q_heads, 1, dim)` against key/value `(batch, kv_heads, length, dim)` without expanding them.

    Returns `(batch, 1, q_heads, dim)`, as transformers' attention functions do.
    """
    batch, query_heads, query_length, dim = query.shape
    kv_heads = key.shape[1]
    if query_length != 1 or query_heads == kv_heads or (module.training and dropout > 0):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs)
    if attention_mask is not None and attention_mask.dim() == 4:
        attention_mask = attention_mask[:, :, :1, : key.shape[-2]]  # (batch, 1, 1, length) broadcasts over the rows
    if can_use_split_kv_decode(query, key, attention_mask) and (attention_mask is None or attention_mask.dim() == 4):
        mask = None if attention_mask is None else attention_mask[:, 0, 0, :].expand(batch, -1)
        scale = dim**-0.5 if scaling is None else scaling
        output = split_kv_decode_attention(query, key, value, mask, scale)  # (batch, q_heads, 1, dim)
        return output.transpose(1, 2).contiguous(), None
    grouped = query.reshape(batch, kv_heads, query_heads // kv_heads, dim)
    output = torch.nn.functional.scaled_dot_product_attention(grouped, key, value, attn_mask=attention_mask, scale=scaling)
    return output.reshape(batch, query_heads, 1, dim).transpose(1, 2).contiguous(), None


AttentionInterface.register(GROUPED_SDPA, grouped_query_sdpa_forward)
AttentionMaskInterface.register(GROUPED_SDPA, sdpa_mask)

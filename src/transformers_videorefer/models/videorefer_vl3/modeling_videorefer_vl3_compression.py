# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Token compression of VideoRefer-VideoLLaMA3: dropping `<image>` positions from the sequence.

The processor marks, per merged visual token, whether it survives VideoLLaMA3's frame-difference compression
(`compression_mask`). The original removes the dropped tokens from the sequence: their embeddings, attention-mask
entries and positions vanish. Here each sample keeps its positions in order and the batch is re-padded.
"""

import torch


def sequence_keep_mask(
    input_ids: torch.LongTensor, image_token_id: int, compression_mask: torch.Tensor
) -> torch.BoolTensor:
    """`(batch, seq_len)` bool: False at the `<image>` positions whose merged token is dropped.

    Args:
        input_ids: `(batch, seq_len)`.
        image_token_id: id of `<image>`.
        compression_mask: `(number of <image> positions in the batch,)` bool, in the order of the positions
            (sample after sample).

    Raises:
        ValueError: the mask's length differs from the number of `<image>` positions.
    """
    image_positions = input_ids == image_token_id
    count = int(image_positions.sum())
    if compression_mask.ndim != 1 or compression_mask.numel() != count:
        raise ValueError(
            f"compression_mask has shape {tuple(compression_mask.shape)} but input_ids hold {count} <image> "
            "position(s); it must be 1-D with one entry per <image> position (merged visual token), in order."
        )
    keep = torch.ones_like(input_ids, dtype=torch.bool)
    keep[image_positions] = compression_mask.to(device=input_ids.device, dtype=torch.bool)
    return keep


def compress_sequences(
    keep: torch.BoolTensor, tensors: dict[str, torch.Tensor | None], pad_values: dict[str, float], left_padding: bool
) -> dict[str, torch.Tensor | None]:
    """Remove the positions where `keep` is False from every `(batch, seq_len, ...)` tensor and re-pad the batch.

    Args:
        keep: `(batch, seq_len)` bool; padding positions should be False (they are dropped and re-added).
        tensors: name -> `(batch, seq_len, ...)` tensor (None entries are passed through).
        pad_values: name -> value of the new padding positions (0 when absent).
        left_padding: pad on the left (generation) or on the right.

    Returns:
        name -> `(batch, new_len, ...)`, new_len = the largest kept count of a sample.
    """
    counts = keep.sum(-1)
    new_len = int(counts.max()) if counts.numel() else 0
    batch = keep.shape[0]
    columns = torch.arange(new_len, device=keep.device)[None, :].expand(batch, -1)
    if left_padding:
        valid = columns >= (new_len - counts)[:, None]
    else:
        valid = columns < counts[:, None]
    out: dict[str, torch.Tensor | None] = {}
    for name, tensor in tensors.items():
        if tensor is None:
            out[name] = None
            continue
        result = tensor.new_full((batch, new_len, *tensor.shape[2:]), pad_values.get(name, 0))
        result[valid] = tensor[keep]
        out[name] = result
    return out


def is_left_padded(attention_mask: torch.Tensor | None) -> bool:
    """Whether a `(batch, seq_len)` batch is left-padded (or has no padding): no row ends in padding."""
    return attention_mask is None or not bool((attention_mask[:, -1] == 0).any())


def positions_from_mask(attention_mask: torch.Tensor) -> torch.LongTensor:
    """`(batch, seq_len)` position ids counting only attended positions (1 at padding, as transformers does)."""
    positions = attention_mask.long().cumsum(-1) - 1
    return positions.masked_fill(attention_mask == 0, 1)


__all__ = ["compress_sequences", "is_left_padded", "positions_from_mask", "sequence_keep_mask"]

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""How many visual tokens the connector makes: shared by the model (to check) and the processor (to expand)."""

PROJECTOR_TYPES = frozenset({"stc_connector_v35", "stc_connector", "stp_connector", "mlp2x_gelu", "linear"})

# Projectors that average the frames and project each patch: one frame's grid of tokens, whatever the frame count.
MEAN_POOLING_PROJECTORS = frozenset({"mlp2x_gelu", "linear"})


def _pooled_length(length: int, kernel: int, padding: int) -> int:
    return (length + 2 * padding - kernel) // kernel + 1


def num_visual_tokens(
    projector_type: str, num_frames: int, grid_size: int, downsample: tuple[int, int, int] | list[int]
) -> int:
    """Number of tokens the connector outputs for `num_frames` frames of `grid_size` x `grid_size` patches.

    >>> num_visual_tokens("stc_connector_v35", 16, 27, (2, 2, 2))  # VideoRefer-7B: 8 x 13 x 13
    1352
    """
    if projector_type not in PROJECTOR_TYPES:
        raise ValueError(f"projector_type must be one of {sorted(PROJECTOR_TYPES)}, got {projector_type!r}.")
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}.")
    if projector_type in MEAN_POOLING_PROJECTORS:
        return grid_size * grid_size
    padding = 1 if projector_type == "stc_connector" else 0
    kernel_t, kernel_h, kernel_w = downsample
    if num_frames + 2 * padding < kernel_t:
        raise ValueError(
            f"The {projector_type} connector down-samples time by {kernel_t}: it needs at least "
            f"{kernel_t - 2 * padding} frames, got {num_frames}."
        )
    frames = _pooled_length(num_frames, kernel_t, padding)
    height = _pooled_length(grid_size, kernel_h, padding)
    width = _pooled_length(grid_size, kernel_w, padding)
    return frames * height * width

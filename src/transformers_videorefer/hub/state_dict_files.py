# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Reading the pickled partial checkpoints of the original releases (`mm_projector.bin`, `region_encoder.bin`)."""

import os
import pickle

import torch


def load_prefixed_state_dict(path: str | os.PathLike, prefixes: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The tensors of a pickled state dict whose keys start with one of `prefixes`, the prefix removed.

    The file is read with `torch.load(weights_only=True)`: a pickle that would run code is refused with a
    ValueError and never executed.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such checkpoint file: {path!r}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, AttributeError) as error:
        raise ValueError(
            f"{path} is not a plain state dict of tensors (it may hold pickled code, which is never executed): {error}"
        ) from error
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} holds a {type(state).__name__} that is not a dict of tensors.")
    weights = {}
    for key, value in state.items():
        prefix = next((p for p in prefixes if key.startswith(p)), None)
        if prefix is not None:
            weights[key[len(prefix) :]] = value
    if not weights:
        raise ValueError(f"{path} holds no `{prefixes[0]}*` weights (keys: {sorted(state)[:5]}...).")
    return weights

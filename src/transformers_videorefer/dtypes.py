# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Names of torch dtypes as the command line, the recipes and the converter accept them."""

import torch

DTYPES = {
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
    "fp32": torch.float32,
    "float32": torch.float32,
}


def resolve_dtype(name: str) -> torch.dtype:
    """`bf16` / `fp16` / `float32` (and long forms) -> torch dtype."""
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {name!r}.")
    return DTYPES[name]

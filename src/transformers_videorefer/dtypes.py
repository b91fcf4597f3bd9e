# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Names of torch dtypes as the command line, the recipes and the converter accept them.

Importing this module does not import torch (the command line's `--help` and argument checks stay light):
`DTYPE_NAMES` maps each accepted name to the `torch` attribute it stands for; `DTYPES` (the name -> torch dtype
mapping) and `resolve_dtype` import torch when first used.
"""

from typing import Any

DTYPE_NAMES: dict[str, str] = {
    "bf16": "bfloat16",
    "bfloat16": "bfloat16",
    "fp16": "float16",
    "float16": "float16",
    "fp32": "float32",
    "float32": "float32",
}


def canonical_dtype_name(name: str) -> str:
    """`bf16` -> `bfloat16`, `fp16` -> `float16`, `fp32` -> `float32` (long forms unchanged).

    Raises:
        ValueError: an unknown name.
    """
    if name not in DTYPE_NAMES:
        raise ValueError(f"dtype must be one of {sorted(DTYPE_NAMES)}, got {name!r}.")
    return DTYPE_NAMES[name]


def resolve_dtype(name: str) -> Any:
    """`bf16` / `fp16` / `float32` (and long forms) -> torch dtype.

    Raises:
        ValueError: an unknown name.
    """
    import torch

    return getattr(torch, canonical_dtype_name(name))


def __getattr__(attribute: str) -> Any:
    if attribute == "DTYPES":
        import torch

        return {name: getattr(torch, torch_name) for name, torch_name in DTYPE_NAMES.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


__all__ = ["DTYPE_NAMES", "canonical_dtype_name", "resolve_dtype"]

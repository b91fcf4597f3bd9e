# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""A cache of the fast generator's compiled decoding step across runs (torch's "mega-cache" artifacts).

After the step of one batch size is compiled, `torch.compiler.save_cache_artifacts()` serialises what inductor
produced (FX graphs, AOTAutograd entries, autotuning results); the next run loads them with
`torch.compiler.load_cache_artifacts()` before compiling, so compilation finds its kernels instead of generating
and tuning them again. Entries live in `$VIDEOREFER_COMPILE_CACHE` (default
`~/.cache/transformers_videorefer/compile`), one file per (key, batch size); the key hashes everything that makes an
entry stale: torch and CUDA versions, the GPU, the language model's config, the dtype, the cache length and the
compile options.
"""

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

CACHE_DIR_ENV = "VIDEOREFER_COMPILE_CACHE"


def default_cache_dir() -> Path:
    """`$VIDEOREFER_COMPILE_CACHE`, else `$XDG_CACHE_HOME/transformers_videorefer/compile` (`~/.cache/...`)."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "transformers_videorefer" / "compile"


def compile_cache_key(model: torch.nn.Module, max_cache_len: int, options: Mapping[str, Any]) -> str:
    """A hex key naming the compiled step of `model` with these cache length and compile options.

    It changes with the torch / CUDA versions, the device (GPU name), the language model's config (its shapes and
    attention implementation), the model's dtype, `max_cache_len` and the compile options.
    """
    device = getattr(model, "device", torch.device("cpu"))
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" and torch.cuda.is_available() else device.type
    text_config = model.config.get_text_config(decoder=True)
    described = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": device_name,
        "text_config": text_config.to_dict(),
        "attn_implementation": getattr(text_config, "_attn_implementation", None),
        "dtype": str(getattr(model, "dtype", None)),
        "max_cache_len": int(max_cache_len),
        "options": dict(options),
    }
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


class CompileCache:
    """The folder of saved compile artifacts of one key (see the module docstring).

    Args:
        key: from `compile_cache_key`.
        folder: where the entries live (default: `default_cache_dir()`).
    """

    def __init__(self, key: str, folder: str | os.PathLike | None = None):
        self.key = key
        self.folder = Path(folder) if folder is not None else default_cache_dir()

    def path(self, batch_size: int) -> Path:
        """The entry file of one batch size."""
        return self.folder / f"{self.key}-bs{int(batch_size)}.bin"

    def has(self, batch_size: int | None = None) -> bool:
        """Whether an entry exists for `batch_size` (None: for any batch size)."""
        if batch_size is not None:
            return self.path(batch_size).is_file()
        return self.folder.is_dir() and any(self.folder.glob(f"{self.key}-bs*.bin"))

    def load(self, batch_size: int) -> bool:
        """Load the entry of `batch_size` into torch's compile caches; True on a hit. An unreadable entry is a
        miss (logged), never an error: compiling from scratch gives the same step."""
        path = self.path(batch_size)
        if not path.is_file():
            return False
        try:
            info = torch.compiler.load_cache_artifacts(path.read_bytes())
        except (OSError, RuntimeError, ValueError, EOFError) as error:
            logger.warning("Ignoring the unreadable compile cache entry %s: %s", path, error)
            return False
        return info is not None

    def save(self, batch_size: int) -> Path | None:
        """Write what torch compiled so far as the entry of `batch_size` (atomically); None when there was nothing
        to save or the folder cannot be written (logged: the run goes on)."""
        artifacts = torch.compiler.save_cache_artifacts()
        if artifacts is None:
            return None
        data = artifacts[0]
        path = self.path(batch_size)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, prefix=f".{path.name}.", delete=False) as handle:
                handle.write(data)
                temporary = handle.name
            os.replace(temporary, path)
        except OSError as error:
            logger.warning("Cannot write the compile cache entry %s: %s", path, error)
            return None
        return path


__all__ = ["CACHE_DIR_ENV", "CompileCache", "compile_cache_key", "default_cache_dir"]

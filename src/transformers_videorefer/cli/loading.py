# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Loading a VideoRefer model and its processor for the command-line tools (either family: VideoRefer-7B or
VideoRefer-VideoLLaMA3, through the Auto classes; `evaluation.families` tells them apart).

The checks here run before anything heavy is loaded: `check_model_argument` tells a mistyped local folder from a Hub
repository id, `check_dtype_and_device` refuses a dtype or device this machine cannot use, and
`resolve_model_source` finds out within seconds whether the Hub can be reached (an unreachable Hub otherwise costs
minutes of retries); without it, a checkpoint already in the local Hugging Face cache is used, else the error names
`--model PATH` and `HF_HUB_OFFLINE`.
"""

import os
import urllib.error
import urllib.request
from typing import Any

from ..dtypes import DTYPE_NAMES, canonical_dtype_name
from ..hub.locations import disable_bpe_cleanup, looks_like_path  # noqa: F401  (the commands' names)

DEFAULT_MODEL = "DAMO-NLP-SG/VideoRefer-7B"
# Seconds the Hub gets to answer the reachability probe.
HUB_PROBE_TIMEOUT = 5.0


class ModelNotAvailableError(OSError):
    """The model could not be loaded: not a local folder and the Hub could not provide it."""


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_model_argument(model: str, flag: str = "--model") -> None:
    """Refuse a `--model` that names a local folder that does not exist (before anything is loaded).

    Raises:
        ModelNotAvailableError: `model` looks like a path but no such folder exists (or it is a file).
    """
    if os.path.isdir(os.path.expanduser(model)):
        return
    if looks_like_path(model):
        if os.path.exists(os.path.expanduser(model)):
            raise ModelNotAvailableError(f"{flag} {model}: not a folder; pass the checkpoint's folder.")
        raise ModelNotAvailableError(
            f"{flag} {model}: no such folder; pass an existing checkpoint folder or a Hub id such as {DEFAULT_MODEL}."
        )


def check_dtype_and_device(dtype: str, device: str | None) -> str:
    """Check `--dtype` and `--device` before loading; returns the device to use (`device`, or the default one).

    Raises:
        ValueError: an unknown dtype, a CUDA device on a machine without one (or with fewer GPUs), or fp16 on the CPU.
    """
    if dtype not in DTYPE_NAMES:
        raise ValueError(f"--dtype {dtype}: unknown dtype; use one of {', '.join(sorted(DTYPE_NAMES))}.")
    import torch

    device = device or default_device()
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"--device {device}: not a device torch knows ({error}); use cpu or cuda.") from error
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {device}: CUDA is not available on this machine; use --device cpu.")
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(
                f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s) (cuda:0 ...)."
            )
    if parsed.type == "cpu" and canonical_dtype_name(dtype) == "float16":
        raise ValueError(f"--dtype {dtype} is not supported on the CPU; use --dtype float32 or bf16.")
    return device


def _hub_endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT.rstrip("/")


def _offline_mode() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def hub_reachable(endpoint: str, timeout: float = HUB_PROBE_TIMEOUT) -> bool:
    """Whether `endpoint` answers an HTTP request within `timeout` seconds (any HTTP status counts as an answer)."""
    request = urllib.request.Request(endpoint + "/api/models", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _cached_snapshot(model_id: str) -> str | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return snapshot_download(model_id, local_files_only=True)
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None


def resolve_model_source(model: str, flag: str = "--model") -> str:
    """Where to load `model` from: its folder, the Hub id itself (Hub reachable), or its snapshot in the local cache.

    Raises:
        ModelNotAvailableError: a path with no such folder, or a Hub id while the Hub cannot be reached (or
            `HF_HUB_OFFLINE` is set) and the local cache does not hold it.
    """
    check_model_argument(model, flag)
    if os.path.isdir(os.path.expanduser(model)):
        return os.path.expanduser(model)
    offline = _offline_mode()
    endpoint = _hub_endpoint()
    if not offline and hub_reachable(endpoint):
        return model
    cached = _cached_snapshot(model)
    if cached is not None:
        return cached
    why = "HF_HUB_OFFLINE is set" if offline else f"the Hugging Face Hub ({endpoint}) cannot be reached"
    raise ModelNotAvailableError(
        f"Cannot load {model!r}: {why} and it is not in the local Hugging Face cache. Pass a downloaded checkpoint "
        f"folder with {flag} PATH (or download it once with network access; HF_HUB_OFFLINE=1 then uses the cache)."
    )


def load_model_and_processor(
    model_id: str, dtype: str = "bf16", device: str | None = None, attn_implementation: str | None = None
) -> tuple[Any, Any]:
    """Load the model and its processor from a folder or a Hub repository, through the Auto classes
    (`VideoReferForConditionalGeneration` + `VideoReferProcessor`, or the VideoRefer-VideoLLaMA3 classes).

    Raises:
        ModelNotAvailableError: `model_id` is not a local folder and the Hub could not be reached or has no such
            repository; the message names `--model PATH` as the way out.
        ValueError: a dtype or device this machine cannot use (see `check_dtype_and_device`).
    """
    device = check_dtype_and_device(dtype, device)
    source = resolve_model_source(model_id)
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from ..dtypes import resolve_dtype

    try:
        processor = AutoProcessor.from_pretrained(source)
        kwargs: dict[str, Any] = {"dtype": resolve_dtype(dtype)}
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        model = AutoModelForImageTextToText.from_pretrained(source, **kwargs)
    except OSError as error:
        if os.path.isdir(source):
            raise
        raise ModelNotAvailableError(
            f"Could not load the model {model_id!r} from the Hugging Face Hub ({type(error).__name__}: {error}). "
            "If this machine cannot reach the Hub, download the checkpoint elsewhere and pass its folder with "
            "--model PATH (or set HF_HUB_OFFLINE=1 to use only the local cache)."
        ) from error
    disable_bpe_cleanup(processor)
    return model.to(device).eval(), processor



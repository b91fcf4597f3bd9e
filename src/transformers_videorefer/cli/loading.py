# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Loading a VideoRefer model and its processor for the command-line tools."""

import os

DEFAULT_MODEL = "DAMO-NLP-SG/VideoRefer-7B"


class ModelNotAvailableError(OSError):
    """The model could not be loaded: not a local folder and the Hub could not provide it."""


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_model_and_processor(model_id: str, dtype: str = "bf16", device: str | None = None, attn_implementation: str | None = None):
    """Load `VideoReferForConditionalGeneration` and `VideoReferProcessor` from a folder or a Hub repository.

    Raises:
        ModelNotAvailableError: `model_id` is not a local folder and the Hub could not be reached or has no such
            repository; the message names `--model PATH` as the way out.
    """
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from ..dtypes import resolve_dtype

    device = device or default_device()
    torch_dtype = resolve_dtype(dtype)
    if device == "cpu" and torch_dtype == torch.float16:
        raise ValueError("fp16 is not supported on the CPU; use --dtype float32 or bf16.")
    try:
        processor = AutoProcessor.from_pretrained(model_id)
        kwargs = {"dtype": torch_dtype}
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        model = AutoModelForImageTextToText.from_pretrained(model_id, **kwargs)
    except OSError as error:
        if os.path.isdir(model_id):
            raise
        raise ModelNotAvailableError(
            f"Could not load the model {model_id!r} from the Hugging Face Hub ({type(error).__name__}: {error}). "
            "If this machine cannot reach the Hub, download the checkpoint elsewhere and pass its folder with "
            "--model PATH."
        ) from error
    return model.to(device).eval(), processor

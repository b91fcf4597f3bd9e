# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Where a checkpoint name points: a local folder or a Hub repository id; and a tokenizer setting loaders fix."""

import os
from typing import Any


def looks_like_path(model: str) -> bool:
    """Whether `--model` was meant as a local folder rather than a Hub id `owner/name`.

    A path starts with `.`, `/` or `~`, holds a backslash (or the OS's own separator when it is not `/`), or has
    more than one `/` (a Hub id has at most one).
    """
    separators = {"\\", os.sep, os.altsep or os.sep} - {"/"}
    return (
        model.startswith((".", "/", "~"))
        or any(separator in model for separator in separators)
        or model.count("/") > 1
        or os.path.isabs(model)
    )


def disable_bpe_cleanup(processor_or_tokenizer: Any) -> None:
    """Set `clean_up_tokenization_spaces=False` on a BPE tokenizer (Qwen2's) whose config asks for the clean-up.

    The released tokenizer_config.json says `clean_up_tokenization_spaces: true`; transformers ignores it for BPE
    tokenizers (the clean-up is meant for WordPiece and would remove real spaces) and logs a warning on every decode.
    Setting the attribute to what is actually done keeps the decoded text the same and the warning away.
    """
    tokenizer = getattr(processor_or_tokenizer, "tokenizer", processor_or_tokenizer)
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or type(backend.model).__name__ != "BPE":
        return
    if getattr(tokenizer, "clean_up_tokenization_spaces", False):
        tokenizer.clean_up_tokenization_spaces = False

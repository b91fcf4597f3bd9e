# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Whether the fast generator compiles its decoding step: only where the run repays the compilation.

Compiling the step costs tens of seconds per batch size on a GPU (docs/performance.md: 38 s per batch size at the
7B shapes on an H100, 66 s with kernel tuning; a few seconds when the compile cache has the entry) and saves some
tens of milliseconds per decoding step (7B, bs=32: 23 ms uncompiled vs 9 ms compiled). A run of `batches` batches
of at most `max_new_tokens` tokens takes at most `batches * max_new_tokens` steps: `choose_compile` compiles when
those steps save more than the compilation costs, and says which it chose and why (`CompileChoice.report`).
"""

import math
from dataclasses import dataclass

# Measured costs (docs/performance.md, 7B shapes on an H100/H200); the estimates err towards compiling long runs.
COMPILE_SECONDS_MISS = 40.0  # per batch size, nothing cached
COMPILE_SECONDS_TUNED_MISS = 66.0  # per batch size, kernel tuning on, nothing cached
COMPILE_SECONDS_HIT = 8.0  # per batch size, with the cache entry (tracing + loading kernels + CUDA graph record)
SECONDS_SAVED_PER_STEP = 0.015  # uncompiled step minus compiled step

COMPILE_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class CompileChoice:
    """What the fast generator does about compilation, and the line that reports it.

    Attributes:
        compile: whether the decoding step is compiled.
        report: e.g. "compiled (cache hit)", "compiled (cache miss)", "not compiled: run too short (...)".
    """

    compile: bool
    report: str


def run_batches(num_questions: int, batch_size: int) -> tuple[int, int]:
    """(batches, distinct batch sizes) of `num_questions` questions in batches of `batch_size`."""
    if num_questions < 0 or batch_size < 1:
        raise ValueError(f"Expected num_questions >= 0 and batch_size >= 1, got {num_questions} and {batch_size}.")
    batches = math.ceil(num_questions / batch_size)
    sizes = (1 if batches else 0) + (1 if batches > 1 and num_questions % batch_size else 0)
    return batches, sizes


def choose_compile(
    mode: str,
    expected_steps: int | None,
    batch_sizes: int = 1,
    cache_hit: bool = False,
    can_compile: bool = True,
    tune_kernels: bool = False,
) -> CompileChoice:
    """Decide whether to compile the decoding step.

    Args:
        mode: "always" / "never" force the choice; "auto" compiles when `expected_steps` decoding steps save more
            time than compiling `batch_sizes` steps costs (less with a cache hit).
        expected_steps: decoding steps the run takes at most (batches x max_new_tokens); None: unknown (a long
            run is assumed: compile).
        batch_sizes: distinct batch sizes the run compiles a step for.
        cache_hit: whether the compile cache holds the entry.
        can_compile: False where compiling does not apply (not a CUDA device): "auto" then never compiles.
        tune_kernels: kernel tuning on (a dearer compilation).

    Returns:
        a `CompileChoice`.
    """
    if mode not in COMPILE_MODES:
        raise ValueError(f"compile mode must be one of {COMPILE_MODES}, got {mode!r}.")
    cache = "cache hit" if cache_hit else "cache miss"
    if mode == "always":
        return CompileChoice(True, f"compiled ({cache}; forced)")
    if mode == "never":
        return CompileChoice(False, "not compiled: forced")
    if not can_compile:
        return CompileChoice(False, "not compiled: not a CUDA device")
    if expected_steps is None:
        return CompileChoice(True, f"compiled ({cache})")
    per_size = COMPILE_SECONDS_HIT if cache_hit else COMPILE_SECONDS_TUNED_MISS if tune_kernels else COMPILE_SECONDS_MISS
    cost = per_size * max(1, batch_sizes)
    saved = SECONDS_SAVED_PER_STEP * max(0, expected_steps)
    if saved > cost:
        return CompileChoice(True, f"compiled ({cache})")
    return CompileChoice(
        False,
        f"not compiled: run too short (~{expected_steps} decoding steps would save ~{saved:.1f} s, compiling "
        f"costs ~{cost:.0f} s with a {cache})",
    )


__all__ = ["COMPILE_MODES", "CompileChoice", "choose_compile", "run_batches"]

"""The fast generator compiles only where the run repays it, and says what it chose."""

import pytest

from transformers_videorefer.generation.compile_policy import (
    COMPILE_SECONDS_HIT,
    COMPILE_SECONDS_MISS,
    SECONDS_SAVED_PER_STEP,
    choose_compile,
    run_batches,
)


def test_a_short_run_is_not_compiled_and_says_why():
    batches, sizes = run_batches(128, 32)  # Bench-Q, 128 questions, 4 new tokens: 16 steps
    choice = choose_compile("auto", batches * 4, sizes)
    assert not choice.compile
    assert choice.report.startswith("not compiled: run too short (~16 decoding steps")


def test_a_long_run_is_compiled_and_reports_the_cache():
    steps = int(COMPILE_SECONDS_MISS / SECONDS_SAVED_PER_STEP) * 2
    assert choose_compile("auto", steps).report == "compiled (cache miss)"
    assert choose_compile("auto", steps, cache_hit=True).report == "compiled (cache hit)"
    assert choose_compile("auto", None).compile  # unknown length: assumed long


def test_a_cache_hit_makes_compiling_pay_off_sooner():
    steps = int((COMPILE_SECONDS_HIT + COMPILE_SECONDS_MISS) / 2 / SECONDS_SAVED_PER_STEP)
    assert not choose_compile("auto", steps).compile
    assert choose_compile("auto", steps, cache_hit=True).compile
    assert not choose_compile("auto", steps, batch_sizes=4, cache_hit=True).compile  # each size compiles


def test_forced_choices_and_devices_that_cannot_compile():
    assert choose_compile("always", 1).report == "compiled (cache miss; forced)"
    assert choose_compile("always", 1, cache_hit=True).compile
    assert choose_compile("never", 10**9).report == "not compiled: forced"
    assert choose_compile("auto", 10**9, can_compile=False).report == "not compiled: not a CUDA device"


def test_tuned_kernels_cost_more_to_compile():
    steps = int(50 / SECONDS_SAVED_PER_STEP)  # repays 40 s, not 66 s
    assert choose_compile("auto", steps).compile
    assert not choose_compile("auto", steps, tune_kernels=True).compile


@pytest.mark.parametrize("questions, batch, expected", [(0, 32, (0, 0)), (64, 32, (2, 1)), (65, 32, (3, 2)), (5, 8, (1, 1))])
def test_run_batches(questions, batch, expected):
    assert run_batches(questions, batch) == expected


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="compile mode must be one of"):
        choose_compile("sometimes", 10)
    with pytest.raises(ValueError, match="batch_size >= 1"):
        run_batches(10, 0)

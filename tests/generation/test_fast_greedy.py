"""FastGreedyGenerator and the sdpa_grouped attention give what `generate` / SDPA give."""

import pytest
import torch
from helpers import collate_left_padded, random_sample, tiny_model

import transformers_videorefer  # noqa: F401
from transformers_videorefer.generation import fast_greedy
from transformers_videorefer.generation.fast_greedy import FastGreedyGenerator


@pytest.fixture(scope="module")
def batch_and_model():
    model = tiny_model(seed=3, attn_implementation="sdpa")
    samples = [random_sample(model, [2], seed=1), random_sample(model, [1, 6], seed=2, text_after=9)]
    return collate_left_padded(samples), model


def _reference(model, batch, **kwargs):
    return model.generate(**batch, do_sample=False, **kwargs)


@pytest.mark.parametrize("kwargs", [dict(max_new_tokens=12), dict(max_new_tokens=7, min_new_tokens=7)])
def test_fast_generator_matches_generate(batch_and_model, kwargs):
    batch, model = batch_and_model
    generator = FastGreedyGenerator(model, max_cache_len=batch["input_ids"].shape[1] + 16, compile=False)
    for _ in range(2):  # the second call reuses the batch size's cache
        assert torch.equal(generator.generate(**batch, **kwargs), _reference(model, batch, **kwargs))
    assert list(generator._states) == [2]


@pytest.mark.parametrize("tune_kernels", [False, True])
def test_compiled_step_options(batch_and_model, monkeypatch, tune_kernels):
    """compile=True compiles the step once per batch size: whole graph, static shapes, CUDA graphs, tuning opt-in."""
    batch, model = batch_and_model
    calls = []

    def recording_compile(function, **kwargs):
        calls.append(kwargs)
        return function  # run uncompiled: the wiring is under test here, not inductor

    monkeypatch.setattr(torch, "compile", recording_compile)
    monkeypatch.setattr(torch._dynamo, "mark_static_address", lambda tensor: None)
    generator = FastGreedyGenerator(
        model, max_cache_len=batch["input_ids"].shape[1] + 16, compile=True, tune_kernels=tune_kernels
    )
    for _ in range(2):
        assert torch.equal(generator.generate(**batch, max_new_tokens=6), _reference(model, batch, max_new_tokens=6))
    assert calls == [
        {"options": {"triton.cudagraphs": True, "coordinate_descent_tuning": tune_kernels}, "fullgraph": True, "dynamic": False}
    ]


def test_fast_generator_eos_min_tokens_and_padding(batch_and_model):
    batch, model = batch_and_model
    free = _reference(model, batch, max_new_tokens=10)
    prompt = batch["input_ids"].shape[1]
    eos = int(free[0, prompt + 2])  # a token row 0 produces at step 3: make it the EOS
    model.generation_config.eos_token_id = eos
    try:
        generator = FastGreedyGenerator(model, max_cache_len=prompt + 16, compile=False)
        for kwargs in (dict(max_new_tokens=10), dict(max_new_tokens=10, min_new_tokens=5)):
            expected = _reference(model, batch, **kwargs)
            assert torch.equal(generator.generate(**batch, **kwargs), expected)
        assert (generator.generate(**batch, max_new_tokens=10)[0, prompt:] == eos).any()
    finally:
        model.generation_config.eos_token_id = None


def test_fast_generator_refuses_a_too_small_cache(batch_and_model):
    batch, model = batch_and_model
    generator = FastGreedyGenerator(model, max_cache_len=batch["input_ids"].shape[1] + 2, compile=False)
    with pytest.raises(ValueError, match="make it with a larger max_cache_len"):
        generator.generate(**batch, max_new_tokens=5)


def test_grouped_sdpa_matches_sdpa(batch_and_model):
    batch, model = batch_and_model
    grouped = tiny_model(seed=3, attn_implementation="sdpa")
    grouped.model.language_model.config._attn_implementation = "sdpa_grouped"
    assert grouped.model.language_model.config.num_key_value_heads < grouped.model.language_model.config.num_attention_heads
    with torch.no_grad():
        torch.testing.assert_close(grouped(**batch).logits, model(**batch).logits)
    for cache in (None, "static"):
        kwargs = dict(max_new_tokens=8, cache_implementation=cache)
        assert torch.equal(_reference(grouped, batch, **kwargs), _reference(model, batch, **kwargs))


def test_pruning_unused_vision_layers_changes_nothing(batch_and_model):
    batch, model = batch_and_model
    pruned = tiny_model(seed=3, attn_implementation="sdpa")
    removed = pruned.model.prune_unused_vision_layers()
    assert removed > 0
    assert len(pruned.model.vision_tower.encoder.layers) == pruned.model._num_vision_layers_to_run()
    with torch.no_grad():
        torch.testing.assert_close(pruned(**batch).logits, model(**batch).logits, atol=0, rtol=0)


def _record_compiles(monkeypatch) -> list:
    """Replace torch.compile by a recorder that runs the step uncompiled (the choice is under test, not inductor)."""
    calls = []

    def recording_compile(function, **kwargs):
        calls.append(kwargs)
        return function

    monkeypatch.setattr(torch, "compile", recording_compile)
    monkeypatch.setattr(torch._dynamo, "mark_static_address", lambda tensor: None)
    return calls


def test_auto_compile_on_a_cpu_is_off_and_reported(batch_and_model, monkeypatch, caplog):
    batch, model = batch_and_model
    calls = _record_compiles(monkeypatch)
    with caplog.at_level("INFO", logger="transformers_videorefer.generation.fast_greedy"):
        generator = FastGreedyGenerator(model, max_cache_len=batch["input_ids"].shape[1] + 16, expected_steps=10**6)
    assert generator.compile_choice.report == "not compiled: not a CUDA device"
    assert "fast generation: not compiled: not a CUDA device" in caplog.text
    assert torch.equal(generator.generate(**batch, max_new_tokens=6), _reference(model, batch, max_new_tokens=6))
    assert calls == [] and generator.cache_status == {}


def test_a_short_run_skips_compiling_a_long_one_compiles(batch_and_model, monkeypatch):
    """The automatic choice (as on a GPU) gives the same tokens whichever way it goes."""
    batch, model = batch_and_model
    calls = _record_compiles(monkeypatch)
    choose = fast_greedy.choose_compile
    monkeypatch.setattr(fast_greedy, "choose_compile", lambda *args, **kwargs: choose(*args, **{**kwargs, "can_compile": True}))
    room = batch["input_ids"].shape[1] + 16
    short = FastGreedyGenerator(model, max_cache_len=room, expected_steps=16, compile_cache=False)
    long = FastGreedyGenerator(model, max_cache_len=room, expected_steps=10**6, compile_cache=False)
    assert short.compile_choice.report.startswith("not compiled: run too short")
    assert long.compile_choice.report == "compiled (cache miss)"
    expected = _reference(model, batch, max_new_tokens=9)
    assert torch.equal(short.generate(**batch, max_new_tokens=9), expected)
    assert torch.equal(long.generate(**batch, max_new_tokens=9), expected)
    assert len(calls) == 1 and long.cache_status == {2: "cache miss"}


def test_the_compiled_step_is_cached_across_runs(batch_and_model, monkeypatch, tmp_path):
    batch, model = batch_and_model
    _record_compiles(monkeypatch)
    loaded = []
    monkeypatch.setattr(torch.compiler, "save_cache_artifacts", lambda: (b"kernels", None))
    monkeypatch.setattr(torch.compiler, "load_cache_artifacts", lambda data: loaded.append(data) or object())
    room = batch["input_ids"].shape[1] + 16
    expected = _reference(model, batch, max_new_tokens=5)
    first = FastGreedyGenerator(model, max_cache_len=room, compile="always", compile_cache=tmp_path)
    assert first.compile_choice.report == "compiled (cache miss; forced)"
    assert torch.equal(first.generate(**batch, max_new_tokens=5), expected)
    assert first.cache_status == {2: "cache miss"} and first.compile_cache.has(2) and loaded == []
    second = FastGreedyGenerator(model, max_cache_len=room, compile="always", compile_cache=tmp_path)  # a new run
    assert second.compile_choice.report == "compiled (cache hit; forced)"
    assert torch.equal(second.generate(**batch, max_new_tokens=5), expected)
    assert second.cache_status == {2: "cache hit"} and loaded == [b"kernels"]
    other = FastGreedyGenerator(model, max_cache_len=room + 1, compile="always", compile_cache=tmp_path)
    assert other.compile_choice.report == "compiled (cache miss; forced)"  # another cache length: another key


def test_a_model_without_a_language_model_is_refused():
    with pytest.raises(TypeError, match="needs a VideoRefer or VideoRefer-VideoLLaMA3 model"):
        FastGreedyGenerator(torch.nn.Linear(2, 2), max_cache_len=8)


def test_an_unknown_compile_mode_is_refused(batch_and_model):
    _, model = batch_and_model
    with pytest.raises(ValueError, match="compile must be True, False, None or one of"):
        FastGreedyGenerator(model, max_cache_len=32, compile="sometimes")

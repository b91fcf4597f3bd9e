"""FastGreedyGenerator and the sdpa_grouped attention give what `generate` / SDPA give."""

import pytest
import torch
from helpers import collate_left_padded, random_sample, tiny_model

import transformers_videorefer  # noqa: F401
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

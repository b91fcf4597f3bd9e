"""FastGreedyGenerator on VideoRefer-VideoLLaMA3: the greedy ids of `model.generate` on the four golden cases
(`videorefer_vl3_tiny`), token compression included."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models" / "videorefer_vl3"))

from golden_paths import golden_fixture_or_skip  # noqa: E402
from golden_vl3 import VL3_CASES, VL3_SUBDIR, load_vl3_case  # noqa: E402
from vl3_model_inputs import left_padded_batch, stored_model_inputs  # noqa: E402

from transformers_videorefer.generation.fast_greedy import FastGreedyGenerator  # noqa: E402

NEW_TOKENS = 8  # the fixture's greedy length, EOS off


@pytest.fixture(scope="module")
def vl3_golden() -> Path:
    return golden_fixture_or_skip(VL3_SUBDIR, "VideoRefer-VideoLLaMA3")


@pytest.fixture(scope="module")
def vl3_model(vl3_golden):
    from transformers import AutoModelForImageTextToText

    import transformers_videorefer  # noqa: F401  (registers the model types)

    return AutoModelForImageTextToText.from_pretrained(vl3_golden / "checkpoint", dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def cases(vl3_golden) -> dict:
    return {name: load_vl3_case(vl3_golden, name)[1] for name in VL3_CASES}


def _new_tokens(sequences: torch.Tensor, inputs: dict) -> list[list[int]]:
    prompt = inputs["input_ids"].shape[1]
    assert torch.equal(sequences[:, :prompt], inputs["input_ids"])  # the caller's (uncompressed) prompt comes back
    return sequences[:, prompt:].tolist()


def test_the_cases_exercise_token_compression(cases):
    assert any(not bool(stored_model_inputs(cases[name])["compression_mask"].all()) for name in VL3_CASES)


@pytest.mark.parametrize("name", VL3_CASES)
def test_each_case_gives_the_greedy_ids_of_generate(vl3_model, cases, name):
    inputs = stored_model_inputs(cases[name])
    generator = FastGreedyGenerator(vl3_model, max_cache_len=inputs["input_ids"].shape[1] + NEW_TOKENS, compile=False)
    sequences = generator.generate(**inputs, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS)
    assert _new_tokens(sequences, inputs) == [cases[name]["generated_ids"].tolist()]


def test_a_left_padded_batch_through_a_traced_step_gives_each_case_its_ids(vl3_model, cases, monkeypatch):
    """The decoding step traced whole by dynamo (eager backend: CPU-compatible), compiled or not: same ids."""
    compile_function = torch.compile
    monkeypatch.setattr(torch, "compile", lambda step, options, **kwargs: compile_function(step, backend="eager", **kwargs))
    batch = left_padded_batch([stored_model_inputs(cases[name]) for name in VL3_CASES], pad_id=400)
    expected = [cases[name]["generated_ids"].tolist() for name in VL3_CASES]
    room = batch["input_ids"].shape[1] + NEW_TOKENS
    for compile in ("always", "never"):
        generator = FastGreedyGenerator(vl3_model, max_cache_len=room, compile=compile, compile_cache=False)
        sequences = generator.generate(**batch, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS)
        assert _new_tokens(sequences, batch) == expected, compile


def test_the_evaluation_sizes_vl3_caches_for_every_clip_the_processor_can_make(vl3_golden, vl3_model, cases):
    """`videorefer eval` takes the fast path where the family names a prompt room: VL3's visual-token budget."""
    from transformers import AutoProcessor

    from transformers_videorefer.evaluation.families import VIDEOREFER_VL3

    processor = AutoProcessor.from_pretrained(vl3_golden / "checkpoint")
    room = VIDEOREFER_VL3.prompt_room(processor, {"fps": 1, "max_frames": 768})
    assert room == processor.mm_max_length
    for name in VL3_CASES:
        image_tokens = int((cases[name]["input_ids"] == vl3_model.config.image_token_id).sum())
        assert 0 < image_tokens <= room, name

"""Beam search and `num_return_sequences` on batches with regions: every sample gets its own images, videos, masks
and objects after `generate` repeats its rows (`_expand_inputs_for_generation`)."""

import pytest
import torch
from transformers import AutoModelForImageTextToText

import transformers_videorefer  # noqa: F401  (registers the model types)
from helpers import GOLDEN_CASES, collate_left_padded, golden_batch, load_case, random_sample, single_inputs, tiny_model

NEW_TOKENS = 6


@pytest.fixture(scope="module")
def golden_model(golden_checkpoint):
    return AutoModelForImageTextToText.from_pretrained(golden_checkpoint, attn_implementation="eager").eval()


@pytest.fixture(scope="module")
def golden_batch_and_singles(golden_model, golden_dir):
    return golden_batch(golden_model, [load_case(golden_dir, name) for name in GOLDEN_CASES])


def _generate(model, inputs: dict, **generate_kwargs) -> torch.Tensor:
    length = inputs["input_ids"].shape[1]
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, **generate_kwargs)
    return out[:, length:]


@pytest.mark.parametrize(
    "generate_kwargs",
    [
        pytest.param(dict(num_beams=3, do_sample=False), id="beam3"),
        pytest.param(dict(num_beams=3, num_return_sequences=2, do_sample=False), id="beam3-return2"),
    ],
)
def test_golden_batch_beam_search_matches_each_sample_alone(golden_model, golden_batch_and_singles, generate_kwargs):
    """Batch of the three golden cases (two videos, one image; 1, 2 and 2 objects; masks of different sizes)."""
    batch, singles = golden_batch_and_singles
    assert (batch["attention_mask"] == 0).any(), "the test needs padding"
    per_sample = generate_kwargs.get("num_return_sequences", 1)
    batch_out = _generate(golden_model, batch, **generate_kwargs)
    assert batch_out.shape[0] == len(singles) * per_sample
    for row, single in enumerate(singles):
        alone = _generate(golden_model, single, **generate_kwargs)
        got = batch_out[row * per_sample : (row + 1) * per_sample]
        assert got.tolist() == alone.tolist(), f"{GOLDEN_CASES[row]}: batch {got.tolist()} alone {alone.tolist()}"


def test_expand_visual_inputs_repeats_each_sample_as_a_block():
    model = tiny_model(seed=0)
    samples = [
        random_sample(model, [3, 1], seed=1, text_before=9),
        random_sample(model, [5], seed=2, text_before=2),
        random_sample(model, [2, 2, 1], seed=3, text_before=4),
    ]
    batch = collate_left_padded(samples)
    visual = {k: v for k, v in batch.items() if k not in ("input_ids", "attention_mask")}
    expanded = model.model.expand_visual_inputs(batch["input_ids"], 2, **visual)
    # objects [3, 1 | 5 | 2, 2, 1] -> each sample's block twice
    assert expanded["region_masks_per_object"].tolist() == [3, 1, 3, 1, 5, 5, 2, 2, 1, 2, 2, 1]
    assert torch.equal(expanded["pixel_values_videos"], batch["pixel_values_videos"].repeat_interleave(2, dim=0))
    # region frames are a table: kept whole, the mask frame indices of each copy point at the sample's own frames
    assert torch.equal(expanded["region_pixel_values"], batch["region_pixel_values"])
    first = batch["region_mask_frame_index"][:4].tolist()
    assert expanded["region_mask_frame_index"][:8].tolist() == first + first
    assert expanded["region_masks"].shape[0] == 2 * batch["region_masks"].shape[0]

    # The expanded batch gives each repeated row the logits of its sample alone.
    ids = batch["input_ids"].repeat_interleave(2, dim=0)
    mask = batch["attention_mask"].repeat_interleave(2, dim=0)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, **expanded).logits[:, -1]
        for row, sample in enumerate(samples):
            alone = model(**single_inputs(sample)).logits[0, -1]
            for copy in range(2):
                torch.testing.assert_close(logits[2 * row + copy], alone, atol=1e-5, rtol=0)


def test_expand_visual_inputs_refuses_items_that_do_not_split_into_samples():
    model = tiny_model(seed=0)
    samples = [random_sample(model, [1], seed=1), random_sample(model, [2], seed=2)]
    batch = collate_left_padded(samples)
    visual = {k: v for k, v in batch.items() if k not in ("input_ids", "attention_mask")}
    visual["pixel_values_videos"] = visual["pixel_values_videos"][:1]
    with pytest.raises(ValueError, match=r"Cannot repeat pixel_values_videos per sample"):
        model.model.expand_visual_inputs(batch["input_ids"], 3, **visual)
    visual = {k: v for k, v in batch.items() if k not in ("input_ids", "attention_mask")}
    visual["region_masks_per_object"] = torch.tensor([2, 1])
    with pytest.raises(ValueError, match=r"straddle two samples"):
        model.model.expand_visual_inputs(batch["input_ids"], 3, **visual)


def test_tiny_batch_sampling_with_return_sequences_keeps_samples_apart():
    """num_return_sequences=2 with sampling: the first-step logits of every returned sequence are its own sample's.

    (Sampling draws differ between a batch and a sample alone, so the sequences themselves are not compared.)"""
    model = tiny_model(seed=0)
    samples = [random_sample(model, [3, 1], seed=1, text_before=9), random_sample(model, [5], seed=2, text_before=2)]
    batch = collate_left_padded(samples)
    torch.manual_seed(0)
    with torch.no_grad():
        out = model.generate(
            **batch, max_new_tokens=1, do_sample=True, num_return_sequences=2, output_logits=True,
            return_dict_in_generate=True,
        )
        for row, sample in enumerate(samples):
            alone = model(**single_inputs(sample)).logits[0, -1]
            for copy in range(2):
                torch.testing.assert_close(out.logits[0][2 * row + copy], alone, atol=1e-5, rtol=0)

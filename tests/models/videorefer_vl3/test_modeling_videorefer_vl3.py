"""VideoRefer-VideoLLaMA3 against the original code's numbers (golden `videorefer_vl3_tiny`, stored tensors)."""

import pytest
import torch
from golden_vl3 import VL3_CASES, load_vl3_case
from vl3_model_inputs import left_padded_batch, stored_model_inputs

GREEDY = {"max_new_tokens": 8, "min_new_tokens": 8, "do_sample": False, "repetition_penalty": 1.0, "eos_token_id": None}


@pytest.fixture(scope="module")
def vl3_model(vl3_golden_dir):
    from transformers import AutoModelForImageTextToText

    import transformers_videorefer  # noqa: F401  (registers the model types)

    model = AutoModelForImageTextToText.from_pretrained(vl3_golden_dir / "checkpoint", dtype=torch.float32)
    return model.eval()


@pytest.fixture(scope="module")
def cases(vl3_golden_dir) -> dict:
    return {name: load_vl3_case(vl3_golden_dir, name)[1] for name in VL3_CASES}


def test_the_original_folder_loads_as_vl3_with_every_weight(vl3_golden_dir, vl3_model):
    from safetensors import safe_open

    assert type(vl3_model).__name__ == "VideoReferVL3ForConditionalGeneration"
    with safe_open(str(vl3_golden_dir / "checkpoint" / "model.safetensors"), "pt") as handle:
        original = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    state = vl3_model.state_dict()
    assert len(state) == len(original)
    projector = original["model.mm_projector.readout.0.weight"]
    assert torch.equal(state["model.projector.readout.0.weight"], projector)
    region = original["model.region_encoder.feat_linear.2.bias"]
    assert torch.equal(state["model.region_encoder.readout.2.bias"], region)
    patch = original["model.vision_encoder.vision_encoder.vision_model.embeddings.patch_embedding.weight"]
    assert torch.equal(state["model.vision_model.embeddings.patch_embedding.weight"], patch)


@pytest.mark.parametrize("name", VL3_CASES)
def test_projector_and_region_features_match_the_original(vl3_model, cases, name):
    expected = cases[name]
    inputs = stored_model_inputs(expected)
    with torch.no_grad():
        projected = vl3_model.model.get_image_features(
            inputs["pixel_values"], inputs["grid_thw"], inputs["merge_sizes"]
        ).pooler_output
        regions = vl3_model.model.get_region_features(
            inputs["region_pixel_values"], inputs["region_grid_thw"], inputs["region_masks"], inputs["region_mask_sizes"]
        )
    torch.testing.assert_close(projected, expected["projector_out"], atol=1e-5, rtol=0)
    torch.testing.assert_close(regions, expected["region_features"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", VL3_CASES)
def test_inputs_embeds_after_compression_match_the_original(vl3_model, cases, name):
    expected = cases[name]
    inputs = stored_model_inputs(expected)
    visual = {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask", "compression_mask")}
    with torch.no_grad():
        embeds, _, _ = vl3_model.model.merge_inputs(inputs["input_ids"], **visual)
        compressed, _ = vl3_model.model.compress(
            inputs["input_ids"], embeds, inputs["attention_mask"], inputs["compression_mask"]
        )
    assert compressed["inputs_embeds"].shape[1] == expected["expanded_length"]
    torch.testing.assert_close(compressed["inputs_embeds"][0], expected["inputs_embeds"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", VL3_CASES)
def test_logits_over_the_whole_sequence_match_the_original(vl3_model, cases, name):
    expected = cases[name]
    with torch.no_grad():
        output = vl3_model(**stored_model_inputs(expected))
    assert output.logits.shape == (1, expected["expanded_length"], vl3_model.config.text_config.vocab_size)
    assert (output.logits[0] - expected["logits"]).abs().max().item() <= 1e-4


@pytest.mark.parametrize("name", VL3_CASES)
def test_greedy_tokens_match_the_original(vl3_model, cases, name):
    expected = cases[name]
    inputs = stored_model_inputs(expected)
    sequences = vl3_model.generate(**inputs, **GREEDY)
    assert torch.equal(sequences[0, : inputs["input_ids"].shape[1]], inputs["input_ids"][0])
    assert sequences[0, inputs["input_ids"].shape[1] :].tolist() == expected["generated_ids"].tolist()


def test_a_left_padded_batch_of_the_four_cases_gives_each_case_its_greedy_tokens(vl3_model, cases):
    samples = [stored_model_inputs(cases[name]) for name in VL3_CASES]
    pad_id = vl3_model.config.text_config.pad_token_id or 400
    batch = left_padded_batch(samples, pad_id)
    sequences = vl3_model.generate(**batch, **GREEDY)
    new_tokens = sequences[:, batch["input_ids"].shape[1] :]
    for row, name in enumerate(VL3_CASES):
        assert new_tokens[row].tolist() == cases[name]["generated_ids"].tolist(), name


def test_batched_forward_gives_each_case_its_logits(vl3_model, cases):
    samples = [stored_model_inputs(cases[name]) for name in VL3_CASES]
    batch = left_padded_batch(samples, 400)
    with torch.no_grad():
        output = vl3_model(**batch)
    width = output.logits.shape[1]
    assert width == max(cases[name]["expanded_length"] for name in VL3_CASES)
    for row, name in enumerate(VL3_CASES):
        n = cases[name]["expanded_length"]
        assert int(output.attention_mask[row].sum()) == n
        assert (output.logits[row, width - n :] - cases[name]["logits"]).abs().max().item() <= 1e-4, name


def test_save_and_reload_give_identical_logits(vl3_model, cases, tmp_path):
    from transformers import AutoModelForImageTextToText

    vl3_model.save_pretrained(tmp_path)
    reloaded = AutoModelForImageTextToText.from_pretrained(tmp_path).eval()
    inputs = stored_model_inputs(cases["video_mp4_two_objects"])
    with torch.no_grad():
        assert torch.equal(vl3_model(**inputs).logits, reloaded(**inputs).logits)


def test_beam_search_and_several_return_sequences_repeat_the_regions(vl3_model, cases):
    expected = cases["video_dir_single_frame_mask"]
    inputs = stored_model_inputs(expected)
    sequences = vl3_model.generate(**inputs, **GREEDY, num_beams=2, num_return_sequences=2)
    assert sequences.shape == (2, inputs["input_ids"].shape[1] + 8)
    assert torch.equal(sequences[:, : inputs["input_ids"].shape[1]], inputs["input_ids"].expand(2, -1))


def _without_one_region_token(inputs: dict, region_id: int) -> dict:
    ids = inputs["input_ids"][0].tolist()
    position = ids.index(region_id)
    changed = dict(inputs)
    changed["input_ids"] = torch.tensor([ids[:position] + ids[position + 1 :]])
    changed["attention_mask"] = torch.ones_like(changed["input_ids"])
    return changed


def test_fewer_region_positions_than_region_features_is_a_clear_error(vl3_model, cases):
    inputs = stored_model_inputs(cases["image_one_object"])
    bad = _without_one_region_token(inputs, vl3_model.config.region_token_id)
    with pytest.raises(ValueError, match=r"input_ids hold 9 <REGION> position\(s\) but 10 <REGION> feature"):
        vl3_model(**bad)


def test_more_region_positions_than_region_features_is_a_clear_error(vl3_model, cases):
    inputs = stored_model_inputs(cases["video_mp4_two_objects"])
    keep_one_mask = dict(inputs)
    first = int(inputs["region_grid_thw"][0].prod())
    keep_one_mask["region_pixel_values"] = inputs["region_pixel_values"][:first]
    for key in ("region_grid_thw", "region_masks", "region_mask_sizes"):
        keep_one_mask[key] = inputs[key][:1]
    with pytest.raises(ValueError, match=r"17 <REGION> position\(s\) but 8 <REGION> feature.*1 mask"):
        vl3_model(**keep_one_mask)


def test_region_placeholders_without_region_inputs_are_refused(vl3_model, cases):
    inputs = stored_model_inputs(cases["image_one_object"])
    for key in ("region_pixel_values", "region_grid_thw", "region_masks", "region_mask_sizes"):
        inputs.pop(key)
    with pytest.raises(ValueError, match="no region inputs"):
        vl3_model(**inputs)


def test_incomplete_region_inputs_are_refused(vl3_model, cases):
    inputs = stored_model_inputs(cases["image_one_object"])
    inputs.pop("region_mask_sizes")
    with pytest.raises(ValueError, match="region_mask_sizes missing"):
        vl3_model(**inputs)


def test_a_compression_mask_of_the_wrong_length_is_refused(vl3_model, cases):
    inputs = stored_model_inputs(cases["video_mp4_two_objects"])
    inputs["compression_mask"] = inputs["compression_mask"][:-1]
    with pytest.raises(ValueError, match=r"compression_mask has shape \(59,\) but input_ids hold 60 <image>"):
        vl3_model(**inputs)


def test_image_placeholders_without_pixels_are_refused(vl3_model, cases):
    inputs = stored_model_inputs(cases["image_one_object"])
    for key in ("pixel_values", "grid_thw", "merge_sizes"):
        inputs.pop(key)
    with pytest.raises(ValueError, match="no pixel_values"):
        vl3_model(**inputs)


def test_pixels_for_fewer_frames_than_placeholders_are_refused(vl3_model, cases):
    inputs = stored_model_inputs(cases["video_dir_single_frame_mask"])
    first = int(inputs["grid_thw"][0].prod())
    inputs["pixel_values"] = inputs["pixel_values"][first:]
    inputs["grid_thw"], inputs["merge_sizes"] = inputs["grid_thw"][1:], inputs["merge_sizes"][1:]
    with pytest.raises(ValueError, match=r"48 <image> position\(s\) but 36 <image> feature"):
        vl3_model(**inputs)


def test_pixel_rows_that_disagree_with_the_grids_are_refused(vl3_model, cases):
    inputs = stored_model_inputs(cases["image_one_object"])
    inputs["pixel_values"] = inputs["pixel_values"][:-1]
    with pytest.raises(ValueError, match=r"pixel_values has shape \(55, 588\) but grid_thw describes 56 patch"):
        vl3_model(**inputs)
    inputs = stored_model_inputs(cases["image_one_object"])
    inputs["region_pixel_values"] = inputs["region_pixel_values"][1:]
    with pytest.raises(ValueError, match="region_pixel_values has shape .* but region_grid_thw describes 56 patch"):
        vl3_model(**inputs)


def test_inputs_embeds_of_another_length_than_input_ids_are_refused(vl3_model, cases):
    inputs = stored_model_inputs(cases["image_one_object"])
    embeds = vl3_model.get_input_embeddings()(inputs["input_ids"][:, :-1])
    with pytest.raises(ValueError, match="inputs_embeds of shape .* do not match input_ids"):
        vl3_model(**inputs, inputs_embeds=embeds)

"""VideoRefer model: parity with the original on the golden checkpoint, loading/saving, input checks, batching,
the merged-region tie path and gradients."""

import json

import pytest
import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

import transformers_videorefer  # noqa: F401  (registers the model types)
from helpers import (
    GOLDEN_CASES,
    collate_left_padded,
    golden_inputs,
    load_case,
    random_sample,
    single_inputs,
    tiny_config,
    tiny_model,
)
from transformers_videorefer import VideoReferForConditionalGeneration, VideoReferModel

LOGITS_ATOL = 1e-4
NATIVE_PREFIXES = (
    "model.language_model.",
    "model.vision_tower.",
    "model.multi_modal_projector.",
    "model.region_encoder.",
    "lm_head.",
)


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def golden_model(golden_checkpoint):
    model = AutoModelForImageTextToText.from_pretrained(golden_checkpoint, attn_implementation="eager")
    return model.eval()


@pytest.fixture(scope="module")
def golden_cases(golden_dir):
    return {name: load_case(golden_dir, name) for name in GOLDEN_CASES}


@pytest.fixture(scope="module")
def tiny():
    return tiny_model(seed=0)


def _generate(model, ids, kwargs, new_tokens, attention_mask=None):
    attention_mask = torch.ones_like(ids) if attention_mask is None else attention_mask
    out = model.generate(
        input_ids=ids,
        attention_mask=attention_mask,
        **kwargs,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
    )
    return out[:, ids.shape[1] :]


# ------------------------------------------------------------------------------------------ golden parity
@pytest.mark.parametrize("case", GOLDEN_CASES)
def test_golden_logits_and_greedy_ids(golden_model, golden_cases, case):
    expected = golden_cases[case]
    ids, kwargs = golden_inputs(golden_model, expected)
    assert ids.shape[1] == expected["expanded_length"]
    with torch.no_grad():
        logits = golden_model(input_ids=ids, **kwargs).logits[0]
    assert logits.shape == expected["logits"].shape
    max_err = (logits - expected["logits"]).abs().max().item()
    assert max_err < LOGITS_ATOL, f"{case}: max abs logits error {max_err:.3g}"

    generated = _generate(golden_model, ids, kwargs, 8)[0]
    assert generated.tolist() == expected["generated_ids"].tolist()


def test_golden_logits_sdpa(golden_checkpoint, golden_cases):
    model = AutoModelForImageTextToText.from_pretrained(golden_checkpoint, attn_implementation="sdpa").eval()
    expected = golden_cases["video_mp4_multi_frame_masks"]
    ids, kwargs = golden_inputs(model, expected)
    with torch.no_grad():
        logits = model(input_ids=ids, **kwargs).logits[0]
    max_err = (logits - expected["logits"]).abs().max().item()
    assert max_err < LOGITS_ATOL, f"sdpa: max abs logits error {max_err:.3g}"


# ------------------------------------------------------------------------------------------------ loading
@pytest.mark.parametrize("auto_class", [AutoModelForImageTextToText, AutoModelForCausalLM])
def test_auto_classes_load_legacy_checkpoint(golden_checkpoint, auto_class):
    model, info = auto_class.from_pretrained(golden_checkpoint, output_loading_info=True)
    assert type(model) is VideoReferForConditionalGeneration
    assert not info["missing_keys"], info["missing_keys"]
    assert not info["unexpected_keys"], info["unexpected_keys"]
    assert not info.get("mismatched_keys"), info.get("mismatched_keys")
    assert model.config.model_type == "videorefer"
    assert isinstance(model.model, VideoReferModel)


def test_legacy_weights_are_loaded_not_initialised(golden_model, golden_checkpoint):
    """Every tensor of the original checkpoint lands, unchanged, on its native name."""
    renames = [
        ("model.vision_tower.vision_tower.vision_model.", "model.vision_tower."),
        ("model.mm_projector.", "model.multi_modal_projector."),
        ("model.embed_tokens.", "model.language_model.embed_tokens."),
        ("model.layers.", "model.language_model.layers."),
        ("model.norm.", "model.language_model.norm."),
    ]
    state = golden_model.state_dict()
    with safe_open(str(golden_checkpoint / "model.safetensors"), framework="pt") as handle:
        keys = list(handle.keys())
        for key in keys:
            native = key
            for old, new in renames:
                if native.startswith(old):
                    native = new + native[len(old) :]
                    break
            assert native in state, f"{key} -> {native} not in the model"
            assert torch.equal(state[native], handle.get_tensor(key)), native
    assert len(keys) == len(state)


def test_save_and_reload_native(golden_model, golden_cases, tmp_path):
    golden_model.save_pretrained(tmp_path)

    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "videorefer"
    assert "text_config" in config and "vision_config" in config
    assert config["text_config"]["model_type"] == "qwen2"
    assert config["vision_config"]["model_type"] == "siglip_vision_model"
    assert "mm_vision_tower" not in config
    assert not any(key.startswith("mm_") for key in config)

    weight_files = sorted(tmp_path.glob("*.safetensors"))
    assert weight_files
    keys = []
    for path in weight_files:
        with safe_open(str(path), framework="pt") as handle:
            keys += list(handle.keys())
    assert keys
    bad = [k for k in keys if not k.startswith(NATIVE_PREFIXES)]
    assert not bad, f"non-native weight names saved: {bad[:5]}"
    for key in (
        "model.language_model.embed_tokens.weight",
        "model.vision_tower.embeddings.patch_embedding.weight",
        "model.multi_modal_projector.sampler.0.weight",
        "model.region_encoder.feat_linear.0.weight",
        "lm_head.weight",
    ):
        assert key in keys

    reloaded, info = AutoModelForImageTextToText.from_pretrained(
        tmp_path, attn_implementation="eager", output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    reloaded.eval()
    ids, kwargs = golden_inputs(golden_model, golden_cases["video_mp4_multi_frame_masks"])
    with torch.no_grad():
        before = golden_model(input_ids=ids, **kwargs).logits
        after = reloaded(input_ids=ids, **kwargs).logits
    assert torch.equal(before, after)


# ---------------------------------------------------------------------------------------------- bad input
def test_error_feature_count_mismatch(golden_model, golden_cases):
    ids, kwargs = golden_inputs(golden_model, golden_cases["video_dir_single_frame_mask"])
    video_positions = (ids[0] == golden_model.config.video_token_id).nonzero()[:, 0]
    keep = torch.ones(ids.shape[1], dtype=torch.bool)
    keep[video_positions[0]] = False
    with pytest.raises(ValueError, match=r"Videos: 32 feature tokens but 31 placeholder"):
        golden_model(input_ids=ids[:, keep], **kwargs)


def test_error_more_objects_than_region_markers(golden_model, golden_cases):
    ids, kwargs = golden_inputs(golden_model, golden_cases["video_dir_single_frame_mask"])
    kwargs["region_masks"] = kwargs["region_masks"].repeat(2, 1, 1)
    kwargs["region_mask_frame_index"] = torch.tensor([0, 0])
    kwargs["region_masks_per_object"] = torch.tensor([1, 1])
    with pytest.raises(ValueError, match=r"2 objects needing 2 <region> placeholders, but input_ids hold 1"):
        golden_model(input_ids=ids, **kwargs)


def test_error_fewer_objects_than_region_markers(golden_model, golden_cases):
    expected = golden_cases["video_mp4_multi_frame_masks"]
    ids, kwargs = golden_inputs(golden_model, expected)  # objects with 6 and 2 masks -> 4 + 2 placeholders
    kwargs["region_masks"] = kwargs["region_masks"][:6]
    kwargs["region_mask_frame_index"] = kwargs["region_mask_frame_index"][:6]
    kwargs["region_masks_per_object"] = torch.tensor([6])
    with pytest.raises(ValueError, match=r"1 objects needing 4 <region> placeholders, but input_ids hold 6"):
        golden_model(input_ids=ids, **kwargs)


def test_error_mask_frame_index_out_of_range(golden_model, golden_cases):
    ids, kwargs = golden_inputs(golden_model, golden_cases["video_dir_single_frame_mask"])
    kwargs["region_mask_frame_index"] = torch.tensor([99])
    with pytest.raises(ValueError, match=r"region_mask_frame_index must be in \[0, 1\)"):
        golden_model(input_ids=ids, **kwargs)


def test_error_video_placeholders_without_video(golden_model, golden_cases):
    ids, kwargs = golden_inputs(golden_model, golden_cases["video_dir_single_frame_mask"])
    del kwargs["pixel_values_videos"]
    with pytest.raises(ValueError, match=r"video placeholders but no pixel_values_videos"):
        golden_model(input_ids=ids, **kwargs)


def test_error_region_placeholders_without_region_inputs(golden_model, golden_cases):
    ids, kwargs = golden_inputs(golden_model, golden_cases["video_dir_single_frame_mask"])
    for key in ("region_pixel_values", "region_masks", "region_mask_frame_index", "region_masks_per_object"):
        del kwargs[key]
    with pytest.raises(ValueError, match=r"<region> placeholders but no region inputs"):
        golden_model(input_ids=ids, **kwargs)


def test_error_region_pixels_without_masks(golden_model, golden_cases):
    ids, kwargs = golden_inputs(golden_model, golden_cases["video_dir_single_frame_mask"])
    del kwargs["region_masks"]
    with pytest.raises(ValueError, match=r"region_pixel_values needs region_masks"):
        golden_model(input_ids=ids, **kwargs)


# ------------------------------------------------------------------------------------------------ batching
def _last_logits(model, inputs):
    with torch.no_grad():
        return model(**inputs).logits[:, -1]


def test_left_padded_batch_matches_single_samples(tiny):
    # Different numbers of objects and masks per object; 5 masks get merged down to region_token_num=4.
    samples = [
        random_sample(tiny, [3, 1], seed=1, text_before=9),
        random_sample(tiny, [5], seed=2, text_before=2),
    ]
    batch = collate_left_padded(samples)
    assert (batch["attention_mask"] == 0).any(), "the test needs padding"

    batch_logits = _last_logits(tiny, batch)
    for row, sample in enumerate(samples):
        alone = _last_logits(tiny, single_inputs(sample))[0]
        torch.testing.assert_close(batch_logits[row], alone, atol=1e-5, rtol=0)

    new_tokens = 6
    batch_generated = _generate(tiny, batch["input_ids"], {k: v for k, v in batch.items() if k not in ("input_ids", "attention_mask")}, new_tokens, batch["attention_mask"])
    for row, sample in enumerate(samples):
        inputs = single_inputs(sample)
        ids = inputs.pop("input_ids")
        mask = inputs.pop("attention_mask")
        alone = _generate(tiny, ids, inputs, new_tokens, mask)[0]
        assert batch_generated[row].tolist() == alone.tolist()


# ------------------------------------------------------------------------------------------------ tie path
def _tie_inputs(model, num_masks: int, placeholders: int):
    """One object with `num_masks` identical masks on identical frames, with `placeholders` <region> copies."""
    config = model.config
    generator = torch.Generator().manual_seed(7)
    size = config.vision_config.image_size
    frame = torch.randn(1, 3, size, size, generator=generator)
    mask = (torch.rand(1, 20, 24, generator=generator) > 0.5).float()
    num_visual = model.model.expected_visual_tokens(config.num_frames)
    ids = (
        [5, 6, 7]
        + [config.video_token_id] * num_visual
        + [8, 9]
        + [config.region_token_id] * placeholders
        + [10, 11, 12]
    )
    ids = torch.tensor([ids])
    kwargs = dict(
        pixel_values_videos=torch.randn(1, config.num_frames, 3, size, size, generator=generator),
        region_pixel_values=frame.repeat(num_masks, 1, 1, 1),
        region_masks=mask.repeat(num_masks, 1, 1),
        region_mask_frame_index=torch.arange(num_masks),
        region_masks_per_object=torch.tensor([num_masks]),
    )
    return ids, kwargs


def test_tied_similarities_merge_to_one_token(tiny):
    config = tiny.config
    ids, kwargs = _tie_inputs(tiny, num_masks=6, placeholders=min(6, config.region_token_num))
    ref_ids, ref_kwargs = _tie_inputs(tiny, num_masks=1, placeholders=1)

    # The region encoder itself gives one token for the six identical masks.
    with torch.no_grad():
        _, tokens_per_object = tiny.model.get_region_features(
            kwargs["region_pixel_values"],
            kwargs["region_masks"],
            kwargs["region_mask_frame_index"],
            kwargs["region_masks_per_object"],
        )
    assert tokens_per_object.tolist() == [1]

    with torch.no_grad():
        out = tiny(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
        ref = tiny(input_ids=ref_ids, attention_mask=torch.ones_like(ref_ids), **ref_kwargs)
    keep = out.region_keep_mask
    assert keep is not None and keep.shape == ids.shape
    assert int((~keep).sum()) == 3
    region_positions = (ids[0] == config.region_token_id).nonzero()[:, 0]
    assert keep[0, region_positions].tolist() == [True, False, False, False]
    assert ref.region_keep_mask is None
    torch.testing.assert_close(out.logits[0, -1], ref.logits[0, -1], atol=1e-5, rtol=0)


def _left_pad(ids, pad: int):
    padded = torch.cat([torch.full((1, pad), 0, dtype=torch.long), ids], 1)
    mask = torch.ones_like(padded)
    mask[:, :pad] = 0
    return padded, mask


def test_tied_similarities_generate_unpadded(tiny):
    ids, kwargs = _tie_inputs(tiny, num_masks=6, placeholders=min(6, tiny.config.region_token_num))
    ref_ids, ref_kwargs = _tie_inputs(tiny, num_masks=1, placeholders=1)
    generated = _generate(tiny, ids, kwargs, 5)
    ref_generated = _generate(tiny, ref_ids, ref_kwargs, 5)
    assert generated.tolist() == ref_generated.tolist()


def test_tied_similarities_generate_left_padded(tiny):
    """Same as above with one left pad, so generate keeps (and extends) the given attention mask."""
    ids, kwargs = _tie_inputs(tiny, num_masks=6, placeholders=min(6, tiny.config.region_token_num))
    ref_ids, ref_kwargs = _tie_inputs(tiny, num_masks=1, placeholders=1)
    padded, mask = _left_pad(ids, 1)
    generated = _generate(tiny, padded, kwargs, 5, mask)
    ref_padded, ref_mask = _left_pad(ref_ids, 1)
    ref_generated = _generate(tiny, ref_padded, ref_kwargs, 5, ref_mask)
    assert generated.tolist() == ref_generated.tolist()


def test_tied_similarities_manual_greedy_without_cache(tiny):
    """Greedy decoding by full forwards (no cache) agrees with the one-placeholder reference."""
    ids, kwargs = _tie_inputs(tiny, num_masks=6, placeholders=min(6, tiny.config.region_token_num))
    ref_ids, ref_kwargs = _tie_inputs(tiny, num_masks=1, placeholders=1)

    def greedy(ids, kwargs, steps):
        for _ in range(steps):
            with torch.no_grad():
                logits = tiny(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=False, **kwargs).logits
            ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], 1)
        return ids[0, -steps:].tolist()

    assert greedy(ids, kwargs, 5) == greedy(ref_ids, ref_kwargs, 5)


# ----------------------------------------------------------------------------------------------- gradients
def test_gradients_reach_projector_and_region_encoder():
    model = tiny_model(seed=3)
    model.train()
    sample = random_sample(model, [2, 1], seed=4)
    inputs = single_inputs(sample)
    outputs = model.model(**inputs)  # the base model, as TRL calls it
    outputs.last_hidden_state.sum().backward()
    for prefix, module in (("multi_modal_projector", model.model.multi_modal_projector), ("region_encoder", model.model.region_encoder)):
        params = list(module.named_parameters())
        assert params
        for name, param in params:
            assert param.grad is not None, f"{prefix}.{name} has no grad"
            assert torch.isfinite(param.grad).all(), f"{prefix}.{name} grad not finite"
        total = sum(float(p.grad.abs().sum()) for _, p in params)
        assert total > 0, f"{prefix}: all grads zero"
        nonzero = [name for name, p in params if float(p.grad.abs().sum()) > 0]
        assert len(nonzero) == len(params), f"{prefix}: zero grads on {set(n for n, _ in params) - set(nonzero)}"


def test_left_padded_batch_with_tied_object(tiny):
    """A padded batch where one sample's object merges to fewer tokens than its placeholders (ties)."""
    ids, kwargs = _tie_inputs(tiny, num_masks=6, placeholders=min(6, tiny.config.region_token_num))
    ref_ids, ref_kwargs = _tie_inputs(tiny, num_masks=1, placeholders=1)
    other = random_sample(tiny, [2, 3], seed=5, text_before=12)
    batch = collate_left_padded([dict(input_ids=ids[0], **kwargs), other])
    visual = {k: v for k, v in batch.items() if k not in ("input_ids", "attention_mask")}
    with torch.no_grad():
        out = tiny(**batch)
        ref = tiny(input_ids=ref_ids, **ref_kwargs)
        other_alone = tiny(**single_inputs(other))
    assert int((~out.region_keep_mask).sum()) == 3
    torch.testing.assert_close(out.logits[0, -1], ref.logits[0, -1], atol=1e-5, rtol=0)
    torch.testing.assert_close(out.logits[1, -1], other_alone.logits[0, -1], atol=1e-5, rtol=0)

    generated = _generate(tiny, batch["input_ids"], visual, 5, batch["attention_mask"])
    assert generated[0].tolist() == _generate(tiny, ref_ids, ref_kwargs, 5)[0].tolist()
    other_inputs = single_inputs(other)
    other_ids, other_mask = other_inputs.pop("input_ids"), other_inputs.pop("attention_mask")
    assert generated[1].tolist() == _generate(tiny, other_ids, other_inputs, 5, other_mask)[0].tolist()


def test_labels_give_causal_lm_loss(tiny):
    inputs = single_inputs(random_sample(tiny, [2, 1], seed=6))
    labels = inputs["input_ids"].clone()
    labels[labels >= tiny.config.region_token_id] = -100  # no loss on placeholders
    with torch.no_grad():
        out = tiny(**inputs, labels=labels)
    expected = torch.nn.functional.cross_entropy(out.logits[0, :-1], labels[0, 1:], ignore_index=-100)
    torch.testing.assert_close(out.loss, expected)


def test_auto_model_loads_base_model(golden_checkpoint, golden_model):
    from transformers import AutoModel

    base, info = AutoModel.from_pretrained(golden_checkpoint, output_loading_info=True)
    assert type(base) is VideoReferModel
    assert not info["missing_keys"]
    assert info["unexpected_keys"] <= {"lm_head.weight"}
    full = golden_model.model.state_dict()
    for key, value in base.state_dict().items():
        assert torch.equal(value, full[key]), key


# ------------------------------------------------------------------------------------- transformers-5 idioms
def test_return_dict_false_gives_tuples(tiny):
    inputs = single_inputs(random_sample(tiny, [2, 1], seed=7))
    with torch.no_grad():
        expected = tiny(**inputs)
        as_tuple = tiny(**inputs, return_dict=False, use_cache=False)
        base_tuple = tiny.model(**inputs, return_dict=False, use_cache=False)
    assert isinstance(as_tuple, tuple) and isinstance(base_tuple, tuple)
    assert torch.equal(as_tuple[0], expected.logits)
    assert torch.equal(tiny.lm_head(base_tuple[0]), expected.logits)


def test_config_return_dict_false_gives_tuples(tiny):
    inputs = single_inputs(random_sample(tiny, [1], seed=8))
    with torch.no_grad():
        expected = tiny(**inputs).logits
        tiny.config.return_dict = False
        try:
            out = tiny(**inputs, use_cache=False)
        finally:
            tiny.config.return_dict = True
    assert isinstance(out, tuple)
    assert torch.equal(out[0], expected)


def test_past_key_values_is_accepted_as_cache(tiny):
    inputs = single_inputs(random_sample(tiny, [1], seed=9))
    with torch.no_grad():
        prefill = tiny(**inputs, use_cache=True)
        next_ids = prefill.logits[:, -1:].argmax(-1)
        attention_mask = torch.cat([inputs["attention_mask"], torch.ones_like(next_ids)], dim=-1)
        step = tiny(input_ids=next_ids, attention_mask=attention_mask, past_key_values=prefill.cache)
        full_ids = torch.cat([inputs["input_ids"], next_ids], dim=-1)
        full_inputs = {**inputs, "input_ids": full_ids, "attention_mask": attention_mask}
        full = tiny(**full_inputs, use_cache=False)
    torch.testing.assert_close(step.logits[:, -1], full.logits[:, -1], rtol=1e-4, atol=1e-4)


def test_get_placeholder_mask_checks_counts(tiny):
    config = tiny.config
    hidden = config.text_config.hidden_size
    ids = torch.tensor([[1, config.image_token_id, config.image_token_id, config.region_token_id, 2]])
    embeds = torch.zeros(1, ids.shape[1], hidden)
    image, video, region = tiny.model.get_placeholder_mask(
        ids, embeds, image_features=torch.zeros(2, hidden), region_features=torch.zeros(1, hidden)
    )
    assert image.shape == video.shape == region.shape == (1, 5, 1)
    assert image[0, :, 0].tolist() == [False, True, True, False, False]
    assert not bool(video.any())
    assert region[0, :, 0].tolist() == [False, False, False, True, False]
    with pytest.raises(ValueError, match=r"Images: 3 feature tokens but 2 placeholder tokens"):
        tiny.model.get_placeholder_mask(ids, embeds, image_features=torch.zeros(3, hidden))
    with pytest.raises(ValueError, match=r"Videos: 1 feature tokens but 0 placeholder tokens"):
        tiny.model.get_placeholder_mask(ids, embeds, video_features=torch.zeros(1, hidden))
    with pytest.raises(ValueError, match=r"needs input_ids"):
        tiny.model.get_placeholder_mask(None, embeds)


def test_prompt_longer_than_the_language_models_positions_is_refused():
    from helpers import TINY_TEXT_CONFIG

    model = tiny_model(text_config={**TINY_TEXT_CONFIG, "max_position_embeddings": 24})
    with pytest.raises(ValueError, match=r"The prompt is 25 tokens .* at most 24 positions \(text_config.max_position_embeddings\)"):
        model(input_ids=torch.ones(1, 25, dtype=torch.long))
    with pytest.raises(ValueError, match="The prompt is 30 tokens"):
        model(inputs_embeds=torch.zeros(2, 30, 32))
    assert model(input_ids=torch.ones(1, 24, dtype=torch.long)).logits.shape == (1, 24, 100)
    # decoding steps after a prompt that fits are the caller's choice (max_new_tokens), not refused
    out = model.generate(input_ids=torch.ones(1, 22, dtype=torch.long), max_new_tokens=4, do_sample=False)
    assert out.shape == (1, 26)


# ------------------------------------------------------------------------------ inputs_embeds (issue 15)
def _visual(inputs: dict) -> dict:
    return {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask")}


def test_generate_with_inputs_embeds_for_text(tiny):
    ids = torch.tensor([[5, 17, 23, 42, 8, 9]])
    embeds = tiny.get_input_embeddings()(ids)
    with torch.no_grad():
        from_ids = tiny.generate(input_ids=ids, max_new_tokens=4, do_sample=False)[:, ids.shape[1] :]
        from_embeds = tiny.generate(inputs_embeds=embeds, max_new_tokens=4, do_sample=False)
    assert from_embeds.tolist() == from_ids.tolist()


def test_inputs_embeds_beside_input_ids_with_visual_inputs(tiny):
    inputs = single_inputs(random_sample(tiny, [2, 1], seed=11))
    ids = inputs["input_ids"]
    with pytest.raises(IndexError):  # documented: placeholder ids lie past the embedding table
        tiny.get_input_embeddings()(ids)
    embeds = tiny.model.embed_input_ids(ids)
    assert embeds.shape == (*ids.shape, tiny.config.text_config.hidden_size)
    with torch.no_grad():
        expected = tiny(**inputs).logits
        got = tiny(**inputs, inputs_embeds=embeds).logits
        # text embeddings come from inputs_embeds, placeholders from the features
        scaled = tiny(**inputs, inputs_embeds=embeds * 1.5).logits
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    assert not torch.allclose(scaled, expected)

    generated = _generate(tiny, ids, {**_visual(inputs), "inputs_embeds": embeds}, 4)
    assert generated.shape[1] == 4
    assert generated.tolist() == _generate(tiny, ids, _visual(inputs), 4).tolist()


def test_inputs_embeds_alone_with_visual_inputs_is_refused(tiny):
    inputs = single_inputs(random_sample(tiny, [1], seed=12))
    embeds = tiny.model.embed_input_ids(inputs["input_ids"])
    with pytest.raises(ValueError, match=r"given with inputs_embeds but without input_ids.*outside the embedding table"):
        tiny(inputs_embeds=embeds, **_visual(inputs))
    with pytest.raises(ValueError, match=r"inputs_embeds of shape \(1, 3, 32\) do not match input_ids"):
        tiny(input_ids=inputs["input_ids"], inputs_embeds=embeds[:, :3])
    with pytest.raises(ValueError, match=r"Pass input_ids or inputs_embeds"):
        tiny()


# ------------------------------------------------------------------------ encoder outputs (issue 15)
def test_get_image_and_video_features_return_base_model_output_with_pooling(tiny):
    from transformers.modeling_outputs import BaseModelOutputWithPooling

    config = tiny.config
    size = config.vision_config.image_size
    grid = config.vision_grid_size
    videos = torch.randn(2, config.num_frames, 3, size, size)
    with torch.no_grad():
        video = tiny.model.get_video_features(videos)
        video_all = tiny.get_video_features(videos, output_hidden_states=True)
        video_tuple = tiny.model.get_video_features(videos, return_dict=False)
        image = tiny.model.get_image_features(videos[0, :3])
    assert isinstance(video, BaseModelOutputWithPooling) and isinstance(image, BaseModelOutputWithPooling)
    tokens = tiny.model.expected_visual_tokens(config.num_frames)
    assert video.pooler_output.shape == (2, tokens, config.text_config.hidden_size)
    assert video.last_hidden_state.shape == (2 * config.num_frames, grid * grid, config.vision_config.hidden_size)
    assert image.pooler_output.shape == (3, tokens, config.text_config.hidden_size)
    assert image.last_hidden_state.shape == (3, grid * grid, config.vision_config.hidden_size)
    assert video.hidden_states is None
    # all of the tower's hidden states (embeddings + one per layer), as transformers' VLMs return them; the features
    # are those at vision_feature_layer, the same numbers as the shorter default path that stops there
    assert len(video_all.hidden_states) == config.vision_config.num_hidden_layers + 1
    torch.testing.assert_close(video_all.hidden_states[config.vision_feature_layer], video.last_hidden_state)
    torch.testing.assert_close(video_all.last_hidden_state, video.last_hidden_state)
    torch.testing.assert_close(video_all.pooler_output, video.pooler_output)
    assert isinstance(video_tuple, tuple) and torch.equal(video_tuple[1], video.pooler_output)


def test_outputs_carry_image_and_video_outputs(tiny):
    inputs = single_inputs(random_sample(tiny, [1], seed=13))
    with torch.no_grad():
        out = tiny(**inputs)
        expected = tiny.model.get_video_features(inputs["pixel_values_videos"])
    assert out.image_outputs is None
    torch.testing.assert_close(out.video_outputs.pooler_output, expected.pooler_output)
    assert "video_outputs" in out.keys()


# -------------------------------------------------------------------------- transformers-5 plumbing (issue 15)
def test_past_key_values_warns_but_generate_does_not(tiny):
    import warnings

    inputs = single_inputs(random_sample(tiny, [1], seed=14))
    with torch.no_grad():
        prefill = tiny(**inputs, use_cache=True)
        next_ids = prefill.logits[:, -1:].argmax(-1)
        mask = torch.cat([inputs["attention_mask"], torch.ones_like(next_ids)], dim=-1)
        with pytest.warns(FutureWarning, match=r"`past_key_values` is deprecated .* Use `cache` instead"):
            tiny(input_ids=next_ids, attention_mask=mask, past_key_values=prefill.cache)
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=r".*past_key_values.*", category=FutureWarning)
            tiny.generate(**inputs, max_new_tokens=3, do_sample=False)
            tiny.model(**inputs, cache=None, use_cache=False)


def test_tensor_parallel_plan_and_compile_flags():
    assert VideoReferForConditionalGeneration._tp_plan == {"lm_head": "colwise_gather_output"}
    assert VideoReferForConditionalGeneration._can_compile_fullgraph is True
    assert VideoReferModel._can_compile_fullgraph is True


def test_static_cache_decoding_step_compiles_fullgraph():
    from transformers import StaticCache

    model = tiny_model(seed=15)
    inputs = single_inputs(random_sample(model, [2, 1], seed=15))
    length = inputs["input_ids"].shape[1]
    cache = StaticCache(config=model.config, max_cache_len=length + 4)
    with torch.no_grad():
        prefill = model(**inputs, cache=cache, use_cache=True)
        next_ids = prefill.logits[:, -1:].argmax(-1)
        step = torch.compile(model.forward, fullgraph=True, backend="aot_eager")
        out = step(input_ids=next_ids, cache=cache, position_ids=torch.tensor([[length]]), use_cache=True)
        full = model(
            **{**inputs, "input_ids": torch.cat([inputs["input_ids"], next_ids], 1),
               "attention_mask": torch.ones(1, length + 1, dtype=torch.long)},
            use_cache=False,
        )
    torch.testing.assert_close(out.logits[:, -1], full.logits[:, -1], atol=1e-4, rtol=1e-4)


def test_missing_vision_and_region_weights_are_initialised(tmp_path):
    """A checkpoint missing some vision, connector and region weights loads with SigLIP's / transformers' init."""
    from safetensors.torch import load_file, save_file

    model = tiny_model(seed=16)
    model.save_pretrained(tmp_path)
    weights_path = tmp_path / "model.safetensors"
    state = load_file(str(weights_path))
    dropped = [
        "model.vision_tower.encoder.layers.0.layer_norm1.weight",
        "model.vision_tower.encoder.layers.0.layer_norm1.bias",
        "model.vision_tower.encoder.layers.0.mlp.fc1.weight",
        "model.vision_tower.encoder.layers.0.mlp.fc1.bias",
        "model.vision_tower.encoder.layers.0.self_attn.q_proj.weight",
        "model.region_encoder.feat_linear.0.weight",
        "model.region_encoder.feat_linear.0.bias",
    ]
    for key in dropped:
        assert key in state, key
        del state[key]
    save_file(state, str(weights_path), metadata={"format": "pt"})

    loaded = []
    for seed in (0, 0):
        torch.manual_seed(seed)
        reloaded, info = VideoReferForConditionalGeneration.from_pretrained(tmp_path, output_loading_info=True)
        assert sorted(info["missing_keys"]) == sorted(dropped)
        loaded.append(reloaded.state_dict())
    first, second = loaded
    for key in dropped:
        assert torch.isfinite(first[key]).all(), key
        assert torch.equal(first[key], second[key]), f"{key} differs between two seeded loads"
    layer_norm = "model.vision_tower.encoder.layers.0.layer_norm1."
    assert torch.equal(first[layer_norm + "weight"], torch.ones_like(first[layer_norm + "weight"]))
    assert torch.equal(first[layer_norm + "bias"], torch.zeros_like(first[layer_norm + "bias"]))
    # SigLIP's own init is dispatched to the vision tower: a lone Linear gets lecun-normal, std sqrt(1 / fan_in)
    fc1 = first["model.vision_tower.encoder.layers.0.mlp.fc1.weight"]
    lecun_std = (1 / fc1.shape[1]) ** 0.5
    assert abs(float(fc1.std()) - lecun_std) < lecun_std / 3
    assert float(first["model.vision_tower.encoder.layers.0.mlp.fc1.bias"].abs().max()) < 1e-4
    std = model.config.get_text_config().initializer_range
    region = first["model.region_encoder.feat_linear.0.weight"]
    assert abs(float(region.std()) - std) < std / 2
    assert torch.equal(first["model.region_encoder.feat_linear.0.bias"], torch.zeros_like(region[:, 0]))
    # weights that were present are loaded unchanged
    torch.testing.assert_close(first["model.vision_tower.encoder.layers.1.mlp.fc1.weight"], model.state_dict()["model.vision_tower.encoder.layers.1.mlp.fc1.weight"])


def test_frozen_modules_are_frozen_after_loading_and_on_a_new_model(tmp_path):
    """Loading resets `requires_grad`; `config.frozen_modules` (a `from_pretrained` kwarg, as `trl sft`'s
    `model_init_kwargs` pass it) freezes its parts once the weights are in, and on a model built from a config."""
    from transformers import AutoModelForImageTextToText

    tiny_model().save_pretrained(tmp_path)
    model = AutoModelForImageTextToText.from_pretrained(tmp_path, frozen_modules=["vision_tower", "lm_head"])
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {n for n, _ in model.named_parameters() if n.startswith(("model.vision_tower.", "lm_head."))}
    assert all(p.requires_grad for p in AutoModelForImageTextToText.from_pretrained(tmp_path).parameters())
    new = VideoReferForConditionalGeneration(tiny_config(frozen_modules=["region_encoder"]))
    assert {n for n, p in new.named_parameters() if not p.requires_grad} == {
        n for n, _ in new.named_parameters() if n.startswith("model.region_encoder.")
    }
    with pytest.raises(ValueError, match="frozen_modules must be a list of some of"):
        AutoModelForImageTextToText.from_pretrained(tmp_path, frozen_modules=["vision"])

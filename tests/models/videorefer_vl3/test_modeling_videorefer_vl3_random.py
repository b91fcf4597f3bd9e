"""A randomly initialised VideoRefer-VideoLLaMA3 of another size: tied embeddings, three objects, non-square grids."""

import torch
from vl3_model_inputs import pad_masks

IMAGE_ID, REGION_ID, PAD_ID = 90, 93, 0


def random_config(**overrides):
    from transformers_videorefer.models.videorefer_vl3 import VideoReferVL3Config

    settings = {
        "vision_config": {"hidden_size": 24, "intermediate_size": 48, "num_hidden_layers": 1, "num_attention_heads": 3, "patch_size": 14},
        "text_config": {
            "vocab_size": 96,
            "hidden_size": 48,
            "intermediate_size": 96,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "tie_word_embeddings": True,
            "pad_token_id": PAD_ID,
        },
        "image_token_id": IMAGE_ID,
        "region_token_id": REGION_ID,
        "mm_max_length": 512,
    }
    settings.update(overrides)
    return VideoReferVL3Config(**settings)


def random_model(seed: int = 0, **overrides):
    from transformers_videorefer.models.videorefer_vl3 import (
        VideoReferVL3ForConditionalGeneration,
    )

    torch.manual_seed(seed)
    return VideoReferVL3ForConditionalGeneration(random_config(**overrides)).eval()


def video_sample(frames: int, grid: tuple[int, int], masks: list[torch.Tensor], seed: int) -> dict:
    """One video sample of `frames` frames of `grid` patches (merge 2) with one region crop per mask, laid out as
    the processor would: `<image>` x (h*w/4) per frame, then `[<REGION> x n_i]` per mask."""
    generator = torch.Generator().manual_seed(seed)
    h, w = grid
    per_frame = h * w // 4
    ids: list[int] = [5, 6]
    for _ in range(frames):
        ids += [7] + [IMAGE_ID] * per_frame + [8]
    crops = []
    for mask in masks:
        ids += [9] + [REGION_ID] * min(10, int((mask > 0).sum())) + [10]
        crops.append(((mask.shape[0] + 1) // 2 or 1, (mask.shape[1] + 2) // 2))
    ids += [11, 12]
    padded, sizes = pad_masks(masks)
    compression = torch.rand(frames * per_frame, generator=generator) > 0.3
    compression[:per_frame] = True
    return {
        "input_ids": torch.tensor([ids]),
        "attention_mask": torch.ones(1, len(ids), dtype=torch.long),
        "pixel_values": torch.randn(frames * h * w, 588, generator=generator),
        "grid_thw": torch.tensor([[1, h, w]] * frames),
        "merge_sizes": torch.full((frames,), 2),
        "compression_mask": compression,
        "region_pixel_values": torch.randn(sum(a * b for a, b in crops), 588, generator=generator),
        "region_grid_thw": torch.tensor([[1, a, b] for a, b in crops]),
        "region_masks": padded,
        "region_mask_sizes": sizes,
    }


def three_object_masks() -> list[torch.Tensor]:
    thin = torch.zeros(5, 7, dtype=torch.uint8)
    thin[2, 1:5] = 1
    blob = torch.zeros(8, 6, dtype=torch.uint8)
    blob[1:7, 1:5] = 1  # 24 cells: k-means to 10
    corner = torch.zeros(3, 9, dtype=torch.uint8)
    corner[0, 0] = 1
    return [thin, blob, corner]


def test_tied_embeddings_are_shared():
    model = random_model()
    assert model.config.tie_word_embeddings
    assert model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()


def test_three_objects_on_non_square_grids_run_forward_with_a_loss():
    model = random_model()
    sample = video_sample(frames=3, grid=(4, 6), masks=three_object_masks(), seed=1)
    labels = sample["input_ids"].clone()
    output = model(**sample, labels=labels)
    kept = int(sample["input_ids"].shape[1] - (~sample["compression_mask"]).sum())
    assert output.logits.shape == (1, kept, 96)
    assert torch.isfinite(output.loss)
    output.loss.backward()
    assert model.model.region_encoder.readout[0].weight.grad.abs().sum() > 0


def test_three_objects_generate_and_the_cached_steps_agree_with_a_full_forward():
    model = random_model()
    sample = video_sample(frames=2, grid=(6, 4), masks=three_object_masks(), seed=2)
    sequences = model.generate(**sample, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    prompt_len = sample["input_ids"].shape[1]
    assert sequences.shape == (1, prompt_len + 4)
    first = model(**sample).logits[0, -1].argmax().item()
    assert sequences[0, prompt_len].item() == first


def test_region_tokens_come_from_kmeans_and_are_reproducible():
    model = random_model()
    sample = video_sample(frames=1, grid=(4, 4), masks=three_object_masks(), seed=3)
    with torch.no_grad():
        args = (sample["region_pixel_values"], sample["region_grid_thw"], sample["region_masks"], sample["region_mask_sizes"])
        first = model.model.get_region_features(*args)
        second = model.model.get_region_features(*args)
    assert first.shape == (4 + 10 + 1, 48)
    assert torch.equal(first, second)


def test_an_image_sample_beside_a_video_sample_in_one_batch():
    from vl3_model_inputs import left_padded_batch

    model = random_model()
    video = video_sample(frames=2, grid=(4, 4), masks=three_object_masks()[:1], seed=4)
    image = video_sample(frames=1, grid=(2, 6), masks=three_object_masks()[2:], seed=5)
    image["merge_sizes"] = torch.ones(1, dtype=torch.long)
    ids = image["input_ids"][0].tolist()
    start = ids.index(IMAGE_ID)
    image["input_ids"] = torch.tensor([ids[:start] + [IMAGE_ID] * 12 + ids[start + 3 :]])
    image["attention_mask"] = torch.ones_like(image["input_ids"])
    image["compression_mask"] = torch.ones(12, dtype=torch.bool)
    batch = left_padded_batch([video, image], PAD_ID)
    out = model.generate(**batch, max_new_tokens=3, min_new_tokens=3, do_sample=False)
    alone = model.generate(**image, max_new_tokens=3, min_new_tokens=3, do_sample=False)
    assert out[1, -3:].tolist() == alone[0, -3:].tolist()


def test_labels_are_compressed_with_the_sequence():
    model = random_model()
    sample = video_sample(frames=3, grid=(4, 4), masks=three_object_masks()[:1], seed=6)
    with torch.no_grad():
        output = model(**sample, labels=sample["input_ids"])
    kept_ids = sample["input_ids"][output.token_keep_mask][None]
    expected = torch.nn.functional.cross_entropy(output.logits[0, :-1], kept_ids[0, 1:])
    assert output.logits.shape[1] == kept_ids.shape[1]
    torch.testing.assert_close(output.loss, expected)


def test_generate_with_a_dict_output_returns_the_callers_prompt():
    model = random_model()
    sample = video_sample(frames=2, grid=(4, 4), masks=three_object_masks()[:1], seed=7)
    out = model.generate(**sample, max_new_tokens=2, min_new_tokens=2, do_sample=False, return_dict_in_generate=True, output_scores=True)
    assert torch.equal(out.sequences[:, : sample["input_ids"].shape[1]], sample["input_ids"])
    assert out.sequences.shape[1] == sample["input_ids"].shape[1] + 2 and len(out.scores) == 2

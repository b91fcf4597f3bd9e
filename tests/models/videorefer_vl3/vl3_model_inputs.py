"""Model inputs built from a golden case's stored tensors, and left-padded batches of them."""

import torch


def pad_masks(masks: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks `[h_i, w_i]` -> (`(n, Hmax, Wmax)` uint8 zero-padded bottom/right, `(n, 2)` true sizes)."""
    height = max(mask.shape[0] for mask in masks)
    width = max(mask.shape[1] for mask in masks)
    padded = torch.zeros(len(masks), height, width, dtype=torch.uint8)
    for i, mask in enumerate(masks):
        padded[i, : mask.shape[0], : mask.shape[1]] = mask
    return padded, torch.tensor([list(mask.shape) for mask in masks], dtype=torch.long)


def stored_model_inputs(expected: dict) -> dict:
    """The processor -> model interface for one case, from the tensors stored in its `expected.pt` (batch of 1)."""
    masks, sizes = pad_masks(list(expected["region_masks"]))
    frames = expected["grid_thws"].shape[0]
    return {
        "input_ids": expected["input_ids"][None].long(),
        "attention_mask": expected["attention_mask"][None].long(),
        "pixel_values": expected["pixel_values"].float(),
        "grid_thw": expected["grid_thws"].long(),
        "merge_sizes": torch.full((frames,), int(expected["image_downsampling"]), dtype=torch.long),
        "compression_mask": expected["visual_keep_mask"].bool(),
        "region_pixel_values": expected["region_pixel_values"].float(),
        "region_grid_thw": expected["region_grid_thws"].long(),
        "region_masks": masks,
        "region_mask_sizes": sizes,
    }


def left_padded_batch(samples: list[dict], pad_id: int) -> dict:
    """Concatenate single-sample inputs into one batch, left-padding `input_ids` / `attention_mask`."""
    length = max(sample["input_ids"].shape[1] for sample in samples)
    ids = torch.full((len(samples), length), pad_id, dtype=torch.long)
    mask = torch.zeros(len(samples), length, dtype=torch.long)
    for row, sample in enumerate(samples):
        n = sample["input_ids"].shape[1]
        ids[row, length - n :] = sample["input_ids"][0]
        mask[row, length - n :] = sample["attention_mask"][0]
    masks, sizes = pad_masks([m[:h, :w] for s in samples for m, (h, w) in zip(s["region_masks"], s["region_mask_sizes"].tolist())])
    batch = {"input_ids": ids, "attention_mask": mask, "region_masks": masks, "region_mask_sizes": sizes}
    for key in ("pixel_values", "grid_thw", "merge_sizes", "compression_mask", "region_pixel_values", "region_grid_thw"):
        batch[key] = torch.cat([sample[key] for sample in samples])
    return batch

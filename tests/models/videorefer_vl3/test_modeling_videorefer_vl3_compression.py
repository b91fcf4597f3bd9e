"""Token compression: dropping `<image>` positions and re-padding the batch."""

import pytest
import torch

from transformers_videorefer.models.videorefer_vl3.modeling_videorefer_vl3_compression import (
    compress_sequences,
    positions_from_mask,
    sequence_keep_mask,
)


def test_the_keep_mask_follows_the_image_positions_in_order():
    ids = torch.tensor([[1, 9, 9, 2], [9, 3, 9, 9]])
    keep = sequence_keep_mask(ids, 9, torch.tensor([True, False, False, True, True]))
    assert keep.tolist() == [[True, True, False, True], [False, True, True, True]]


def test_a_keep_mask_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match=r"holds? 2 <image> position"):
        sequence_keep_mask(torch.tensor([[9, 9]]), 9, torch.tensor([True]))


@pytest.mark.parametrize("left", [True, False])
def test_sequences_lose_dropped_positions_and_are_re_padded(left):
    keep = torch.tensor([[True, False, True, True], [True, True, True, True]])
    ids = torch.tensor([[1, 2, 3, 4], [5, 6, 7, 8]])
    embeds = ids[..., None].float().repeat(1, 1, 2)
    out = compress_sequences(keep, {"ids": ids, "embeds": embeds, "none": None}, {"ids": -1}, left)
    first = [-1, 1, 3, 4] if left else [1, 3, 4, -1]
    assert out["ids"].tolist() == [first, [5, 6, 7, 8]]
    assert out["embeds"][..., 0].tolist() == [[0.0 if v == -1 else float(v) for v in first], [5.0, 6.0, 7.0, 8.0]]
    assert out["none"] is None


def test_positions_count_only_attended_tokens():
    assert positions_from_mask(torch.tensor([[0, 0, 1, 1, 1]])).tolist() == [[1, 1, 0, 1, 2]]

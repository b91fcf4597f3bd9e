"""`preprocess_frames`' direct path (one resize per frame on threads, rescale + normalise as one table lookup) gives
the PIL SigLIP processor's pixel values bit for bit."""

import numpy as np
import pytest
import torch
from PIL import Image
from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

from transformers_videorefer.inputs.media import FRAME_THREADS_ENV
from transformers_videorefer.models.videorefer.image_processing_pil_videorefer import (
    pad_frames_to_square,
    pixel_value_table,
    preprocess_frames,
)


def _frames(count: int, height: int = 30, width: int = 52, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8) for _ in range(count)]


def _processor(**settings) -> SiglipImageProcessorPil:
    return SiglipImageProcessorPil(**{"size": {"height": 24, "width": 28}, "image_mean": [0.5] * 3, "image_std": [0.5] * 3, **settings})


def _reference(processor, frames, overrides=None) -> torch.Tensor:
    return processor([Image.fromarray(frame) for frame in frames], return_tensors="pt", **(overrides or {}))["pixel_values"]


@pytest.mark.parametrize(
    "settings, overrides",
    [
        ({}, {}),
        ({"image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]}, {}),
        ({}, {"do_rescale": False}),
        ({}, {"do_rescale": False, "do_normalize": False}),  # uint8 out
        ({}, {"image_mean": [0.1, 0.2, 0.3], "image_std": [0.9, 0.8, 0.7], "rescale_factor": 1 / 127}),
        ({"resample": Image.BILINEAR}, {"resample": Image.NEAREST}),
        ({"do_resize": False}, {}),
    ],
)
def test_bit_for_bit_the_processors_pixels(settings, overrides, monkeypatch):
    processor = _processor(**settings)
    frames = _frames(5)
    expected = _reference(processor, frames, overrides)
    for threads in ("1", "3"):
        monkeypatch.setenv(FRAME_THREADS_ENV, threads)
        got = preprocess_frames(processor, frames, overrides=overrides)
        assert got.dtype == expected.dtype and torch.equal(got, expected), threads


def test_padding_to_a_square_first(monkeypatch):
    processor = _processor()
    frames = _frames(3)
    expected = _reference(processor, pad_frames_to_square(frames, processor.image_mean))
    assert torch.equal(preprocess_frames(processor, frames, pad_to_square=True), expected)


def test_frames_of_several_sizes_without_resizing_take_the_processors_path():
    processor = _processor(do_resize=False)
    frames = _frames(1, 30, 52) + _frames(1, 30, 52, seed=1)
    assert torch.equal(preprocess_frames(processor, frames), _reference(processor, frames))


def test_the_table_is_the_processors_rescale_and_normalise():
    processor = _processor(image_mean=[0.2, 0.4, 0.6], image_std=[0.3, 0.5, 0.7])
    settings = {"do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": processor.image_mean, "image_std": processor.image_std}
    table = pixel_value_table(processor, settings)
    values = np.broadcast_to(np.arange(256, dtype=np.uint8), (3, 1, 256)).copy()
    expected = processor.normalize(processor.rescale(values, 1 / 255), processor.image_mean, processor.image_std)[:, 0]
    assert table.shape == (3, 256) and table.dtype == np.float32 and np.array_equal(table, expected)
    assert pixel_value_table(processor, {**settings, "do_rescale": False, "do_normalize": False}) is None

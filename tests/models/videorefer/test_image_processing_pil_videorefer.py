"""`preprocess_frames`' direct path (one resize per frame on threads, rescale + normalise as one table lookup) gives
the PIL SigLIP processor's pixel values bit for bit."""

import numpy as np
import pytest
import torch
from PIL import Image
from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

from transformers_videorefer.inputs.media import FRAME_THREADS_ENV, ArrayClip
from transformers_videorefer.models.videorefer.image_processing_pil_videorefer import (
    FramePreprocessor,
    pad_frames_to_square,
    pixel_value_table,
    preprocess_clip_frames,
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


# ------------------------------------------------ preprocess_clip_frames: several requests over one pass of a clip
def _counting_fills(monkeypatch) -> list:
    from transformers_videorefer.models.videorefer import image_processing_pil_videorefer as module

    calls = []
    fill = module.FramePreprocessor.fill
    monkeypatch.setattr(module.FramePreprocessor, "fill", lambda self, output, row, frame: calls.append(row) or fill(self, output, row, frame))
    return calls


@pytest.mark.parametrize("threads", ["1", "3"])
def test_clip_requests_equal_preprocess_frames_of_the_read_frames(threads, monkeypatch):
    monkeypatch.setenv(FRAME_THREADS_ENV, threads)
    frames = _frames(6)
    clip = ArrayClip(frames)
    plain, other = _processor(), _processor(image_mean=[0.2, 0.3, 0.4])
    requests = [
        (FramePreprocessor(plain), [1, 1, 4, 0]),  # repeats, as uniform sampling of a short clip gives
        (FramePreprocessor(plain), [0, 5]),  # the same settings: frame 0 is preprocessed once
        (FramePreprocessor(other), [0]),  # other settings: its own rows
        (FramePreprocessor(plain, overrides={"do_normalize": False}), [2, 4]),
        (FramePreprocessor(plain, pad_to_square=True), [3]),
    ]
    calls = _counting_fills(monkeypatch)
    results = preprocess_clip_frames(clip, requests)
    fills = len(calls)
    for (preprocessor, indices), got in zip(requests, results):
        expected = preprocess_frames(
            preprocessor.image_processor, [frames[i] for i in indices], preprocessor.pad_to_square, preprocessor.overrides
        )
        assert got.dtype == expected.dtype and torch.equal(got, expected), indices
    # frames 0, 1, 4, 5 once for the shared settings (0 once for both requests), 0 for `other`, 2 and 4 unnormalised,
    # 3 padded
    assert fills == 4 + 1 + 2 + 1


def test_clip_requests_off_the_direct_path_take_the_processors_call():
    frames = _frames(3)
    cropping = _processor(do_center_crop=True, crop_size={"height": 20, "width": 20})
    preprocessor = FramePreprocessor(cropping)
    assert not preprocessor.direct
    got, plain = preprocess_clip_frames(ArrayClip(frames), [(preprocessor, [2, 0]), (FramePreprocessor(_processor()), [2])])
    assert torch.equal(got, _reference(cropping, [frames[2], frames[0]]))
    assert torch.equal(plain, _reference(_processor(), [frames[2]]))


def test_equal_settings_of_two_processor_objects_share_rows_and_other_settings_do_not():
    assert FramePreprocessor(_processor()).key == FramePreprocessor(_processor()).key
    assert FramePreprocessor(_processor()).key != FramePreprocessor(_processor(), overrides={"rescale_factor": 1 / 127}).key
    assert FramePreprocessor(_processor()).key != FramePreprocessor(_processor(), pad_to_square=True).key
    assert FramePreprocessor(_processor()).key != FramePreprocessor(_processor(resample=Image.BILINEAR)).key


def test_a_clip_whose_reads_depend_on_history_is_read_one_request_after_the_other(monkeypatch):
    frames = _frames(6)

    class HistoryClip(ArrayClip):
        reads_depend_on_history = True

    clip = HistoryClip(frames)
    order = []
    read = ArrayClip._read
    monkeypatch.setattr(ArrayClip, "_read", lambda self, indices: order.extend(indices) or read(self, indices))
    monkeypatch.setenv(FRAME_THREADS_ENV, "1")
    requests = [(FramePreprocessor(_processor()), [1, 3, 5]), (FramePreprocessor(_processor()), [0, 3])]
    video, region = preprocess_clip_frames(clip, requests)
    assert order == [1, 3, 5, 0, 3]  # the sampled frames, then the region frames: frame 3 read again
    assert torch.equal(video, preprocess_frames(_processor(), [frames[i] for i in (1, 3, 5)]))
    assert torch.equal(region, preprocess_frames(_processor(), [frames[i] for i in (0, 3)]))
    order.clear()
    preprocess_clip_frames(ArrayClip(frames), requests)
    assert sorted(order) == [0, 1, 3, 5]  # one pass, frame 3 once

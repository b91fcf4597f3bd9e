"""Sam2Tracker on a tiny random transformers SAM2 video model (CPU, no downloads, no torchvision).

Random weights give arbitrary masks, so these tests check shapes, dtypes, frame coverage, and that prompts reach
the processor on the right frame for the right object; not mask quality.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import Sam2VideoConfig, Sam2VideoModel, Sam2VideoProcessor

from transformers_videorefer.apps import sam2_tracking
from transformers_videorefer.apps.sam2_tracking import Sam2Tracker, build_torch_sam2_processor

IMAGE_SIZE = 64  # model input side; features at 16/8/4 px
HIDDEN = 128  # must be a multiple (>1) of the memory dim: object pointers are split into mem-dim chunks
MEM_DIM = 64  # fixed by transformers: the memory attention's cross-attention has kv_in_dim=64
NUM_FRAMES, HEIGHT, WIDTH = 6, 48, 80


def tiny_sam2_video_config(image_size: int = IMAGE_SIZE) -> Sam2VideoConfig:
    """About 0.9M parameters. Limits found in transformers 5.24: a global-attention Hiera block may not be the
    first block of a pooling stage (window 0 // stride -> ZeroDivisionError); `memory_encoder_output_channels`
    must be 64; the hidden size must be a multiple > 1 of it (hidden == 64 breaks the pointer concat)."""
    s = image_size
    vision = {
        "model_type": "sam2_vision_model",
        "backbone_config": {
            "model_type": "sam2_hiera_det_model",
            "hidden_size": 8,
            "num_attention_heads": 1,
            "image_size": [s, s],
            "blocks_per_stage": [1, 1, 2, 1],
            "embed_dim_per_stage": [8, 16, 32, 64],
            "num_attention_heads_per_stage": [1, 1, 1, 1],
            "window_size_per_stage": [2, 2, 2, 2],
            "global_attention_blocks": [3],
            "window_positional_embedding_background_size": [2, 2],
        },
        "backbone_channel_list": [64, 32, 16, 8],
        "backbone_feature_sizes": [[s // 4, s // 4], [s // 8, s // 8], [s // 16, s // 16]],
        "fpn_hidden_size": HIDDEN,
    }
    return Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config={"hidden_size": HIDDEN, "image_size": s, "patch_size": 16, "mask_input_channels": 4},
        mask_decoder_config={
            "hidden_size": HIDDEN,
            "mlp_dim": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "iou_head_hidden_dim": 16,
        },
        image_size=s,
        memory_attention_hidden_size=HIDDEN,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=32,
        memory_attention_rope_feat_sizes=[s // 16, s // 16],
        memory_encoder_hidden_size=HIDDEN,
        memory_encoder_output_channels=MEM_DIM,
        mask_downsampler_embed_dim=HIDDEN,
        memory_fuser_num_layers=1,
        memory_fuser_embed_dim=HIDDEN,
        memory_fuser_intermediate_dim=32,
        num_maskmem=3,
        max_object_pointers_in_encoder=4,
    )


@pytest.fixture(scope="module")
def tiny_model() -> Sam2VideoModel:
    torch.manual_seed(0)
    return Sam2VideoModel(tiny_sam2_video_config()).eval()


@pytest.fixture()
def tracker(tiny_model: Sam2VideoModel) -> Sam2Tracker:
    return Sam2Tracker(tiny_model, build_torch_sam2_processor(IMAGE_SIZE))


@pytest.fixture(scope="module")
def clip() -> list[np.ndarray]:
    """6 frames of (48, 80, 3) uint8: a white 16x16 square moving right by 5 px a frame on a dark background."""
    frames = []
    for t in range(NUM_FRAMES):
        frame = np.full((HEIGHT, WIDTH, 3), 20, dtype=np.uint8)
        frame[10:26, 5 + 5 * t : 21 + 5 * t] = 255
        frames.append(frame)
    return frames


def square_center(t: int) -> tuple[float, float]:
    return (13.0 + 5 * t, 18.0)


def spy(monkeypatch: pytest.MonkeyPatch, obj: object, name: str) -> list[dict]:
    """Record the keyword (and positional) arguments of obj.name calls, still calling through."""
    calls: list[dict] = []
    original = getattr(obj, name)

    def wrapper(*args, **kwargs):
        calls.append({"args": args, **kwargs})
        return original(*args, **kwargs)

    monkeypatch.setattr(obj, name, wrapper)
    return calls


def assert_mask(mask: np.ndarray) -> None:
    assert isinstance(mask, np.ndarray)
    assert mask.dtype == np.bool_
    assert mask.shape == (HEIGHT, WIDTH)


# ---------------------------------------------------------------------------------------------------------------


def test_processor_is_native_sam2_video_processor(tracker: Sam2Tracker) -> None:
    assert isinstance(tracker.processor, Sam2VideoProcessor)
    assert tracker.processor.target_size == IMAGE_SIZE
    assert not tracker.model.training


def test_segment_points_returns_frame_sized_bool_mask(tracker: Sam2Tracker, clip: list[np.ndarray]) -> None:
    assert_mask(tracker.segment(clip, 2, points=[square_center(2)], labels=[1]))


def test_segment_box_and_points_with_box(tracker: Sam2Tracker, clip: list[np.ndarray]) -> None:
    assert_mask(tracker.segment(clip, 0, box=[5, 10, 21, 26]))
    assert_mask(tracker.segment(clip, 0, points=[(13, 18), (60, 40)], labels=[1, 0], box=[5, 10, 21, 26]))


def test_segment_sends_points_and_clicked_frame_to_processor(
    tracker: Sam2Tracker, clip: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    init_calls = spy(monkeypatch, tracker.processor, "init_video_session")
    add_calls = spy(monkeypatch, tracker.processor, "add_inputs_to_inference_session")
    tracker.segment(clip, 3, points=[(28, 18), (70, 40)], labels=[1, 0])
    assert len(init_calls) == 1
    video = init_calls[0]["video"]
    assert video.shape == (1, HEIGHT, WIDTH, 3)
    np.testing.assert_array_equal(video[0], clip[3])  # the clicked frame, not frame 0
    assert len(add_calls) == 1
    assert add_calls[0]["frame_idx"] == 0  # index within the one-frame session
    assert add_calls[0]["input_points"] == [[[[28.0, 18.0], [70.0, 40.0]]]]
    assert add_calls[0]["input_labels"] == [[[1, 0]]]
    assert "input_boxes" not in add_calls[0]


def test_segment_labels_default_to_foreground(
    tracker: Sam2Tracker, clip: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_calls = spy(monkeypatch, tracker.processor, "add_inputs_to_inference_session")
    tracker.segment(clip, 1, points=[(10, 10), (20, 20)], box=[0, 0, 40, 30])
    assert add_calls[0]["input_labels"] == [[[1, 1]]]
    assert add_calls[0]["input_boxes"] == [[[0.0, 0.0, 40.0, 30.0]]]


def test_track_one_object_covers_every_frame(tracker: Sam2Tracker, clip: list[np.ndarray]) -> None:
    result = tracker.track(clip, [{"frame": 0, "points": [square_center(0)], "labels": [1]}])
    assert list(result) == [0]
    assert sorted(result[0]) == list(range(NUM_FRAMES))
    for mask in result[0].values():
        assert_mask(mask)


def test_track_two_objects_in_one_call(
    tracker: Sam2Tracker, clip: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    add_calls = spy(monkeypatch, tracker.processor, "add_inputs_to_inference_session")
    prompts = [
        {"frame": 2, "points": [square_center(2)], "labels": [1]},
        {"frame": 0, "points": [(60, 40), (70, 40)], "labels": [1, 0], "box": [50, 30, 79, 47]},
    ]
    result = tracker.track(clip, prompts)
    assert sorted(result) == [0, 1]
    for obj_id in (0, 1):
        assert sorted(result[obj_id]) == list(range(NUM_FRAMES))
        for mask in result[obj_id].values():
            assert_mask(mask)
    # each object's prompt went to its own frame with its own id
    assert [(c["frame_idx"], c["obj_ids"]) for c in add_calls] == [(2, 0), (0, 1)]
    assert add_calls[0]["input_points"] == [[[list(square_center(2))]]]
    assert add_calls[1]["input_points"] == [[[[60.0, 40.0], [70.0, 40.0]]]]
    assert add_calls[1]["input_labels"] == [[[1, 0]]]
    assert add_calls[1]["input_boxes"] == [[[50.0, 30.0, 79.0, 47.0]]]
    # on its prompted frame, a tracked object's mask is the one-frame segmentation (deterministic eval model)
    single = tracker.segment(clip, 2, points=[square_center(2)], labels=[1])
    np.testing.assert_array_equal(result[0][2], single)


def test_track_two_objects_on_same_frame(tracker: Sam2Tracker, clip: list[np.ndarray]) -> None:
    prompts = [{"frame": 1, "points": [square_center(1)]}, {"frame": 1, "box": [40, 28, 79, 47]}]
    result = tracker.track(clip, prompts)
    assert sorted(result) == [0, 1]
    assert all(sorted(masks) == list(range(NUM_FRAMES)) for masks in result.values())


def test_track_prompt_after_frame_zero_propagates_backward(
    tracker: Sam2Tracker, clip: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy(monkeypatch, tracker.model, "propagate_in_video_iterator")
    result = tracker.track(clip, [{"frame": 4, "box": [25, 10, 41, 26]}])
    assert sorted(result[0]) == list(range(NUM_FRAMES))
    assert [(c["start_frame_idx"], c["reverse"]) for c in calls] == [(4, False), (4, True)]


def test_track_frame_indices_subset(
    tracker: Sam2Tracker, clip: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy(monkeypatch, tracker.model, "propagate_in_video_iterator")
    result = tracker.track(clip, [{"frame": 3, "points": [square_center(3)]}], frame_indices=[4, 1, 4])
    assert sorted(result[0]) == [1, 4]
    for mask in result[0].values():
        assert_mask(mask)
    # forward 3 -> 4 only, backward 3 -> 1 only
    assert [(c["start_frame_idx"], c["max_frame_num_to_track"], c["reverse"]) for c in calls] == [
        (3, 1, False),
        (3, 2, True),
    ]


def test_track_prompt_on_frame_zero_does_not_run_backward(
    tracker: Sam2Tracker, clip: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy(monkeypatch, tracker.model, "propagate_in_video_iterator")
    tracker.track(clip, [{"frame": 0, "points": [square_center(0)]}], frame_indices=[0, 2])
    assert [c["reverse"] for c in calls] == [False]


# ---------------------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"frame_index": 6, "points": [(1, 1)]}, ValueError, "out of range"),
        ({"frame_index": -1, "points": [(1, 1)]}, ValueError, "out of range"),
        ({"frame_index": 1.0, "points": [(1, 1)]}, TypeError, "must be an int"),
        ({"frame_index": 0}, ValueError, "neither"),
        ({"frame_index": 0, "points": [(80, 10)]}, ValueError, "outside the frame"),
        ({"frame_index": 0, "points": [(10, -1)]}, ValueError, "outside the frame"),
        ({"frame_index": 0, "points": [(1, 1), (2, 2)], "labels": [1]}, ValueError, "one label per point"),
        ({"frame_index": 0, "points": [(1, 1)], "labels": [2]}, ValueError, "1 (foreground) or 0"),
        ({"frame_index": 0, "points": [(1, 2, 3)]}, ValueError, "(x, y) pair"),
        ({"frame_index": 0, "points": []}, ValueError, "non-empty"),
        ({"frame_index": 0, "labels": [1]}, ValueError, "neither"),
        ({"frame_index": 0, "box": [10, 10, 5, 20]}, ValueError, "x1 < x2"),
        ({"frame_index": 0, "box": [0, 0, 81, 20]}, ValueError, "x2 <= 80"),
        ({"frame_index": 0, "box": [0, 0, 10]}, ValueError, "4 finite numbers"),
    ],
)
def test_segment_bad_input(tracker: Sam2Tracker, clip: list[np.ndarray], kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        tracker.segment(clip, **kwargs)


@pytest.mark.parametrize(
    ("frames", "error", "message"),
    [
        ([], ValueError, "frames is empty"),
        (None, TypeError, "list of"),
        ([np.zeros((8, 8), np.uint8)], ValueError, r"\(H, W, 3\)"),
        ([np.zeros((8, 8, 3), np.float32)], TypeError, "uint8"),
        ([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8)], ValueError, "same shape"),
        (["frame.png"], TypeError, "numpy array"),
    ],
)
def test_bad_frames(tracker: Sam2Tracker, frames, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        tracker.segment(frames, 0, points=[(1, 1)])
    with pytest.raises(error, match=message):
        tracker.track(frames, [{"frame": 0, "points": [(1, 1)]}])


@pytest.mark.parametrize(
    ("prompts", "frame_indices", "error", "message"),
    [
        ([], None, ValueError, "prompts is empty"),
        ({"frame": 0, "points": [(1, 1)]}, None, TypeError, "list of dicts"),
        ([[(1, 1)]], None, TypeError, r"prompts\[0\] must be a dict"),
        ([{"points": [(1, 1)]}], None, ValueError, "needs a 'frame'"),
        ([{"frame": 9, "points": [(1, 1)]}], None, ValueError, "out of range"),
        ([{"frame": 0}], None, ValueError, "neither"),
        ([{"frame": 0, "points": [(1, 1)]}, {"frame": 0, "points": [(90, 1)]}], None, ValueError, r"prompts\[1\].*outside"),
        ([{"frame": 0, "points": [(1, 1)], "labels": [1, 1]}], None, ValueError, "one label per point"),
        ([{"frame": 0, "point": [(1, 1)]}], None, ValueError, "unknown keys"),
        ([{"frame": 0, "points": [(1, 1)]}], [7], ValueError, "out of range"),
        ([{"frame": 0, "points": [(1, 1)]}], [], ValueError, "frame_indices is empty"),
        ([{"frame": 0, "points": [(1, 1)]}], 3, TypeError, "frame_indices must be a list"),
    ],
)
def test_track_bad_input(
    tracker: Sam2Tracker, clip: list[np.ndarray], prompts, frame_indices, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        tracker.track(clip, prompts, frame_indices=frame_indices)


def test_constructor_rejects_wrong_types(tiny_model: Sam2VideoModel) -> None:
    with pytest.raises(TypeError, match="Sam2VideoModel"):
        Sam2Tracker(torch.nn.Linear(2, 2), build_torch_sam2_processor(IMAGE_SIZE))
    with pytest.raises(TypeError, match="Sam2VideoProcessor"):
        Sam2Tracker(tiny_model, object())


def test_from_pretrained_uses_transformers_loaders(
    tiny_model: Sam2VideoModel, monkeypatch: pytest.MonkeyPatch, clip: list[np.ndarray]
) -> None:
    seen: dict = {}

    def fake_model_from_pretrained(name, **kwargs):
        seen["model"] = (name, kwargs)
        return tiny_model

    monkeypatch.setattr(Sam2VideoModel, "from_pretrained", fake_model_from_pretrained)
    monkeypatch.setattr(sam2_tracking, "is_torchvision_available", lambda: False)
    tracker = Sam2Tracker.from_pretrained("some/sam2-checkpoint", device="cpu", dtype=torch.float32)
    assert seen["model"] == ("some/sam2-checkpoint", {"dtype": torch.float32})
    # without torchvision: the torch-only processor sized from the model config
    assert tracker.processor.target_size == IMAGE_SIZE
    assert_mask(tracker.segment(clip, 0, points=[square_center(0)]))

"""Frame sampling (folders, frame lists, video files) and frame-difference token compression of VL3."""

import numpy as np
import pytest
import torch
from golden_vl3 import load_vl3_case

from transformers_videorefer.inputs.media import ArrayClip, open_clip
from transformers_videorefer.models.videorefer_vl3.video_processing_videorefer_vl3 import (
    check_sampling,
    compression_mask,
    sample_clip,
    sample_fixed_rate,
    sample_timed,
    uniform_indices,
)

VIDEO_CASES = ("video_dir_single_frame_mask", "video_mp4_two_objects", "video_dir_object_on_two_frames")


@pytest.mark.parametrize("name", VIDEO_CASES)
def test_golden_sampled_frames_and_timestamps(vl3_golden_dir, name):
    case, expected = load_vl3_case(vl3_golden_dir, name)
    clip = open_clip(str(vl3_golden_dir / "cases" / name / case["media"]))
    assert clip.num_frames == case["raw_frame_count"]
    sampled = sample_clip(clip, case["fps"], case["max_frames"])
    assert len(sampled.indices) == case["sampled_frame_count"]
    assert sampled.timestamps == pytest.approx(case["timestamps"], abs=1e-6)
    frames = torch.from_numpy(np.stack(clip.get_frames(sampled.indices)))
    assert torch.equal(frames, expected["frames_uint8"])


@pytest.mark.parametrize("name", VIDEO_CASES)
def test_golden_compression_mask(vl3_golden_dir, name):
    case, expected = load_vl3_case(vl3_golden_dir, name)
    keep = compression_mask(expected["pixel_values"], case["sampled_frame_count"], case["image_downsampling"])
    assert torch.equal(keep, expected["visual_keep_mask"])
    assert int(keep.sum()) == case["num_visual_tokens_kept"]


def test_folder_rate_sampling_and_fallback():
    assert sample_fixed_rate(12, 3, 1, 768).indices == [1, 4, 7, 10]
    assert sample_fixed_rate(12, 3, 1, 768).timestamps == pytest.approx([1 / 3, 4 / 3, 7 / 3, 10 / 3])
    assert sample_fixed_rate(12, 3, 0.5, 768).indices == [3, 9]
    # fps above the folder's 3 fps: step 0, the original's uniform fallback
    assert sample_fixed_rate(12, 3, 4, 6).indices == [0, 2, 4, 6, 8, 11]
    assert sample_fixed_rate(5, 3, 4, 768).indices == [0, 1, 2, 3, 4]
    # too long for fps sampling (n / 3 >= max_frames): uniform
    assert sample_fixed_rate(30, 3, 1, 4).indices == [0, 9, 19, 29]
    assert sample_fixed_rate(7, 3, None, 768).indices == list(range(7))


def test_uniform_indices():
    assert uniform_indices(4, 10) == [0, 1, 2, 3]
    assert uniform_indices(10, 4) == [0, 3, 6, 9]


def test_timed_sampling_as_the_ffmpeg_fps_filter():
    times = np.arange(18) / 6.0  # 6 fps, 3 s
    sampled = sample_timed(times, 3.0, 2, 768)
    assert sampled.indices == [2, 5, 8, 11, 14, 17]
    assert sampled.timestamps == pytest.approx([0, 0.5, 1.0, 1.5, 2.0, 2.5])
    thinned = sample_timed(times, 3.0, 2, 4)
    assert thinned.indices == [2, 5, 11, 17]
    # an fps above the video's: frames repeat, as ffmpeg duplicates them
    assert sample_timed(np.arange(4) / 2.0, 2.0, 4, 768).indices == [0, 0, 1, 1, 2, 2, 3, 3]
    # a stream starting at 0.5 s: slots count from the first frame's, timestamps from the start
    shifted = sample_timed(times + 0.5, 3.5, 2, 768)
    assert shifted.indices == [2, 5, 8, 11, 14, 17]
    assert shifted.timestamps == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    every = sample_timed(times, 3.0, None, 768)
    assert every.indices == list(range(18)) and every.timestamps[-1] == pytest.approx(3.0)


def test_frame_list_is_a_three_fps_clip():
    clip = ArrayClip([np.full((20, 30, 3), i, dtype=np.uint8) for i in range(9)])
    assert sample_clip(clip, 1, None).indices == [1, 4, 7]


@pytest.mark.parametrize("fps, max_frames, message", [(0, 5, "fps must be a positive"), (-2, 5, "fps must be a positive"),
                                                      (1, 0, "max_frames must be an int of at least 1")])
def test_bad_sampling_arguments(fps, max_frames, message):
    with pytest.raises(ValueError, match=message):
        check_sampling(fps, max_frames)


def test_compression_keeps_changes_and_one_token_per_still_frame():
    frames = torch.zeros(3, 4 * 4, 588)  # 3 frames, 2x2 merged tokens of merge 2 each (4 patches per token)
    frames[1, 4:8] = 0.5  # token 1 of frame 1 changes
    keep = compression_mask(frames.reshape(-1, 588), 3, 2).reshape(3, 4)
    assert keep[0].all()
    assert keep[1].tolist() == [False, True, False, False]
    # frame 2: token 1 changes back, so it is kept
    assert keep[2].tolist() == [False, True, False, False]
    still = compression_mask(torch.zeros(2 * 8, 588), 2, 2).reshape(2, -1)
    assert still[1].tolist() == [True, False]  # a frame with nothing kept keeps its first token
    assert compression_mask(torch.randn(4, 588), 1, 2).all()  # one frame: nothing dropped

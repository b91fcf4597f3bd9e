"""The demo's session with a VideoRefer-VideoLLaMA3 checkpoint: the frames it samples (by fps), the masks it gives
(those on sampled frames, one `<region>` per (object, frame)) and the streamed answer."""

from pathlib import Path

import numpy as np
import pytest
import torch
from test_sam2_tracking import IMAGE_SIZE, tiny_sam2_video_config
from transformers import Sam2VideoModel

from transformers_videorefer.apps.demo import DemoSession
from transformers_videorefer.apps.sam2_tracking import (
    Sam2Tracker,
    build_torch_sam2_processor,
)
from transformers_videorefer.evaluation.families import VIDEOREFER_VL3
from transformers_videorefer.inputs.media import open_clip

CLIP = Path(__file__).resolve().parents[2] / "examples" / "data" / "rolling_ball.mp4"  # 24 frames, 120 x 160
MAX_NEW_TOKENS = 4


@pytest.fixture(scope="module")
def session(vl3_checkpoint):
    from transformers_videorefer.cli.loading import load_model_and_processor

    torch.manual_seed(0)
    tracker = Sam2Tracker(Sam2VideoModel(tiny_sam2_video_config()).eval(), build_torch_sam2_processor(IMAGE_SIZE))
    model, processor = load_model_and_processor(str(vl3_checkpoint), "float32", "cpu")
    return DemoSession(model, processor, tracker, max_new_tokens=MAX_NEW_TOKENS)


def test_vl3_session_samples_by_fps_and_answers(session):
    session.load(str(CLIP))
    assert session.family is VIDEOREFER_VL3
    sampled = session.sampled_frames()
    from transformers_videorefer.models.videorefer_vl3.video_processing_videorefer_vl3 import (
        sample_clip,
    )

    assert sampled == list(sample_clip(open_clip(str(CLIP)), session.processor.fps, session.processor.max_frames).indices)
    session.click(sampled[0], 50, 75)
    session.propagate(frame_indices=sorted(set(sampled) | {5}))  # a mask on a frame the model does not see, too
    masks = session.objects[0].masks
    assert set(sampled) < set(masks)

    inputs = session.prepare("What is [<region>] doing?")
    on_sampled = {frame: masks[frame] for frame in sampled}
    text = "What is " + "<region>" * len(sampled) + " doing?"
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": text}]}]
    prompt = session.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    expected = session.processor(text=[prompt], videos=[str(CLIP)], masks=[[on_sampled]])
    assert torch.equal(inputs["input_ids"], expected["input_ids"])
    assert torch.equal(inputs["region_masks"], expected["region_masks"])
    assert inputs["region_grid_thw"].shape[0] == len(sampled)

    with torch.inference_mode():
        output = session.model.generate(**expected, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
    answer = session.processor.tokenizer.decode(output[0, expected["input_ids"].shape[1] :], skip_special_tokens=True)
    pieces = list(session.ask("What is [<region>] doing?"))
    assert pieces and pieces[-1].strip() == answer.strip()


def test_vl3_session_refuses_a_marker_count_mismatch(session):
    session.load(str(CLIP))
    session.click(0, 50, 75)
    with pytest.raises(ValueError, match="1 object"):
        session.prepare("Is [<region>] near [<region>]?")
    assert isinstance(session.overlay(0), np.ndarray)


def test_vl3_session_on_an_image(session, tmp_path):
    from PIL import Image

    Image.fromarray(np.full((40, 50, 3), 128, dtype=np.uint8)).save(tmp_path / "still.png")
    assert session.load(str(tmp_path / "still.png")) == 1
    session.click(0, 10, 10)
    assert session.sampled_frames() == [0]
    inputs = session.prepare("Describe [<region>].")
    assert inputs["merge_sizes"].tolist() == [1]  # an image: merge 1, no frame sampling
    assert inputs["region_grid_thw"].shape[0] == 1
    assert isinstance(list(session.ask("Describe [<region>]."))[-1], str)

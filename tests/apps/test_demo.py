"""The demo's session logic (clicks -> SAM2 masks -> VideoRefer answers), without a browser."""

import gc
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from test_sam2_tracking import IMAGE_SIZE, tiny_sam2_video_config
from transformers import AutoModelForImageTextToText, AutoProcessor, Sam2VideoModel

import transformers_videorefer  # noqa: F401
from transformers_videorefer.apps.demo import MASKS_FILENAME, DemoSession, build_demo
from transformers_videorefer.apps.sam2_tracking import Sam2Tracker, build_torch_sam2_processor

CLIP = Path(__file__).resolve().parents[2] / "examples" / "data" / "rolling_ball.mp4"  # 24 frames, 120 x 160


@pytest.fixture(scope="module")
def session(golden_checkpoint):
    torch.manual_seed(0)
    tracker = Sam2Tracker(Sam2VideoModel(tiny_sam2_video_config()).eval(), build_torch_sam2_processor(IMAGE_SIZE))
    model = AutoModelForImageTextToText.from_pretrained(golden_checkpoint).eval()
    return DemoSession(model, AutoProcessor.from_pretrained(golden_checkpoint), tracker, max_new_tokens=6)


def test_click_track_ask_and_export(session):
    assert session.load(str(CLIP)) == 24
    mask = session.click(6, 50, 75)
    assert mask.shape == (120, 160) and mask.dtype == bool
    assert set(session.objects[0].masks) == {6}
    assert session.propagate(frame_indices=[0, 6, 12, 18]) == 4
    overlay = session.overlay(6)
    assert overlay.shape == (120, 160, 3) and overlay.dtype == np.uint8

    inputs = session.prepare("What is [<region>] doing?")
    assert inputs["region_masks_per_object"].tolist() == [4]  # four tracked frames, merged to at most 4 tokens
    pieces = list(session.ask("What is [<region>] doing?"))
    assert pieces and isinstance(pieces[-1], str)

    exported = json.loads(session.export_masks())
    assert len(exported) == 1 and sorted(exported[0], key=int) == ["0", "6", "12", "18"]
    assert exported[0]["6"]["size"] == [120, 160]


def test_exported_masks_feed_videorefer_ask(session, tmp_path):
    from transformers_videorefer.cli.ask import objects_from_arguments

    session.load(str(CLIP))
    session.click(3, 35, 75)
    session.new_object()
    session.click(3, 120, 45)
    (tmp_path / "masks.json").write_text(session.export_masks())
    objects = objects_from_arguments([str(tmp_path / "masks.json")], None)
    assert [list(obj) for obj in objects] == [[3], [3]]
    assert objects[0][3]["size"] == [120, 160]
    with pytest.raises(ValueError, match="do not give --frame"):
        objects_from_arguments([str(tmp_path / "masks.json")], [3])


def test_two_objects_and_errors(session):
    session.load(str(CLIP))
    with pytest.raises(ValueError, match="Mark at least one object"):
        session.prepare("What is [<region>]?")
    with pytest.raises(ValueError, match="Click on the object first"):
        session.propagate()
    session.click(3, 35, 75)
    session.new_object()
    session.click(3, 120, 45, positive=True)
    with pytest.raises(ValueError, match="1 <region> marker.*2 object"):
        session.prepare("What is [<region>]?")
    inputs = session.prepare("How does [<region>] move relative to [<region>]?")
    assert inputs["region_masks_per_object"].tolist() == [1, 1]
    with pytest.raises(ValueError, match="outside the clip"):
        session.click(99, 1, 1)


def test_image_media(session, tmp_path):
    from PIL import Image

    Image.fromarray(np.full((40, 50, 3), 128, dtype=np.uint8)).save(tmp_path / "still.png")
    assert session.load(str(tmp_path / "still.png")) == 1
    session.click(0, 10, 10)
    inputs = session.prepare("Describe [<region>].")
    assert "pixel_values" in inputs and "pixel_values_videos" not in inputs


def test_box_by_two_corners_and_sampled_tracking(session):
    session.load(str(CLIP))
    assert session.box_corner(6, 30, 60) is None
    mask = session.box_corner(6, 70, 90)
    assert mask.shape == (120, 160)
    assert session.objects[0].boxes[6] == [30.0, 60.0, 70.0, 90.0]
    sampled = session.sampled_frames()
    assert len(sampled) <= session.processor.num_frames
    session.propagate(frame_indices=sampled)
    assert set(sampled) <= set(session.objects[0].masks)


def test_forks_share_the_models_but_not_the_objects(session):
    first, second = session.fork(), session.fork()
    for fork in (first, second):
        assert fork.model is session.model and fork.processor is session.processor and fork.tracker is session.tracker
        assert fork.max_new_tokens == session.max_new_tokens
        assert fork.objects == [] and fork.frames == [] and fork.describe_objects() == ""
    first.load(str(CLIP))
    first.click(3, 35, 75)
    second.load(str(CLIP))
    second.click(5, 120, 45)
    second.new_object()
    second.click(5, 60, 100)
    assert first.describe_objects() == "object 1: mask on frame 3"
    assert second.describe_objects() == "object 1: mask on frame 5\nobject 2: mask on frame 5"
    assert len(json.loads(first.export_masks())) == 1 and len(json.loads(second.export_masks())) == 2


def test_mask_download_goes_to_a_per_session_temp_folder(session, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the working directory must stay untouched
    first, second = session.fork(), session.fork()
    first.load(str(CLIP))
    first.click(3, 35, 75)
    path = first.write_masks()
    assert path.name == MASKS_FILENAME and path.parent == first.download_dir
    assert path.parent.name.startswith("videorefer-demo-")
    assert path.resolve().parent.parent == Path(tempfile.gettempdir()).resolve()
    assert not path.resolve().is_relative_to(tmp_path.resolve())
    assert json.loads(path.read_text()) == json.loads(first.export_masks())
    assert list(tmp_path.iterdir()) == []

    other = second.write_masks()
    assert other.parent != path.parent and json.loads(other.read_text()) == []
    assert json.loads(path.read_text()) != []  # the other session's download did not overwrite this one's

    first.close()  # the session ends: its folder goes, the other session's stays
    assert not path.parent.exists() and other.exists()
    first.close()  # closing again is harmless
    assert first.write_masks().parent.exists()  # a closed session that is used again gets a fresh folder
    first.close()
    folder = second.download_dir
    del second
    gc.collect()  # a session Gradio drops without closing takes its folder with it
    assert not folder.exists()
    assert list(tmp_path.iterdir()) == []


def test_download_folder_is_removed_when_the_process_exits(tmp_path):
    script = (  # transformers' auto classes first, as this module does: importing apps.demo alone hits an import cycle
        "from transformers import AutoModelForImageTextToText\n"
        "from transformers_videorefer.apps.demo import DemoSession\n"
        "session = DemoSession(None, None, None)\n"
        "print(session.write_masks())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=True
    )
    written = Path(done.stdout.strip().splitlines()[-1])
    assert written.name == MASKS_FILENAME and written.parent.name.startswith("videorefer-demo-")
    assert not written.parent.exists()
    assert list(tmp_path.iterdir()) == []


def test_app_keeps_each_tab_session_in_a_gradio_state(session):
    import gradio as gr

    app = build_demo(session)
    states = [block for block in app.blocks.values() if isinstance(block, gr.State)]
    assert len(states) == 1 and states[0].value is None  # made per tab on first use, never a copy of the models
    tab = session.fork()
    folder = tab.write_masks().parent
    states[0].delete_callback(tab)  # what Gradio calls when the tab's session ends
    assert not folder.exists()
    states[0].delete_callback(None)  # a tab that never did anything

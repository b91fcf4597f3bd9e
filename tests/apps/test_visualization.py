"""Mask overlays and `videorefer overlay`."""

import json

import numpy as np
import pytest
from PIL import Image

from transformers_videorefer.cli import main
from transformers_videorefer.apps.visualization import (
    image_grid,
    mask_contour,
    object_color,
    overlay_clip,
    overlay_masks,
    save_overlays,
)


def _square(height=20, width=30, top=5, left=8, size=6):
    mask = np.zeros((height, width), dtype=bool)
    mask[top : top + size, left : left + size] = True
    return mask


def test_contour_is_the_boundary_of_the_mask():
    contour = mask_contour(_square())
    assert contour.sum() == 4 * 6 - 4  # the ring of a 6x6 square
    assert not contour[7, 10] and contour[5, 8]


def test_overlay_colours_fill_and_contour():
    frame = np.full((20, 30, 3), 100, dtype=np.uint8)
    out = overlay_masks(frame, [_square(), None, _square(left=20)])
    assert out.dtype == np.uint8 and out.shape == frame.shape
    assert tuple(out[5, 8]) == object_color(0)  # contour in full colour
    inside = out[7, 10].astype(int)
    expected = np.round(0.55 * 100 + 0.45 * np.array(object_color(0))).astype(int)
    assert np.all(np.abs(inside - expected) <= 1)
    assert tuple(out[5, 20]) == object_color(2)  # object 2 keeps its own colour though object 1 is absent
    assert tuple(out[0, 0]) == (100, 100, 100)


def test_overlay_errors():
    frame = np.zeros((20, 30, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="masks must match the frame"):
        overlay_masks(frame, [np.zeros((10, 10))])
    with pytest.raises(ValueError, match=r"\(height, width, 3\)"):
        overlay_masks(np.zeros((20, 30)), [])
    with pytest.raises(ValueError, match="outside the clip"):
        overlay_clip([frame], [{3: _square()}])
    with pytest.raises(ValueError, match="same size"):
        image_grid([frame, np.zeros((5, 5, 3), dtype=np.uint8)])


def test_overlay_clip_draws_the_masked_frames(tmp_path):
    frames = [np.full((20, 30, 3), i * 20, dtype=np.uint8) for i in range(6)]
    objects = [{1: _square(), 4: _square(left=10)}, {4: _square(left=20)}]
    drawn = overlay_clip(frames, objects)
    assert len(drawn) == 2  # frames 1 and 4
    assert len(overlay_clip(frames, objects, range(6))) == 6
    grid = save_overlays(drawn, tmp_path / "grid.png")
    assert Image.open(grid).size == (60, 20)
    gif = save_overlays(overlay_clip(frames, objects, range(6)), tmp_path / "clip.gif")
    assert Image.open(gif).n_frames == 6
    with pytest.raises(ValueError, match="Unknown output type"):
        save_overlays(drawn, tmp_path / "x.bmpx")


def test_overlay_cli_on_the_bundled_clip(tmp_path, capsys):
    from pathlib import Path

    data = Path(__file__).resolve().parents[2] / "examples" / "data"
    status = main(["overlay", str(data / "rolling_ball.mp4"), "--annotation", str(data / "ball_masks.json"),
                   "--out", str(tmp_path / "ball.png")])
    assert status == 0, capsys.readouterr().err
    assert Image.open(tmp_path / "ball.png").size == (2 * 160, 2 * 120)  # 4 masked frames in a 2x2 grid
    (tmp_path / "bad.json").write_text(json.dumps([{"99": None}]))
    assert main(["overlay", str(data / "rolling_ball.mp4"), "--annotation", str(tmp_path / "bad.json"),
                 "--out", str(tmp_path / "x.png")]) == 2
    assert "outside the clip" in capsys.readouterr().err

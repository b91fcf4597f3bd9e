"""A mini VideoRefer-Bench written by the tests: tiny clips in both media layouts, masks as COCO RLE, and the
Bench-Q / Bench-D JSON files that name them.

Layouts (as the real benchmark's): Bench-Q clips are JPEG frame folders `DAVIS/JPEGImages/480p/<clip>` and
`MeViS/valid_u/JPEGImages/<clip>` (plus one mp4, so that one run covers both layouts); Bench-D clips are mp4 files
`<clip>.mp4` in the root (Panda-70M style). mp4s are written with PyAV; without PyAV, the repository's bundled
example clip is copied instead (masks are made at whatever size the clip has).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED_CLIP = REPO_ROOT / "examples" / "data" / "rolling_ball.mp4"
HEIGHT, WIDTH, NUM_FRAMES = 48, 64, 12
MASK_FRAMES = (0, 3, 6, 9)
QUESTION_TYPES = (
    "Basic Questions",
    "Sequential Questions",
    "Relationship Questions",
    "Reasoning Questions",
    "Future Predictions",
)


@pytest.fixture(scope="module")
def fresh_accelerate_state():
    """Forget the `accelerate` process state that the CLI runs of a module created (it is a process-wide singleton)."""
    yield
    from accelerate.state import PartialState

    PartialState._reset_state()


def square_mask(frame: int, height: int, width: int, offset: int = 0) -> np.ndarray:
    """A square that moves right over the frames (one object); `offset` moves it down (another object)."""
    mask = np.zeros((height, width), dtype=np.uint8)
    side = max(4, height // 4)
    top = min(height - side, 4 + offset)
    left = min(width - side, 2 + 3 * frame)
    mask[top : top + side, left : left + side] = 1
    return mask


def render_frames(count: int, height: int = HEIGHT, width: int = WIDTH, seed: int = 0) -> list[np.ndarray]:
    """Frames with two coloured squares moving over a plain background."""
    rng = np.random.default_rng(seed)
    background = rng.integers(40, 200, size=3, dtype=np.uint8)
    frames = []
    for index in range(count):
        frame = np.broadcast_to(background, (height, width, 3)).copy()
        frame[square_mask(index, height, width) == 1] = (220, 40, 30)
        frame[square_mask(index, height, width, offset=height // 2) == 1] = (30, 60, 210)
        frames.append(frame)
    return frames


def rle(mask: np.ndarray) -> dict:
    """COCO compressed RLE with a string `counts`, as in the benchmark files."""
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def annotation(height: int, width: int, offset: int = 0, frames: tuple[int, ...] = MASK_FRAMES) -> dict:
    """One object: `{"<frame>": {"segmentation": RLE}}` on `frames`."""
    return {str(f): {"segmentation": rle(square_mask(f, height, width, offset))} for f in frames}


def write_frame_folder(folder: Path, count: int = NUM_FRAMES, seed: int = 0) -> tuple[int, int, int]:
    """A DAVIS/MeViS-style folder of JPEG frames `00000.jpg ...`; returns (frames, height, width)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(render_frames(count, seed=seed)):
        Image.fromarray(frame).save(folder / f"{index:05d}.jpg", quality=95)
    return count, HEIGHT, WIDTH


def write_mp4(path: Path, count: int = NUM_FRAMES, seed: int = 0) -> tuple[int, int, int]:
    """An mp4 clip (PyAV, mpeg4), or a copy of the bundled example clip without PyAV; returns (frames, h, w)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import av
    except ImportError:
        shutil.copyfile(BUNDLED_CLIP, path)
        import decord

        reader = decord.VideoReader(str(path))
        height, width = reader[0].shape[:2]
        return len(reader), height, width
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for frame in render_frames(count, seed=seed):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return count, HEIGHT, WIDTH


def make_mini_bench_q(root: Path) -> Path:
    """Clips under `root` and `root/VideoRefer-Bench-Q.json` (6 questions, no ids: ids are positions)."""
    clips = {
        "DAVIS/JPEGImages/480p/bike": write_frame_folder(root / "DAVIS/JPEGImages/480p/bike", seed=1),
        "MeViS/valid_u/JPEGImages/0a1b2c": write_frame_folder(root / "MeViS/valid_u/JPEGImages/0a1b2c", seed=2),
        "Extra/clip.mp4": write_mp4(root / "Extra/clip.mp4", seed=3),
    }
    options = ["(A) It moves right", "(B) It stays still", "(C) It moves left", "(D) It disappears"]
    items = []
    for number in range(6):
        video = list(clips)[number % 3]
        _, height, width = clips[video]
        two_objects = number in (2, 5)
        question = (
            "How does <object1><region> move relative to <object2><region>?"
            if two_objects
            else "What is <object1><region> doing?"
        )
        objects = [annotation(height, width)] + ([annotation(height, width, offset=height // 2)] if two_objects else [])
        items.append(
            {
                "video": video,
                "Question": question,
                "type": QUESTION_TYPES[number % len(QUESTION_TYPES)],
                "options": options,
                "Answer": options[number % 4],
                "frame_idx": "6",
                "annotation": objects,
            }
        )
    path = root / "VideoRefer-Bench-Q.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


def make_mini_bench_d(root: Path) -> Path:
    """Panda-70M-style mp4s in `root` and `root/VideoRefer-Bench-D.json` (3 items with ids)."""
    items = []
    for number in range(3):
        name = f"clip{number}_0:00:01.000_0:00:02.500.mp4"
        _, height, width = write_mp4(root / name, seed=10 + number)
        items.append(
            {
                "id": 100 + number,
                "video": name,
                "caption": f"A red square slides from left to right (clip {number}).",
                "frame_idx": "3",
                "annotation": [annotation(height, width)],
            }
        )
    path = root / "VideoRefer-Bench-D.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    return path

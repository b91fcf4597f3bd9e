"""Make the bundled example: a 24-frame clip of a red ball rolling past a blue box, and the ball's masks.

Writes `examples/data/rolling_ball.mp4` (needs PyAV: `pip install av`, only to regenerate), the same frames as
`examples/data/rolling_ball_frames/`, `examples/data/ball_mask_frame6.json` (COCO RLE of the ball on frame 6) and
`examples/data/ball_masks.json` (the ball on frames 0, 6, 12, 18: a multi-frame object) and
`examples/data/box_mask_frame6.json`. Deterministic: rerunning it reproduces the same files.
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils

HEIGHT, WIDTH, FRAMES = 120, 160, 24
DATA = Path(__file__).resolve().parent / "data"


def ball_mask(frame: int) -> np.ndarray:
    yy, xx = np.mgrid[:HEIGHT, :WIDTH]
    center_x = 20 + frame * 5
    return ((xx - center_x) ** 2 + (yy - 75) ** 2 <= 14**2).astype(np.uint8)


def box_mask() -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[30:60, 100:140] = 1
    return mask


def render(frame: int) -> np.ndarray:
    yy = np.arange(HEIGHT)[:, None, None]
    image = np.broadcast_to(np.array([90, 160, 90], dtype=np.uint8), (HEIGHT, WIDTH, 3)).copy()
    image[yy[:, 0, 0] < 50] = np.array([150, 190, 235], dtype=np.uint8)  # sky
    image[box_mask() == 1] = np.array([40, 60, 200], dtype=np.uint8)
    image[ball_mask(frame) == 1] = np.array([220, 40, 30], dtype=np.uint8)
    return image


def rle(mask: np.ndarray) -> dict:
    encoded = mask_utils.encode(np.asfortranarray(mask))
    return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def main() -> None:
    import av

    DATA.mkdir(exist_ok=True)
    frames = [render(i) for i in range(FRAMES)]
    folder = DATA / "rolling_ball_frames"
    folder.mkdir(exist_ok=True)
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{index:05d}.png")
    with av.open(str(DATA / "rolling_ball.mp4"), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"qscale": "2"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    (DATA / "ball_mask_frame6.json").write_text(json.dumps(rle(ball_mask(6))) + "\n")
    (DATA / "box_mask_frame6.json").write_text(json.dumps(rle(box_mask())) + "\n")
    multi = {str(i): rle(ball_mask(i)) for i in (0, 6, 12, 18)}
    (DATA / "ball_masks.json").write_text(json.dumps(multi) + "\n")


if __name__ == "__main__":
    main()

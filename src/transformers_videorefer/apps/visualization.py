# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Drawing object masks over frames: coloured fills with contours, as an image grid, a gif or an mp4.

Usable on its own, e.g. to check benchmark annotations (`videorefer overlay`), and by the demo.
"""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# Distinct colours (RGB), one per object, repeating after eight.
PALETTE = (
    (230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60),
)


def object_color(index: int) -> tuple[int, int, int]:
    """The colour of object `index`."""
    return PALETTE[index % len(PALETTE)]


def mask_contour(mask: np.ndarray) -> np.ndarray:
    """The boundary pixels of a binary `(H, W)` mask: mask pixels with a 4-neighbour outside it (or the border)."""
    inside = np.asarray(mask, dtype=bool)
    padded = np.pad(inside, 1, constant_values=False)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return inside & ~interior


def overlay_masks(
    frame: np.ndarray,
    masks: Sequence[np.ndarray | None],
    colors: Sequence[tuple[int, int, int]] | None = None,
    alpha: float = 0.45,
) -> np.ndarray:
    """Blend each mask's colour into `frame` and draw its contour in full colour.

    Args:
        frame: `(H, W, 3)` uint8 RGB.
        masks: `(H, W)` binary masks (None: the object is not on this frame), object `i` in colour `i`.
        colors: one RGB colour per mask (default: `PALETTE`).
        alpha: opacity of the fill.

    Returns:
        `(H, W, 3)` uint8 RGB.
    """
    image = np.asarray(frame)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"frame must be an (height, width, 3) RGB array, got shape {image.shape}.")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}.")
    out = image.astype(np.float32)
    for index, mask in enumerate(masks):
        if mask is None:
            continue
        mask = np.asarray(mask)
        if mask.shape != image.shape[:2]:
            raise ValueError(f"mask {index} is {mask.shape}, the frame is {image.shape[:2]}: masks must match the frame.")
        color = np.array(colors[index] if colors is not None else object_color(index), dtype=np.float32)
        inside = mask > 0
        out[inside] = (1 - alpha) * out[inside] + alpha * color
        out[mask_contour(inside)] = color
    return np.clip(out, 0, 255).astype(np.uint8)


def overlay_clip(
    frames: Sequence[np.ndarray], objects: Sequence[Mapping[int, Any]], frame_indices: Sequence[int] | None = None
) -> list[np.ndarray]:
    """Overlays of the objects on frames of a clip.

    Args:
        frames: the clip's `(H, W, 3)` frames.
        objects: per object `{frame_index: (H, W) mask}`; an object is drawn on the frames it has a mask for.
        frame_indices: which frames to draw (default: every frame that has a mask).
    """
    if frame_indices is None:
        frame_indices = sorted({int(f) for obj in objects for f in obj})
    drawn = []
    for index in frame_indices:
        if not 0 <= index < len(frames):
            raise ValueError(f"Frame index {index} is outside the clip of {len(frames)} frames.")
        drawn.append(overlay_masks(frames[index], [obj.get(index) for obj in objects]))
    return drawn


def image_grid(images: Sequence[np.ndarray], columns: int | None = None) -> np.ndarray:
    """Tile equally sized `(H, W, 3)` images row by row into one image (empty cells black)."""
    if not images:
        raise ValueError("No images to put in a grid.")
    height, width = images[0].shape[:2]
    if any(image.shape[:2] != (height, width) for image in images):
        raise ValueError("All images of a grid must have the same size.")
    columns = columns or int(np.ceil(np.sqrt(len(images))))
    rows = int(np.ceil(len(images) / columns))
    grid = np.zeros((rows * height, columns * width, 3), dtype=np.uint8)
    for number, image in enumerate(images):
        row, column = divmod(number, columns)
        grid[row * height : (row + 1) * height, column * width : (column + 1) * width] = image
    return grid


def save_overlays(images: Sequence[np.ndarray], path: str | os.PathLike, fps: int = 4) -> Path:
    """Write overlays as a grid image (`.png`/`.jpg`), an animated `.gif`, or an `.mp4` (needs PyAV)."""
    from PIL import Image

    path = Path(path)
    suffix = path.suffix.lower()
    if not images:
        raise ValueError("No overlays to save.")
    if suffix in (".png", ".jpg", ".jpeg"):
        Image.fromarray(image_grid(images)).save(path)
    elif suffix == ".gif":
        pictures = [Image.fromarray(image) for image in images]
        pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=int(1000 / fps), loop=0)
    elif suffix == ".mp4":
        try:
            import av
        except ImportError as error:
            raise ValueError("Writing an .mp4 needs PyAV (`pip install av`); write a .gif or a .png grid instead.") from error
        height, width = images[0].shape[:2]
        with av.open(str(path), mode="w") as container:
            stream = container.add_stream("mpeg4", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width - width % 2, height - height % 2, "yuv420p"
            for image in images:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[: stream.height, : stream.width]), format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    else:
        raise ValueError(f"Unknown output type {suffix!r}: use .png/.jpg (grid), .gif or .mp4.")
    return path

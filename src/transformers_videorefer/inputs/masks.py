# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Object masks for VideoRefer: decoding segmentations (arrays, PIL images, COCO RLE, polygons, boxes) and
reading the per-object `{frame_index: mask}` annotations."""

import numbers
import re
from collections.abc import Mapping
from typing import Any

import numpy as np


def _is_tensor(value: Any) -> bool:
    return hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "shape")


def _check_size(height: int, width: int, expected: tuple[int, int], where: str, what: str) -> None:
    if (height, width) != tuple(expected):
        raise ValueError(
            f"{where}: the {what} is {height}x{width} (height x width) but the clip is {expected[0]}x{expected[1]}; "
            "masks must be given at the clip's resolution."
        )


def compressed_rle_counts(counts: str | bytes, where: str = "RLE") -> list[int]:
    """Run lengths of a COCO compressed RLE string (COCO's 6-bit, delta-coded variable-length format).

    Decoded here, in Python, so that malformed strings are refused before they reach pycocotools' C decoder,
    which writes runs without bounds checks.
    """
    try:
        data = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
    except UnicodeEncodeError as error:
        raise ValueError(f"{where}: compressed RLE 'counts' holds a character outside COCO's alphabet ('0' to 'o').") from error
    run_lengths: list[int] = []
    position = 0
    while position < len(data):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(data):
                raise ValueError(f"{where}: the compressed RLE 'counts' string ends in the middle of a number.")
            code = data[position] - 48
            if not 0 <= code < 64:
                raise ValueError(f"{where}: compressed RLE 'counts' holds a character outside COCO's alphabet ('0' to 'o').")
            value |= (code & 0x1F) << (5 * shift)
            more = bool(code & 0x20)
            position += 1
            shift += 1
            if not more and code & 0x10:
                value |= -1 << (5 * shift)
        if len(run_lengths) > 2:
            value += run_lengths[-2]
        run_lengths.append(value)
    return run_lengths


def _decode_rle(rle: Mapping, size: tuple[int, int], where: str) -> np.ndarray:
    from pycocotools import mask as mask_utils

    if "size" not in rle or "counts" not in rle:
        raise ValueError(f"{where}: a COCO RLE needs 'size' and 'counts', got keys {sorted(rle)}.")
    rle_size = rle["size"]
    if (
        not isinstance(rle_size, (list, tuple))
        or len(rle_size) != 2
        or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in rle_size)
    ):
        raise ValueError(f"{where}: RLE 'size' must be [height, width], got {rle_size!r}.")
    _check_size(int(rle_size[0]), int(rle_size[1]), size, where, "RLE")
    counts = rle["counts"]
    height, width = size
    if isinstance(counts, (list, tuple)):
        if not all(isinstance(c, numbers.Integral) and not isinstance(c, bool) and c >= 0 for c in counts):
            raise ValueError(f"{where}: uncompressed RLE 'counts' must be non-negative integers.")
        if sum(int(c) for c in counts) != height * width:
            raise ValueError(
                f"{where}: uncompressed RLE 'counts' cover {sum(int(c) for c in counts)} pixels, the clip has "
                f"{height * width} ({height}x{width})."
            )
        encoded = mask_utils.frPyObjects({"size": [height, width], "counts": [int(c) for c in counts]}, height, width)
    elif isinstance(counts, (str, bytes)):
        run_lengths = compressed_rle_counts(counts, where)
        if sum(run_lengths) != height * width or min(run_lengths, default=0) < 0:
            raise ValueError(
                f"{where}: the compressed RLE 'counts' do not describe a {height}x{width} mask (runs cover "
                f"{sum(run_lengths)} pixels)."
            )
        encoded = mask_utils.frPyObjects({"size": [height, width], "counts": run_lengths}, height, width)
    else:
        raise TypeError(f"{where}: RLE 'counts' must be a string (compressed) or a list of ints, got {type(counts).__name__}.")
    decoded = mask_utils.decode(encoded)
    if decoded.shape[:2] != (height, width):
        raise ValueError(f"{where}: the RLE decodes to shape {decoded.shape[:2]}, expected {(height, width)}.")
    return decoded.astype(np.uint8)


# Polygon vertices may lie outside the clip, but not absurdly far: pycocotools rasterises the whole polygon, so its
# memory grows with the coordinates (and it crashes on huge ones).
POLYGON_COORDINATE_LIMIT = 4


def _finite_float(value: Any, where: str, what: str) -> float:
    try:
        number = float(value)
    except OverflowError as error:
        raise ValueError(f"{where}: {what} must be finite numbers of a sensible size, got {value!r:.40}.") from error
    if not np.isfinite(number):
        raise ValueError(f"{where}: {what} must be finite numbers, got {value!r}.")
    return number


def _decode_polygons(polygons: list, size: tuple[int, int], where: str) -> np.ndarray:
    from pycocotools import mask as mask_utils

    if polygons and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in polygons):
        polygons = [polygons]
    cleaned = []
    for polygon in polygons:
        if not isinstance(polygon, (list, tuple)) or not all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in polygon
        ):
            raise TypeError(f"{where}: a polygon must be a flat list of numbers [x1, y1, x2, y2, ...].")
        if len(polygon) < 6 or len(polygon) % 2:
            raise ValueError(f"{where}: a polygon needs an even number (>= 6) of coordinates, got {len(polygon)}.")
        values = [_finite_float(v, where, "polygon coordinates") for v in polygon]
        limit = POLYGON_COORDINATE_LIMIT * max(size)
        if any(abs(v) > limit for v in values):
            raise ValueError(
                f"{where}: polygon coordinates must lie near the {size[1]}x{size[0]} clip (within {limit:g} pixels), "
                f"got values up to {max(abs(v) for v in values):g}."
            )
        cleaned.append(values)
    if not cleaned:
        raise ValueError(f"{where}: an empty list is not a segmentation (give polygons, an RLE or a mask array).")
    height, width = size
    encoded = mask_utils.merge(mask_utils.frPyObjects(cleaned, height, width))
    mask = mask_utils.decode(encoded).astype(np.uint8)
    if not mask.any():
        raise ValueError(
            f"{where}: the polygon(s) cover no pixel of the {width}x{height} clip (collinear points, zero area, or "
            "outside the clip); a polygon must enclose the object."
        )
    return mask


def box_to_mask(box: Any, size: tuple[int, int], where: str = "box") -> np.ndarray:
    """A mask with ones inside the box `[x1, y1, x2, y2]` (pixels, clipped to the clip)."""
    if _is_tensor(box):
        box = box.detach().cpu().tolist()
    if isinstance(box, np.ndarray):
        box = box.tolist()
    if not isinstance(box, (list, tuple)) or len(box) != 4:
        raise ValueError(f"{where}: a box must be [x1, y1, x2, y2], got {box!r}.")
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in box):
        raise TypeError(f"{where}: box coordinates must be numbers, got {box!r}.")
    x1, y1, x2, y2 = (_finite_float(v, where, "box coordinates") for v in box)
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"{where}: a box needs x2 > x1 and y2 > y1, got {box!r}.")
    height, width = size
    if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
        raise ValueError(f"{where}: the box {box!r} lies outside the {width}x{height} clip.")
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[max(int(np.floor(y1)), 0) : min(int(np.ceil(y2)), height), max(int(np.floor(x1)), 0) : min(int(np.ceil(x2)), width)] = 1
    return mask


def decode_segmentation(segmentation: Any, size: tuple[int, int], where: str = "mask") -> np.ndarray:
    """Decode one segmentation into an `(height, width)` float32 array at the clip's `size`.

    Accepted: a 2-D numpy array / torch tensor (bool, int or float), a PIL image (non-zero = object), a COCO RLE
    dict (compressed `counts` string or uncompressed list), polygons (list of flat coordinate lists), an annotation
    dict `{"segmentation": ...}`, or None (an empty mask, as the original treats a missing segmentation).
    """
    from PIL import Image

    if isinstance(segmentation, Mapping) and "segmentation" in segmentation:
        segmentation = segmentation["segmentation"]
    if segmentation is None:
        return np.zeros(size, dtype=np.float32)
    if isinstance(segmentation, Image.Image):
        array = np.asarray(segmentation.convert("L"))
        _check_size(*array.shape, size, where, "mask image")
        return (array > 0).astype(np.float32)
    if _is_tensor(segmentation):
        segmentation = segmentation.detach().cpu().numpy()
    if isinstance(segmentation, np.ndarray):
        if segmentation.ndim == 3 and segmentation.shape[0] == 1:
            segmentation = segmentation[0]
        if segmentation.ndim != 2:
            raise ValueError(f"{where}: a mask array must be 2-D (height, width), got shape {segmentation.shape}.")
        if not (np.issubdtype(segmentation.dtype, np.number) or segmentation.dtype == np.bool_):
            raise TypeError(f"{where}: a mask array must be numeric or boolean, got dtype {segmentation.dtype}.")
        _check_size(*segmentation.shape, size, where, "mask")
        array = segmentation.astype(np.float32)
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{where}: the mask holds NaN or infinite values.")
        return array
    if isinstance(segmentation, Mapping):
        return _decode_rle(segmentation, size, where).astype(np.float32)
    if isinstance(segmentation, (list, tuple)):
        return _decode_polygons(list(segmentation), size, where).astype(np.float32)
    raise TypeError(
        f"{where}: a mask must be a numpy array, a torch tensor, a PIL image, a COCO RLE dict or polygons, got "
        f"{type(segmentation).__name__}."
    )


FRAME_KEY = re.compile(r"\s*-?[0-9]+\s*")


def _frame_key(key: Any, where: str) -> int:
    if isinstance(key, bool):
        raise TypeError(f"{where}: frame index {key!r} must be an int.")
    if isinstance(key, numbers.Integral):
        return int(key)
    if isinstance(key, str) and FRAME_KEY.fullmatch(key):
        return int(key)
    raise TypeError(f"{where}: frame index {key!r} must be an int (or a string of digits, as in JSON).")


def normalize_object(obj: Any, is_image: bool, where: str) -> dict[int, Any]:
    """An object annotation as `{frame_index: segmentation}`, in the annotation's order.

    The order is kept as given (the original pools and merges an object's masks in its annotation's key order, which
    can change the region tokens). For an image, a bare segmentation (not a dict of frames) is the mask on frame 0.
    """
    if isinstance(obj, Mapping) and obj and not ({"segmentation", "size", "counts"} & set(obj)):
        frames = {}
        for key, value in obj.items():
            index = _frame_key(key, where)
            if index in frames:
                raise ValueError(f"{where}: frame {index} is given twice (keys {key!r} and another).")
            frames[index] = value
    elif is_image and not (isinstance(obj, Mapping) and not obj):
        frames = {0: obj}
    elif isinstance(obj, Mapping) and not obj:
        raise ValueError(f"{where}: an object needs at least one {{frame_index: mask}} entry, got an empty dict.")
    else:
        raise TypeError(
            f"{where}: a video object must be a dict {{frame_index: mask}} (frame indices of the original clip), "
            f"got {type(obj).__name__}."
        )
    for index in frames:
        if index < 0:
            raise ValueError(f"{where}: frame index {index} is negative; frame indices count from 0.")
        if is_image and index != 0:
            raise ValueError(f"{where}: an image has a single frame, 0; got a mask for frame {index}.")
    return frames

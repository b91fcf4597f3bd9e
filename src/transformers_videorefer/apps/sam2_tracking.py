"""Click-to-mask and mask tracking for the interactive demo, on transformers' native SAM2 video model.

The demo lets a user click points (or drag a box) on one frame, shows the SAM2 mask, and then tracks every
prompted object through the clip so that VideoRefer gets one mask per object per frame. Everything here goes
through `transformers.Sam2VideoModel` and `transformers.Sam2VideoProcessor`; no separate SAM2 repository is used.

Coordinates are pixels of the original frames: points are `(x, y)`, boxes `[x1, y1, x2, y2]`. Masks come back
as `numpy` bool arrays of shape `(H, W)`, the size of the frames.

`Sam2VideoProcessor`'s own image and video processors are torchvision-backed. Where torchvision is not
installed, `from_pretrained` builds the processor from :func:`build_torch_sam2_processor` (plain torch resize
and normalisation, same interface), so the tracker also runs on machines without torchvision.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from transformers import Sam2VideoModel, Sam2VideoProcessor
from transformers.utils import is_torchvision_available

from .sam2_torch_processor import TorchBackedSam2VideoProcessor, build_torch_sam2_processor

__all__ = ["Sam2Tracker", "TorchBackedSam2VideoProcessor", "build_torch_sam2_processor"]

DEFAULT_SAM2_CHECKPOINT = "facebook/sam2.1-hiera-large"
_PROMPT_KEYS = frozenset({"frame", "points", "labels", "box"})


# --------------------------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and np.isfinite(float(value))


def _validate_frames(frames: Any) -> tuple[int, int, int]:
    """Check a clip; return `(num_frames, H, W)`."""
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4:
            raise ValueError(f"frames as one array must have shape (T, H, W, 3), got {frames.shape}")
    elif not isinstance(frames, (list, tuple)):
        raise TypeError(f"frames must be a list of (H, W, 3) uint8 numpy arrays, got {type(frames).__name__}")
    if len(frames) == 0:
        raise ValueError("frames is empty: expected at least one (H, W, 3) uint8 frame")
    shape = None
    for i, frame in enumerate(frames):
        if not isinstance(frame, np.ndarray):
            raise TypeError(f"frames[{i}] must be a numpy array of shape (H, W, 3), got {type(frame).__name__}")
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frames[{i}] must have shape (H, W, 3), got {frame.shape}")
        if frame.dtype != np.uint8:
            raise TypeError(f"frames[{i}] must be uint8, got {frame.dtype}")
        if shape is None:
            shape = frame.shape
        elif frame.shape != shape:
            raise ValueError(f"all frames must have the same shape; frames[0] is {shape}, frames[{i}] is {frame.shape}")
    return len(frames), int(shape[0]), int(shape[1])


def _validate_frame_index(frame_index: Any, num_frames: int, name: str = "frame_index") -> int:
    if not _is_int(frame_index):
        raise TypeError(f"{name} must be an int, got {type(frame_index).__name__}")
    if not 0 <= frame_index < num_frames:
        raise ValueError(f"{name} {frame_index} is out of range: expected 0 <= {name} < {num_frames} (number of frames)")
    return int(frame_index)


def _validate_prompt(
    points: Any, labels: Any, box: Any, height: int, width: int, where: str = ""
) -> tuple[list[list[float]] | None, list[int] | None, list[float] | None]:
    """Check one object's prompt against an `(H, W)` frame; return plain-list `(points, labels, box)`.

    Points are `(x, y)` with `0 <= x < W`, `0 <= y < H`; labels 1 (foreground) or 0 (background), one per
    point, all 1 when omitted; a box is `[x1, y1, x2, y2]` with `0 <= x1 < x2 <= W`, `0 <= y1 < y2 <= H`.
    """
    prefix = f"{where}: " if where else ""
    if points is None and box is None:
        raise ValueError(f"{prefix}give clicked points (list of (x, y)) and/or a box [x1, y1, x2, y2]; got neither")
    out_points = out_labels = out_box = None
    if points is not None:
        if isinstance(points, np.ndarray):
            points = points.tolist()
        if not isinstance(points, (list, tuple)) or len(points) == 0:
            raise ValueError(f"{prefix}points must be a non-empty list of (x, y) pairs, got {points!r}")
        out_points = []
        for i, point in enumerate(points):
            if not isinstance(point, (list, tuple, np.ndarray)) or len(point) != 2 or not all(map(_is_number, point)):
                raise ValueError(f"{prefix}points[{i}] must be an (x, y) pair of finite numbers, got {point!r}")
            x, y = float(point[0]), float(point[1])
            if not (0 <= x < width and 0 <= y < height):
                raise ValueError(
                    f"{prefix}points[{i}] = ({x:g}, {y:g}) is outside the frame: expected 0 <= x < {width} and 0 <= y < {height}"
                )
            out_points.append([x, y])
        if labels is None:
            out_labels = [1] * len(out_points)
        else:
            if isinstance(labels, np.ndarray):
                labels = labels.tolist()
            if not isinstance(labels, (list, tuple)):
                raise TypeError(f"{prefix}labels must be a list of 0/1 ints, got {type(labels).__name__}")
            if len(labels) != len(out_points):
                raise ValueError(
                    f"{prefix}expected one label per point: {len(out_points)} points but {len(labels)} labels"
                )
            if not all(_is_int(label) and label in (0, 1) for label in labels):
                raise ValueError(f"{prefix}labels must be 1 (foreground) or 0 (background), got {list(labels)!r}")
            out_labels = [int(label) for label in labels]
    elif labels is not None:
        raise ValueError(f"{prefix}labels were given without points")
    if box is not None:
        if isinstance(box, np.ndarray):
            box = box.tolist()
        if not isinstance(box, (list, tuple)) or len(box) != 4 or not all(map(_is_number, box)):
            raise ValueError(f"{prefix}box must be [x1, y1, x2, y2] (4 finite numbers), got {box!r}")
        x1, y1, x2, y2 = (float(v) for v in box)
        if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
            raise ValueError(
                f"{prefix}box {[x1, y1, x2, y2]} is invalid: expected 0 <= x1 < x2 <= {width} and 0 <= y1 < y2 <= {height}"
            )
        out_box = [x1, y1, x2, y2]
    return out_points, out_labels, out_box


# --------------------------------------------------------------------------------------------------------------
# the tracker
# --------------------------------------------------------------------------------------------------------------


class Sam2Tracker:
    """Point/box prompts to masks, and masks tracked through a clip, with `Sam2VideoModel`.

    Args:
        model: a `transformers.Sam2VideoModel` (put in eval mode here; dropout would make tracking random).
        processor: a `transformers.Sam2VideoProcessor` whose image size matches `model.config.image_size`.
        device: where to run; defaults to the model's device. The model is moved there.
    """

    def __init__(self, model: Sam2VideoModel, processor: Sam2VideoProcessor, device: str | torch.device | None = None):
        if not isinstance(model, Sam2VideoModel):
            raise TypeError(f"model must be a transformers.Sam2VideoModel, got {type(model).__name__}")
        for method in ("init_video_session", "add_inputs_to_inference_session", "post_process_masks"):
            if not callable(getattr(processor, method, None)):
                raise TypeError(f"processor must be a Sam2VideoProcessor (no {method}), got {type(processor).__name__}")
        if device is not None:
            model = model.to(device)
        self.model = model.eval()
        self.processor = processor
        self.device = torch.device(device) if device is not None else next(model.parameters()).device

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str = DEFAULT_SAM2_CHECKPOINT,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> Sam2Tracker:
        """Load a SAM2 video checkpoint with transformers (`Sam2VideoModel` / `Sam2VideoProcessor`).

        Without torchvision, the processor is :func:`build_torch_sam2_processor` sized from the model config.
        """
        model = Sam2VideoModel.from_pretrained(name_or_path, dtype=dtype)
        if is_torchvision_available():
            processor = Sam2VideoProcessor.from_pretrained(name_or_path)
        else:
            image_size = model.config.image_size
            processor = build_torch_sam2_processor(image_size if _is_int(image_size) else int(image_size[0]))
        return cls(model, processor, device=device)

    # ----------------------------------------------------------------------------------------------------------

    def _new_session(self, frames: Sequence[np.ndarray]) -> Any:
        video = np.stack(list(frames), axis=0)  # (T, H, W, 3) uint8
        return self.processor.init_video_session(
            video=video, inference_device=self.device, dtype=self.model.dtype
        )

    def _add_prompt(
        self,
        session: Any,
        frame_idx: int,
        obj_id: int,
        points: list[list[float]] | None,
        labels: list[int] | None,
        box: list[float] | None,
    ) -> Any:
        """Add one object's prompt on one frame, then run the model on that frame (SAM2 needs a forward after
        each add: a second add before it replaces the first object's pending inputs)."""
        kwargs: dict[str, Any] = {}
        if points is not None:
            kwargs["input_points"] = [[points]]  # [image, object, point, (x, y)]
            kwargs["input_labels"] = [[labels]]  # [image, object, point]
        if box is not None:
            kwargs["input_boxes"] = [[box]]  # [image, box, (x1, y1, x2, y2)]
        self.processor.add_inputs_to_inference_session(
            inference_session=session, frame_idx=frame_idx, obj_ids=obj_id, **kwargs
        )
        with torch.inference_mode():
            return self.model(inference_session=session, frame_idx=frame_idx)

    def _to_masks(self, pred_masks: torch.Tensor, height: int, width: int) -> np.ndarray:
        """`(N, 1, h, w)` logits -> `(N, H, W)` bool."""
        masks = self.processor.post_process_masks([pred_masks.float().cpu()], [[height, width]], binarize=True)[0]
        return masks[:, 0].cpu().numpy().astype(bool)

    # ----------------------------------------------------------------------------------------------------------

    def segment(
        self,
        frames: Sequence[np.ndarray],
        frame_index: int,
        points: Sequence[Sequence[float]] | None = None,
        labels: Sequence[int] | None = None,
        box: Sequence[float] | None = None,
    ) -> np.ndarray:
        """Mask of one object on one frame from clicks and/or a box.

        Args:
            frames: the clip, `T` arrays of shape `(H, W, 3)`, uint8 RGB.
            frame_index: the frame that was clicked, `0 <= frame_index < T`.
            points: clicked `(x, y)` pixels; `labels` gives 1 (foreground) / 0 (background) per point (all 1
                when omitted).
            box: `[x1, y1, x2, y2]` in pixels.

        Returns:
            `(H, W)` bool mask.
        """
        num_frames, height, width = _validate_frames(frames)
        frame_index = _validate_frame_index(frame_index, num_frames)
        points_, labels_, box_ = _validate_prompt(points, labels, box, height, width)
        # only the clicked frame is needed: a one-frame session avoids preprocessing the whole clip
        session = self._new_session([frames[frame_index]])
        output = self._add_prompt(session, 0, 0, points_, labels_, box_)
        return self._to_masks(output.pred_masks, height, width)[0]

    def track(
        self,
        frames: Sequence[np.ndarray],
        prompts: Sequence[Mapping[str, Any]],
        frame_indices: Iterable[int] | None = None,
    ) -> dict[int, dict[int, np.ndarray]]:
        """Track prompted objects through the clip.

        Args:
            frames: the clip, `T` arrays of shape `(H, W, 3)`, uint8 RGB.
            prompts: one entry per object, `{"frame": int, "points": [(x, y), ...], "labels": [1/0, ...],
                "box": [x1, y1, x2, y2]}`; `points` and/or `box` required, `labels` optional (all 1).
            frame_indices: frames to return (default: all). Tracking still runs through the frames between the
                prompts and the requested ones.

        Returns:
            `{object_id: {frame_index: (H, W) bool mask}}`, object ids being positions in `prompts`.

        Propagation runs forward from the earliest prompted frame to the last requested frame, then backward
        from the earliest prompted frame to frame 0 (or the first requested frame) when that frame is not 0.
        """
        num_frames, height, width = _validate_frames(frames)
        if isinstance(prompts, Mapping) or not isinstance(prompts, (list, tuple)):
            raise TypeError(f"prompts must be a list of dicts (one per object), got {type(prompts).__name__}")
        if len(prompts) == 0:
            raise ValueError("prompts is empty: expected at least one {'frame', 'points'/'box'} dict")
        parsed = []
        for obj_id, prompt in enumerate(prompts):
            where = f"prompts[{obj_id}]"
            if not isinstance(prompt, Mapping):
                raise TypeError(f"{where} must be a dict with 'frame' and 'points'/'box', got {type(prompt).__name__}")
            unknown = set(prompt) - _PROMPT_KEYS
            if unknown:
                raise ValueError(f"{where} has unknown keys {sorted(unknown)}; expected keys {sorted(_PROMPT_KEYS)}")
            if "frame" not in prompt:
                raise ValueError(f"{where} needs a 'frame' (index of the prompted frame)")
            frame = _validate_frame_index(prompt["frame"], num_frames, name=f"{where}['frame']")
            parsed.append(
                (frame, *_validate_prompt(prompt.get("points"), prompt.get("labels"), prompt.get("box"), height, width, where))
            )
        if frame_indices is None:
            wanted = list(range(num_frames))
        else:
            if isinstance(frame_indices, (str, bytes)) or not isinstance(frame_indices, Iterable):
                raise TypeError(f"frame_indices must be a list of ints, got {type(frame_indices).__name__}")
            wanted = sorted({_validate_frame_index(i, num_frames, name="frame_indices entry") for i in frame_indices})
            if not wanted:
                raise ValueError("frame_indices is empty: expected at least one frame index (or None for all)")
        wanted_set = set(wanted)

        session = self._new_session(frames)
        for obj_id, (frame, points_, labels_, box_) in enumerate(parsed):
            self._add_prompt(session, frame, obj_id, points_, labels_, box_)

        result: dict[int, dict[int, np.ndarray]] = {obj_id: {} for obj_id in range(len(parsed))}

        def collect(outputs: Iterable[Any]) -> None:
            for output in outputs:
                if output.frame_idx not in wanted_set:
                    continue
                masks = self._to_masks(output.pred_masks, height, width)
                for row, obj_id in enumerate(output.object_ids):
                    result[int(obj_id)][int(output.frame_idx)] = masks[row]

        start = min(frame for frame, *_ in parsed)
        with torch.inference_mode():
            last = max(wanted[-1], start)
            collect(
                self.model.propagate_in_video_iterator(
                    session, start_frame_idx=start, max_frame_num_to_track=last - start, reverse=False
                )
            )
            if wanted[0] < start:
                collect(
                    self.model.propagate_in_video_iterator(
                        session, start_frame_idx=start, max_frame_num_to_track=start - wanted[0], reverse=True
                    )
                )
        return {obj_id: dict(sorted(masks.items())) for obj_id, masks in result.items()}

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The interactive demo: click an object, SAM2 segments it (and tracks it through the clip), VideoRefer answers.

`DemoSession` holds the state and does the work (usable and tested without a browser); `build_demo` wires it into a
Gradio app; `videorefer demo` serves it.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from threading import Thread
from typing import Any

import numpy as np
import torch
from pycocotools import mask as mask_utils

from ..inputs.media import load_image, open_clip
from .sam2_tracking import Sam2Tracker
from .visualization import overlay_masks

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
DESCRIBE = "Please describe [<region>] in detail."
MAX_FRAMES = 600


@dataclass
class DemoObject:
    """An object being marked: its clicks per frame and its masks per frame (clip resolution)."""

    points: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    labels: dict[int, list[int]] = field(default_factory=dict)
    boxes: dict[int, list[float]] = field(default_factory=dict)
    masks: dict[int, np.ndarray] = field(default_factory=dict)


class DemoSession:
    """One user's demo state: the clip, the objects and their masks, and the models.

    Args:
        model, processor: VideoRefer (`VideoReferForConditionalGeneration`, `VideoReferProcessor`).
        tracker: a `Sam2Tracker` for clicks -> masks.
        max_new_tokens: answer length.
    """

    def __init__(self, model: Any, processor: Any, tracker: Sam2Tracker, max_new_tokens: int = 256):
        self.model = model
        self.processor = processor
        self.tracker = tracker
        self.max_new_tokens = max_new_tokens
        self.frames: list[np.ndarray] = []
        self.is_image = False
        self.media: str | None = None
        self.objects: list[DemoObject] = []
        self._box_corner: tuple[int, float, float] | None = None

    # ------------------------------------------------------------------------------------------------ media
    def load(self, path: str) -> int:
        """Load a video (file, gif, frame folder) or an image; forget earlier objects. Returns the frame count."""
        self.is_image = path.lower().endswith(IMAGE_SUFFIXES)
        if self.is_image:
            self.frames = [load_image(path)]
        else:
            clip = open_clip(path)
            if clip.num_frames > MAX_FRAMES:
                raise ValueError(f"The clip has {clip.num_frames} frames; the demo takes at most {MAX_FRAMES}.")
            self.frames = clip.get_frames(range(clip.num_frames))
        self.media = path
        self.objects = [DemoObject()]
        return len(self.frames)

    def _check_frame(self, frame_index: int) -> None:
        if not self.frames:
            raise ValueError("Load a video or an image first.")
        if not 0 <= frame_index < len(self.frames):
            raise ValueError(f"Frame {frame_index} is outside the clip (0 to {len(self.frames) - 1}).")

    # ---------------------------------------------------------------------------------------------- objects
    def new_object(self) -> int:
        """Start marking another object; returns its index."""
        self.objects.append(DemoObject())
        return len(self.objects) - 1

    def click(self, frame_index: int, x: float, y: float, positive: bool = True, object_index: int = -1) -> np.ndarray:
        """Add a click on a frame to an object (default: the last one) and re-segment it there with SAM2.

        Returns the object's `(H, W)` bool mask on that frame.
        """
        self._check_frame(frame_index)
        obj = self.objects[object_index]
        obj.points.setdefault(frame_index, []).append((float(x), float(y)))
        obj.labels.setdefault(frame_index, []).append(1 if positive else 0)
        return self._segment(obj, frame_index)

    def box_corner(self, frame_index: int, x: float, y: float, object_index: int = -1) -> np.ndarray | None:
        """A click that sets a box corner: the second corner (on the same frame) makes the box and segments it.

        Returns the object's mask on the frame once the box is complete, else None.
        """
        self._check_frame(frame_index)
        if self._box_corner is None or self._box_corner[0] != frame_index:
            self._box_corner = (frame_index, float(x), float(y))
            return None
        _, x0, y0 = self._box_corner
        self._box_corner = None
        if x == x0 or y == y0:
            raise ValueError("The two corners of a box must differ in x and in y.")
        obj = self.objects[object_index]
        obj.boxes[frame_index] = [min(x0, x), min(y0, y), max(x0, x), max(y0, y)]
        return self._segment(obj, frame_index)

    def _segment(self, obj: DemoObject, frame_index: int) -> np.ndarray:
        mask = self.tracker.segment(
            self.frames,
            frame_index,
            points=obj.points.get(frame_index),
            labels=obj.labels.get(frame_index),
            box=obj.boxes.get(frame_index),
        )
        obj.masks[frame_index] = mask
        return mask

    def sampled_frames(self) -> list[int]:
        """The frames VideoRefer samples from this clip (where tracking is enough for the question)."""
        from ..inputs.media import sample_frame_indices

        return sorted(set(sample_frame_indices(len(self.frames), self.processor.num_frames)))

    def propagate(self, object_index: int = -1, frame_indices: list[int] | None = None) -> int:
        """Track an object from its clicked frames through the clip (all frames, or `frame_indices`).

        Returns the number of frames the object now has a mask on.
        """
        obj = self.objects[object_index]
        prompted = set(obj.points) | set(obj.boxes)
        if not prompted:
            raise ValueError("Click on the object first: tracking starts from a clicked frame.")
        frame = min(prompted)
        prompt: dict[str, Any] = {"frame": frame}
        if frame in obj.points:
            prompt.update(points=obj.points[frame], labels=obj.labels[frame])
        if frame in obj.boxes:
            prompt["box"] = obj.boxes[frame]
        prompts = [prompt]
        tracked = self.tracker.track(self.frames, prompts, frame_indices=frame_indices)[0]
        obj.masks.update(tracked)
        return len(obj.masks)

    def marked_objects(self) -> list[DemoObject]:
        return [obj for obj in self.objects if obj.masks]

    def overlay(self, frame_index: int) -> np.ndarray:
        """The frame with every object's mask on it, each in its own colour."""
        self._check_frame(frame_index)
        return overlay_masks(self.frames[frame_index], [obj.masks.get(frame_index) for obj in self.objects])

    def export_masks(self) -> str:
        """The objects' masks as JSON: a list of objects `{frame index: COCO RLE}` (what `videorefer ask` reads)."""
        exported = []
        for obj in self.marked_objects():
            entry = {}
            for frame, mask in sorted(obj.masks.items()):
                rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
                entry[str(frame)] = {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
            exported.append(entry)
        return json.dumps(exported)

    # -------------------------------------------------------------------------------------------------- ask
    def prepare(self, question: str) -> Any:
        """The processor's inputs for `question` about the marked objects (one `<region>` per object, in order)."""
        objects = self.marked_objects()
        if not objects:
            raise ValueError("Mark at least one object (click on it) before asking.")
        if question.count("<region>") != len(objects):
            raise ValueError(
                f"The question holds {question.count('<region>')} <region> marker(s) but {len(objects)} object(s) "
                "are marked: write one [<region>] per object, in the order they were marked."
            )
        kind = "image" if self.is_image else "video"
        messages = [{"role": "user", "content": [{"type": kind}, {"type": "text", "text": question}]}]
        text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        masks = [dict(obj.masks) for obj in objects]
        media = {"images": [self.frames[0]]} if self.is_image else {"videos": [self.frames]}
        inputs = self.processor(text=[text], masks=[masks], **media)
        return inputs.to(self.model.device, dtype=self.model.dtype)

    def ask(self, question: str) -> Iterator[str]:
        """Stream the answer: yields the text so far after each new piece."""
        from transformers import TextIteratorStreamer

        inputs = self.prepare(question)
        streamer = TextIteratorStreamer(self.processor.tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = {**inputs, "max_new_tokens": self.max_new_tokens, "do_sample": False, "streamer": streamer}
        thread = Thread(target=self._generate, kwargs=kwargs, daemon=True)
        thread.start()
        answer = ""
        for piece in streamer:
            answer += piece
            yield answer
        thread.join()

    @torch.inference_mode()
    def _generate(self, **kwargs: Any) -> None:
        self.model.generate(**kwargs)


def build_demo(session: DemoSession) -> Any:
    """The Gradio app over `session` (one session, for a local demo)."""
    import gradio as gr

    def load(path):
        if path is None:
            raise gr.Error("Upload a video or an image.")
        try:
            count = session.load(path if isinstance(path, str) else path.name)
        except (ValueError, TypeError, FileNotFoundError) as error:
            raise gr.Error(str(error)) from error
        return gr.Slider(minimum=0, maximum=count - 1, value=0, step=1, interactive=count > 1), session.overlay(0), f"{count} frame(s) loaded"

    def show(frame_index):
        return session.overlay(int(frame_index)) if session.frames else None

    def click(frame_index, point_kind, event: gr.SelectData):
        x, y = event.index
        try:
            if point_kind == "box corner":
                if session.box_corner(int(frame_index), x, y) is None:
                    return session.overlay(int(frame_index)), "box: click the opposite corner"
            else:
                session.click(int(frame_index), x, y, positive=point_kind == "object")
        except (ValueError, TypeError) as error:
            raise gr.Error(str(error)) from error
        return session.overlay(int(frame_index)), f"object {len(session.objects)}: mask on frame {int(frame_index)}"

    def propagate(frame_index, which):
        try:
            count = session.propagate(frame_indices=session.sampled_frames() if which == "sampled frames" else None)
        except (ValueError, TypeError) as error:
            raise gr.Error(str(error)) from error
        return session.overlay(int(frame_index)), f"object {len(session.objects)} tracked on {count} frame(s)"

    def new_object():
        return f"marking object {session.new_object() + 1}"

    def ask(question):
        try:
            yield from session.ask(question)
        except (ValueError, TypeError) as error:
            raise gr.Error(str(error)) from error

    def export():
        path = "videorefer_masks.json"
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(session.export_masks())
        return path

    with gr.Blocks(title="VideoRefer demo") as demo:
        gr.Markdown("## VideoRefer: click an object, ask about it\nUpload a clip, click on an object (SAM2 segments it), "
                    "optionally track it through the clip, then ask with one `[<region>]` per object.")
        with gr.Row():
            media = gr.File(label="video or image", file_types=["video", "image", ".gif"], elem_id="media")
            status = gr.Textbox(label="status", interactive=False, elem_id="status")
        frame = gr.Slider(0, 1, value=0, step=1, label="frame", elem_id="frame")
        view = gr.Image(label="click on the object", type="numpy", interactive=False, elem_id="view")
        with gr.Row():
            point_kind = gr.Radio(["object", "background", "box corner"], value="object", label="click marks")
            track_frames = gr.Radio(["all frames", "sampled frames"], value="all frames", label="track on")
            add = gr.Button("Add another object", elem_id="add-object")
            track = gr.Button("Track through the clip", elem_id="track")
            download = gr.Button("Download masks (RLE JSON)", elem_id="download")
        masks_file = gr.File(label="masks", interactive=False)
        question = gr.Textbox(value=DESCRIBE, label="question", elem_id="question")
        ask_button = gr.Button("Ask", variant="primary", elem_id="ask")
        answer = gr.Textbox(label="answer", interactive=False, elem_id="answer")

        media.upload(load, media, [frame, view, status])
        frame.change(show, frame, view)
        view.select(click, [frame, point_kind], [view, status])
        track.click(propagate, [frame, track_frames], [view, status])
        add.click(new_object, None, status)
        download.click(export, None, masks_file)
        ask_button.click(ask, question, answer)
    return demo

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The interactive demo: click an object, SAM2 segments it (and tracks it through the clip), VideoRefer answers.

`DemoSession` holds one user's state and does the work (usable and tested without a browser); `build_demo` wires it
into a Gradio app where every browser tab gets its own session (its own clip, objects, clicks, masks and download
folder) while the model, processor and SAM2 tracker are loaded once and shared; `videorefer demo` serves it.
"""

import json
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
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
MASKS_FILENAME = "videorefer_masks.json"
DOWNLOAD_DIR_PREFIX = "videorefer-demo-"
MODELS_CONCURRENCY_ID = "videorefer-models"  # the Gradio events that run the shared models, one at a time


@dataclass
class DemoObject:
    """An object being marked: its clicks per frame and its masks per frame (clip resolution)."""

    points: dict[int, list[tuple[float, float]]] = field(default_factory=dict)
    labels: dict[int, list[int]] = field(default_factory=dict)
    boxes: dict[int, list[float]] = field(default_factory=dict)
    masks: dict[int, np.ndarray] = field(default_factory=dict)


class DemoSession:
    """One user's demo state: the clip, the objects and their masks, and (shared, never copied) the models.

    `fork()` makes another user's session over the same models. Mask downloads go to a temporary folder of this
    session's own, removed by `close()`, when the session is garbage-collected, or when the process exits.

    Args:
        model, processor: a VideoRefer model and its processor, of either family (VideoRefer-7B or
            VideoRefer-VideoLLaMA3: `evaluation.families` says how each samples frames and takes masks).
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
        self._download_dir: Path | None = None
        self._cleanup: weakref.finalize | None = None

    def fork(self) -> "DemoSession":
        """A new, empty session (no clip, no objects, no download folder) sharing this one's model, processor and
        tracker: what each browser tab of the demo gets."""
        return DemoSession(self.model, self.processor, self.tracker, max_new_tokens=self.max_new_tokens)

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

    @property
    def family(self) -> Any:
        """The model's family (`evaluation.families`): its frame sampling, `<region>` layout and chat messages."""
        from ..evaluation.families import family_of_loaded

        return family_of_loaded(self.model, self.processor)

    def _video(self) -> Any:
        """The clip as the processor gets it: the file (families that sample by time need its frame rate) or the
        decoded frames."""
        return self.media if self.family.samples_by_time and self.media is not None else self.frames

    def sampled_frames(self) -> list[int]:
        """The frames the model samples from this clip (where tracking is enough for the question)."""
        if self.is_image:
            return [0]
        return self.family.sampled_frames(self.processor, open_clip(self._video()))

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
        """The objects that have a mask on at least one frame (those a question and a download are about)."""
        return [obj for obj in self.objects if obj.masks]

    def describe_objects(self) -> str:
        """One line per object: on which frames it has a mask (empty when no clip is loaded)."""
        lines = []
        for number, obj in enumerate(self.objects, start=1):
            frames = sorted(obj.masks)
            if not frames:
                lines.append(f"object {number}: no mask yet")
            else:
                where = f"frame {frames[0]}" if len(frames) == 1 else "frames " + ", ".join(map(str, frames))
                lines.append(f"object {number}: mask{'s' if len(frames) > 1 else ''} on {where}")
        return "\n".join(lines)

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

    @property
    def download_dir(self) -> Path:
        """This session's own temporary folder for downloads, made on first use (never the working directory)."""
        if self._download_dir is None:
            folder = Path(tempfile.mkdtemp(prefix=DOWNLOAD_DIR_PREFIX))
            # removes the folder on close(), when the session is garbage-collected, or at interpreter exit
            self._cleanup = weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
            self._download_dir = folder
        return self._download_dir

    def write_masks(self) -> Path:
        """Write `export_masks()` to `videorefer_masks.json` in this session's download folder; returns the path."""
        path = self.download_dir / MASKS_FILENAME
        path.write_text(self.export_masks(), encoding="utf-8")
        return path

    def close(self) -> None:
        """End the session: remove its download folder (if any). The shared models are left alone; safe to repeat."""
        if self._cleanup is not None:
            self._cleanup()
        self._cleanup = None
        self._download_dir = None

    # -------------------------------------------------------------------------------------------------- ask
    def prepare(self, question: str) -> Any:
        """The processor's inputs for `question` about the marked objects (one `<region>` per object, in order).

        The family lays the masks out: VideoRefer-7B takes every mask of an object behind its one `[<region>]`;
        VideoRefer-VideoLLaMA3 takes an object's masks on the frames it samples (all of them when none is sampled),
        one `<region>` each.
        """
        objects = self.marked_objects()
        if not objects:
            raise ValueError("Mark at least one object (click on it) before asking.")
        if question.count("<region>") != len(objects):
            raise ValueError(
                f"The question holds {question.count('<region>')} <region> marker(s) but {len(objects)} object(s) "
                "are marked: write one [<region>] per object, in the order they were marked."
            )
        family, kind = self.family, "image" if self.is_image else "video"
        sampled = self.sampled_frames()
        masks = [family.mask_frames_for_question(obj.masks, sampled) for obj in objects]
        prompt = family.layout_regions(family.question_text(question), masks)
        text = self.processor.apply_chat_template(family.messages(prompt, kind), add_generation_prompt=True, tokenize=False)
        media = {"images": [self.frames[0]]} if self.is_image else {"videos": [self._video()]}
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


def _close_session(session: DemoSession | None) -> None:
    """Gradio's `delete_callback` for a browser tab's session state: runs when the tab's session ends."""
    if session is not None:
        session.close()


def build_demo(template: DemoSession) -> Any:
    """The Gradio app: every browser tab gets its own session, a `template.fork()` sharing the template's models.

    The tab's session lives in a `gr.State`, made on the tab's first action and closed (its download folder removed)
    when Gradio ends the tab's session; the template's own objects are never used. Events that run the shared models
    (clicks, tracking, asking) go through one queue, one at a time.
    """
    import gradio as gr

    def own(session: DemoSession | None) -> DemoSession:
        return session if session is not None else template.fork()

    def load(session: DemoSession | None, path: Any) -> tuple[DemoSession, Any, np.ndarray, str, str]:
        session = own(session)
        if path is None:
            raise gr.Error("Upload a video or an image.")
        try:
            count = session.load(path if isinstance(path, str) else path.name)
        except (ValueError, TypeError, FileNotFoundError) as error:
            raise gr.Error(str(error)) from error
        slider = gr.Slider(minimum=0, maximum=count - 1, value=0, step=1, interactive=count > 1)
        return session, slider, session.overlay(0), f"{count} frame(s) loaded", session.describe_objects()

    def show(session: DemoSession | None, frame_index: float) -> np.ndarray | None:
        return session.overlay(int(frame_index)) if session is not None and session.frames else None

    def click(
        session: DemoSession | None, frame_index: float, point_kind: str, event: gr.SelectData
    ) -> tuple[DemoSession, np.ndarray, str, str]:
        session = own(session)
        x, y = event.index
        try:
            if point_kind == "box corner":
                if session.box_corner(int(frame_index), x, y) is None:
                    overlay = session.overlay(int(frame_index))
                    return session, overlay, "box: click the opposite corner", session.describe_objects()
            else:
                session.click(int(frame_index), x, y, positive=point_kind == "object")
        except (ValueError, TypeError) as error:
            raise gr.Error(str(error)) from error
        status = f"object {len(session.objects)}: mask on frame {int(frame_index)}"
        return session, session.overlay(int(frame_index)), status, session.describe_objects()

    def propagate(
        session: DemoSession | None, frame_index: float, which: str
    ) -> tuple[DemoSession, np.ndarray, str, str]:
        session = own(session)
        try:
            count = session.propagate(frame_indices=session.sampled_frames() if which == "sampled frames" else None)
        except (ValueError, TypeError) as error:
            raise gr.Error(str(error)) from error
        status = f"object {len(session.objects)} tracked on {count} frame(s)"
        return session, session.overlay(int(frame_index)), status, session.describe_objects()

    def new_object(session: DemoSession | None) -> tuple[DemoSession, str, str]:
        session = own(session)
        return session, f"marking object {session.new_object() + 1}", session.describe_objects()

    def ask(session: DemoSession | None, question: str) -> Iterator[str]:
        try:
            yield from own(session).ask(question)
        except (ValueError, TypeError) as error:
            raise gr.Error(str(error)) from error

    def export(session: DemoSession | None) -> tuple[DemoSession, str, str]:
        session = own(session)
        return session, str(session.write_masks()), session.describe_objects()

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
        masks_file = gr.File(label="masks", interactive=False, elem_id="masks")
        objects = gr.Textbox(label="objects", interactive=False, elem_id="objects")
        question = gr.Textbox(value=DESCRIBE, label="question", elem_id="question")
        ask_button = gr.Button("Ask", variant="primary", elem_id="ask")
        answer = gr.Textbox(label="answer", interactive=False, elem_id="answer")
        session = gr.State(None, delete_callback=_close_session)  # this tab's DemoSession, made on first use

        shared_models = {"concurrency_id": MODELS_CONCURRENCY_ID, "concurrency_limit": 1}
        media.upload(load, [session, media], [session, frame, view, status, objects])
        frame.change(show, [session, frame], view)
        view.select(click, [session, frame, point_kind], [session, view, status, objects], **shared_models)
        track.click(propagate, [session, frame, track_frames], [session, view, status, objects], **shared_models)
        add.click(new_object, session, [session, status, objects])
        download.click(export, session, [session, masks_file, objects])
        ask_button.click(ask, [session, question], answer, **shared_models)
    return demo

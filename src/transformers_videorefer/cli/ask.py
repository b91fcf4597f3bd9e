# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""`videorefer ask MEDIA --mask M [--frame N] ... "question"`: answer one question about marked objects.

Works with both model families; what differs between them (frame sampling options, `<region>` layout, chat messages)
comes from `evaluation.families`.
"""

import argparse
import json
import os
from typing import Any

import numpy as np

from ..dtypes import DTYPE_NAMES
from .common import fail
from .loading import DEFAULT_MODEL, ModelNotAvailableError, load_model_and_processor

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def media_kind(path: str) -> str:
    """`image` for an image file, `video` for anything else (video file, gif, frame folder)."""
    return "image" if os.path.isfile(path) and path.lower().endswith(IMAGE_EXTENSIONS) else "video"


def read_mask_argument(value: str, frame: int | None) -> dict[int, Any]:
    """One object from a `--mask` value: `{frame_index: segmentation}`.

    The value is a mask image (non-zero = object), a `.npy` array, a JSON file or an inline JSON string. JSON may
    hold a COCO RLE, polygons, or a whole object `{"frame index": segmentation}` (then `--frame` must not be given).
    """
    if os.path.isfile(value):
        lower = value.lower()
        if lower.endswith(".npy"):
            segmentation: Any = np.load(value, allow_pickle=False)
        elif lower.endswith(IMAGE_EXTENSIONS):
            from PIL import Image

            with Image.open(value) as image:
                segmentation = np.asarray(image.convert("L")) > 0
        else:
            with open(value, encoding="utf-8") as handle:
                try:
                    segmentation = json.load(handle)
                except json.JSONDecodeError as error:
                    raise ValueError(f"--mask {value}: not valid JSON ({error}).") from error
    else:
        try:
            segmentation = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"--mask {value!r} is neither an existing file nor inline JSON (COCO RLE or polygons)."
            ) from error
    if _is_whole_object(segmentation):
        if frame is not None:
            raise ValueError(f"--mask {value} already maps frame indices to masks; do not give --frame for it.")
        return {int(k): v for k, v in segmentation.items()}
    return {0 if frame is None else frame: segmentation}


def _is_whole_object(value: Any) -> bool:
    """Whether a JSON value is one object `{"frame index": segmentation, ...}`."""
    return isinstance(value, dict) and bool(value) and all(isinstance(k, str) and k.strip().isdigit() for k in value)


def read_objects_file(value: str) -> list[dict[int, Any]] | None:
    """The objects of a JSON file holding a list of objects (what the demo's "download masks" writes), else None."""
    if not (os.path.isfile(value) and value.lower().endswith(".json")):
        return None
    with open(value, encoding="utf-8") as handle:
        try:
            content = json.load(handle)
        except json.JSONDecodeError:
            return None
    if isinstance(content, list) and content and all(_is_whole_object(item) for item in content):
        return [{int(k): v for k, v in item.items()} for item in content]
    return None


def objects_from_arguments(masks: list[str], frames: list[int] | None) -> list[dict[int, Any]]:
    """Pair every `--mask` with its `--frame` (in order); without any `--frame`, masks are on frame 0.

    A `--mask` JSON file holding a list of objects (the demo's download) gives all of them, in order.
    """
    return objects_from_options([("mask", mask) for mask in masks], frames)


class _ObjectOption(argparse.Action):
    """`--mask` / `--box`: kept in their own list and, in command-line order, in `objects_in_order` (the order of
    the `<region>` markers and of the `--frame` values)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        own = list(getattr(namespace, self.dest, None) or [])
        own.append(values)
        setattr(namespace, self.dest, own)
        ordered = list(getattr(namespace, "objects_in_order", None) or [])
        ordered.append((self.dest, values))
        namespace.objects_in_order = ordered


def objects_from_options(options: list[tuple[str, Any]], frames: list[int] | None) -> list[dict[int, Any]]:
    """The objects of the `--mask` / `--box` options in command-line order, each paired with its `--frame`.

    A box becomes `{frame: ("box", [x1, y1, x2, y2])}`; it is turned into a mask at the clip's size by
    `check_objects_against_media`. A mask is read by `read_mask_argument`; a JSON file holding a list of objects (the
    demo's download) gives all of them, in order.

    Raises:
        ValueError: as many `--frame` as objects are needed (or none: frame 0); a mask that cannot be read.
    """
    frames = frames or []
    if frames and len(frames) != len(options) and all(kind == "mask" for kind, _ in options):
        raise ValueError(
            f"Got {len(options)} --mask and {len(frames)} --frame: give one --frame per --mask, or none (frame 0)."
        )
    if frames and len(frames) != len(options):
        raise ValueError(
            f"Got {len(options)} --mask/--box and {len(frames)} --frame: give one --frame per --mask or --box "
            "(in the same order), or none (frame 0)."
        )
    objects: list[dict[int, Any]] = []
    for number, (kind, value) in enumerate(options):
        frame = frames[number] if frames else None
        if kind == "box":
            objects.append({0 if frame is None else frame: ("box", list(value))})
            continue
        several = read_objects_file(value)
        if several is not None:
            if frames:
                raise ValueError(f"--mask {value} holds whole objects with their frames; do not give --frame with it.")
            objects.extend(several)
        else:
            objects.append(read_mask_argument(value, frame))
    return objects


def check_objects_against_media(media: str, objects: list[dict[int, Any]]) -> list[dict[int, Any]]:
    """Open the media and decode every object's masks at its size, before any model is loaded.

    Returns the objects with boxes replaced by their masks (what the processor receives).

    Raises:
        FileNotFoundError / ValueError / TypeError: the media cannot be opened, a frame index lies outside the clip,
            or a mask does not decode at the clip's size.
    """
    from ..inputs.masks import box_to_mask, decode_segmentation, normalize_object
    from ..inputs.media import load_image, open_clip

    is_image = media_kind(media) == "image"
    if is_image:
        height, width = load_image(media).shape[:2]
        num_frames, what = 1, f"the image {media}"
    else:
        clip = open_clip(media)
        num_frames, height, width, what = clip.num_frames, clip.height, clip.width, clip.source
    checked = []
    for number, obj in enumerate(objects):
        where = f"object {number + 1}"
        frames = normalize_object(obj, is_image, where)
        result = {}
        for frame, segmentation in frames.items():
            if not 0 <= frame < num_frames:
                raise ValueError(
                    f"{where}: frame {frame} is outside {what}, which has {num_frames} frame(s) (valid: 0 to "
                    f"{num_frames - 1})."
                )
            frame_where = f"{where}, frame {frame}"
            if isinstance(segmentation, tuple) and segmentation and segmentation[0] == "box":
                result[frame] = box_to_mask(segmentation[1], (height, width), f"{frame_where}, --box")
            else:
                decode_segmentation(segmentation, (height, width), frame_where)
                result[frame] = segmentation
        checked.append(result)
    return checked


def ask_sampling(args: argparse.Namespace) -> dict[str, Any]:
    """The frame-sampling options set on the command line (`--num-frames`, `--fps`, `--max-frames`; unset ones left
    out)."""
    return {name: getattr(args, name) for name in ("num_frames", "fps", "max_frames") if getattr(args, name, None) is not None}


def build_ask_inputs(
    processor: Any, family: Any, media: str, question: str, objects: list[dict[int, Any]], sampling: dict[str, Any]
) -> tuple[str, Any]:
    """The prompt and the processor's inputs of one question: the family's `<region>` layout and chat messages,
    rendered by the processor's chat template, with the family's frame sampling (see `evaluation.families`).

    Args:
        question: the user's question, one `<region>` (or `[<region>]`) per object.
        objects: one `{frame_index: mask}` per object, in marker order.
        sampling: the sampling options given (checked against the family).

    Returns:
        `(prompt, BatchFeature)` of a batch of one sample.

    Raises:
        ValueError / TypeError / FileNotFoundError: an option of the other family, or inputs the processor refuses.
    """
    kind = media_kind(media)
    prompt = family.layout_regions(family.question_text(question), objects)
    text = processor.apply_chat_template(family.messages(prompt, kind), add_generation_prompt=True, tokenize=False)
    files = {"images": [media]} if kind == "image" else {"videos": [media]}
    return text, processor(text=[text], masks=[objects], **family.sampling(sampling), **files)


def _check_family_options(model: str, sampling: dict[str, Any]) -> None:
    """Refuse options of the other family before loading, when `--model` is a folder (or in the Hub cache).

    Raises:
        ValueError: an option the checkpoint's family does not take, or a value out of range.
    """
    from ..evaluation.families import check_option_values, peek_family

    family = peek_family(model)
    if family is not None:
        family.check_options(sampling)
    else:  # the family is told after loading; the values can be checked now
        check_option_values(sampling)


def run_ask(args: argparse.Namespace) -> int:
    options = getattr(args, "objects_in_order", None) or []
    try:
        objects = objects_from_options(options, args.frame)
    except (ValueError, TypeError) as error:
        return fail(f"videorefer ask: {error}")
    if args.question.count("<region>") != len(objects):
        return fail(
            f"videorefer ask: the question holds {args.question.count('<region>')} <region> marker(s) but "
            f"{len(objects)} --mask/--box were given; write one [<region>] per object, e.g. \"What is [<region>] doing?\""
        )
    if not os.path.exists(args.media):
        return fail(f"videorefer ask: no such file or folder: {args.media}")
    sampling = ask_sampling(args)
    try:
        _check_family_options(args.model, sampling)
    except ValueError as error:
        return fail(f"videorefer ask: {error}")
    try:
        objects = check_objects_against_media(args.media, objects)
    except (ValueError, TypeError, FileNotFoundError, OSError) as error:
        return fail(f"videorefer ask: {error}")
    from .loading import check_dtype_and_device, check_model_argument

    try:
        check_model_argument(args.model)
        device = check_dtype_and_device(args.dtype, args.device)
    except (ModelNotAvailableError, ValueError) as error:
        return fail(f"videorefer ask: {error}")
    try:
        model, processor = load_model_and_processor(args.model, args.dtype, device)
    except (ModelNotAvailableError, ValueError) as error:
        return fail(f"videorefer ask: {error}")
    from transformers import TextStreamer

    from ..evaluation.families import family_of_loaded

    try:
        _, inputs = build_ask_inputs(processor, family_of_loaded(model, processor), args.media, args.question, objects,
                                     sampling)
    except (ValueError, TypeError, FileNotFoundError) as error:
        return fail(f"videorefer ask: {error}")
    inputs = inputs.to(model.device, dtype=model.dtype)
    streamer = TextStreamer(processor.tokenizer, skip_prompt=True, skip_special_tokens=True)
    model.generate(**inputs, max_new_tokens=args.max_new_tokens, do_sample=False, streamer=streamer)
    return 0


def add_ask_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ask",
        help="Ask a question about objects marked in a video or an image.",
        description=(
            "Answer a question about objects marked with masks or boxes. Each --mask or --box is one object, in the "
            "order of the [<region>] markers of the question. A mask is a mask image, a .npy array, or COCO RLE / "
            "polygons as a JSON file or inline JSON; a box is X1 Y1 X2 Y2 in pixels; --frame N (one per --mask/--box, "
            "in order) says which frame of the ORIGINAL clip it is on (default 0). VideoRefer-7B and "
            "VideoRefer-VideoLLaMA3 checkpoints both work: the family (read from the checkpoint) samples the frames "
            "(--num-frames for VideoRefer-7B; --fps / --max-frames for VideoRefer-VideoLLaMA3) and lays an object's "
            "masks out behind its marker."
        ),
    )
    parser.add_argument("media", help="a video file, a gif, a folder of frames, or an image")
    parser.add_argument("question", help='the question, with one [<region>] per object, e.g. "What is [<region>] doing?"')
    parser.add_argument("--mask", action=_ObjectOption, help="an object's mask (repeat for more objects)")
    parser.add_argument("--box", action=_ObjectOption, nargs=4, type=float, metavar=("X1", "Y1", "X2", "Y2"),
                        help="an object's box in pixels of the clip (repeat for more objects; mixes with --mask)")
    parser.add_argument("--frame", action="append", type=int,
                        help="the frame index of the matching --mask/--box, in command-line order (default 0)")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"Hub repository or local folder (default {DEFAULT_MODEL})")
    parser.add_argument("--num-frames", type=int, default=None,
                        help="VideoRefer-7B: frames sampled from a video (default: the model's)")
    parser.add_argument("--fps", type=float, default=None,
                        help="VideoRefer-VideoLLaMA3: frames sampled per second (default: the processor's, 1)")
    parser.add_argument("--max-frames", type=int, default=None,
                        help="VideoRefer-VideoLLaMA3: at most this many frames (default: the processor's, 768)")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--dtype", default="bf16", choices=sorted(DTYPE_NAMES), help="bf16, fp16 (GPU) or float32")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.set_defaults(run=run_ask)

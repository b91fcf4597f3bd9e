# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""`videorefer overlay MEDIA --annotation JSON --out OUT`: draw objects' masks over their frames."""

import argparse
import json
import sys

from .common import fail


def run_overlay(args: argparse.Namespace) -> int:
    import importlib.util

    if args.out.lower().endswith(".mp4") and importlib.util.find_spec("av") is None:
        return fail(
            "videorefer overlay: writing an .mp4 needs PyAV: pip install 'transformers-videorefer[video]' (or "
            "pip install av); or write a .gif or a .png grid instead."
        )
    from ..apps.visualization import overlay_clip, save_overlays
    from ..inputs.masks import decode_segmentation, normalize_object
    from ..inputs.media import load_image, open_clip

    try:
        with open(args.annotation, encoding="utf-8") as handle:
            annotation = json.load(handle)
        if isinstance(annotation, dict) and "annotation" in annotation:
            annotation = annotation["annotation"]  # a benchmark / training item
        if isinstance(annotation, dict):
            annotation = [annotation]  # one object
        if not isinstance(annotation, list) or not annotation:
            raise ValueError("the annotation must be a list of objects {frame index: segmentation} (or one object).")
        is_image = args.image
        if is_image:
            frames = [load_image(args.media)]
        else:
            clip = open_clip(args.media)
            frames = clip.get_frames(range(clip.num_frames))
        size = frames[0].shape[:2]
        objects = []
        for number, obj in enumerate(annotation):
            where = f"object {number}"
            frames_of_object = normalize_object(obj, is_image, where)
            objects.append({
                frame: decode_segmentation(segmentation, size, f"{where}, frame {frame}")
                for frame, segmentation in frames_of_object.items()
            })
        indices = range(len(frames)) if args.all_frames else None
        path = save_overlays(overlay_clip(frames, objects, indices), args.out, fps=args.fps)
    except (ValueError, TypeError, FileNotFoundError, json.JSONDecodeError) as error:
        return fail(f"videorefer overlay: {error}")
    sys.stdout.write(f"wrote {path}\n")
    return 0


def add_overlay_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "overlay",
        help="Draw objects' masks (coloured, with contours) over a clip's frames: a PNG grid, a gif or an mp4.",
    )
    parser.add_argument("media", help="video file, gif, frame folder (or an image with --image)")
    parser.add_argument("--annotation", required=True,
                        help="JSON: a list of objects {frame index: segmentation}, one object, or an item with 'annotation'")
    parser.add_argument("--out", required=True, help="output .png/.jpg (grid), .gif or .mp4")
    parser.add_argument("--all-frames", action="store_true", help="draw every frame, not only those with masks")
    parser.add_argument("--image", action="store_true", help="the media is an image")
    parser.add_argument("--fps", type=int, default=4, help="frames per second of a .gif/.mp4")
    parser.set_defaults(run=run_overlay)

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The per-sample CPU cost of VideoRefer's frame preprocessing (read, decode, resize, rescale, normalise).

Writes a synthetic clip (a JPEG frame folder and an mp4, textured frames with a moving square), then times the
video processor of the 7B release's settings (SigLIP 384x384, bicubic, mean = std = 0.5) on each, with 1 thread
and with the default number of frame threads (`inputs.media.frame_threads`), and prints one table of medians;
`--profile` adds cProfile's top functions of one call per clip.

    python benchmarks/profile_preprocessing.py                       # 16 frames of 854x480
    python benchmarks/profile_preprocessing.py --frames 8 --profile
    python benchmarks/profile_preprocessing.py --tiny --device cpu    # smoke run: small clip, 2 repeats
"""

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def time_processor(processor, path: str, repeats: int) -> float:
    """Median milliseconds of `processor([path])` over `repeats` calls after one warm-up."""
    processor([path])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        processor([path])
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a small clip and 2 repeats: a smoke run")
    parser.add_argument("--device", default="cpu", help="only cpu: preprocessing runs on the CPU")
    parser.add_argument("--frames", type=int, default=16, help="frames of the clip, all sampled (default 16)")
    parser.add_argument("--width", type=int, default=854)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--size", type=int, default=384, help="the processor's output size (default 384, the 7B's)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions of one call per clip")
    args = parser.parse_args(argv)
    if args.device != "cpu":
        parser.error("preprocessing runs on the CPU: --device cpu")
    if args.tiny:
        args.frames, args.width, args.height, args.size, args.repeats = 4, 160, 96, 64, 2

    from bench_end_to_end import write_clip

    from transformers_videorefer.inputs.media import FRAME_THREADS_ENV, frame_threads
    from transformers_videorefer.models.videorefer.video_processing_videorefer import VideoReferVideoProcessor

    processor = VideoReferVideoProcessor(
        size={"height": args.size, "width": args.size}, num_frames=args.frames, image_mean=[0.5] * 3, image_std=[0.5] * 3
    )
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        clips = {
            "JPEG folder": str(root / write_clip(root, "clip", "jpeg", args.frames, args.height, args.width, seed=1)),
            "mp4": str(root / write_clip(root, "clip", "mp4", args.frames, args.height, args.width, seed=1)),
        }
        default_threads = frame_threads(args.frames)
        saved = os.environ.get(FRAME_THREADS_ENV)
        try:
            for threads in sorted({1, default_threads}):
                os.environ[FRAME_THREADS_ENV] = str(threads)
                for kind, path in clips.items():
                    rows.append((kind, threads, time_processor(processor, path, args.repeats)))
        finally:
            if saved is None:
                os.environ.pop(FRAME_THREADS_ENV, None)
            else:
                os.environ[FRAME_THREADS_ENV] = saved
        if args.profile:
            for kind, path in clips.items():
                profile = cProfile.Profile()
                profile.enable()
                processor([path])
                profile.disable()
                text = io.StringIO()
                pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(12)
                print(f"## cProfile, {kind}\n{text.getvalue()}")
    print(f"| preprocessing: {args.frames} frames {args.width}x{args.height} -> {args.size}x{args.size} | threads | ms per sample (median) |")
    print("|---|---|---|")
    for kind, threads, milliseconds in rows:
        print(f"| {kind} | {threads} | {milliseconds:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

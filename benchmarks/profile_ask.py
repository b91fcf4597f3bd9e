# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Where the time to first token of a `videorefer ask`-style call goes, phase by phase, model loaded.

Writes a 16-frame 854x480 clip as a JPEG folder and as an mp4 (the clips of `bench_end_to_end.py`), then times, for
each: opening the clip, reading the sampled frames, turning them into pixel values, the whole processor call (text,
masks and the region frame included), the copy to the device, the model's forward (the prefill) and
`generate(max_new_tokens=1)` after the processor: the time to first token. Medians over `--repeats`, one table.

    python benchmarks/profile_ask.py --model /tmp/rand7b --device cuda --dtype bf16
    python benchmarks/profile_ask.py --tiny --device cpu        # smoke run: tiny random model, small clip
"""

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def median_ms(function: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    """Median milliseconds of `function()` over `repeats` calls after one warm-up call."""
    function()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        function()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    from bench_end_to_end import add_model_arguments, model_folder, rle_of_box, write_clip

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--frames", type=int, default=16, help="frames of the clip, all sampled (default 16)")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    height, width = 480, 854
    if args.tiny:
        args.dtype, args.frames, args.repeats, height, width = "float32", 4, 2, 96, 160
    if not args.model and not args.tiny:
        parser.error("--model is required without --tiny")

    import torch

    from transformers_videorefer.cli.loading import load_model_and_processor
    from transformers_videorefer.inputs.media import open_clip, sample_frame_indices

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        model, processor = load_model_and_processor(model_folder(args.model, scratch), args.dtype, args.device)
        sync = torch.cuda.synchronize if str(model.device).startswith("cuda") else (lambda: None)
        mask = {"0": {"segmentation": rle_of_box(height, width, height // 3, width // 3, max(24, height // 6))}}
        prompt = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What is [<region>] doing?"}]}]
        rows = []
        for kind in ("jpeg", "mp4"):
            path = str(scratch / write_clip(scratch, f"ask_{kind}", kind, args.frames, height, width, seed=99))
            indices = sample_frame_indices(open_clip(path).num_frames, args.frames)
            frames = open_clip(path).get_frames(indices)

            def call_processor():
                text = processor.apply_chat_template(prompt, add_generation_prompt=True, tokenize=False)
                return processor(text=[text], videos=[path], masks=[[mask]], num_frames=args.frames)

            inputs = call_processor().to(model.device, dtype=model.dtype)

            def forward():
                with torch.inference_mode():
                    model(**inputs)

            def first_token():
                with torch.inference_mode():
                    model.generate(**call_processor().to(model.device, dtype=model.dtype), max_new_tokens=1, do_sample=False)

            phases = {
                "open the clip": lambda: open_clip(path),
                "read the sampled frames": lambda: open_clip(path).get_frames(indices),
                "frames -> pixel values": lambda: processor.video_processor.frames_to_pixel_values(frames),
                "whole processor call": call_processor,
                "copy to the device": lambda: call_processor().to(model.device, dtype=model.dtype),
                "model forward (prefill)": forward,
                "time to first token": first_token,
            }
            for phase, function in phases.items():
                rows.append((kind, phase, median_ms(function, args.repeats, sync)))
    print(f"| ask, {args.frames} frames {width}x{height}, {args.dtype} on {args.device} | phase | ms (median) |")
    print("|---|---|---|")
    for kind, phase, value in rows:
        suffix = " (includes the processor call)" if phase == "copy to the device" else ""
        print(f"| {'JPEG folder' if kind == 'jpeg' else 'mp4'} | {phase}{suffix} | {value:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

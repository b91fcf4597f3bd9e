"""End-to-end speed of what a user runs, beside the model alone.

Makes a synthetic benchmark in the real VideoRefer-Bench-Q format (DAVIS-sized 854x480 JPEG frame folders AND mp4
files, COCO RLE masks, 1-3 objects per question), runs the real `videorefer eval bench-q` command on it in a
subprocess, and prints one table:

- Bench-Q end to end: questions/s over the whole command (start-up and warm-up included) and in the steady state
  (from the first written batch to the last), against the model-only rate at the same batch size (the same
  processed inputs fed in a loop to the generation path the command took: on CUDA its `FastGreedyGenerator`, with
  the decoding step compiled or not as the command chose; elsewhere `generate`);
- `videorefer ask`-style time to first token after the model is loaded (processor + prefill) on a 16-frame 854x480
  clip, from a JPEG folder and from an mp4;
- the processor's CPU time per sample.

    python benchmarks/bench_end_to_end.py --model /tmp/videorefer-7b-random --questions 128 --batch-size 32 \\
        --num-frames 8 --max-new-tokens 4 --dtype bf16 --device cuda
    python benchmarks/bench_end_to_end.py --tiny --device cpu       # smoke run: tiny random model, small clips
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

OPTIONS = ["(A) It moves right", "(B) It stays still", "(C) It moves left", "(D) It disappears"]


def frames_of_clip(count: int, height: int, width: int, seed: int) -> list[np.ndarray]:
    """Textured frames with a moving square (so that JPEG/mp4 coding has real work)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=(height, width, 3), dtype=np.uint8)
    frames = []
    for index in range(count):
        frame = np.roll(base, shift=index * 3, axis=1).copy()
        top, left = height // 3, (index * width) // (2 * count)
        frame[top : top + height // 4, left : left + width // 6] = (230, 40, 40)
        frames.append(frame)
    return frames


def write_clip(root: Path, name: str, kind: str, count: int, height: int, width: int, seed: int) -> str:
    """A JPEG frame folder or an mp4 under `root`; returns its path relative to `root`."""
    from PIL import Image

    frames = frames_of_clip(count, height, width, seed)
    if kind == "jpeg":
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for index, frame in enumerate(frames):
            Image.fromarray(frame).save(folder / f"{index:05d}.jpg", quality=90)
        return name
    path = root / f"{name}.mp4"
    try:
        import av
    except ImportError:  # OpenCV's writer instead (mpeg4 too)
        import cv2

        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 24, (width, height))
        for frame in frames:
            writer.write(frame[..., ::-1])
        writer.release()
        return f"{name}.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return f"{name}.mp4"


def rle_of_box(height: int, width: int, top: int, left: int, size: int) -> dict:
    from pycocotools import mask as mask_utils

    mask = np.zeros((height, width), dtype=np.uint8)
    mask[top : top + size, left : left + size] = 1
    encoded = mask_utils.encode(np.asfortranarray(mask))
    return {"size": [height, width], "counts": encoded["counts"].decode("ascii")}


def make_benchmark(root: Path, questions: int, clips: int, frames: int, height: int, width: int) -> Path:
    """`root/bench_q.json` in the Bench-Q format over `clips` clips (half JPEG folders, half mp4 files)."""
    names = [write_clip(root, f"clip{c:03d}", "jpeg" if c % 2 == 0 else "mp4", frames, height, width, c) for c in range(clips)]
    items = []
    for number in range(questions):
        objects = 1 + number % 3
        frame = (number * 5) % frames
        annotation = [
            {str(frame): {"segmentation": rle_of_box(height, width, 40 + 60 * k, 60 + 90 * k, max(24, height // 8))}}
            for k in range(objects)
        ]
        regions = " and ".join(f"<object{k}><region>" for k in range(objects))
        items.append({
            "video": names[number % clips], "Question": f"What do {regions} do?", "type": "Basic Questions",
            "options": OPTIONS, "Answer": OPTIONS[number % 4], "frame_idx": str(frame), "annotation": annotation,
        })
    path = root / "bench_q.json"
    path.write_text(json.dumps(items))
    return path


class Rates(NamedTuple):
    """Questions/s of one run of the command: `overall` over its whole wall time (start-up, model loading, warm-up);
    `after_load` from the moment it reports the model loaded to its last answer (warm-up included); `steady` from
    its first written batch to its last."""

    overall: float
    after_load: float
    steady: float
    compiled: str


def run_command(
    args: argparse.Namespace, model: str, questions: Path, root: Path, output: Path, num_workers: int | None
) -> tuple[float, float, str]:
    """Run `videorefer eval bench-q`; returns its rates (see `Rates`) and what it said about compiling its decoding
    step ("-" where it does not use the fast generator, i.e. off CUDA)."""
    command = [
        sys.executable, "-m", "transformers_videorefer", "eval", "bench-q", "--model", model, "--questions", str(questions),
        "--video-root", str(root), "--output", str(output), "--batch-size", str(args.batch_size),
        "--num-frames", str(args.num_frames), "--max-new-tokens", str(args.max_new_tokens), "--dtype", args.dtype,
        "--device", args.device, "--no-progress",
    ]
    if num_workers is not None:
        command += ["--num-workers", str(num_workers)]
    if args.compile_decoding is not None:
        command += ["--compile-decoding", args.compile_decoding]
    stamps: list[tuple[float, int]] = []
    done = threading.Event()

    def watch() -> None:  # when each batch lands in the prediction file
        seen = 0
        while not done.is_set():
            if output.exists():
                count = output.read_bytes().count(b"\n")
                if count > seen:
                    stamps.append((time.perf_counter(), count))
                    seen = count
            time.sleep(0.02)

    stderr_lines: list[tuple[float, str]] = []

    def read_stderr(stream) -> None:  # each line the command writes, with the time it arrived
        for line in stream:
            stderr_lines.append((time.perf_counter(), line))

    watcher = threading.Thread(target=watch, daemon=True)
    start = time.perf_counter()
    watcher.start()
    source = str(Path(__file__).resolve().parents[1] / "src")
    python_path = os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": python_path})
    reader = threading.Thread(target=read_stderr, args=(process.stderr,), daemon=True)
    reader.start()
    returncode = process.wait()
    elapsed = time.perf_counter() - start
    reader.join()
    done.set()
    watcher.join()
    stderr = "".join(line for _, line in stderr_lines)
    if returncode != 0:
        raise SystemExit(f"videorefer eval bench-q failed ({returncode}): {stderr[-2000:]}")
    total = output.read_bytes().count(b"\n")
    steady = (stamps[-1][1] - stamps[0][1]) / (stamps[-1][0] - stamps[0][0]) if len(stamps) > 1 else float("nan")
    said = [line.split("fast generation ", 1)[1].strip() for _, line in stderr_lines if "fast generation " in line]
    loaded = [moment for moment, line in stderr_lines if "model loaded in " in line]
    end = stamps[-1][0] if stamps else time.perf_counter()
    after_load = total / (end - loaded[0]) if loaded else float("nan")
    return Rates(total / elapsed, after_load, steady, said[0] if said else "-")


def same_generation_path(model, processor, args: argparse.Namespace, command_choice: str):
    """The generator `videorefer eval bench-q` used (its `FastGreedyGenerator` on CUDA, the decoding step compiled
    when the command said so; None, i.e. `generate`, elsewhere), so that the model-only rate is of the same path."""
    if not str(model.device).startswith("cuda") or command_choice == "-":
        return None
    from transformers_videorefer.cli.eval import fast_cache_length
    from transformers_videorefer.evaluation.families import family_of_loaded
    from transformers_videorefer.generation.fast_greedy import FastGreedyGenerator

    room = family_of_loaded(model, processor).prompt_room(processor, {"num_frames": args.num_frames})
    compiled = command_choice.startswith("compiled")
    return FastGreedyGenerator(
        model, max_cache_len=fast_cache_length(room, args.max_new_tokens), compile="always" if compiled else "never"
    )


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """`--model`, `--tiny`, `--device` and `--dtype`, as the end-to-end scripts take them."""
    parser.add_argument("--model", help="a VideoRefer checkpoint folder (default with --tiny: a tiny random one)")
    parser.add_argument("--tiny", action="store_true", help="tiny random model and small clips: a smoke run on a CPU")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bf16")


def model_folder(model: str | None, scratch: Path) -> str:
    """`model`, or (None: the --tiny runs) a tiny random checkpoint written under `scratch` with the golden tiny
    checkpoint's tokenizer (any VideoRefer tokenizer does)."""
    if model is not None:
        return model
    from bench_inference import golden_checkpoint
    from make_random_checkpoint import make_random_checkpoint

    return str(make_random_checkpoint(str(golden_checkpoint()), scratch / "model", "cpu", "float32", tiny=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--questions", type=int, default=128)
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-frames", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=4)
    parser.add_argument("--num-workers", type=int, nargs="*", default=[None],
                        help="the command's --num-workers; several values run it once each (default: its own default)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of the in-process timings")
    parser.add_argument("--compile-decoding", default=None, choices=("auto", "always", "never"),
                        help="the command's --compile-decoding (default: its own, auto)")
    args = parser.parse_args(argv)
    height, width, clip_frames, ask_frames = 480, 854, 48, 16
    if args.tiny:
        args.dtype, args.questions, args.clips, args.batch_size, args.repeats = "float32", 4, 2, 2, 1
        height, width, clip_frames, ask_frames = 96, 160, 12, 4
    if not args.model and not args.tiny:
        parser.error("--model is required without --tiny")

    import torch

    from transformers_videorefer.cli.loading import load_model_and_processor
    from transformers_videorefer.evaluation.bench_q import bench_q_samples, load_bench_q
    from transformers_videorefer.evaluation.media import resolve_media
    from transformers_videorefer.evaluation.runner import (
        answers_from_inputs,
        build_inputs,
    )

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        model_path = model_folder(args.model, scratch)
        questions = make_benchmark(scratch / "bench", args.questions, args.clips, clip_frames, height, width)
        command_rates = {
            workers: run_command(args, model_path, questions, scratch / "bench", scratch / f"pred{number}.jsonl", workers)
            for number, workers in enumerate(args.num_workers)
        }

        model, processor = load_model_and_processor(model_path, args.dtype, args.device)
        items = load_bench_q(questions, "single")
        samples = bench_q_samples(items, resolve_media(items, scratch / "bench"), "single")
        batch = (samples * args.batch_size)[: args.batch_size]
        inputs = build_inputs(processor, batch, args.num_frames)
        generator = same_generation_path(model, processor, args, next(iter(command_rates.values())).compiled)
        answers_from_inputs(model, processor, inputs, args.max_new_tokens, generator)  # warm-up (and compilation)
        sync = torch.cuda.synchronize if str(model.device).startswith("cuda") else (lambda: None)
        model_times = []
        for _ in range(args.repeats):
            sync()
            start = time.perf_counter()
            answers_from_inputs(model, processor, inputs, args.max_new_tokens, generator)
            sync()
            model_times.append(time.perf_counter() - start)
        model_only = args.batch_size / statistics.median(model_times)

        cpu_times = []
        for sample in samples[: args.repeats]:
            start = time.process_time()
            build_inputs(processor, [sample], args.num_frames)
            cpu_times.append(time.process_time() - start)

        ttft = {}
        mask = {"0": {"segmentation": rle_of_box(height, width, height // 3, width // 3, max(24, height // 6))}}
        for kind in ("jpeg", "mp4"):
            clip = write_clip(scratch / "ask", f"ask_{kind}", kind, ask_frames, height, width, seed=99)
            times = []
            for _ in range(args.repeats):
                sync()
                start = time.perf_counter()
                text = processor.apply_chat_template(
                    [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What is [<region>] doing?"}]}],
                    add_generation_prompt=True, tokenize=False,
                )
                ask_inputs = processor(text=[text], videos=[str(scratch / "ask" / clip)], masks=[[mask]], num_frames=ask_frames)
                ask_inputs = ask_inputs.to(model.device, dtype=model.dtype)
                with torch.inference_mode():
                    model.generate(**ask_inputs, max_new_tokens=1, do_sample=False)
                sync()
                times.append(time.perf_counter() - start)
            ttft[kind] = statistics.median(times) * 1000

    rows = []
    for workers, (overall, after_load, steady, compiled) in command_rates.items():
        label = "default workers" if workers is None else f"--num-workers {workers}"
        rows += [
            (f"Bench-Q end to end, {label}, decoding step", compiled),
            (f"Bench-Q end to end, {label}, overall (questions/s)", f"{overall:.2f}"),
            (f"Bench-Q end to end, {label}, from the loaded model, warm-up included (questions/s)", f"{after_load:.2f}"),
            (f"Bench-Q end to end, {label}, steady state (questions/s)", f"{steady:.2f}"),
            (f"steady state / model only, {label}", f"{steady / model_only:.0%}"),
        ]
    rows += [
        (f"model only, batch {args.batch_size}, the command's generation path (questions/s)", f"{model_only:.2f}"),
        (f"ask TTFT, {ask_frames} frames {width}x{height} JPEG folder (ms)", f"{ttft['jpeg']:.0f}"),
        (f"ask TTFT, {ask_frames} frames {width}x{height} mp4 (ms)", f"{ttft['mp4']:.0f}"),
        (f"processor CPU time per sample, {args.num_frames} frames (ms)", f"{statistics.median(cpu_times) * 1000:.0f}"),
    ]
    setting = (f"{args.questions} questions over {args.clips} clips ({width}x{height}, {clip_frames} frames), batch "
               f"{args.batch_size}, {args.num_frames} frames, {args.max_new_tokens} new tokens, {args.dtype} on {args.device}")
    print(f"| end to end: {setting} | value |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

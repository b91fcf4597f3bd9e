"""Does the training data loader keep up with the GPU? Samples/s the stage recipes' loader delivers, per worker count.

The recipes read media per batch in `VideoReferDataCollator` (frame decoding, resizing, mask decoding, tokenizing),
inside the Trainer's `torch.utils.data.DataLoader`, `dataloader_num_workers` worker processes per GPU. This script
builds a synthetic training set in the VideoRefer-700K format (DAVIS-sized 854x480 clips, half JPEG frame folders,
half mp4 files; COCO RLE masks, 1-3 objects per sample on 1-2 frames each; a two-turn conversation), runs the same
dataset + collator through a DataLoader with each `--num-workers` value, and prints one table: samples/s delivered
(after the first batch), against the samples/s a training step consumes (`--step-samples-per-s`, measured with
`benchmarks/bench_train.py`; docs/performance.md gives the 7B numbers).

    python benchmarks/bench_train_loader.py --processor <a VideoRefer checkpoint or processor folder> \
        --num-workers 0 2 4 8 --batch-size 4 --batches 12 --step-samples-per-s 3.0
    python benchmarks/bench_train_loader.py --tiny            # smoke run: small clips, the golden tiny processor
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_end_to_end import rle_of_box, write_clip  # noqa: E402


def golden_tiny_checkpoint() -> Path:
    """The golden tiny checkpoint: in $VIDEOREFER_GOLDEN, else ../shared/golden beside the checkout."""
    root = os.environ.get("VIDEOREFER_GOLDEN") or Path(__file__).resolve().parents[2] / "shared" / "golden"
    return Path(root) / "videorefer_tiny" / "checkpoint"


def make_training_set(root: Path, samples: int, clips: int, frames: int, height: int, width: int) -> Path:
    """`root/train.json` in the VideoRefer-700K format over `clips` clips (half JPEG folders, half mp4 files)."""
    names = [write_clip(root, f"clip{c:03d}", "jpeg" if c % 2 == 0 else "mp4", frames, height, width, c) for c in range(clips)]
    size = max(24, height // 8)
    records = []
    for number in range(samples):
        objects = 1 + number % 3
        annotation = []
        for k in range(objects):
            mask_frames = sorted({(number * 5 + k) % frames, (number * 5 + k + frames // 2) % frames})[: 1 + number % 2]
            annotation.append({
                str(frame): {"segmentation": rle_of_box(height, width, 40 + 60 * k, 60 + 90 * k, size)}
                for frame in mask_frames
            })
        regions = " and ".join("[<region>]" for _ in range(objects))
        records.append({
            "id": f"sample{number}",
            "video": names[number % clips],
            "conversations": [
                {"from": "human", "value": f"<video>\nWhat do {regions} do in the video?"},
                {"from": "gpt", "value": "The first one moves to the right while the camera stays still. " * 3},
                {"from": "human", "value": "And afterwards?"},
                {"from": "gpt", "value": "It keeps moving until it leaves the frame."},
            ],
            "annotation": annotation,
        })
    path = root / "train.json"
    path.write_text(json.dumps(records))
    return path


def loader_rate(dataset, collator, batch_size: int, num_workers: int, batches: int) -> tuple[float, float]:
    """(samples/s after the first batch, seconds to the first batch) of a DataLoader over `dataset`."""
    from torch.utils.data import DataLoader

    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collator,
        persistent_workers=False,
        prefetch_factor=2 if num_workers > 0 else None,
        pin_memory=False,
    )
    start = time.perf_counter()
    iterator = iter(loader)
    next(iterator)
    first = time.perf_counter()
    count = 0
    for _ in range(batches - 1):
        batch = next(iterator, None)
        if batch is None:
            break
        count += batch["input_ids"].shape[0]
    end = time.perf_counter()
    return count / max(end - first, 1e-9), first - start


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processor", help="a VideoRefer checkpoint or processor folder (default with --tiny: the golden tiny one)")
    parser.add_argument("--tiny", action="store_true", help="small clips and few batches: a smoke run")
    parser.add_argument("--device", default="cpu", help="unused: the loader runs on the CPU (accepted like the other benchmarks)")
    parser.add_argument("--num-workers", type=int, nargs="+", default=[0, 2, 4, 8])
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--num-frames", type=int, default=None, help="frames per video (default: the processor's)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per worker count; the median is reported")
    parser.add_argument("--step-samples-per-s", type=float, default=None,
                        help="samples/s one training step consumes on the GPU (from bench_train.py)")
    args = parser.parse_args(argv)
    if args.processor is None:
        if not args.tiny:
            parser.error("--processor is required (or --tiny)")
        args.processor = str(golden_tiny_checkpoint())
    if min(args.num_workers) < 0 or args.batch_size < 1 or args.batches < 2:
        parser.error("--num-workers must be >= 0, --batch-size >= 1 and --batches >= 2")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from transformers import AutoProcessor

    import transformers_videorefer  # noqa: F401  (registers the Auto classes)
    from transformers_videorefer.training.collator import VideoReferDataCollator
    from transformers_videorefer.training.data import load_videorefer_dataset

    height, width, frames = (120, 160, 12) if args.tiny else (480, 854, 48)
    if args.tiny:
        args.batches, args.clips = min(args.batches, 3), min(args.clips, 2)
        args.num_workers = [w for w in args.num_workers if w <= 1] or [0]
    samples = args.batch_size * args.batches
    processor = AutoProcessor.from_pretrained(args.processor)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        dataset = load_videorefer_dataset(make_training_set(root, samples, args.clips, frames, height, width))
        collator = VideoReferDataCollator(processor, media_root=str(root), num_frames=args.num_frames)
        for workers in args.num_workers:
            runs = [loader_rate(dataset, collator, args.batch_size, workers, args.batches) for _ in range(args.repeats)]
            rate = statistics.median(run[0] for run in runs)
            first = statistics.median(run[1] for run in runs)
            rows.append((workers, rate, first))
    frames_used = args.num_frames or processor.video_processor.num_frames
    print(f"\nTraining data loader: {height}x{width} clips (JPEG folders and mp4), {frames_used} frames per sample, "
          f"batch {args.batch_size}, {args.batches} batches")
    header = "| dataloader_num_workers | samples/s delivered | first batch (s) |"
    if args.step_samples_per_s:
        header += " share of a step's need |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for workers, rate, first in rows:
        line = f"| {workers} | {rate:.2f} | {first:.2f} |"
        if args.step_samples_per_s:
            line += f" {rate / args.step_samples_per_s:.0%} |"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

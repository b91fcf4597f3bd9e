"""Inference benchmark of VideoRefer at the real 7B shapes (random weights unless --checkpoint is given).

Workloads (the issue's): 16 frames + 1 mask frame, one object, a 70-token prompt.
  prefill      one forward over the whole prompt (vision tower, connector, region encoder, LLM), bs=1
  decode       tokens/s of a 256-token answer after the prefill, bs=1
  bench-q      4-token answers, samples/s, at each --batch-sizes
  bench-d      256-token answers, samples/s, at each --batch-sizes
  peak memory  torch.cuda.max_memory_allocated during a bs=1 256-token generation

Modes: `eager` (`model.generate`, dynamic KV cache, no compilation), `static` (`model.generate` with a static KV
cache: transformers compiles the decoding step with CUDA graphs) and `fast` (`FastGreedyGenerator`: static caches
reused per batch size, the decoding step embedding -> Qwen2 -> LM head compiled once per batch size). Timings are medians of --repeats runs after warm-up, with
torch.cuda.synchronize around each.

    python benchmarks/bench_inference.py --modes eager static --batch-sizes 1 8 32 --json results.json
    python benchmarks/bench_inference.py --tiny --device cpu        # a smoke run of the script itself
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import transformers_videorefer  # noqa: E402,F401
from transformers_videorefer import VideoReferConfig, VideoReferForConditionalGeneration  # noqa: E402
from transformers_videorefer.generation.fast_greedy import FastGreedyGenerator  # noqa: E402

# --tiny: defaults small enough for a CPU smoke run of the script (well under a minute on 2 cores)
TINY_DEFAULTS = {
    "device": "cpu", "dtype": "float32", "batch_sizes": [1, 2], "num_frames": 4, "prompt_tokens": 40,
    "long_tokens": 8, "repeats": 1, "warmup": 1,
}
ORIGINAL = {"prefill_ms": 155.0, "decode_tok_s": 33.0, "bench_q_samples_s": 4.3, "bench_d_samples_s": 0.13, "peak_gb": 18.1}
TARGET = {"prefill_ms": 70.0, "decode_tok_s": 150.0, "bench_q_samples_s": 13.0, "bench_d_samples_s": 5.0, "peak_gb": 17.5}


def tiny_config() -> VideoReferConfig:
    return VideoReferConfig(
        vision_config={"model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 64,
                       "num_hidden_layers": 3, "num_attention_heads": 2, "image_size": 112, "patch_size": 14},
        text_config={"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                     "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 400},
    )


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None, tiny_defaults: dict) -> argparse.Namespace:
    """Parse `argv`; with `--tiny`, the options the command line leaves out take `tiny_defaults` instead of the
    (GPU, full-size) defaults."""
    args = parser.parse_args(argv)
    if getattr(args, "tiny", False):
        parser.set_defaults(**tiny_defaults)
        args = parser.parse_args(argv)
    return args


def golden_checkpoint() -> Path:
    """The golden tiny VideoRefer checkpoint (original format, with a tokenizer): `$VIDEOREFER_GOLDEN/videorefer_tiny/
    checkpoint`, by default under `../shared/golden` next to the repository."""
    golden = Path(os.environ.get("VIDEOREFER_GOLDEN", REPO.parent / "shared" / "golden"))
    return golden / "videorefer_tiny" / "checkpoint"


def build_model(args) -> VideoReferForConditionalGeneration:
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "float32": torch.float32}[args.dtype]
    if args.checkpoint:
        model = VideoReferForConditionalGeneration.from_pretrained(
            args.checkpoint, dtype=dtype, attn_implementation=args.attn
        ).to(args.device)
    else:
        model = random_model(tiny_config() if args.tiny else VideoReferConfig(), args.device, dtype, args.attn)
    model = model.eval()
    if getattr(args, "prune_vision", False):
        model.model.prune_unused_vision_layers()
    if getattr(args, "compile_vision", False):
        model.model.compile_vision_tower()
    return model


def random_model(
    config: VideoReferConfig, device: str, dtype: torch.dtype, attn: str
) -> VideoReferForConditionalGeneration:
    """A randomly initialised model built directly on `device` in `dtype` (seeded)."""
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            return VideoReferForConditionalGeneration._from_config(config, attn_implementation=attn)
    finally:
        torch.set_default_dtype(previous)


def make_inputs(model, batch_size: int, num_frames: int, prompt_tokens: int, device: str) -> dict:
    """A batch of identical-layout samples: text, the video's placeholders, one object with one mask frame."""
    config = model.config
    generator = torch.Generator().manual_seed(batch_size)
    num_visual = model.model.expected_visual_tokens(num_frames)
    vocab = config.text_config.vocab_size - 2
    rows = []
    for _ in range(batch_size):
        text = torch.randint(10, vocab, (prompt_tokens,), generator=generator)
        head, tail = text[:20], text[20:]
        tail[5] = config.region_token_id
        rows.append(torch.cat([head, torch.full((num_visual,), config.video_token_id), tail]))
    input_ids = torch.stack(rows).to(device)
    size = config.vision_config.image_size
    grid = config.vision_grid_size
    dtype = model.dtype
    masks = torch.zeros(batch_size, grid, grid)
    masks[:, grid // 4 : grid // 2, grid // 4 : grid // 2] = 1
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "pixel_values_videos": torch.randn(batch_size, num_frames, 3, size, size, generator=generator).to(device, dtype),
        "region_pixel_values": torch.randn(batch_size, 3, size, size, generator=generator).to(device, dtype),
        "region_masks": masks.to(device),
        "region_mask_frame_index": torch.arange(batch_size, device=device),
        "region_masks_per_object": torch.ones(batch_size, dtype=torch.long, device=device),
    }


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str, repeats: int, warmup: int) -> float:
    """Median seconds of `fn()` over `repeats` runs after `warmup` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def generate_fn(model, inputs, new_tokens: int, mode: str, fast: FastGreedyGenerator | None):
    """Greedy generation of exactly `new_tokens` in one of the modes:
    `eager` (`generate`, dynamic cache), `static` (`generate` with `cache_implementation="static"`: transformers
    compiles the decoding step) or `fast` (`FastGreedyGenerator`: reused static caches, compiled step + argmax)."""
    kwargs = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens}
    if mode == "fast":
        return lambda: fast.generate(**inputs, **kwargs)
    if mode == "static":
        kwargs["cache_implementation"] = "static"
    return lambda: model.generate(**inputs, do_sample=False, **kwargs)


@torch.inference_mode()
def run(args) -> dict:
    model = build_model(args)
    results: dict = {"device": torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device,
                     "dtype": args.dtype, "attn": args.attn, "modes": {}}
    for mode in args.modes:
        row: dict = {}
        single = make_inputs(model, 1, args.num_frames, args.prompt_tokens, args.device)
        fast = FastGreedyGenerator(
            model, max_cache_len=single["input_ids"].shape[1] + args.long_tokens, tune_kernels=args.tune_kernels
        )
        row["seq_len"] = int(single["input_ids"].shape[1])
        prefill = timed(lambda: model(**single, use_cache=True, logits_to_keep=1), args.device, args.repeats, args.warmup)
        row["prefill_ms"] = prefill * 1000
        one_token = timed(generate_fn(model, single, 1, mode, fast), args.device, args.repeats, args.warmup)
        long_gen = timed(generate_fn(model, single, args.long_tokens, mode, fast), args.device, args.repeats, args.warmup)
        # decoding rate: the extra tokens over the extra time of a long answer versus a one-token answer
        row["decode_tok_s"] = (args.long_tokens - 1) / (long_gen - one_token)
        row["bs1_long_answer_s"] = long_gen
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
            generate_fn(model, single, args.long_tokens, mode, fast)()
            row["peak_gb"] = torch.cuda.max_memory_allocated() / 1e9
            row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
        for batch_size in args.batch_sizes:
            batch = make_inputs(model, batch_size, args.num_frames, args.prompt_tokens, args.device)
            short = timed(generate_fn(model, batch, args.short_tokens, mode, fast), args.device, args.repeats, args.warmup)
            row[f"bench_q_samples_s@{batch_size}"] = batch_size / short
            long = timed(generate_fn(model, batch, args.long_tokens, mode, fast), args.device, max(1, args.repeats // 2), 1)
            row[f"bench_d_samples_s@{batch_size}"] = batch_size / long
        results["modes"][mode] = row
        print(f"[{mode}] " + json.dumps(row), flush=True)
    return results


def format_table(results: dict, batch_sizes: list[int]) -> str:
    modes = list(results["modes"])
    lines = [f"device: {results['device']}, dtype {results['dtype']}, attention {results['attn']}", ""]
    lines.append("| measure | original | target | " + " | ".join(modes) + " |")
    lines.append("|---|---|---|" + "---|" * len(modes))

    def add(label, key, original=None, target=None, fmt="{:.1f}"):
        values = [fmt.format(results["modes"][m][key]) if key in results["modes"][m] else "-" for m in modes]
        lines.append(f"| {label} | {original if original is not None else '-'} | {target if target is not None else '-'} | " + " | ".join(values) + " |")

    add("prefill, bs=1 (ms)", "prefill_ms", "155", "<= 70")
    add("decode, bs=1 (tokens/s)", "decode_tok_s", "33", ">= 150")
    for batch_size in batch_sizes:
        add(f"Bench-Q workload, bs={batch_size} (samples/s)", f"bench_q_samples_s@{batch_size}", "4.3 (bs=1)", ">= 13")
    for batch_size in batch_sizes:
        add(f"Bench-D workload, bs={batch_size} (samples/s)", f"bench_d_samples_s@{batch_size}", "0.13 (bs=1)", ">= 5", "{:.2f}")
    add("peak memory, bs=1 (GB = 1e9 B)", "peak_gb", "18.1", "<= 17.5", "{:.2f}")
    add("peak memory, bs=1 (GiB)", "peak_gib", None, None, "{:.2f}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=None, help="load this checkpoint instead of random 7B-shaped weights")
    parser.add_argument(
        "--tiny", action="store_true",
        help="a tiny random model and small shapes, few repeats (a CPU smoke run of the script; numbers mean nothing)",
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bf16", choices=["bf16", "fp16", "float32"])
    parser.add_argument("--attn", default="sdpa", help="sdpa, eager or flash_attention_2")
    parser.add_argument("--modes", nargs="+", default=["eager", "static", "fast"], choices=["eager", "static", "fast"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8, 32])
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--prompt-tokens", type=int, default=70)
    parser.add_argument("--short-tokens", type=int, default=4)
    parser.add_argument("--long-tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--prune-vision", action="store_true", help="drop the never-used last vision layer and head")
    parser.add_argument("--compile-vision", action="store_true", help="torch.compile the vision tower for prefill")
    parser.add_argument("--tune-kernels", action="store_true", help="fast mode: FastGreedyGenerator(tune_kernels=True)")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parse_args(parser, argv, TINY_DEFAULTS)
    results = run(args)
    print(format_table(results, args.batch_sizes))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

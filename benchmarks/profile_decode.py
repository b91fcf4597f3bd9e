"""Decoding step of FastGreedyGenerator in isolation (7B shapes, random weights, one GPU).

    python benchmarks/profile_decode.py --batch-sizes 1 8 32

For each batch size: one generation to compile, then the median time of the compiled step alone (a CUDA graph
replay: embedding -> Qwen2 -> LM head -> argmax) and of a whole decoding iteration of `generate` (step + the
bookkeeping around it), both per token.

    python benchmarks/profile_decode.py --batch-sizes 1 --tune-kernels
    python benchmarks/profile_decode.py --batch-sizes 1 --kernels 25

--tune-kernels is FastGreedyGenerator's option (inductor's coordinate descent over the generated kernels' launch
settings); --kernels N then compiles the same step without CUDA graphs (whose replay hides the kernels) and prints
the N kernels that take most GPU time over 20 steps (torch.profiler).
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_inference import build_model, make_inputs, parse_args, synchronize  # noqa: E402
from transformers_videorefer.generation.fast_greedy import FastGreedyGenerator, _DecodeState  # noqa: E402

# --tiny: a tiny random model on the CPU, where FastGreedyGenerator runs its step uncompiled and without CUDA graphs
# (a smoke run of the script; its numbers mean nothing, and the --kernels table needs CUDA)
TINY_DEFAULTS = {"device": "cpu", "dtype": "float32", "batch_sizes": [1, 2], "tokens": 8, "num_frames": 4}


@torch.inference_mode()
def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8, 32])
    parser.add_argument("--attn", default="sdpa")
    parser.add_argument("--dtype", default="bf16")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--tiny", action="store_true", help="a tiny random model, 8 tokens (a CPU smoke run)")
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--tune-kernels", action="store_true")
    parser.add_argument("--kernels", type=int, default=0, help="Print the top N kernels of the step.")
    parser.add_argument("--no-split-kv", action="store_true", help="sdpa_grouped without its split-KV decode kernel")
    args = parse_args(parser, argv, TINY_DEFAULTS)
    if args.no_split_kv:
        import transformers_videorefer.generation.attention as attention

        attention.can_use_split_kv_decode = lambda *_: False
    model = build_model(args)
    for batch_size in args.batch_sizes:
        inputs = make_inputs(model, batch_size, args.num_frames, 70, args.device)
        compile_start = time.perf_counter()
        generator = FastGreedyGenerator(model, inputs["input_ids"].shape[1] + args.tokens + 8, tune_kernels=args.tune_kernels)
        for _ in range(2):  # compile, then record the CUDA graph (on a GPU)
            generator.generate(**inputs, max_new_tokens=args.tokens, min_new_tokens=args.tokens)
        compile_s = time.perf_counter() - compile_start
        state = generator._states[batch_size]
        step_ms = median_step_ms(state, device=args.device)
        synchronize(args.device)
        start = time.perf_counter()
        generator.generate(**inputs, max_new_tokens=1, min_new_tokens=1)
        synchronize(args.device)
        one = time.perf_counter() - start
        start = time.perf_counter()
        generator.generate(**inputs, max_new_tokens=args.tokens, min_new_tokens=args.tokens)
        synchronize(args.device)
        full = time.perf_counter() - start
        per_token = 1000 * (full - one) / (args.tokens - 1)
        print(f"batch {batch_size:3d}{' (tuned kernels)' if args.tune_kernels else ''}{' (no split-KV)' if args.no_split_kv else ''}: "
              f"{'compiled step' if generator.compile else 'uncompiled step'} {step_ms:6.2f} ms, decoding iteration {per_token:6.2f} ms/token "
              f"({batch_size * 1000 / per_token:7.1f} tokens/s); compile + 2 warm-up generations {compile_s:.0f} s", flush=True)
        if args.kernels and not args.device.startswith("cuda"):
            print(f"  (--kernels: the kernel table profiles CUDA kernels and needs --device cuda; skipped on {args.device})")
        elif args.kernels:
            print_kernel_table(model, generator, batch_size, inputs, args)


def median_step_ms(state, repeats: int = 30, device: str = "cuda") -> float:
    """Median milliseconds of one compiled decoding step (a CUDA graph replay on a GPU), from an emptied cache.

    The timed steps' tokens are meaningless; their cost is not.
    """
    state.cache.reset()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        state.step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def print_kernel_table(model, generator, batch_size: int, inputs: dict, args, steps: int = 20) -> None:
    """GPU time per kernel of the step compiled without CUDA graphs, over `steps` steps: the `top` largest."""
    from torch.profiler import ProfilerActivity, profile

    state = _DecodeState(
        model, batch_size, generator.max_cache_len, inputs["input_ids"].device, compile=True,
        tune_kernels=args.tune_kernels, cuda_graphs=False,
    )
    generator._states[batch_size] = state
    generator.generate(**inputs, max_new_tokens=args.tokens, min_new_tokens=args.tokens)  # compile
    state.cache.reset()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            state.step()
        torch.cuda.synchronize()
    kernels = [e for e in prof.key_averages() if e.device_time_total > 0]
    total = sum(e.device_time_total for e in kernels)
    launches = sum(e.count for e in kernels) / steps
    print(f"  GPU time per step {total / steps / 1000:.2f} ms in {launches:.0f} kernels")
    for event in sorted(kernels, key=lambda e: -e.device_time_total)[: args.kernels]:
        print(f"  {event.device_time_total / steps / 1000:7.3f} ms/step {event.count // steps:4d}x  {event.key[:110]}")


if __name__ == "__main__":
    main()

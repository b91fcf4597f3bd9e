"""Decoding step of FastGreedyGenerator in isolation (7B shapes, random weights, one GPU).

    python benchmarks/profile_decode.py --batch-sizes 1 8 32

For each batch size: one generation to compile, then the median time of the compiled step alone (a CUDA graph
replay: embedding -> Qwen2 -> LM head -> argmax) and of a whole decoding iteration of `generate` (step + the
bookkeeping around it), both per token.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_inference import build_model, make_inputs  # noqa: E402
from transformers_videorefer.generation_videorefer import FastGreedyGenerator  # noqa: E402


@torch.inference_mode()
def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8, 32])
    parser.add_argument("--attn", default="sdpa")
    parser.add_argument("--dtype", default="bf16")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args(argv)
    model = build_model(args)
    for batch_size in args.batch_sizes:
        inputs = make_inputs(model, batch_size, 16, 70, args.device)
        generator = FastGreedyGenerator(model, inputs["input_ids"].shape[1] + args.tokens + 8)
        for _ in range(2):  # compile, then record the CUDA graph
            generator.generate(**inputs, max_new_tokens=args.tokens, min_new_tokens=args.tokens)
        state = generator._states[batch_size]
        state.cache.reset()  # room for the timed steps (their tokens are meaningless, their cost is not)
        times = []
        for _ in range(30):
            torch.cuda.synchronize()
            start = time.perf_counter()
            state.step()
            torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        step_ms = 1000 * statistics.median(times)
        torch.cuda.synchronize()
        start = time.perf_counter()
        generator.generate(**inputs, max_new_tokens=1, min_new_tokens=1)
        torch.cuda.synchronize()
        one = time.perf_counter() - start
        start = time.perf_counter()
        generator.generate(**inputs, max_new_tokens=args.tokens, min_new_tokens=args.tokens)
        torch.cuda.synchronize()
        full = time.perf_counter() - start
        per_token = 1000 * (full - one) / (args.tokens - 1)
        print(f"batch {batch_size:3d}: compiled step {step_ms:6.2f} ms, decoding iteration {per_token:6.2f} ms/token "
              f"({batch_size * 1000 / per_token:7.1f} tokens/s)", flush=True)


if __name__ == "__main__":
    main()

"""Decode-step attention variants at the 7B shapes (one GPU): step time and agreement with the current kernel.

At batch 1, `sdpa_grouped` hands SDPA 4 key/value heads x 7 query rows: cuDNN's kernel then runs on 4 thread blocks,
each streaming its head's whole cache, about 35 us a layer (1 ms of a 7.3 ms step, see profile_decode.py
--kernels). The variants spread the cache over more of the GPU:

  sdpa_grouped  the current path (baseline)
  math32        explicit attention in float32: scores by a batched GEMM, softmax, a second GEMM
  flex          torch's flex_attention (split-KV decoding kernel, GQA), the mask applied by a score_mod

For each: the compiled step's median time (FastGreedyGenerator, CUDA graphs) and the share of a 64-token greedy
answer (random weights) equal to the baseline's. On an H100 with torch 2.11 (2026-11-26): math32 was slower
(8.64 vs 7.99 ms) and flex failed to compile inside the CUDA-graph step (Triton "XBLOCK is not defined"), so flex
is not in the default list.

    python benchmarks/profile_decode_attention.py --variants sdpa_grouped math32 flex
"""

import argparse
import sys
import time
from pathlib import Path

import torch
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_inference import build_model, make_inputs, parse_args  # noqa: E402
from profile_decode import median_step_ms  # noqa: E402
from transformers_videorefer.generation.attention import grouped_query_sdpa_forward  # noqa: E402
from transformers_videorefer.generation.fast_greedy import FastGreedyGenerator  # noqa: E402


def math32_forward(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    batch, query_heads, query_length, dim = query.shape
    kv_heads = key.shape[1]
    if query_length != 1:
        return grouped_query_sdpa_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    scale = dim**-0.5 if scaling is None else scaling
    grouped = query.reshape(batch, kv_heads, query_heads // kv_heads, dim).float()
    scores = torch.matmul(grouped, key.float().transpose(-1, -2)) * scale
    if attention_mask is not None:
        mask = attention_mask[:, :, :1, : key.shape[-2]]
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    output = torch.matmul(scores.softmax(-1), value.float()).to(query.dtype)
    return output.reshape(batch, query_heads, 1, dim).transpose(1, 2).contiguous(), None


def flex_forward(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    from torch.nn.attention.flex_attention import flex_attention

    if query.shape[2] != 1:
        return grouped_query_sdpa_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    mask = None if attention_mask is None else attention_mask[:, 0, 0, : key.shape[-2]]

    def score_mod(score, b, h, q_idx, kv_idx):
        return score if mask is None else torch.where(mask[b, kv_idx], score, float("-inf"))

    output = flex_attention(query, key, value, score_mod=score_mod, scale=scaling, enable_gqa=True)
    return output.transpose(1, 2).contiguous(), None


VARIANTS = {"sdpa_grouped": None, "math32": math32_forward, "flex": flex_forward}
# --tiny: a tiny random model on the CPU, where the step runs uncompiled without CUDA graphs (a smoke run of the
# script: the variants' agreement is meaningful, their times are not)
TINY_DEFAULTS = {"device": "cpu", "dtype": "float32", "tokens": 8, "num_frames": 4}


@torch.inference_mode()
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", nargs="+", default=["sdpa_grouped", "math32"], choices=list(VARIANTS))
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--tune-kernels", action="store_true", help="FastGreedyGenerator(tune_kernels=True)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dtype", default="bf16", choices=["bf16", "fp16", "float32"])
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--tiny", action="store_true", help="a tiny random model, 8 tokens (a CPU smoke run)")
    args = parse_args(parser, argv, TINY_DEFAULTS)
    for name, function in VARIANTS.items():
        if function is not None:
            AttentionInterface.register(f"bench_{name}", function)
            AttentionMaskInterface.register(f"bench_{name}", sdpa_mask)
    build_args = argparse.Namespace(checkpoint=None, tiny=args.tiny, device=args.device, dtype=args.dtype, attn="sdpa_grouped")
    model = build_model(build_args)
    for batch_size in args.batch_sizes:
        inputs = make_inputs(model, batch_size, args.num_frames, 70, args.device)
        reference_tokens = None
        for variant in args.variants:
            model.set_attn_implementation("sdpa_grouped" if variant == "sdpa_grouped" else f"bench_{variant}")
            start = time.perf_counter()
            generator = FastGreedyGenerator(
                model, inputs["input_ids"].shape[1] + args.tokens + 8, tune_kernels=args.tune_kernels
            )
            for _ in range(2):
                tokens = generator.generate(**inputs, max_new_tokens=args.tokens, min_new_tokens=args.tokens)
            tokens = tokens[:, -args.tokens :]  # the answer
            compile_s = time.perf_counter() - start
            state = generator._states[batch_size]
            if reference_tokens is None:
                reference_tokens = tokens
            step_ms = median_step_ms(state, device=args.device)
            same = (tokens == reference_tokens).float().mean().item()
            print(
                f"batch {batch_size:3d} {variant:13s}: step {step_ms:6.2f} ms ({batch_size * 1000 / step_ms:6.1f} tok/s), "
                f"greedy tokens equal to sdpa_grouped's {100 * same:.0f} %, compile {compile_s:.0f} s",
                flush=True,
            )
            del generator, state


if __name__ == "__main__":
    main()

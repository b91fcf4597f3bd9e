"""Stage-3 training throughput of VideoRefer at the real 7B shapes on one GPU.

Stage 3 trains everything but the vision tower. A full 7B fine-tune with AdamW needs ~16 bytes per parameter
(fp32 master weights, gradients and two moments), more than one 80 GB card holds, so by default the language model
is truncated to --llm-layers decoder layers (all other parts at full size). With --lora the whole 28-layer model is
kept in bf16 and LoRA adapters (r=--lora-r) train on its linear layers, connector and region encoder in full.

Each sample: 16 frames + 1 mask frame, one object, a 70-token prompt and a --answer-tokens answer (the loss is on
the answer). Mixed precision as the Trainer runs it (fp32 weights + bf16 autocast; bf16 weights with --lora),
gradient checkpointing, fused AdamW.

Reported: step time (median after warm-up), tokens/s (language-model tokens per second, the sequence including
visual tokens), and MFU = model FLOPs per step / step time / peak, where model FLOPs are counted with
torch.utils.flop_counter on one forward (matmuls, convolutions, attention): 3x the forward FLOPs of the trained
parts (forward + backward) plus 1x those of the frozen vision tower; recomputation from gradient checkpointing is
not counted. Peak: 989 TFLOP/s (H100 SXM dense bf16).

    python benchmarks/bench_train.py --llm-layers 8 --batch-size 4
    python benchmarks/bench_train.py --lora --batch-size 4
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import transformers_videorefer  # noqa: E402,F401
from bench_inference import make_inputs, parse_args, random_model, synchronize, tiny_config  # noqa: E402
from transformers_videorefer import VideoReferConfig  # noqa: E402

H100_BF16_PEAK = 989e12
# --tiny: a CPU smoke run of the script (its numbers mean nothing)
TINY_DEFAULTS = {"device": "cpu", "batch_size": 1, "num_frames": 4, "prompt_tokens": 30, "answer_tokens": 16,
                 "steps": 2, "warmup": 1, "lora_r": 4}


def truncate_language_model(config: VideoReferConfig, num_layers: int) -> int:
    """Keep the first `num_layers` decoder layers of the config's language model (its `layer_types` too); a config
    with fewer layers keeps them all. Returns the number of layers kept."""
    if num_layers < 1:
        raise ValueError(f"--llm-layers must be at least 1, got {num_layers}.")
    text_config = config.text_config
    kept = min(num_layers, text_config.num_hidden_layers)
    text_config.num_hidden_layers = kept
    if getattr(text_config, "layer_types", None) is not None:
        text_config.layer_types = list(text_config.layer_types[:kept])
    return kept


def build(args):
    config = tiny_config() if args.tiny else VideoReferConfig()
    if args.llm_layers and not args.lora:
        args.llm_layers = truncate_language_model(config, args.llm_layers)
    model = random_model(config, args.device, torch.bfloat16 if args.lora else torch.float32, args.attn)
    model.model.vision_tower.requires_grad_(False)
    if args.lora:
        from peft import LoraConfig, get_peft_model

        model.requires_grad_(False)
        lora = LoraConfig(
            r=args.lora_r, lora_alpha=2 * args.lora_r, lora_dropout=0.0,
            target_modules=r".*language_model\.layers\.\d+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)",
            modules_to_save=["multi_modal_projector", "region_encoder"],
        )
        model = get_peft_model(model, lora)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    return model


def base_layers(model) -> int:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.config.text_config.num_hidden_layers


def make_batch(model, args) -> dict:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    batch = make_inputs(base, args.batch_size, args.num_frames, args.prompt_tokens + args.answer_tokens, args.device)
    labels = torch.full_like(batch["input_ids"], -100)
    labels[:, -args.answer_tokens :] = batch["input_ids"][:, -args.answer_tokens :]
    batch["labels"] = labels
    return batch


def count_flops(model, batch, args) -> tuple[float, float]:
    """Forward FLOPs of (the frozen vision tower's feature passes, everything else) for one batch."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    # The FLOP counter cannot read SDPA with grouped key/value heads: count with eager attention (same FLOPs).
    base.set_attn_implementation("eager")
    with torch.no_grad(), torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16):
        with FlopCounterMode(display=False) as vision_counter:
            frames = torch.cat([batch["pixel_values_videos"].flatten(0, 1), batch["region_pixel_values"]])
            base.model.get_frame_features(frames)
        with FlopCounterMode(display=False) as total_counter:
            model(**batch)
    base.set_attn_implementation(args.attn)
    vision = vision_counter.get_total_flops()
    return float(vision), float(total_counter.get_total_flops() - vision)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="a tiny random model, small shapes, 2 steps (CPU smoke run)")
    parser.add_argument("--attn", default="sdpa")
    parser.add_argument("--llm-layers", type=int, default=8)
    parser.add_argument("--lora", action="store_true")
    parser.add_argument("--lora-r", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--prompt-tokens", type=int, default=70)
    parser.add_argument("--answer-tokens", type=int, default=128)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parse_args(parser, argv, TINY_DEFAULTS)

    model = build(args)
    batch = make_batch(model, args)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-5, fused=args.device.startswith("cuda"))
    autocast = torch.autocast(args.device.split(":")[0], dtype=torch.bfloat16)
    vision_flops, trained_flops = count_flops(model, batch, args)
    times = []
    for step in range(args.warmup + args.steps):
        synchronize(args.device)
        start = time.perf_counter()
        with autocast:
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        synchronize(args.device)
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
        if not torch.isfinite(loss):
            raise RuntimeError(f"loss is {loss.item()} at step {step}")
    step_time = statistics.median(times)
    tokens = batch["input_ids"].numel()
    model_flops = vision_flops + 3 * trained_flops
    result = {
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device,
        "setup": f"LoRA r={args.lora_r}, {base_layers(model)} layers, bf16 weights" if args.lora else f"full FT, {args.llm_layers} LLM layers, fp32 weights + bf16 autocast",
        "trainable_params_b": sum(p.numel() for p in params) / 1e9,
        "batch_size": args.batch_size,
        "seq_len": int(batch["input_ids"].shape[1]),
        "step_s": step_time,
        "tokens_per_s": tokens / step_time,
        "model_tflop_per_step": model_flops / 1e12,
        "mfu": model_flops / step_time / H100_BF16_PEAK,
        "peak_memory_gb": torch.cuda.max_memory_allocated() / 1e9 if args.device.startswith("cuda") else None,
        "final_loss": float(loss),
    }
    print(json.dumps(result, indent=2))
    print("| setup | batch | step | tokens/s | MFU |\n|---|---|---|---|---|")
    print(
        f"| {result['setup']} | bs {args.batch_size} x {result['seq_len']} tokens | {step_time * 1000:.0f} ms/step | "
        f"{result['tokens_per_s']:.0f} tokens/s | MFU {100 * result['mfu']:.1f}% |"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

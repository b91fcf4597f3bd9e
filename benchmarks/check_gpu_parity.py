"""On a GPU: the golden cases in float32, eager path vs the optimised path (static cache + compiled decoding).

Checks that the optimised path changes no result: greedy ids of both paths equal the original code's, and the
logits of the whole sequence stay within 1e-4 of the original's on CUDA (TF32 off).

    python benchmarks/check_gpu_parity.py --golden ../shared/golden/videorefer_tiny
    python benchmarks/check_gpu_parity.py --tiny --device cpu   # the same checks on the CPU (golden found itself)

The golden checkpoint is tiny already: --tiny only picks the CPU and finds the golden folder (`$VIDEOREFER_GOLDEN`, by
default ../shared/golden) when --golden is not given. On the CPU, the static-cache path runs uncompiled.
"""

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import transformers_videorefer  # noqa: E402,F401
from bench_inference import golden_checkpoint, parse_args  # noqa: E402
from helpers import golden_inputs, load_case  # noqa: E402
from transformers import AutoModelForImageTextToText  # noqa: E402

CASES = ("image_two_objects", "video_dir_single_frame_mask", "video_mp4_multi_frame_masks")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--golden", default=None, help="the videorefer_tiny folder (required without --tiny)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="on the CPU, golden folder found itself (a smoke run)")
    args = parse_args(parser, argv, {"device": "cpu", "golden": str(golden_checkpoint().parent)})
    if args.golden is None:
        parser.error("--golden is required without --tiny")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    golden = Path(args.golden)
    failures = 0
    for attn in ("eager", "sdpa"):
        model = AutoModelForImageTextToText.from_pretrained(golden / "checkpoint", attn_implementation=attn)
        model = model.to(args.device).eval()
        for case in CASES:
            expected = load_case(golden, case)
            ids, kwargs = golden_inputs(model, expected)
            ids = ids.to(args.device)
            kwargs = {k: v.to(args.device) for k, v in kwargs.items()}
            with torch.no_grad():
                logits = model(input_ids=ids, **kwargs).logits[0].cpu()
            error = (logits - expected["logits"]).abs().max().item()
            generated = {}
            for mode in ("dynamic", "static"):
                extra = {"cache_implementation": "static"} if mode == "static" else {}
                out = model.generate(
                    input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs,
                    max_new_tokens=8, min_new_tokens=8, do_sample=False, **extra,
                )
                generated[mode] = out[0, ids.shape[1]:].cpu().tolist()
            ok = error < 1e-4 and generated["dynamic"] == generated["static"] == expected["generated_ids"].tolist()
            failures += not ok
            print(f"{attn:5s} {case:30s} max|logits-golden|={error:.2e} dynamic={generated['dynamic']} "
                  f"static+compiled={generated['static']} golden={expected['generated_ids'].tolist()} {'OK' if ok else 'FAIL'}")
    print("all equal" if failures == 0 else f"{failures} FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

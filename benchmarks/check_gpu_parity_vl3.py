"""On a GPU: the VideoRefer-VideoLLaMA3 golden cases from their raw media, float32, against the original's numbers.

For each case of `videorefer_vl3_tiny` (its media, masks and question through `AutoProcessor`, then the model on the
device, TF32 off): the logits over the whole sequence within 1e-4 of the original's and the 8 greedy tokens equal,
with eager and sdpa attention; then the four cases in one left-padded batch (each row's greedy tokens); then a bf16
run of the batch (it must generate; bf16 numbers are not compared); then the batch through `FastGreedyGenerator`
(static caches, the decoding step compiled on CUDA), float32, against the golden ids.

    python benchmarks/check_gpu_parity_vl3.py --golden ../shared/golden/videorefer_vl3_tiny
    python benchmarks/check_gpu_parity_vl3.py --tiny --device cpu   # the same checks on the CPU (golden found itself)
"""

import argparse
import os
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "models" / "videorefer_vl3"))

from golden_vl3 import VL3_CASES, load_vl3_case  # noqa: E402
from transformers import AutoModelForImageTextToText, AutoProcessor  # noqa: E402
from vl3_model_inputs import left_padded_batch  # noqa: E402

import transformers_videorefer  # noqa: E402,F401  (registers the model types)
from transformers_videorefer.models.videorefer_vl3.processing_videorefer_vl3 import messages_from_question  # noqa: E402

GREEDY = {"max_new_tokens": 8, "min_new_tokens": 8, "do_sample": False, "repetition_penalty": 1.0, "eos_token_id": None}


def case_request(golden: Path, name: str) -> tuple[dict, dict, dict]:
    """(processor kwargs without text, case.json, expected.pt) of one golden case."""
    case, expected = load_vl3_case(golden, name)
    media = str(golden / "cases" / name / case["media"])
    kwargs = {"images" if case["modality"] == "image" else "videos": [media], "masks": [case["annotation"]]}
    if case["modality"] == "video":
        kwargs.update(fps=case["fps"], max_frames=case["max_frames"])
    return kwargs, case, expected


def prompt_of(processor, case: dict) -> str:
    return processor.apply_chat_template(messages_from_question(case["question"], case["modality"]), add_generation_prompt=True)


def to_device(inputs, device: str, dtype: torch.dtype | None = None) -> dict:
    moved = {}
    for key, value in inputs.items():
        value = value.to(device)
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        moved[key] = value
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--golden", default=None, help="the videorefer_vl3_tiny folder (required without --tiny)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--tiny", action="store_true", help="the golden folder found itself (a smoke run)")
    args = parser.parse_args(argv)
    if args.golden is None:
        if not args.tiny:
            parser.error("--golden is required without --tiny")
        root = os.environ.get("VIDEOREFER_GOLDEN") or ROOT.parent / "shared" / "golden"
        args.golden = str(Path(root) / "videorefer_vl3_tiny")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    golden = Path(args.golden)
    processor = AutoProcessor.from_pretrained(golden / "checkpoint")
    failures = 0
    for attn in ("eager", "sdpa"):
        model = AutoModelForImageTextToText.from_pretrained(golden / "checkpoint", attn_implementation=attn)
        model = model.to(args.device).eval()
        for name in VL3_CASES:
            kwargs, case, expected = case_request(golden, name)
            inputs = processor(text=[prompt_of(processor, case)], return_tensors="pt", **kwargs)
            same_ids = torch.equal(inputs["input_ids"][0], expected["input_ids"])
            inputs = to_device(inputs, args.device)
            with torch.no_grad():
                logits = model(**inputs).logits[0].float().cpu()
            error = (logits - expected["logits"]).abs().max().item() if logits.shape == expected["logits"].shape else float("inf")
            generated = model.generate(**inputs, **GREEDY)[0, inputs["input_ids"].shape[1]:].cpu().tolist()
            ok = same_ids and error <= 1e-4 and generated == expected["generated_ids"].tolist()
            failures += not ok
            print(f"{attn:5s} {name:32s} ids {'equal' if same_ids else 'DIFFER'} max|logits-golden|={error:.2e} "
                  f"greedy={generated} golden={expected['generated_ids'].tolist()} {'OK' if ok else 'FAIL'}")
    # the four cases in one left-padded batch (each processed with its own fps / max_frames, then concatenated)
    model = AutoModelForImageTextToText.from_pretrained(golden / "checkpoint").to(args.device).eval()
    singles, expected_ids = [], []
    for name in VL3_CASES:
        kwargs, case, expected = case_request(golden, name)
        singles.append(dict(processor(text=[prompt_of(processor, case)], return_tensors="pt", **kwargs)))
        expected_ids.append(expected["generated_ids"].tolist())
    batch = left_padded_batch(singles, processor.tokenizer.pad_token_id)
    for dtype in (None, torch.bfloat16):
        label = "bf16" if dtype is torch.bfloat16 else "fp32"
        inputs = to_device(batch, args.device, dtype)
        out = model.to(dtype or torch.float32).generate(**inputs, **GREEDY)[:, inputs["input_ids"].shape[1]:].cpu().tolist()
        ok = (out == expected_ids) if dtype is None else all(len(row) == 8 for row in out)
        failures += not ok
        print(f"{label} batch of {len(VL3_CASES)}, left-padded: {out} {'OK' if ok else 'FAIL'}"
              + ("" if dtype is None else f" (golden fp32 {expected_ids}; bf16 is not compared)"))
    # the fast generation path: static caches and the decoding step compiled (on CUDA), the same batch in float32
    from transformers_videorefer.generation.fast_greedy import FastGreedyGenerator

    model = model.to(torch.float32)
    inputs = to_device(batch, args.device)
    generator = FastGreedyGenerator(
        model, max_cache_len=inputs["input_ids"].shape[1] + GREEDY["max_new_tokens"],
        compile="always" if str(args.device).startswith("cuda") else "never",
    )
    out = generator.generate(**inputs, max_new_tokens=8, min_new_tokens=8)[:, inputs["input_ids"].shape[1]:].cpu().tolist()
    ok = out == expected_ids
    failures += not ok
    print(f"fast generation ({generator.compile_choice.report}) batch of {len(VL3_CASES)}: {out} {'OK' if ok else 'FAIL'}")
    print("all equal" if failures == 0 else f"{failures} FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

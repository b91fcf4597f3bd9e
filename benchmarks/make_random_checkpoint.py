"""Save a randomly initialised VideoRefer checkpoint (native format, with its processor) at the released 7B shapes.

For training and inference runs where the released weights cannot be downloaded: the model is VideoReferConfig()'s
(SigLIP so400m at 384 px, STC connector, Qwen2-7B, 16 frames) with seeded random weights, built directly on
--device in --dtype. The tokenizer comes from --tokenizer (any VideoRefer checkpoint folder, the golden tiny one
included: its ids only have to fit the model's vocabulary), the SigLIP preprocessing from the vision tower's
published settings (no download). --tiny makes a small model of the same layout instead (a smoke run on a CPU).

    python benchmarks/make_random_checkpoint.py --tokenizer ../shared/golden/videorefer_tiny/checkpoint \\
        --out /tmp/videorefer-7b-random --device cuda
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_inference import golden_checkpoint, parse_args, random_model, tiny_config  # noqa: E402
from transformers_videorefer import VideoReferConfig, VideoReferProcessor  # noqa: E402
from transformers_videorefer.models.videorefer.processing_videorefer import REGION_TOKEN, image_processor_for_vision_tower  # noqa: E402

RELEASED_VISION_TOWER = "google/siglip-so400m-patch14-384"  # what the 7B release names in mm_vision_tower
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "float32": torch.float32}


def make_random_checkpoint(
    tokenizer_source: str, out: Path, device: str = "cpu", dtype: str = "bf16", tiny: bool = False
) -> Path:
    """Write config, random weights (seed 0), tokenizer and processor to `out`; return `out`."""
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    if REGION_TOKEN not in tokenizer.get_vocab():
        tokenizer.add_tokens([REGION_TOKEN], special_tokens=True)
    region_token_id = tokenizer.convert_tokens_to_ids(REGION_TOKEN)
    token_ids = {"region_token_id": region_token_id, "image_token_id": region_token_id + 1, "video_token_id": region_token_id + 2}
    config = tiny_config() if tiny else VideoReferConfig()
    for name, value in token_ids.items():
        setattr(config, name, value)
    if region_token_id + 2 >= config.text_config.vocab_size:
        raise ValueError(
            f"The tokenizer of {tokenizer_source} needs ids up to {region_token_id + 2}, more than the model's "
            f"vocabulary of {config.text_config.vocab_size}."
        )
    image_processor = image_processor_for_vision_tower(None if tiny else RELEASED_VISION_TOWER, config.vision_config.image_size)
    processor = VideoReferProcessor(
        image_processor=image_processor, tokenizer=tokenizer, **VideoReferProcessor.settings_from_config(config)
    )
    model = random_model(config, device, DTYPES[dtype], "sdpa")
    for settings in (model.config.text_config, model.generation_config):  # the tokenizer's special tokens rule
        settings.eos_token_id, settings.pad_token_id = tokenizer.eos_token_id, tokenizer.pad_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--tokenizer", default=None,
        help="A checkpoint folder (or Hub name) with a tokenizer (default with --tiny: the golden tiny checkpoint).",
    )
    parser.add_argument("--out", type=Path, default=None, help="Where to save (default with --tiny: a temporary folder).")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bf16")
    parser.add_argument("--tiny", action="store_true", help="A small model of the same layout (float32 by default).")
    args = parse_args(parser, argv, {"tokenizer": str(golden_checkpoint()), "dtype": "float32"})
    missing = [name for name in ("tokenizer", "out") if getattr(args, name) is None and not (args.tiny and name == "out")]
    if missing:
        parser.error(" and ".join(f"--{name}" for name in missing) + " required without --tiny")
    with tempfile.TemporaryDirectory(prefix="videorefer-random-") as scratch:
        out = args.out if args.out is not None else Path(scratch) / "checkpoint"
        start = time.perf_counter()
        make_random_checkpoint(args.tokenizer, out, args.device, args.dtype, args.tiny)
        files = sorted(f for f in out.iterdir() if f.is_file())
        size = sum(f.stat().st_size for f in files) / 1e9
        print(f"saved {out} ({size:.2f} GB) in {time.perf_counter() - start:.1f} s")
        print("| file | MB |\n|---|---|")
        for file in files:
            print(f"| {file.name} | {file.stat().st_size / 1e6:.2f} |")


if __name__ == "__main__":
    main()

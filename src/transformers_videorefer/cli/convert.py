# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""`videorefer convert --src REPO_OR_DIR --dst DIR [--push-to REPO] [--dtype bf16]`."""

import argparse
import sys

from ..dtypes import DTYPE_NAMES
from .common import fail


def run_convert(args: argparse.Namespace) -> int:
    from ..hub.convert import convert_checkpoint

    try:
        files = convert_checkpoint(
            args.src, args.dst, dtype=args.dtype, push_to=args.push_to, language_model=args.language_model,
            connector=args.connector, max_shard_size=args.max_shard_size,
        )
    except (ValueError, FileNotFoundError, OSError) as error:
        return fail(f"videorefer convert: {error}")
    sys.stdout.write(f"wrote {len(files)} files to {args.dst}" + (f" and pushed them to {args.push_to}" if args.push_to else "") + "\n")
    for name in files:
        sys.stdout.write(f"  {name}\n")
    return 0


def add_convert_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="Convert a released (original-format) checkpoint into a self-contained native repository.",
        description=(
            "Write safetensors shards, the native config with auto_map, the processor, a model card and this "
            "package's code (remote code), so that the result loads with trust_remote_code=True anywhere."
        ),
    )
    parser.add_argument("--src", required=True, help="Hub repository or folder of the release (legacy or native)")
    parser.add_argument("--dst", required=True, help="output folder")
    parser.add_argument("--push-to", default=None, help="also upload the output to this Hub repository")
    parser.add_argument("--dtype", default="bf16", choices=sorted(DTYPE_NAMES), help="bf16, fp16 or float32 (default bf16)")
    parser.add_argument("--max-shard-size", default="5GB", help="largest safetensors shard (default 5GB)")
    parser.add_argument("--language-model", default=None,
                        help="for a region_encoder.bin-only release (stage 2): the Qwen2 model (default Qwen2-7B-Instruct)")
    parser.add_argument("--connector", default=None,
                        help="for a region_encoder.bin-only release: the stage-1 mm_projector.bin or its repository")
    parser.set_defaults(run=run_convert)

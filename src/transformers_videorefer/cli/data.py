# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""`videorefer data check FILE --media-root DIR`: list every unusable sample of a training file."""

import argparse
import json
import os
import sys

from .common import fail


def _load_processor(model: str):
    """The processor of `model` (tokenizer and chat template only count the ids: no weights are loaded)."""
    import transformers_videorefer  # noqa: F401  (registers the VideoRefer processor with the Auto classes)
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(model)


def run_data_check(args: argparse.Namespace) -> int:
    if args.model_max_length < 1:
        return fail(f"videorefer data check: --model-max-length must be a positive number of ids, got {args.model_max_length}.")
    if args.limit < 0:
        return fail(f"videorefer data check: --limit must be 0 or more, got {args.limit}.")
    if not os.path.isfile(args.file):
        return fail(f"videorefer data check: no such data file: {args.file}")
    if args.media_root is not None and not os.path.isdir(args.media_root):
        return fail(f"videorefer data check: --media-root {args.media_root} is not a folder.")
    if args.model is not None and not os.path.isdir(args.model) and (os.path.exists(args.model) or args.model.count("/") != 1):
        return fail(f"videorefer data check: --model {args.model} is neither a checkpoint folder nor a Hub name (owner/name).")
    from ..training.data_check import check_data_file

    processor = None
    if args.model is not None:
        try:
            processor = _load_processor(args.model)
        except (OSError, ValueError, KeyError) as error:
            return fail(f"videorefer data check: cannot load the processor of --model {args.model}: {error}")
    try:
        report = check_data_file(
            args.file, args.media_root, progress=not args.quiet, processor=processor,
            model_max_length=args.model_max_length, plain=args.plain,
        )
    except (ValueError, FileNotFoundError) as error:
        return fail(f"videorefer data check: {error}")
    sys.stdout.write(report.format(limit=args.limit) + "\n")
    if args.json:
        payload = {
            "num_samples": report.num_samples,
            "counts": report.counts,
            "defects": [{"id": d.sample_id, "kind": d.kind, "message": d.message} for d in report.defects],
            "note_counts": report.note_counts,
            "notes": [{"id": n.sample_id, "kind": n.kind, "message": n.message} for n in report.notes],
            "model_max_length": args.model_max_length if processor is not None else None,
        }
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2)
    return 1 if report.defects else 0


def add_data_parser(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="Training data tools.")
    commands = data.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="Report every sample with missing/unreadable media, bad masks, out-of-range frames or <region> mismatches.",
    )
    check.add_argument("file", help="VideoRefer-700K-style JSON or JSONL file")
    check.add_argument("--media-root", default=None, help="folder that relative media paths start from")
    check.add_argument(
        "--model", default=None, metavar="PATH",
        help="checkpoint folder whose processor (tokenizer + chat template; no weights) counts each conversation's "
        "ids, to note those the original cuts at --model-max-length",
    )
    check.add_argument(
        "--model-max-length", type=int, default=2048, metavar="N",
        help="ids before expansion the original trains on (default 2048, as the original); needs --model",
    )
    check.add_argument("--plain", action="store_true", help="count the ids in stage 1's plain format (with --model)")
    check.add_argument("--json", default=None, help="also write the report as JSON to this file")
    check.add_argument("--limit", type=int, default=50, help="defects listed on stdout (all go to --json)")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(run=run_data_check)

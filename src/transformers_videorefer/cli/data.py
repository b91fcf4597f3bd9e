# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""`videorefer data check FILE --media-root DIR`: list every unusable sample of a training file."""

import argparse
import json
import sys

from .common import fail


def run_data_check(args: argparse.Namespace) -> int:
    from ..training.data_check import check_data_file

    try:
        report = check_data_file(args.file, args.media_root, progress=not args.quiet)
    except (ValueError, FileNotFoundError) as error:
        return fail(f"videorefer data check: {error}")
    sys.stdout.write(report.format(limit=args.limit) + "\n")
    if args.json:
        payload = {
            "num_samples": report.num_samples,
            "counts": report.counts,
            "defects": [{"id": d.sample_id, "kind": d.kind, "message": d.message} for d in report.defects],
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
    check.add_argument("--json", default=None, help="also write the report as JSON to this file")
    check.add_argument("--limit", type=int, default=50, help="defects listed on stdout (all go to --json)")
    check.add_argument("--quiet", action="store_true", help="no progress bar")
    check.set_defaults(run=run_data_check)

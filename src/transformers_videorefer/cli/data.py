# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""`videorefer data check FILE --media-root DIR`: list every unusable sample of a training file."""

import argparse
import json
import os
import sys

from .common import fail


def _load_processor(model: str):
    """The processor of `model` (tokenizer and chat template only count the ids: no weights are loaded)."""
    from transformers import AutoProcessor

    import transformers_videorefer  # noqa: F401  (registers the VideoRefer processor with the Auto classes)

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


REGION_MARKER = "<region>"


def _read_samples_light(path: str) -> tuple[list | None, str | None]:
    """The samples of a VideoRefer-700K JSON list or JSONL file, or an error message: json only, nothing heavy."""
    if not os.path.isfile(path):
        return None, f"no such data file: {path}"
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        if text.lstrip().startswith("["):
            records = json.loads(text)
        else:
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        return None, f"{path} is not valid JSON or JSONL ({error})"
    if not records:
        return None, f"{path} holds no samples"
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            return None, f"{path}: sample {index} is a {type(record).__name__}, expected a JSON object"
        turns = record.get("conversations")
        if not isinstance(turns, list) or not all(isinstance(t, dict) and isinstance(t.get("value"), str)
                                                  for t in turns):
            return None, f"{path}: sample {record.get('id', index)} needs 'conversations': [{{'from', 'value'}}, ...]"
        annotation = record.get("annotation") or []
        regions = sum(turn["value"].count(REGION_MARKER) for turn in turns)
        if not isinstance(annotation, list) or regions != len(annotation):
            count = len(annotation) if isinstance(annotation, list) else "no list of"
            return None, (
                f"{path}: sample {record.get('id', index)} holds {regions} {REGION_MARKER} marker(s) but its "
                f"annotation has {count} object(s)"
            )
    return records, None


def run_to_trl(args: argparse.Namespace) -> int:
    name = "videorefer data to-trl"
    if args.media_root is not None and not os.path.isdir(args.media_root):
        return fail(f"{name}: --media-root {args.media_root} is not a folder.")
    parent = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(parent):
        return fail(f"{name}: the folder of --out ({parent}) does not exist.")
    if os.path.exists(args.out) and not args.overwrite:
        return fail(f"{name}: {args.out} exists; pass --overwrite to replace it.")
    records, error = _read_samples_light(args.file)
    if error is not None:
        return fail(f"{name}: {error}.")
    from ..training.trl_format import to_trl_rows, write_trl_rows

    try:
        rows = to_trl_rows(records, args.media_root, progress=not args.quiet)
        write_trl_rows(rows, args.out, args.format)
    except (ValueError, TypeError, FileNotFoundError, OSError) as error:
        return fail(f"{name}: {error}")
    sys.stdout.write(f"wrote {len(rows)} conversations to {args.out} ({args.format})\n")
    return 0


def run_from_trl(args: argparse.Namespace) -> int:
    name = "videorefer data from-trl"
    if not os.path.exists(args.source):
        return fail(f"{name}: no such file or folder: {args.source}")
    parent = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(parent):
        return fail(f"{name}: the folder of --out ({parent}) does not exist.")
    from ..training.trl_format import from_trl_rows, read_trl_rows

    try:
        records = from_trl_rows(read_trl_rows(args.source), args.media_root)
    except (ValueError, TypeError, KeyError, FileNotFoundError) as error:
        return fail(f"{name}: {error}")
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(records, handle, indent=1)
    sys.stdout.write(f"wrote {len(records)} samples to {args.out}\n")
    return 0


def _add_trl_parsers(commands: argparse._SubParsersAction) -> None:
    to_trl = commands.add_parser(
        "to-trl",
        help="Convert VideoRefer-700K JSON to the conversational rows `trl sft` trains on (masks in region blocks).",
        description="Each <region> becomes a region block holding its object's masks (COCO RLE per annotated frame), "
        "<video>/<image> become media blocks with absolute paths; see docs/training.md.",
    )
    to_trl.add_argument("file", help="VideoRefer-700K-style JSON or JSONL file")
    to_trl.add_argument("--media-root", default=None, help="folder that relative media paths start from")
    to_trl.add_argument("--out", required=True, help="output: a .jsonl file, or a folder with --format arrow")
    to_trl.add_argument("--format", default="jsonl", choices=["jsonl", "arrow"],
                        help="jsonl (default) or arrow (a `datasets` dataset saved with save_to_disk)")
    to_trl.add_argument("--overwrite", action="store_true", help="replace --out when it exists")
    to_trl.add_argument("--quiet", action="store_true", help="no progress bar")
    to_trl.set_defaults(run=run_to_trl)
    from_trl = commands.add_parser(
        "from-trl", help="Convert `trl sft` rows (JSONL or a saved dataset) back to VideoRefer-700K JSON."
    )
    from_trl.add_argument("source", help="JSONL file or folder written by `videorefer data to-trl`")
    from_trl.add_argument("--out", required=True, help="output JSON file")
    from_trl.add_argument("--media-root", default=None, help="write media paths under this folder relative to it")
    from_trl.set_defaults(run=run_from_trl)


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
    _add_trl_parsers(commands)

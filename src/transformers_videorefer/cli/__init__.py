# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The `videorefer` command line (also `python -m transformers_videorefer`)."""

import argparse
import sys

from .ask import add_ask_parser
from .convert import add_convert_parser
from .data import add_data_parser
from .demo import add_demo_parser
from .eval import add_eval_parser
from .overlay import add_overlay_parser

DESCRIPTION = "VideoRefer on the Hugging Face stack: ask questions about objects marked in videos and images."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videorefer", description=DESCRIPTION)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_ask_parser(subparsers)
    add_convert_parser(subparsers)
    add_data_parser(subparsers)
    add_demo_parser(subparsers)
    add_eval_parser(subparsers)
    add_overlay_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

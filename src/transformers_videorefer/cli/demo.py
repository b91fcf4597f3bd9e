# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""`videorefer demo [--model M] [--sam2 S]`: the interactive Gradio demo (needs `pip install transformers-videorefer[demo]`)."""

import argparse

from ..dtypes import DTYPE_NAMES
from .common import fail
from .loading import DEFAULT_MODEL, ModelNotAvailableError, load_model_and_processor

DEFAULT_SAM2 = "facebook/sam2.1-hiera-large"


def run_demo(args: argparse.Namespace) -> int:
    from .loading import (
        check_dtype_and_device,
        check_model_argument,
        resolve_model_source,
    )

    try:
        check_model_argument(args.model)
        check_model_argument(args.sam2, "--sam2")
        device = check_dtype_and_device(args.dtype, args.device)
        model_source = resolve_model_source(args.model)  # an unreachable Hub is reported here, within seconds
        sam2_source = resolve_model_source(args.sam2, "--sam2")
    except (ModelNotAvailableError, ValueError) as error:
        return fail(f"videorefer demo: {error}")
    try:
        from ..apps.demo import DemoSession, build_demo
        from ..apps.sam2_tracking import Sam2Tracker

        model, processor = load_model_and_processor(model_source, args.dtype, device)
        tracker = Sam2Tracker.from_pretrained(sam2_source, device=model.device)
        app = build_demo(DemoSession(model, processor, tracker, max_new_tokens=args.max_new_tokens))
    except ImportError as error:
        return fail(f"videorefer demo: {error}; install the demo extra: pip install 'transformers-videorefer[demo]'")
    except (ModelNotAvailableError, OSError, ValueError) as error:
        return fail(f"videorefer demo: {error}")
    app.queue().launch(server_name=args.host, server_port=args.port, share=False)
    return 0


def add_demo_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="Serve the interactive demo: click objects (SAM2), ask VideoRefer.")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"VideoRefer-7B or VideoRefer-VideoLLaMA3 checkpoint (default {DEFAULT_MODEL})")
    parser.add_argument("--sam2", default=DEFAULT_SAM2, help=f"SAM2 video checkpoint (default {DEFAULT_SAM2})")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--dtype", default="bf16", choices=sorted(DTYPE_NAMES), help="bf16, fp16 (GPU) or float32")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--max-new-tokens", type=int, default=512)
    parser.set_defaults(run=run_demo)

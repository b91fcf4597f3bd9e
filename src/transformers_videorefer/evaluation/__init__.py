# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoRefer-Bench evaluation: Bench-Q (multiple choice) and Bench-D (descriptions judged by an LLM).

Command line: `videorefer eval bench-q | bench-q-score | bench-d | bench-d-score` (see `cli/eval.py`).

- `benchmark_items`: reading and checking benchmark annotation files; the objects (masks) of each mask mode.
- `families`: what differs between the model families in the commands (frame sampling, prompts, `<region>` layout).
- `runner`: the batched, resumable, sharded prediction runner shared by both benchmarks (`Sample` in, JSONL out).
- `predictions`: the prediction JSONL files: reading (tolerating a truncated last line), shards, merging.
- `bench_q`: reading Bench-Q and building its prompts and samples.
- `scoring`: the Bench-Q scorer (answer parsing exactly as the original).
- `bench_d`: reading Bench-D, its prompts, judging and averaging.
- `judge`: the OpenAI-compatible judge client, its disk cache and score parsing.
- `media`: resolving clips under `--video-root` and reporting all missing ones before model work.
- `report`: tables, JSON reports and the PNG plot beside the published VideoRefer-7B numbers.
"""

from .bench_d import BenchDScore, bench_d_samples, judge_records, load_bench_d, summarize_judgements
from .bench_q import bench_q_samples, build_bench_q_prompt, load_bench_q
from .benchmark_items import MODES, collect_benchmark_items, objects_for_mode, read_benchmark_items
from .judge import JudgeCache, JudgeClient, JudgeError, judge_client_from_settings, parse_judge_scores
from .media import MissingMediaError, find_missing_media, resolve_media
from .predictions import merge_prediction_files, read_predictions
from .runner import (
    DEFAULT_MAX_NEW_TOKENS,
    DEFAULT_NUM_FRAMES,
    RunResult,
    Sample,
    check_resumable,
    pending_samples,
    run_predictions,
)
from .scoring import BenchQScore, parse_prediction_letter, score_bench_q, score_bench_q_file

__all__ = [
    "DEFAULT_MAX_NEW_TOKENS",
    "DEFAULT_NUM_FRAMES",
    "MODES",
    "BenchDScore",
    "BenchQScore",
    "JudgeCache",
    "JudgeClient",
    "JudgeError",
    "MissingMediaError",
    "RunResult",
    "Sample",
    "bench_d_samples",
    "bench_q_samples",
    "build_bench_q_prompt",
    "check_resumable",
    "collect_benchmark_items",
    "find_missing_media",
    "judge_client_from_settings",
    "judge_records",
    "load_bench_d",
    "load_bench_q",
    "merge_prediction_files",
    "objects_for_mode",
    "parse_judge_scores",
    "parse_prediction_letter",
    "pending_samples",
    "read_benchmark_items",
    "read_predictions",
    "resolve_media",
    "run_predictions",
    "score_bench_q",
    "score_bench_q_file",
    "summarize_judgements",
]

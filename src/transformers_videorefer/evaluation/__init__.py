# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoRefer-Bench evaluation: Bench-Q (multiple choice) and Bench-D (descriptions judged by an LLM).

Command line: `videorefer eval bench-q | bench-q-score | bench-d | bench-d-score` (see `cli_eval.py`).

- `bench_q`: reading Bench-Q, its prompts, and the batched, resumable, sharded prediction runner.
- `scoring`: the Bench-Q scorer (answer parsing exactly as the original).
- `bench_d`: reading Bench-D, its prompts, judging and averaging.
- `judge`: the OpenAI-compatible judge client, its disk cache and score parsing.
- `media`: resolving clips under `--video-root` and reporting all missing ones before model work.
- `report`: tables, JSON reports and the PNG plot beside the published VideoRefer-7B numbers.
"""

from .bench_d import BenchDScore, bench_d_samples, judge_records, load_bench_d, summarize_judgements
from .bench_q import (
    DEFAULT_NUM_FRAMES,
    RunResult,
    Sample,
    bench_q_samples,
    build_bench_q_prompt,
    load_bench_q,
    objects_for_mode,
    read_predictions,
    run_predictions,
)
from .judge import JudgeCache, JudgeClient, JudgeError, judge_client_from_settings, parse_judge_scores
from .media import MissingMediaError, find_missing_media, resolve_media
from .scoring import BenchQScore, parse_prediction_letter, score_bench_q, score_bench_q_file

__all__ = [
    "DEFAULT_NUM_FRAMES",
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
    "find_missing_media",
    "judge_client_from_settings",
    "judge_records",
    "load_bench_d",
    "load_bench_q",
    "objects_for_mode",
    "parse_judge_scores",
    "parse_prediction_letter",
    "read_predictions",
    "resolve_media",
    "run_predictions",
    "score_bench_q",
    "score_bench_q_file",
    "summarize_judgements",
]

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""`videorefer eval ...`: the VideoRefer-Bench evaluations.

    videorefer eval bench-q --model M --questions VideoRefer-Bench-Q.json --video-root DIR --mode single \\
        --output PRED.jsonl [--batch-size N] [--max-new-tokens N] [--num-frames N | --fps F --max-frames N] \\
        [--dtype bf16] [--device cuda]
    videorefer eval bench-q-score PRED.jsonl [--json OUT] [--plot PNG]
    videorefer eval bench-d --model M --questions VideoRefer-Bench-D.json --video-root Panda-70M-part \\
        --mode single --output PRED.jsonl --judge-base-url URL --judge-model NAME [--judge-api-key KEY]
    videorefer eval bench-d-score PRED.jsonl --judge-base-url URL --judge-model NAME [--json OUT]

The checkpoint's family (VideoRefer-7B or VideoRefer-VideoLLaMA3, from its config) picks the frame sampling and
the prompts of the released evaluation (`evaluation.families`): VideoRefer-7B 8 frames (`--num-frames`),
VideoRefer-VideoLLaMA3 Bench-Q fps 1 and Bench-D fps 4, at most 768 frames (`--fps`, `--max-frames`); an option of
the other family is refused in one line, before anything heavy is loaded when `--model` is a local folder.

Generation runs sharded over GPUs with `accelerate launch -m transformers_videorefer eval bench-q ...` (or
`accelerate launch $(which videorefer) eval ...`): each process takes every N-th question, the main process merges.
"""

import argparse
import os
import sys
import time
from typing import Any

from ..dtypes import DTYPE_NAMES
from .common import fail
from .loading import DEFAULT_MODEL, ModelNotAvailableError

USER_ERRORS = (ValueError, TypeError, FileNotFoundError, ModelNotAvailableError)
# Static-cache positions the eval commands keep for the question, the options and the chat template around them.
QUESTION_ROOM = 512


def _stem(output: str) -> str:
    return output[: -len(".jsonl")] if output.endswith(".jsonl") else output


def _process_state(device: str | None) -> Any:
    """`accelerate.PartialState`: the process layout under `accelerate launch` (or torchrun), else one process.

    Without CUDA (or with `--device cpu`) the processes of a launch work on the CPU, over gloo.
    """
    import torch
    from accelerate import PartialState

    return PartialState(cpu=device == "cpu" or not torch.cuda.is_available())


def _load_model(args: argparse.Namespace, state: Any) -> tuple[Any, Any]:
    from .loading import default_device, load_model_and_processor

    device = str(state.device) if state.num_processes > 1 else (args.device or default_device())
    args.dtype = args.dtype or ("float32" if device.split(":")[0] == "cpu" else "fp16")  # recorded in the report
    return load_model_and_processor(
        args.model, dtype=args.dtype, device=device, attn_implementation=args.attn_implementation
    )


def _check_generation_args(args: argparse.Namespace) -> None:
    """Numbers, dtype, device and a local --model folder, checked before the benchmark or the model is read.

    Raises:
        ValueError: a number below 1, a dtype/device this machine cannot use. ModelNotAvailableError: --model looks
            like a local folder that does not exist.
    """
    from .loading import check_dtype_and_device

    for name in ("batch_size", "max_new_tokens"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}.")
    if args.num_workers is not None and args.num_workers < 0:
        raise ValueError(f"--num-workers must be 0 or more, got {args.num_workers}.")
    # (--model is checked once there is something to generate: a finished run needs no model)
    # without --dtype the default (fp16 on a GPU, float32 on the CPU) always suits the device; check the device alone
    check_dtype_and_device(args.dtype or "float32", args.device)


def _given_sampling(args: argparse.Namespace) -> dict[str, Any]:
    """The frame-sampling options set on the command line (`--num-frames`, `--fps`, `--max-frames`)."""
    from ..evaluation.families import SAMPLING_OPTIONS

    return {name: getattr(args, name) for name in SAMPLING_OPTIONS if getattr(args, name, None) is not None}


def _resolve_family(args: argparse.Namespace, family: Any, command: str) -> None:
    """Record the checkpoint's family and the run's frame sampling on `args` (`args.family`, `args.sampling`).

    Raises:
        ValueError: an option the family does not take, or a value out of range.
    """
    args.family = family
    args.sampling = None if family is None else family.sampling(_given_sampling(args), command)


def _known_family(args: argparse.Namespace) -> Any:
    """The checkpoint's family where it can be told without loading the model: from a local `--model` folder (or the
    Hub cache), else from the settings of the predictions already in `--output`; None otherwise.

    Raises:
        ValueError: `--model`'s config names a model type of neither family.
    """
    from ..evaluation.families import family_of_records, peek_family
    from ..evaluation.predictions import read_predictions

    family = peek_family(args.model)
    recorded = family_of_records(read_predictions(args.output)) if os.path.isfile(args.output) else None
    if family is not None and recorded is not None and family is not recorded:
        raise ValueError(
            f"{args.output} holds predictions of a {recorded.display_name} checkpoint (its sampling settings), but "
            f"--model is a {family.display_name} checkpoint; write to another --output."
        )
    return family or recorded


def _run_sampling_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings written on every prediction line: the mask mode and the frame sampling (VideoRefer-7B
    `num_frames`; VideoRefer-VideoLLaMA3 `fps`, `max_frames`)."""
    return {"mode": args.mode, **(args.sampling or {})}


def _frames_label(settings: dict[str, Any]) -> int | str | None:
    """What the report titles say before "frames": the frame count, or `fps F, at most N` (VideoRefer-VideoLLaMA3)."""
    if settings.get("num_frames"):
        return settings["num_frames"]
    if settings.get("fps"):
        return f"fps {settings['fps']}, at most {settings.get('max_frames')}"
    return None


def _generate(args: argparse.Namespace, make_samples: Any, command: str) -> tuple[Any, int | None]:
    """Load the model and run the predictions; returns (process state, exit status or None when all went well).

    `make_samples(family)` gives the benchmark's samples for a model family (prompts and `<region>` layout differ).

    The main process holds the prediction file's lock meanwhile (`PredictionFileLock`): a second run on the same
    `--output` is refused at once.
    """
    from ..evaluation.predictions import PredictionFileLock, PredictionFileLockedError

    state = _process_state(args.device)
    lock, refused = None, None
    if state.is_main_process:  # one writer per prediction file: a second run on it stops here
        try:
            lock = PredictionFileLock(args.output).acquire()
        except PredictionFileLockedError as error:
            refused = str(error)
    if state.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        refused = broadcast_object_list([refused])[0]
    if refused is not None:
        return state, fail(f"videorefer eval {command}: {refused}")
    try:
        return _generate_locked(args, make_samples, command, state)
    finally:
        if lock is not None:
            lock.release()


def fast_cache_length(prompt_room: int, max_new_tokens: int) -> int:
    """The static cache length of the eval commands' `FastGreedyGenerator`: the visual tokens of one clip
    (`prompt_room`), room for the question and template (`QUESTION_ROOM`), and the answer."""
    return prompt_room + QUESTION_ROOM + max_new_tokens


def _num_workers(args: argparse.Namespace, state: Any) -> int:
    """`--num-workers`, or half of the cores this process may use (its CPU affinity), shared by the run's processes
    (at most 8 each)."""
    if args.num_workers is not None:
        return args.num_workers
    from ..inputs.media import usable_cores

    return max(0, min(8, usable_cores() // (2 * max(1, state.num_processes))))


def _generate_locked(args: argparse.Namespace, make_samples: Any, command: str, state: Any) -> tuple[Any, int | None]:
    from ..evaluation.families import family_of_loaded
    from ..evaluation.predictions import merge_prediction_files
    from ..evaluation.runner import pending_samples, run_predictions

    samples = make_samples(args.family) if args.family is not None else []
    if args.family is not None and not pending_samples(samples, args.output, _run_sampling_settings(args)):
        if state.is_main_process:  # all done: no model needed
            merge_prediction_files(args.output, [sample.id for sample in samples])
        state.wait_for_everyone()
        return state, None
    try:
        from .loading import check_model_argument

        check_model_argument(args.model)
        load_start = time.perf_counter()
        model, processor = _load_model(args, state)
        load_seconds = time.perf_counter() - load_start
        loaded = family_of_loaded(model, processor)
        if args.family is not None and loaded is not args.family:
            raise ValueError(
                f"{args.output} holds predictions of a {args.family.display_name} checkpoint (its sampling settings), "
                f"but --model is a {loaded.display_name} checkpoint; write to another --output."
            )
        if args.family is None:  # a Hub id not in the local cache: the family is known now
            _resolve_family(args, loaded, command)
            samples = make_samples(args.family)
            from ..evaluation.runner import check_resumable

            check_resumable(args.output, _run_sampling_settings(args))
    except (ModelNotAvailableError, ValueError) as error:
        return state, fail(f"videorefer eval {command}: {error}")
    generator = None
    prompt_room = args.family.prompt_room(processor, args.sampling)
    if args.fast_generation and model.device.type == "cuda" and prompt_room is not None:
        # room for the visual tokens, the question and the answer; longer prompts fall back to generate
        from ..generation.compile_policy import run_batches
        from ..generation.fast_greedy import FastGreedyGenerator

        # compile the decoding step only where the run repays it (or as --compile-decoding forces); say which
        share = -(-len(pending_samples(samples, args.output, _run_sampling_settings(args))) // max(1, state.num_processes))
        batches, batch_sizes = run_batches(share, args.batch_size)
        generator = FastGreedyGenerator(
            model, max_cache_len=fast_cache_length(prompt_room, args.max_new_tokens), compile=args.compile_decoding,
            expected_steps=batches * args.max_new_tokens, batch_sizes=batch_sizes,
        )
        if state.is_main_process:
            print(f"videorefer eval {command}: fast generation {generator.compile_choice.report}", file=sys.stderr)
    if state.is_main_process:
        print(f"videorefer eval {command}: model loaded in {load_seconds:.1f} s; answering", file=sys.stderr, flush=True)
    try:
        run_predictions(
            model,
            processor,
            samples,
            args.output,
            num_frames=None,
            sampling=args.sampling,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            settings=_run_sampling_settings(args),
            state=state,
            progress=not args.no_progress,
            description=command,
            generator=generator,
            num_workers=_num_workers(args, state),
        )
    except ValueError as error:
        return state, fail(f"videorefer eval {command}: {error}")
    return state, None


def _plot(plot: Any, path: str | None, *arguments: Any, **keywords: Any) -> None:
    if not path:
        return
    try:
        plot(path, *arguments, **keywords)
    except ImportError as error:
        sys.stderr.write(f"No plot written: {error}\n")
        return
    print(f"Plot: {path}")


def _run_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "model": args.model,
        "questions": os.path.abspath(args.questions),
        "family": getattr(args.family, "name", None),
        **_run_sampling_settings(args),
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "dtype": args.dtype,
        "predictions": os.path.abspath(args.output),
    }


# ------------------------------------------------------------------------------------------------- bench-q
def run_bench_q(args: argparse.Namespace) -> int:
    """`eval bench-q`: predictions, then the score table, the JSON report and the plot."""
    from ..evaluation.bench_q import bench_q_samples, load_bench_q
    from ..evaluation.media import resolve_media
    from ..evaluation.report import bench_q_table, plot_bench_q, write_json
    from ..evaluation.runner import check_resumable
    from ..evaluation.scoring import score_bench_q_file

    try:
        _check_generation_args(args)
        _resolve_family(args, _known_family(args), "bench-q")
        items = load_bench_q(args.questions, args.mode)
        paths = resolve_media(items, args.video_root)
        if args.family is not None:
            check_resumable(args.output, _run_sampling_settings(args))
    except USER_ERRORS as error:
        return fail(f"videorefer eval bench-q: {error}")
    state, status = _generate(args, lambda family: bench_q_samples(items, paths, args.mode, family), "bench-q")
    if status is not None or not state.is_main_process:
        return status or 0
    score = score_bench_q_file(args.output)
    print(bench_q_table(score, num_frames=_frames_label(_run_sampling_settings(args))))
    report = args.report or _stem(args.output) + ".report.json"
    write_json(report, {**score.to_json(), "settings": _run_settings(args)})
    print(f"Predictions: {args.output}\nReport: {report}")
    _plot(plot_bench_q, None if args.no_plot else args.plot or _stem(args.output) + ".png", score,
          num_frames=_frames_label(_run_sampling_settings(args)), mode=args.mode)
    return 0


def run_bench_q_score(args: argparse.Namespace) -> int:
    """`eval bench-q-score`: score a prediction file."""
    from ..evaluation.report import bench_q_table, plot_bench_q, write_json
    from ..evaluation.scoring import score_bench_q_file

    try:
        score = score_bench_q_file(args.predictions)
    except USER_ERRORS as error:
        return fail(f"videorefer eval bench-q-score: {error}")
    print(bench_q_table(score))
    if args.json:
        write_json(args.json, score.to_json())
        print(f"Scores: {args.json}")
    _plot(plot_bench_q, args.plot, score)
    return 0


# ------------------------------------------------------------------------------------------------- bench-d
def _judge_client(args: argparse.Namespace) -> Any:
    from ..evaluation.judge import judge_client_from_settings

    return judge_client_from_settings(
        args.judge_base_url, args.judge_model, args.judge_api_key, max_retries=args.judge_retries, timeout=args.judge_timeout
    )


def _judge_and_report(args: argparse.Namespace, predictions: str, client: Any, settings: dict, command: str) -> int:
    from ..evaluation.bench_d import judge_records, summarize_judgements
    from ..evaluation.judge import JudgeCache, JudgeConfigurationError
    from ..evaluation.predictions import read_predictions
    from ..evaluation.report import bench_d_table, plot_bench_d, write_json

    stem = _stem(predictions)
    try:
        records = read_predictions(predictions)
        cache = JudgeCache(args.judge_cache or stem + ".judge-cache")
        judged, stats = judge_records(records, client, cache, workers=args.judge_workers, progress=not args.no_progress)
    except (JudgeConfigurationError, *USER_ERRORS) as error:
        return fail(f"videorefer eval {command}: {error}")
    judged_path = args.judged or stem + ".judged.jsonl"
    _write_jsonl(judged_path, judged)
    score = summarize_judgements(judged)
    mode, num_frames = settings.get("mode"), _frames_label(settings)
    print(bench_d_table(score, mode=mode, num_frames=num_frames))
    print(f"Judge {client.model} at {client.base_url}: {stats.requested} request(s), {stats.cached} from the cache, "
          f"{stats.failed} failed request(s).")
    for entry in score.errors:
        print(f"  not scored: item {entry['id']!r}: {entry['error']}")
    report = args.json or stem + ".report.json"
    judge = {"model": client.model, "base_url": client.base_url, "requested": stats.requested, "cached": stats.cached,
             "failed_requests": stats.failed}
    write_json(report, {**score.to_json(), "settings": settings, "judge": judge})
    print(f"Judgements: {judged_path}\nReport: {report}")
    if score.count:
        _plot(plot_bench_d, None if args.no_plot else args.plot or stem + ".png", score, mode=mode, num_frames=num_frames)
    if score.errors:
        total = score.count + len(score.errors)
        fail(
            f"videorefer eval {command}: incomplete: {len(score.errors)} of {total} item(s) not scored (no usable "
            "judge reply); rerun the same command to ask the judge again for them."
        )
        return 1  # not a usage error (2): the judge failed
    return 0


def _write_jsonl(path: str, records: list) -> None:
    import json

    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def run_bench_d(args: argparse.Namespace) -> int:
    """`eval bench-d`: descriptions, then (unless --no-judge) the judge's scores and the report."""
    from ..evaluation.bench_d import bench_d_samples, load_bench_d
    from ..evaluation.media import resolve_media
    from ..evaluation.runner import check_resumable

    try:
        _check_generation_args(args)
        _resolve_family(args, _known_family(args), "bench-d")
        items = load_bench_d(args.questions, args.mode)
        paths = resolve_media(items, args.video_root)
        if args.family is not None:
            check_resumable(args.output, _run_sampling_settings(args))
        client = None if args.no_judge else _judge_client(args)
    except USER_ERRORS as error:
        return fail(f"videorefer eval bench-d: {error}")
    state, status = _generate(args, lambda family: bench_d_samples(items, paths, args.mode, family), "bench-d")
    if status is not None or not state.is_main_process:
        return status or 0
    if client is None:
        print(f"Descriptions: {args.output} (not judged: --no-judge)")
        return 0
    return _judge_and_report(args, args.output, client, _run_settings(args), "bench-d")


def run_bench_d_score(args: argparse.Namespace) -> int:
    """`eval bench-d-score`: judge an existing description file."""
    from ..evaluation.predictions import read_predictions

    try:
        client = _judge_client(args)
        if not os.path.isfile(args.predictions):
            raise FileNotFoundError(f"No such prediction file: {args.predictions!r}")
        records = read_predictions(args.predictions)
    except USER_ERRORS as error:
        return fail(f"videorefer eval bench-d-score: {error}")
    first = records[0] if records else {}
    settings = {"mode": first.get("mode"), **{k: first[k] for k in ("num_frames", "fps", "max_frames") if k in first},
                "predictions": os.path.abspath(args.predictions)}
    return _judge_and_report(args, args.predictions, client, settings, "bench-d-score")


# ------------------------------------------------------------------------------------------------- parsers
def _add_generation_arguments(parser: argparse.ArgumentParser, questions: str) -> None:
    from ..evaluation.runner import DEFAULT_MAX_NEW_TOKENS

    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"Hub repository or local folder (default {DEFAULT_MODEL})")
    parser.add_argument("--questions", required=True, help=f"the benchmark file ({questions})")
    parser.add_argument("--video-root", required=True, help="the folder the items' 'video' paths are relative to")
    parser.add_argument("--mode", choices=("single", "multi"), default="single",
                        help="single: only the mask at frame_idx; multi: every annotated mask (default single)")
    parser.add_argument("--output", required=True, help="predictions JSONL (continued if it exists)")
    parser.add_argument("--batch-size", type=int, default=1, help="questions per generate call (default 1)")
    parser.add_argument(
        "--num-workers", type=int, default=None,
        help="processes that read media and build the next batches while one generates (default: half of the cores "
        "this process may use, shared by the run's processes, at most 8; 0 builds them in the main process)",
    )
    parser.add_argument("--max-new-tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS,
                        help=f"default {DEFAULT_MAX_NEW_TOKENS}, as the release evaluation")
    parser.add_argument("--num-frames", type=int, default=None,
                        help="VideoRefer-7B: frames sampled per clip (default 8: what the released evaluation scripts "
                        "sample, not the config's 16)")
    parser.add_argument("--fps", type=float, default=None,
                        help="VideoRefer-VideoLLaMA3: frames sampled per second (default as the released evaluation: "
                        "1 for Bench-Q, 4 for Bench-D)")
    parser.add_argument("--max-frames", type=int, default=None,
                        help="VideoRefer-VideoLLaMA3: at most this many frames per clip (default 768)")
    parser.add_argument("--dtype", default=None, choices=sorted(DTYPE_NAMES), help="bf16, fp16 or float32 (default fp16 on GPU as the release, "
                        "float32 on CPU)")
    parser.add_argument("--device", default=None, help="cuda or cpu (default cuda when available; under accelerate "
                        "launch, each process's GPU)")
    parser.add_argument("--attn-implementation", default=None,
                        help="sdpa, sdpa_grouped (faster batched decoding), eager or flash_attention_2")
    parser.add_argument("--fast-generation", action=argparse.BooleanOptionalAction, default=True,
                        help="on a GPU, decode with FastGreedyGenerator (reused static caches, compiled step; same "
                        "greedy tokens as generate). Default on; --no-fast-generation uses model.generate")
    parser.add_argument("--compile-decoding", default="auto", choices=("auto", "always", "never"),
                        help="whether fast generation compiles its decoding step: auto (default) where the run is long "
                        "enough to repay the compilation (cached across runs), or always / never")
    parser.add_argument("--plot", default=None, help="PNG plot beside the published numbers (default PRED.png)")
    parser.add_argument("--no-plot", action="store_true", help="write no plot")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_judge_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--judge-base-url", default=None, help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1 "
                        "(default: $VIDEOREFER_JUDGE_BASE_URL, $OPENAI_BASE_URL, else https://api.openai.com/v1)")
    parser.add_argument("--judge-model", default=None, help="judge model (default: $VIDEOREFER_JUDGE_MODEL, else gpt-4o)")
    parser.add_argument("--judge-api-key", default=None,
                        help="API key (default: $VIDEOREFER_JUDGE_API_KEY, $OPENAI_API_KEY; none for a local server)")
    parser.add_argument("--judge-cache", default=None, help="folder of cached judge replies (default PRED.judge-cache)")
    parser.add_argument("--judge-workers", type=int, default=4, help="parallel judge requests (default 4)")
    parser.add_argument("--judge-retries", type=int, default=3, help="retries of a failed request (default 3)")
    parser.add_argument("--judge-timeout", type=float, default=120.0, help="seconds per request (default 120)")
    parser.add_argument("--judged", default=None, help="per-item judgements JSONL (default PRED.judged.jsonl)")
    parser.add_argument("--json", default=None, help="JSON report (default PRED.report.json)")


def add_eval_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add `eval` and its sub-commands `bench-q`, `bench-q-score`, `bench-d`, `bench-d-score`."""
    parser = subparsers.add_parser(
        "eval",
        help="Evaluate on VideoRefer-Bench (Bench-Q multiple choice, Bench-D descriptions).",
        description="VideoRefer-Bench evaluation. Generation continues an existing predictions file and runs sharded "
        "under `accelerate launch`.",
    )
    commands = parser.add_subparsers(dest="eval_command", required=True, metavar="BENCHMARK")

    bench_q = commands.add_parser("bench-q", help="answer VideoRefer-Bench-Q and score it")
    _add_generation_arguments(bench_q, "VideoRefer-Bench-Q.json")
    bench_q.add_argument("--report", default=None, help="JSON report (default PRED.report.json)")
    bench_q.set_defaults(run=run_bench_q)

    score_q = commands.add_parser("bench-q-score", help="score VideoRefer-Bench-Q predictions")
    score_q.add_argument("predictions", help="predictions JSONL (lines with 'Answer', 'type' and 'pred')")
    score_q.add_argument("--json", default=None, help='write {"overall", "per_type", "count"} to this file')
    score_q.add_argument("--plot", default=None, help="PNG plot beside the published VideoRefer-7B numbers")
    score_q.set_defaults(run=run_bench_q_score)

    bench_d = commands.add_parser("bench-d", help="describe VideoRefer-Bench-D objects and have an LLM judge them")
    _add_generation_arguments(bench_d, "VideoRefer-Bench-D.json")
    _add_judge_arguments(bench_d)
    bench_d.add_argument("--no-judge", action="store_true", help="only write the descriptions")
    bench_d.set_defaults(run=run_bench_d)

    score_d = commands.add_parser("bench-d-score", help="have an LLM judge VideoRefer-Bench-D descriptions")
    score_d.add_argument("predictions", help="descriptions JSONL (lines with 'caption' and 'pred')")
    _add_judge_arguments(score_d)
    score_d.add_argument("--plot", default=None, help="PNG plot (default PRED.png)")
    score_d.add_argument("--no-plot", action="store_true", help="write no plot")
    score_d.add_argument("--no-progress", action="store_true", help="no progress bars")
    score_d.set_defaults(run=run_bench_d_score)


__all__ = ["add_eval_parser"]

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoRefer-Bench-Q: reading the benchmark, building its prompts, and the prediction runner (shared with Bench-D).

Bench-Q items are dicts with `"video"`, `"Question"` (one `<region>` per object), `"type"`, `"options"`,
`"Answer"`, `"frame_idx"` and `"annotation"` (one `{"<frame index>": {"segmentation": RLE}}` dict per object),
and possibly `"id"` (else the item's position in the file).

The runner (`run_predictions`) generates in batches and appends each finished batch to a JSONL file at once, so an
interruption loses at most one batch; a rerun skips the ids already in the file (a truncated last line is dropped).
Under `accelerate launch`, process k of N takes the items at positions k, k + N, ... and writes
`PRED.jsonl.shard{k}-of-{N}`; after `wait_for_everyone` the main process appends the shards to `PRED.jsonl`
(keeping its existing lines) and deletes them. Leftover shards of an interrupted sharded run are merged first.
"""

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

MODES = ("single", "multi")
REGION_MARKER = "<region>"
# The closing instruction of the Bench-Q prompt (docs/videorefer-v1-spec.md, "Prompt and generation").
ANSWER_INSTRUCTION = ". Answer with the option's letter from the given choices directly."
BENCH_Q_KEYS = ("video", "Question", "type", "options", "Answer", "frame_idx", "annotation")
MAX_LISTED_PROBLEMS = 20
# The released evaluation scripts call the video loader without a frame count, so they sample the loader's default
# of 8 frames (not the config's 16); the runners default to 8 to reproduce the published numbers.
DEFAULT_NUM_FRAMES = 8
# The release evaluates with greedy decoding and at most 2048 new tokens.
DEFAULT_MAX_NEW_TOKENS = 2048


@dataclass
class Sample:
    """One model input of a benchmark run.

    Attributes:
        id: the item's id (unique in the benchmark).
        prompt: the user text, with one `[<region>]` per object.
        video: the path of the clip (a video file or a frame folder).
        objects: one `{frame index: {"segmentation": ...}}` dict per object, in `<region>` order.
        record: the fields of the item's prediction line (the runner adds `"pred"` and the run settings).
    """

    id: Any
    prompt: str
    video: str
    objects: list
    record: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ benchmark items
def raise_problems(problems: list[str], what: str) -> None:
    """Raise one ValueError listing `problems` (the first 20) of `what`; nothing when there are none."""
    if not problems:
        return
    listed = "\n".join(f"  - {problem}" for problem in problems[:MAX_LISTED_PROBLEMS])
    more = f"\n  ... and {len(problems) - MAX_LISTED_PROBLEMS} more" if len(problems) > MAX_LISTED_PROBLEMS else ""
    raise ValueError(f"{what}: {len(problems)} problem(s):\n{listed}{more}")


def _annotation_problems(item: Mapping[str, Any], where: str) -> list[str]:
    annotation = item.get("annotation")
    if not isinstance(annotation, list) or not annotation:
        return [f"{where}: 'annotation' must be a non-empty list (one dict of frame index -> mask per object)"]
    problems = []
    for number, obj in enumerate(annotation):
        if not isinstance(obj, dict) or not obj:
            problems.append(f"{where}, object {number}: expected a non-empty dict of frame index -> mask")
            continue
        bad = [key for key in obj if not str(key).strip().isdigit()]
        if bad:
            problems.append(f"{where}, object {number}: frame indices must be digit strings, got {bad[:3]}")
    return problems


def collect_benchmark_items(
    path: str | os.PathLike, required_keys: Sequence[str], name: str
) -> tuple[list[dict], list[str]]:
    """Read a benchmark JSON file (a list of dicts); every item gets an `"id"` (its index in the file if absent).

    Returns the well-formed items and the problems found (missing keys, malformed annotations, duplicate ids); items
    with missing keys or malformed annotations are left out.

    Raises:
        FileNotFoundError: no such file. ValueError: not JSON, or not a list.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such {name} file: {path!r}")
    with open(path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{name} file {path!r} is not valid JSON: {error}") from error
    if not isinstance(data, list):
        raise ValueError(f"{name} file {path!r} must hold a JSON list of items, got a {type(data).__name__}.")
    items, problems, seen = [], [], {}
    for index, raw in enumerate(data):
        if not isinstance(raw, dict):
            problems.append(f"item at position {index}: expected a JSON object, got {type(raw).__name__}")
            continue
        item = dict(raw)
        item.setdefault("id", index)
        where = f"item {item['id']!r} (position {index})"
        if not isinstance(item["id"], (int, str)) or isinstance(item["id"], bool):
            problems.append(f"{where}: 'id' must be an integer or a string")
            continue
        if item["id"] in seen:
            problems.append(f"{where}: duplicate id (also at position {seen[item['id']]})")
        seen[item["id"]] = index
        missing = [key for key in required_keys if key not in item]
        if missing:
            problems.append(f"{where}: missing key(s) {missing}")
            continue
        item_problems = _annotation_problems(item, where)
        if not isinstance(item["video"], str) or not item["video"]:
            item_problems.append(f"{where}: 'video' must be a non-empty string")
        problems += item_problems
        if not item_problems:
            items.append(item)
    return items, problems


def read_benchmark_items(path: str | os.PathLike, required_keys: Sequence[str], name: str) -> list[dict]:
    """`collect_benchmark_items`, raising one ValueError that lists every problem."""
    items, problems = collect_benchmark_items(path, required_keys, name)
    raise_problems(problems, f"{name} file {os.fspath(path)!r}")
    return items


def _frame_key(obj: Mapping[str, Any], frame_idx: Any) -> str | None:
    """The key of `obj` for frame `frame_idx` (keys and frame_idx compared as integers), or None."""
    try:
        wanted = int(str(frame_idx).strip())
    except ValueError:
        return None
    for key in obj:
        if int(str(key).strip()) == wanted:
            return key
    return None


def objects_for_mode(item: Mapping[str, Any], mode: str) -> list[dict]:
    """The objects given to the model: all annotated frames (`multi`) or only the mask at `frame_idx` (`single`).

    Raises:
        ValueError: unknown mode, or (single mode) an object has no mask at `frame_idx`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    objects = []
    for number, obj in enumerate(item["annotation"]):
        if mode == "multi":
            objects.append(dict(obj))
            continue
        key = _frame_key(obj, item["frame_idx"])
        if key is None:
            raise ValueError(
                f"item {item.get('id')!r}, object {number}: single-frame mode needs the mask at frame_idx "
                f"{item['frame_idx']!r}, but the object is annotated on frames {sorted(obj, key=lambda k: int(k))[:8]}."
            )
        objects.append({key: obj[key]})
    return objects


def mode_problems(items: Sequence[Mapping[str, Any]], mode: str) -> list[str]:
    """Items whose objects cannot be built in `mode` (single mode: a mask missing at `frame_idx`)."""
    problems = []
    for item in items:
        try:
            objects_for_mode(item, mode)
        except ValueError as error:
            problems.append(str(error))
    return problems


def load_bench_q(path: str | os.PathLike, mode: str = "single") -> list[dict]:
    """Read and check VideoRefer-Bench-Q: every problem of every item is reported at once, before model work.

    Raises:
        FileNotFoundError / ValueError: see `read_benchmark_items`; also a question whose `<region>` count differs
            from its objects, options that are not a list of strings, or a mask missing at `frame_idx` in single
            mode.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}.")
    items, problems = collect_benchmark_items(path, BENCH_Q_KEYS, "VideoRefer-Bench-Q")
    for item in items:
        where = f"item {item['id']!r}"
        if not isinstance(item["Question"], str):
            problems.append(f"{where}: 'Question' must be a string")
            continue
        if not isinstance(item["options"], list) or not all(isinstance(o, str) for o in item["options"]):
            problems.append(f"{where}: 'options' must be a list of strings")
        regions = item["Question"].count(REGION_MARKER)
        if regions != len(item["annotation"]):
            problems.append(
                f"{where}: the question holds {regions} {REGION_MARKER} marker(s) but the annotation has "
                f"{len(item['annotation'])} object(s)"
            )
    problems += mode_problems(items, mode)
    raise_problems(problems, f"VideoRefer-Bench-Q file {os.fspath(path)!r}")
    return items


def build_bench_q_prompt(item: Mapping[str, Any]) -> str:
    """The question as the model sees it: every `<region>` written `[<region>]`, a space, the options joined by
    spaces, then the closing instruction."""
    question = item["Question"].replace(REGION_MARKER, f"[{REGION_MARKER}]")
    return f"{question} {' '.join(item['options'])}{ANSWER_INSTRUCTION}"


def bench_q_samples(items: Sequence[Mapping[str, Any]], video_paths: Mapping[str, str], mode: str) -> list[Sample]:
    """One `Sample` per question: prompt, resolved media path, the objects of `mode`, and the fields of its line."""
    samples = []
    for item in items:
        record = {
            "id": item["id"],
            "video": item["video"],
            "question": build_bench_q_prompt(item),
            "Answer": item["Answer"],
            "type": item["type"],
        }
        samples.append(
            Sample(
                id=item["id"],
                prompt=record["question"],
                video=video_paths[item["video"]],
                objects=objects_for_mode(item, mode),
                record=record,
            )
        )
    return samples


# ------------------------------------------------------------------------------------------ prediction files
def _id_key(record_id: Any) -> str:
    """A hashable key of an id that keeps 1 and "1" apart, as JSON does."""
    return json.dumps(record_id, sort_keys=True)


def shard_path(output: str | os.PathLike, index: int, count: int) -> str:
    """The file of shard `index` of `count`: `PRED.jsonl.shard{index}-of-{count}`."""
    return f"{os.fspath(output)}.shard{index}-of-{count}"


def shard_files(output: str | os.PathLike) -> list[str]:
    """The shard files of `output` on disk (of any shard count), sorted."""
    output = os.fspath(output)
    folder, base = os.path.split(output)
    pattern = re.compile(re.escape(base) + r"\.shard\d+-of-\d+$")
    if not os.path.isdir(folder or "."):
        return []
    return sorted(os.path.join(folder, name) for name in os.listdir(folder or ".") if pattern.match(name))


def read_prediction_lines(path: str | os.PathLike) -> tuple[list[tuple[bytes, dict]], int, bool]:
    """The complete lines of a JSONL file as (raw bytes without newline, record), the byte length they span, and
    whether the file is truncated (a last line that is not valid JSON, as an interrupted write leaves it).

    A last line that is valid JSON but lacks its newline counts as complete. A missing file has no lines.

    Raises:
        ValueError: a line other than the last is not a JSON object.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        return [], 0, False
    with open(path, "rb") as handle:
        data = handle.read()
    pieces = data.split(b"\n")
    lines, length, truncated = [], 0, False
    for number, piece in enumerate(pieces, start=1):
        is_last = number == len(pieces)
        if is_last and not piece:
            break
        try:
            record = json.loads(piece.decode("utf-8")) if piece.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            if is_last:
                truncated = True
                break
            raise ValueError(
                f"{path}, line {number}: not valid JSON ({error}); only a truncated last line (an interrupted "
                "write) is tolerated."
            ) from error
        if record is not None and not isinstance(record, dict):
            raise ValueError(f"{path}, line {number}: expected a JSON object, got {type(record).__name__}.")
        length += len(piece) + (0 if is_last else 1)
        if record is not None:
            lines.append((piece, record))
    return lines, length, truncated


def read_predictions(path: str | os.PathLike) -> list[dict]:
    """The records of a prediction JSONL file (a truncated last line is ignored)."""
    return [record for _, record in read_prediction_lines(path)[0]]


def merge_prediction_files(output: str | os.PathLike, order: Sequence[Any] | None = None) -> int:
    """Append the records of all shard files of `output` whose ids `output` lacks, then delete the shards.

    `output`'s existing lines are kept byte for byte (a truncated last line is dropped); new records are appended in
    the order of the ids in `order` (those not in `order` last), each id once. Returns the number of lines added.

    Raises:
        ValueError: a line without `"id"`.
    """
    output = os.fspath(output)
    lines, _, truncated = read_prediction_lines(output)
    shards = shard_files(output)
    seen = set()
    for _, record in lines:
        if "id" not in record:
            raise ValueError(f"{output}: a prediction line has no 'id'; cannot resume or merge: {record}")
        seen.add(_id_key(record["id"]))
    added: dict[str, bytes] = {}
    for shard in shards:
        for raw, record in read_prediction_lines(shard)[0]:
            if "id" not in record:
                raise ValueError(f"{shard}: a prediction line has no 'id': {record}")
            key = _id_key(record["id"])
            if key not in seen and key not in added:
                added[key] = raw
    needs_rewrite = truncated or bool(added) or (lines and not _ends_with_newline(output))
    if needs_rewrite:
        position = {_id_key(value): index for index, value in enumerate(order or [])}
        new = sorted(added, key=lambda key: position.get(key, len(position)))
        temporary = output + ".merging"
        with open(temporary, "wb") as handle:
            for raw, _ in lines:
                handle.write(raw + b"\n")
            for key in new:
                handle.write(added[key] + b"\n")
        os.replace(temporary, output)
    for shard in shards:
        os.remove(shard)
    return len(added)


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return True
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


# ------------------------------------------------------------------------------------------------ the runner
class SingleProcess:
    """The process layout of a run without `accelerate launch` (what `accelerate.PartialState` offers)."""

    process_index = 0
    num_processes = 1
    is_main_process = True

    def wait_for_everyone(self) -> None:
        """Nothing to wait for."""


@dataclass
class RunResult:
    """What one process of `run_predictions` did.

    Attributes:
        total: samples in the benchmark.
        done_before: samples already in the output when the run started.
        written: lines this process wrote.
        finished: False when `max_batches` stopped this process before its last batch.
    """

    total: int
    done_before: int
    written: int
    finished: bool


def generate_answers(
    model: Any,
    processor: Any,
    batch: Sequence[Sample],
    num_frames: int,
    max_new_tokens: int,
    generator: Any = None,
) -> list[str]:
    """Greedy answers (stripped) of a batch of samples, in one padded `generate` call.

    With `generator` (a `FastGreedyGenerator`), batches whose prompt and answer fit its caches go through it (same
    tokens, faster long answers on a GPU); others through `model.generate`.

    Raises:
        ValueError: the processor refused an input (unreadable clip, bad mask ...); the message names the items.
    """
    texts = [
        processor.apply_chat_template(
            [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": sample.prompt}]}],
            add_generation_prompt=True,
            tokenize=False,
        )
        for sample in batch
    ]
    try:
        inputs = processor(
            text=texts, videos=[s.video for s in batch], masks=[s.objects for s in batch], num_frames=num_frames
        )
    except (ValueError, TypeError, FileNotFoundError) as error:
        ids = [sample.id for sample in batch]
        raise ValueError(f"Cannot build the inputs of the batch of items {ids} (sample k is the k-th): {error}") from error
    import torch

    inputs = inputs.to(model.device, dtype=model.dtype)
    tokenizer = processor.tokenizer
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    fits = generator is not None and inputs["input_ids"].shape[1] + max_new_tokens <= generator.max_cache_len
    with torch.inference_mode():
        if fits:
            output = generator.generate(**inputs, max_new_tokens=max_new_tokens, pad_token_id=pad_id)
        else:
            output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad_id)
    answers = processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    return [answer.strip() for answer in answers]


def _settings_conflicts(records: Sequence[Mapping[str, Any]], settings: Mapping[str, Any], output: str) -> None:
    """Raise when a record was made with other settings (e.g. another mode or frame count) than `settings`."""
    for record in records:
        for key, value in settings.items():
            if key in record and record[key] != value:
                raise ValueError(
                    f"{output} already holds predictions made with {key}={record[key]!r}, but this run uses "
                    f"{key}={value!r}; write to another --output, or rerun with the same settings to continue it."
                )


def _done_keys(output: str, settings: Mapping[str, Any]) -> set[str]:
    done = set()
    for path in [output] + shard_files(output):
        records = read_predictions(path)
        _settings_conflicts(records, settings, path)
        for record in records:
            if "id" not in record:
                raise ValueError(f"{path}: a prediction line has no 'id'; cannot continue this file: {record}")
            done.add(_id_key(record["id"]))
    return done


def check_resumable(output: str | os.PathLike, settings: Mapping[str, Any]) -> int:
    """Check, before loading a model, that `output` (and leftover shards) can be continued with `settings`.

    Returns the number of predictions already there (shards included, duplicates counted once).

    Raises:
        ValueError: a malformed line, a line without `"id"`, or predictions made with other settings.
    """
    return len(_done_keys(os.fspath(output), settings))


def pending_samples(samples: Sequence[Sample], output: str | os.PathLike, settings: Mapping[str, Any]) -> list[Sample]:
    """The samples that `output` (with leftover shards) has no prediction for yet; raises as `check_resumable`."""
    done = _done_keys(os.fspath(output), settings)
    return [sample for sample in samples if _id_key(sample.id) not in done]


def run_predictions(
    model: Any,
    processor: Any,
    samples: Sequence[Sample],
    output: str | os.PathLike,
    *,
    num_frames: int = DEFAULT_NUM_FRAMES,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    batch_size: int = 1,
    settings: Mapping[str, Any] | None = None,
    state: Any = None,
    max_batches: int | None = None,
    progress: bool = True,
    description: str = "predicting",
    generator: Any = None,
) -> RunResult:
    """Generate the answers of `samples` into the JSONL file `output`, resuming it and sharding over processes.

    Each line is the sample's `record` plus `"pred"` and `settings` (e.g. mode and num_frames, which must match
    those of the lines already in the file). `state` is an `accelerate.PartialState` (or anything with
    `process_index`, `num_processes`, `is_main_process` and `wait_for_everyone()`); by default a single process.
    `max_batches` stops this process after that many batches (an interruption, for tests). `generator`: see
    `generate_answers`.

    Raises:
        ValueError: bad batch size, settings different from the file's, duplicate sample ids, or an input the
            processor refuses.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    state = state or SingleProcess()
    settings = dict(settings or {})
    output = os.fspath(output)
    ids = [sample.id for sample in samples]
    if len({_id_key(i) for i in ids}) != len(ids):
        raise ValueError("Sample ids must be unique: each question is written once, under its id.")
    if state.is_main_process:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        merge_prediction_files(output, ids)
    state.wait_for_everyone()
    existing = read_predictions(output)
    _settings_conflicts(existing, settings, output)
    done = {_id_key(record.get("id")) for record in existing}
    index, count = state.process_index, state.num_processes
    mine = [s for position, s in enumerate(samples) if position % count == index and _id_key(s.id) not in done]
    target = output if count == 1 else shard_path(output, index, count)
    written, finished = 0, True
    label = description if count == 1 else f"{description} [{index + 1}/{count}]"
    with open(target, "a", encoding="utf-8") as handle, tqdm(
        total=len(mine), desc=label, unit="item", disable=not progress, position=index
    ) as bar:
        for number, start in enumerate(range(0, len(mine), batch_size)):
            if max_batches is not None and number >= max_batches:
                finished = False
                break
            batch = mine[start : start + batch_size]
            answers = generate_answers(model, processor, batch, num_frames, max_new_tokens, generator)
            for sample, answer in zip(batch, answers):
                line = {**sample.record, "id": sample.id, "pred": answer, **settings}
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            handle.flush()
            written += len(batch)
            bar.update(len(batch))
    state.wait_for_everyone()
    if count > 1 and state.is_main_process:
        merge_prediction_files(output, ids)
    done_before = sum(_id_key(i) in done for i in ids)
    return RunResult(total=len(samples), done_before=done_before, written=written, finished=finished)


__all__ = [
    "ANSWER_INSTRUCTION",
    "DEFAULT_MAX_NEW_TOKENS",
    "DEFAULT_NUM_FRAMES",
    "MODES",
    "RunResult",
    "Sample",
    "SingleProcess",
    "bench_q_samples",
    "build_bench_q_prompt",
    "check_resumable",
    "collect_benchmark_items",
    "generate_answers",
    "load_bench_q",
    "merge_prediction_files",
    "objects_for_mode",
    "pending_samples",
    "read_benchmark_items",
    "read_prediction_lines",
    "read_predictions",
    "run_predictions",
    "shard_files",
    "shard_path",
]

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The prediction runner of the benchmarks: batched greedy generation into a resumable, sharded JSONL file.

`run_predictions` generates in batches and appends each finished batch to a JSONL file at once, so an interruption
loses at most one batch; a rerun skips the ids already in the file (a truncated last line is dropped). Under
`accelerate launch`, process k of N takes the samples at positions k, k + N, ... and writes
`PRED.jsonl.shard{k}-of-{N}`; after `wait_for_everyone` the main process appends the shards to `PRED.jsonl` (keeping
its existing lines) and deletes them. Leftover shards of an interrupted sharded run are merged first. Reading,
sharding and merging the files is `predictions`' job; the samples come from `bench_q` and `bench_d`.
"""

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from .predictions import id_key, merge_prediction_files, read_predictions, shard_files, shard_path

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


def sampling_kwargs(processor: Any, num_frames: int | None, sampling: Mapping[str, Any] | None) -> dict[str, Any]:
    """The processor's frame-sampling kwargs of a run: `sampling` (e.g. `{"fps": 1, "max_frames": 768}`) when
    given, else `{"num_frames": num_frames}` (the VideoRefer-7B form; nothing for another family when None).

    Raises:
        ValueError: an option the processor's family does not take.
    """
    from .families import family_of_processor

    family = family_of_processor(processor)
    if sampling is None:
        sampling = {"num_frames": num_frames} if num_frames is not None or "num_frames" in family.sampling_options else {}
    family.check_options(sampling)
    return dict(sampling)


def build_inputs(processor: Any, batch: Sequence[Sample], num_frames: int | None = None,
                 sampling: Mapping[str, Any] | None = None) -> Any:
    """The processor's inputs (a `BatchFeature`) of a batch of samples: the CPU half of a batch's work.

    The chat messages are the family's (`families.ModelFamily.messages`: VideoRefer-7B puts the video first,
    VideoRefer-VideoLLaMA3 where the prompt's `<video>` marker stands); the frames are sampled with `sampling`
    (or `num_frames`, see `sampling_kwargs`).

    Raises:
        ValueError: the processor refused an input (unreadable clip, bad mask ...); the message names the items.
    """
    from .families import family_of_processor

    family = family_of_processor(processor)
    options = sampling_kwargs(processor, num_frames, sampling)
    texts = [
        processor.apply_chat_template(family.messages(sample.prompt, "video"), add_generation_prompt=True, tokenize=False)
        for sample in batch
    ]
    try:
        return processor(text=texts, videos=[s.video for s in batch], masks=[s.objects for s in batch], **options)
    except (ValueError, TypeError, FileNotFoundError) as error:
        ids = [sample.id for sample in batch]
        raise ValueError(f"Cannot build the inputs of the batch of items {ids} (sample k is the k-th): {error}") from error


def answers_from_inputs(model: Any, processor: Any, inputs: Any, max_new_tokens: int, generator: Any = None) -> list[str]:
    """Greedy answers (stripped) of a batch's inputs, in one padded `generate` call: the GPU half of a batch's work.

    With `generator` (a `FastGreedyGenerator`), batches whose prompt and answer fit its caches go through it (same
    tokens, faster long answers on a GPU); others through `model.generate`.
    """
    import torch

    inputs = inputs.to(model.device, dtype=model.dtype, non_blocking=True)
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


def generate_answers(
    model: Any,
    processor: Any,
    batch: Sequence[Sample],
    num_frames: int | None,
    max_new_tokens: int,
    generator: Any = None,
    sampling: Mapping[str, Any] | None = None,
) -> list[str]:
    """Greedy answers (stripped) of a batch of samples: `build_inputs` then `answers_from_inputs`.

    Raises:
        ValueError: the processor refused an input (unreadable clip, bad mask ...); the message names the items.
    """
    inputs = build_inputs(processor, batch, num_frames, sampling)
    return answers_from_inputs(model, processor, inputs, max_new_tokens, generator)


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
            done.add(id_key(record["id"]))
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
    return [sample for sample in samples if id_key(sample.id) not in done]


class _BatchInputs:
    """A map-style dataset of batches: item k is `(batch k, its processor inputs or the ValueError's message)`.

    The error travels as a message so that the main process raises the runner's own one-line ValueError, not
    the DataLoader's re-raised traceback."""

    def __init__(self, processor: Any, batches: Sequence[Sequence[Sample]], num_frames: int | None,
                 sampling: Mapping[str, Any] | None = None):
        self.processor, self.batches, self.num_frames, self.sampling = processor, batches, num_frames, sampling

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> tuple[Sequence[Sample], Any, str | None]:
        batch = self.batches[index]
        try:
            return batch, build_inputs(self.processor, batch, self.num_frames, self.sampling), None
        except ValueError as error:
            return batch, None, str(error)


def batch_inputs(
    processor: Any,
    batches: Sequence[Sequence[Sample]],
    num_frames: int | None,
    num_workers: int = 0,
    pin_memory: bool = False,
    sampling: Mapping[str, Any] | None = None,
) -> Iterator[tuple[Sequence[Sample], Any]]:
    """`(batch, inputs)` for each batch, in order; with `num_workers` > 0 the inputs are built ahead in worker
    processes (a `torch.utils.data.DataLoader`, two batches ahead per worker), in pinned memory for the GPU.

    Raises:
        ValueError: a batch the processor refused (the message names its items), when that batch's turn comes.
    """
    if num_workers < 0:
        raise ValueError(f"num_workers must be 0 or more, got {num_workers}.")
    dataset = _BatchInputs(processor, batches, num_frames, sampling)
    if num_workers == 0 or len(batches) < 2:
        items: Iterator = (dataset[index] for index in range(len(dataset)))
    else:
        from torch.utils.data import DataLoader

        items = iter(
            DataLoader(
                dataset,
                batch_size=None,  # items are whole batches already
                shuffle=False,
                num_workers=min(num_workers, len(batches)),
                pin_memory=pin_memory,
                prefetch_factor=2,
                persistent_workers=False,
            )
        )
    for batch, inputs, error in items:
        if error is not None:
            raise ValueError(error)
        yield batch, inputs


def run_predictions(
    model: Any,
    processor: Any,
    samples: Sequence[Sample],
    output: str | os.PathLike,
    *,
    num_frames: int | None = DEFAULT_NUM_FRAMES,
    sampling: Mapping[str, Any] | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    batch_size: int = 1,
    settings: Mapping[str, Any] | None = None,
    state: Any = None,
    max_batches: int | None = None,
    progress: bool = True,
    description: str = "predicting",
    generator: Any = None,
    num_workers: int = 0,
) -> RunResult:
    """Generate the answers of `samples` into the JSONL file `output`, resuming it and sharding over processes.

    Each line is the sample's `record` plus `"pred"` and `settings` (e.g. mode and num_frames, which must match
    those of the lines already in the file). `state` is an `accelerate.PartialState` (or anything with
    `process_index`, `num_processes`, `is_main_process` and `wait_for_everyone()`); by default a single process.
    `sampling` (the processor's frame-sampling kwargs, e.g. `{"fps": 1, "max_frames": 768}` for
    VideoRefer-VideoLLaMA3) replaces `num_frames` when given.
    `max_batches` stops this process after that many batches (an interruption, for tests). `generator`: see
    `generate_answers`. `num_workers` > 0 prepares the next batches' inputs (reading media, decoding masks,
    preprocessing) in that many worker processes while the current batch generates (`batch_inputs`); the lines
    written are the same as with 0 (in the same order), and a batch the processor refuses stops the run as with 0.

    Raises:
        ValueError: bad batch size, settings different from the file's, duplicate sample ids, or an input the
            processor refuses.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    sampling = sampling_kwargs(processor, num_frames, sampling)
    state = state or SingleProcess()
    settings = dict(settings or {})
    output = os.fspath(output)
    ids = [sample.id for sample in samples]
    if len({id_key(i) for i in ids}) != len(ids):
        raise ValueError("Sample ids must be unique: each question is written once, under its id.")
    if state.is_main_process:
        os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
        merge_prediction_files(output, ids)
    state.wait_for_everyone()
    existing = read_predictions(output)
    _settings_conflicts(existing, settings, output)
    done = {id_key(record.get("id")) for record in existing}
    index, count = state.process_index, state.num_processes
    mine = [s for position, s in enumerate(samples) if position % count == index and id_key(s.id) not in done]
    target = output if count == 1 else shard_path(output, index, count)
    written, finished = 0, True
    label = description if count == 1 else f"{description} [{index + 1}/{count}]"
    with open(target, "a", encoding="utf-8") as handle, tqdm(
        total=len(mine), desc=label, unit="item", disable=not progress, position=index
    ) as bar:
        batches = [mine[start : start + batch_size] for start in range(0, len(mine), batch_size)]
        if max_batches is not None and max_batches < len(batches):
            batches, finished = batches[:max_batches], False
        pin_memory = str(getattr(model, "device", "cpu")).startswith("cuda")
        for batch, inputs in batch_inputs(processor, batches, None, num_workers, pin_memory, sampling):
            answers = answers_from_inputs(model, processor, inputs, max_new_tokens, generator)
            for sample, answer in zip(batch, answers):
                line = {**sample.record, "id": sample.id, "pred": answer, **settings}
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            handle.flush()
            written += len(batch)
            bar.update(len(batch))
    state.wait_for_everyone()
    if count > 1 and state.is_main_process:
        merge_prediction_files(output, ids)
    done_before = sum(id_key(i) in done for i in ids)
    return RunResult(total=len(samples), done_before=done_before, written=written, finished=finished)


__all__ = [
    "DEFAULT_MAX_NEW_TOKENS",
    "DEFAULT_NUM_FRAMES",
    "RunResult",
    "Sample",
    "answers_from_inputs",
    "batch_inputs",
    "build_inputs",
    "SingleProcess",
    "sampling_kwargs",
    "check_resumable",
    "generate_answers",
    "pending_samples",
    "run_predictions",
]

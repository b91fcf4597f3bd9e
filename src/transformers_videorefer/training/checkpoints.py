# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Training output folders that survive crashes: resuming from the last COMPLETE checkpoint, one run per folder.

The Trainer writes a checkpoint in this order: weights, optimizer and scheduler, RNG state, then
`trainer_state.json`. A run killed while it saves leaves a `checkpoint-N/` without `trainer_state.json` (or with a
cut one); such a folder is never resumed from. A run holds an exclusive lock on its output folder for as long as it
trains (an OS file lock: a crashed or killed run leaves no stale lock behind).
"""

import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from ..single_writer import FileLockHeldError, SingleWriterLock

logger = logging.getLogger(__name__)

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d+)$")
TRAINER_STATE_FILE = "trainer_state.json"
LOCK_FILE = ".videorefer-training.lock"
RESUME_LATEST = ("true", "yes", "1", "latest")
NO_RESUME = ("", "false", "no", "0", "none")


class OutputDirInUseError(RuntimeError):
    """Another training run holds the output folder."""


class ResumeCheckpointError(ValueError):
    """`resume_from_checkpoint` names no complete checkpoint."""


def checkpoint_problem(folder: str) -> str | None:
    """Why `folder` is not a complete checkpoint (None when it is)."""
    state_file = os.path.join(folder, TRAINER_STATE_FILE)
    if not os.path.isfile(state_file):
        return f"it has no {TRAINER_STATE_FILE} (the run stopped while saving it)"
    try:
        with open(state_file, encoding="utf-8") as handle:
            state = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        return f"its {TRAINER_STATE_FILE} is cut or damaged ({error})"
    match = CHECKPOINT_PATTERN.match(os.path.basename(os.path.normpath(folder)))
    if not isinstance(state, dict) or (match and state.get("global_step") != int(match.group(1))):
        return f"its {TRAINER_STATE_FILE} does not describe step {match.group(1) if match else '?'}"
    return None


def checkpoints_newest_first(output_dir: str) -> list[str]:
    """The `checkpoint-N` folders of `output_dir`, highest step first."""
    if not os.path.isdir(output_dir):
        return []
    found = []
    for name in os.listdir(output_dir):
        match = CHECKPOINT_PATTERN.match(name)
        if match and os.path.isdir(os.path.join(output_dir, name)):
            found.append((int(match.group(1)), os.path.join(output_dir, name)))
    return [path for _, path in sorted(found, reverse=True)]


def last_complete_checkpoint(output_dir: str) -> str | None:
    """The newest complete checkpoint of `output_dir`; incomplete newer ones are reported and passed over."""
    for folder in checkpoints_newest_first(output_dir):
        problem = checkpoint_problem(folder)
        if problem is None:
            return folder
        logger.warning("Not resuming from %s: %s.", folder, problem)
    return None


def resolve_resume_from_checkpoint(value: str | bool | None, output_dir: str) -> str | None:
    """What `resume_from_checkpoint` means: None (start afresh), or the checkpoint folder to resume from.

    `true` (YAML's boolean or the strings true/yes/1/latest) means the last complete checkpoint of `output_dir`; a
    path must be a complete checkpoint.

    Raises:
        ResumeCheckpointError: `true` with no complete checkpoint in `output_dir`, or a path that is missing or
            incomplete.
    """
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() in NO_RESUME):
        return None
    if value is True or (isinstance(value, str) and value.strip().lower() in RESUME_LATEST):
        found = last_complete_checkpoint(output_dir)
        if found is None:
            raise ResumeCheckpointError(
                f"resume_from_checkpoint is true but {output_dir!r} holds no complete checkpoint (a checkpoint-N "
                f"folder with its {TRAINER_STATE_FILE}); remove the setting to start afresh."
            )
        return found
    path = os.fspath(value)
    if not os.path.isdir(path):
        raise ResumeCheckpointError(f"resume_from_checkpoint: no such checkpoint folder {path!r}.")
    problem = checkpoint_problem(path)
    if problem is not None:
        latest = last_complete_checkpoint(os.path.dirname(os.path.normpath(path)))
        hint = f"the last complete one is {latest!r}" if latest else "there is no complete one beside it"
        raise ResumeCheckpointError(f"resume_from_checkpoint: {path!r} is not a complete checkpoint: {problem}; {hint}.")
    return path


@contextmanager
def exclusive_output_dir(output_dir: str) -> Iterator[None]:
    """Hold `output_dir` for one training run: a second run into the same folder is refused at once.

    Raises:
        OutputDirInUseError: another live process holds the folder.
    """
    os.makedirs(output_dir, exist_ok=True)
    lock = SingleWriterLock(os.path.join(output_dir, LOCK_FILE))
    try:
        lock.acquire()
    except FileLockHeldError as error:
        raise OutputDirInUseError(
            f"Another training run (pid {error.holder}) is writing into {output_dir!r}; wait for it to finish or "
            "choose another output_dir (two runs in one folder would mix their checkpoints)."
        ) from None
    try:
        yield
    finally:
        lock.release()

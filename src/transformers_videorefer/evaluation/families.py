# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""What differs between the model families in the user commands (`videorefer ask`, the demo, `videorefer eval`).

One `ModelFamily` per family holds everything family-specific those commands need, so that they carry no if/else on
the family:

| | VideoRefer-7B (`videorefer`) | VideoRefer-VideoLLaMA3 (`videorefer_vl3`) |
|---|---|---|
| frame sampling options | `num_frames` | `fps`, `max_frames` |
| Bench-Q / Bench-D sampling | 8 frames / 8 frames (the released scripts) | fps 1 / fps 4, at most 768 frames |
| `<region>` markers | one `[<region>]` per object | one `<region>` per (object, frame) mask |
| Bench-Q prompt | question (`[<region>]`), options, instruction | question (`<region>`), options, instruction |
| Bench-D prompt | "Please give a detailed description of ... [<region>] in the video." | "Please describe in detail the marked object <region> in the video.\\n<video>" |

The user-facing rule is the same for both: a question holds one `<region>` marker per object (`[<region>]` or
`<region>`: each family writes its own form), and `layout_regions` turns it into the markers the family's processor
takes. The family of a checkpoint is read from its `config.json` (`family_of_config`, light: no torch) or from a
loaded model / processor (`family_of_loaded`). Importing this module imports neither torch nor transformers.
"""

import json
import os
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

REGION_MARKER = "<region>"
BRACKETED_REGION = "[<region>]"
VIDEO_MARKER = "<video>"
BENCH_Q = "bench-q"
BENCH_D = "bench-d"
BENCHMARKS = (BENCH_Q, BENCH_D)
# The closing instruction of the Bench-Q prompt (the same in both families' released evaluation scripts).
ANSWER_INSTRUCTION = ". Answer with the option's letter from the given choices directly."
SAMPLING_OPTIONS = ("num_frames", "fps", "max_frames")


def option_flag(name: str) -> str:
    """The command-line flag of a sampling option: `num_frames` -> `--num-frames`."""
    return "--" + name.replace("_", "-")


def check_option_values(given: Mapping[str, Any]) -> None:
    """Check the values of sampling options, whatever the family (None values count as not set).

    Raises:
        ValueError: `num_frames` / `max_frames` below 1, `fps` not above 0.
    """
    for key, value in given.items():
        if value is None:
            continue
        if key == "fps" and not value > 0:
            raise ValueError(f"--fps must be above 0, got {value}.")
        if key != "fps" and value < 1:
            raise ValueError(f"{option_flag(key)} must be at least 1, got {value}.")


class ModelFamily:
    """The inference settings of one model family (see the module docstring); subclasses fill them in.

    Attributes:
        name: the native `model_type` (`videorefer`, `videorefer_vl3`).
        display_name: how messages name the family.
        model_types: every `config.json` `model_type` of the family (native and original release format).
        processor_class: the class name of the family's processor.
        sampling_options: the frame-sampling keyword arguments its processor takes (and the CLI options for them).
        samples_by_time: whether frames are sampled by time (then the processor needs the clip's file for its
            frame rate, not decoded frames).
        benchmark_sampling: per benchmark, the sampling of the released evaluation.
        bench_d_prompt: the Bench-D description request, one `<region>` marker for the object.
    """

    name: str = ""
    display_name: str = ""
    model_types: tuple[str, ...] = ()
    processor_class: str = ""
    sampling_options: tuple[str, ...] = ()
    samples_by_time: bool = False
    benchmark_sampling: Mapping[str, Mapping[str, Any]] = MappingProxyType({})
    bench_d_prompt: str = ""

    # ------------------------------------------------------------------------------------------ sampling
    def check_options(self, given: Mapping[str, Any]) -> None:
        """Refuse sampling options that the family does not take, and non-positive values.

        Args:
            given: the options the user set, e.g. `{"fps": 2}` (None values count as not set).

        Raises:
            ValueError: an option of the other family (one line, naming the options this family takes), or a value
                below 1 (`num_frames`, `max_frames`) / not above 0 (`fps`).
        """
        for key, value in given.items():
            if value is not None and key not in self.sampling_options:
                takes = ", ".join(option_flag(option) for option in self.sampling_options)
                raise ValueError(
                    f"{option_flag(key)} does not apply to {self.display_name} checkpoints, which sample frames by "
                    f"{takes}; leave {option_flag(key)} out."
                )
        check_option_values(given)

    def sampling(self, given: Mapping[str, Any], benchmark: str | None = None) -> dict[str, Any]:
        """The processor's sampling kwargs: `benchmark`'s released settings (or the processor's defaults when None),
        overridden by the options the user `given` (None = not set); checked with `check_options`."""
        self.check_options(given)
        if benchmark is not None and benchmark not in self.benchmark_sampling:
            raise ValueError(f"Unknown benchmark {benchmark!r}; expected one of {tuple(self.benchmark_sampling)}.")
        defaults = dict(self.benchmark_sampling[benchmark]) if benchmark is not None else {}
        return {**defaults, **{k: v for k, v in given.items() if v is not None}}

    def sampled_frames(self, processor: Any, clip: Any) -> list[int]:
        """Indices of the frames of `clip` (an opened clip) that the processor samples by default."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------- prompts
    def question_text(self, question: str) -> str:
        """A user's question with its `<region>` markers written in this family's form."""
        return question

    def layout_regions(self, prompt: str, objects: Sequence[Mapping[Any, Any]]) -> str:
        """The prompt with the `<region>` markers the processor takes for `objects` (one marker per object in, as
        many as the family lays the object's masks out as, out).

        Raises:
            ValueError: the prompt holds another number of markers than there are objects.
        """
        count = prompt.count(REGION_MARKER)
        if count != len(objects):
            raise ValueError(
                f"The prompt holds {count} {REGION_MARKER} marker(s) but there are {len(objects)} object(s): write one "
                f"{REGION_MARKER} per object."
            )
        return prompt

    def messages(self, prompt: str, kind: str = "video") -> list[dict[str, Any]]:
        """The chat messages of one user turn: the `kind` (`video` / `image`) block, then the prompt's text."""
        return [{"role": "user", "content": [{"type": kind}, {"type": "text", "text": prompt}]}]

    def bench_q_prompt(self, item: Mapping[str, Any]) -> str:
        """The Bench-Q question as the family's released evaluation writes it (one marker per object)."""
        return f"{self.question_text(item['Question'])} {' '.join(item['options'])}{ANSWER_INSTRUCTION}"

    # ---------------------------------------------------------------------------------------- generation
    def prompt_room(self, processor: Any, sampling: Mapping[str, Any]) -> int | None:
        """Prompt positions the visual tokens of one clip take, for sizing static caches; None when unknown."""
        return None

    def mask_frames_for_question(self, masks: Mapping[int, Any], sampled: Sequence[int]) -> dict[int, Any]:
        """The masks of one object given to the model (from every frame an object has a mask on)."""
        return dict(masks)


class VideoReferFamily(ModelFamily):
    """VideoRefer-7B: `num_frames` uniform frames; one `[<region>]` per object (all its masks pooled)."""

    name = "videorefer"
    display_name = "VideoRefer-7B"
    model_types = ("videorefer", "videorefer_qwen2")
    processor_class = "VideoReferProcessor"
    sampling_options = ("num_frames",)
    # The released evaluation scripts call the video loader without a frame count: its default of 8 frames.
    benchmark_sampling = MappingProxyType({BENCH_Q: {"num_frames": 8}, BENCH_D: {"num_frames": 8}})
    bench_d_prompt = "Please give a detailed description of the highlighted object [<region>] in the video."

    def sampling(self, given: Mapping[str, Any], benchmark: str | None = None) -> dict[str, Any]:
        """As `ModelFamily.sampling`; without a benchmark `num_frames` is always passed (None: the processor's)."""
        return {"num_frames": None, **super().sampling(given, benchmark)}

    def bench_q_prompt(self, item: Mapping[str, Any]) -> str:
        """The question with every `<region>` written `[<region>]`, a space, the options, the instruction."""
        question = item["Question"].replace(REGION_MARKER, BRACKETED_REGION)
        return f"{question} {' '.join(item['options'])}{ANSWER_INSTRUCTION}"

    def sampled_frames(self, processor: Any, clip: Any) -> list[int]:
        from ..inputs.media import sample_frame_indices

        return sorted(set(sample_frame_indices(clip.num_frames, processor.num_frames)))

    def prompt_room(self, processor: Any, sampling: Mapping[str, Any]) -> int | None:
        return processor.num_video_tokens(sampling.get("num_frames") or processor.num_frames)


class VideoReferVL3Family(ModelFamily):
    """VideoRefer-VideoLLaMA3: frames by `fps` (at most `max_frames`); one `<region>` per (object, frame) mask."""

    name = "videorefer_vl3"
    display_name = "VideoRefer-VideoLLaMA3"
    model_types = ("videorefer_vl3", "videollama3_qwen2")
    processor_class = "VideoReferVL3Processor"
    sampling_options = ("fps", "max_frames")
    samples_by_time = True
    benchmark_sampling = MappingProxyType({BENCH_Q: {"fps": 1, "max_frames": 768}, BENCH_D: {"fps": 4, "max_frames": 768}})
    bench_d_prompt = "Please describe in detail the marked object <region> in the video.\n<video>"

    def question_text(self, question: str) -> str:
        """Every `[<region>]` written `<region>` (the processor writes the brackets around the region tokens)."""
        return question.replace(BRACKETED_REGION, REGION_MARKER)

    def layout_regions(self, prompt: str, objects: Sequence[Mapping[Any, Any]]) -> str:
        """Object i's marker repeated once per frame it has a mask on (the processor takes its masks object after
        object, each object's frames in increasing order)."""
        super().layout_regions(prompt, objects)
        pieces = prompt.split(REGION_MARKER)
        return pieces[0] + "".join(REGION_MARKER * max(1, len(obj)) + piece for obj, piece in zip(objects, pieces[1:]))

    def messages(self, prompt: str, kind: str = "video") -> list[dict[str, Any]]:
        """As the original builds them: the media block where the prompt's `<video>` / `<image>` marker stands
        (first when there is none), text chunks stripped."""
        from ..models.videorefer_vl3.processing_videorefer_vl3 import messages_from_question

        return messages_from_question(prompt, kind)

    def sampled_frames(self, processor: Any, clip: Any) -> list[int]:
        from ..models.videorefer_vl3.video_processing_videorefer_vl3 import sample_clip

        return list(sample_clip(clip, processor.fps, processor.max_frames).indices)

    def prompt_room(self, processor: Any, sampling: Mapping[str, Any]) -> int | None:
        """The visual-token budget (`mm_max_length`: every frame's tokens fit in it, before compression), for the
        fast generator's static caches."""
        return int(processor.mm_max_length)

    def mask_frames_for_question(self, masks: Mapping[int, Any], sampled: Sequence[int]) -> dict[int, Any]:
        """Only the masks on sampled frames (each mask costs a crop and up to 10 tokens); all when none is."""
        seen = set(sampled)
        kept = {frame: mask for frame, mask in masks.items() if frame in seen}
        return kept or dict(masks)


VIDEOREFER = VideoReferFamily()
VIDEOREFER_VL3 = VideoReferVL3Family()
FAMILIES: tuple[ModelFamily, ...] = (VIDEOREFER, VIDEOREFER_VL3)


def family_of_model_type(model_type: str | None) -> ModelFamily | None:
    """The family whose checkpoints carry `model_type` in `config.json`; None for another model type."""
    for family in FAMILIES:
        if model_type in family.model_types:
            return family
    return None


def family_of_config(config: Mapping[str, Any], where: str = "the checkpoint") -> ModelFamily:
    """The family of a `config.json` dict.

    Raises:
        ValueError: a model type of neither family (or a plain VideoLLaMA3 checkpoint, without a region encoder).
    """
    model_type = config.get("model_type")
    family = family_of_model_type(model_type)
    if family is VIDEOREFER_VL3 and model_type == "videollama3_qwen2" and "region_token_index" not in config:
        family = None
    if family is None:
        known = ", ".join(t for f in FAMILIES for t in f.model_types)
        raise ValueError(
            f"{where} has model_type {model_type!r}, not a VideoRefer model (expected one of: {known}; a plain "
            "VideoLLaMA3 checkpoint has no region encoder)."
        )
    return family


def family_of_folder(folder: str | os.PathLike) -> ModelFamily | None:
    """The family of a checkpoint folder from its `config.json` (None when the folder has none).

    Raises:
        ValueError: the config is not JSON or names another model type.
    """
    path = os.path.join(os.path.expanduser(os.fspath(folder)), "config.json")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        try:
            config = json.load(handle)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error}).") from error
    return family_of_config(config, path)


def peek_family(model: str) -> ModelFamily | None:
    """The family of `--model` when it can be told without loading anything or asking the network: a local folder's
    `config.json`, or the one of a Hub id in the local Hugging Face cache; else None (told after loading).

    Raises:
        ValueError: as `family_of_folder`.
    """
    if os.path.isdir(os.path.expanduser(model)):
        return family_of_folder(model)
    if model.count("/") != 1:
        return None
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(model, "config.json")
    except ValueError:  # not a valid repository id
        return None
    if not isinstance(cached, str):
        return None
    return family_of_folder(os.path.dirname(cached))


def family_of_records(records: Sequence[Mapping[str, Any]]) -> ModelFamily | None:
    """The family whose sampling settings the prediction lines carry (`num_frames`: VideoRefer-7B; `fps` /
    `max_frames`: VideoRefer-VideoLLaMA3); None when no line carries any."""
    for record in records:
        for family in FAMILIES:
            if any(key in record for key in family.sampling_options):
                return family
    return None


def family_of_processor(processor: Any) -> ModelFamily:
    """The family of a loaded processor, by its class (also for remote-code copies of it); VideoRefer-7B otherwise."""
    names = {cls.__name__ for cls in type(processor).__mro__}
    for family in FAMILIES:
        if family.processor_class in names:
            return family
    return VIDEOREFER


def family_of_loaded(model: Any, processor: Any) -> ModelFamily:
    """The family of a loaded model (its config's model type), else of its processor."""
    family = family_of_model_type(getattr(getattr(model, "config", None), "model_type", None))
    return family or family_of_processor(processor)


__all__ = [
    "BENCHMARKS",
    "BENCH_D",
    "BENCH_Q",
    "FAMILIES",
    "VIDEOREFER",
    "VIDEOREFER_VL3",
    "ModelFamily",
    "VideoReferFamily",
    "VideoReferVL3Family",
    "check_option_values",
    "family_of_config",
    "family_of_folder",
    "family_of_loaded",
    "family_of_model_type",
    "family_of_processor",
    "family_of_records",
    "option_flag",
    "peek_family",
]

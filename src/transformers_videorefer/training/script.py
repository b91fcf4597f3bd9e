# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Train a VideoRefer stage with TRL's SFTTrainer.

    python -m transformers_videorefer.train --config examples/train/stage3.yaml   (runs `main` below)
    accelerate launch --config_file examples/train/accelerate/zero2.yaml -m transformers_videorefer.train --config ...

The YAML holds the fields of `VideoReferTrainArguments` below (which extends `trl.ModelConfig`) and of
`trl.SFTConfig`.
"""

import logging
import sys
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from peft import LoraConfig
from transformers import (
    AutoModelForImageTextToText,
    AutoProcessor,
    BitsAndBytesConfig,
    PreTrainedModel,
    ProcessorMixin,
)
from trl import ModelConfig, SFTConfig, TrlParser

from ..dtypes import DTYPES, resolve_dtype
from ..hub.parts import build_from_parts
from ..models.videorefer_vl3.processing_videorefer_vl3 import VideoReferVL3Processor
from .checkpoints import (
    OutputDirInUseError,
    ResumeCheckpointError,
    exclusive_output_dir,
    resolve_resume_from_checkpoint,
)
from .collator import VideoReferDataCollator
from .collator_vl3 import VideoReferVL3DataCollator
from .data import load_videorefer_dataset
from .lora import language_model_lora_config
from .stages import Stage, get_stage, model_part_names
from .trainer import build_trainer

logger = logging.getLogger(__name__)


@dataclass
class VideoReferTrainArguments(ModelConfig):
    """What to train, on what data: TRL's `ModelConfig` plus VideoRefer's fields (the rest is `trl.SFTConfig`).

    Differences from `ModelConfig`: `dtype` also takes the short names `bf16` / `fp16` / `fp32` and defaults to
    `bf16`; `lora_r` / `lora_alpha` default to the paper's 64 / 128; `use_lora` is kept as the recipes' name for
    `use_peft` (either turns LoRA on; both end up equal); `lora_target_modules` / `lora_modules_to_save`, when
    given, replace VideoRefer's defaults (the language model's linear layers / the stage's multimodal modules).
    """

    data_path: list[str] = field(kw_only=True, metadata={"help": "VideoRefer-700K-style JSON/JSONL file(s)."})
    stage: str = field(default="3", metadata={"help": "1, 2, 2.5 or 3: which parameters train (see docs/training.md)."})
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A VideoRefer checkpoint (original or native). Or build from the parts below."}
    )
    language_model: str | None = field(default=None, metadata={"help": "Qwen2 instruct model, to build from parts."})
    vision_tower: str = field(default="google/siglip-so400m-patch14-384", metadata={"help": "SigLIP, for parts."})
    pretrained_connector: str | None = field(default=None, metadata={"help": "Stage-1 mm_projector.bin, for parts."})
    media_root: str | None = field(default=None, metadata={"help": "Folder relative media paths start from."})
    num_frames: int | None = field(default=None, metadata={"help": "Frames per video (default: the model's)."})
    fps: float | None = field(
        default=None, metadata={"help": "VideoRefer-VideoLLaMA3 only: frames sampled per second (default: the processor's)."}
    )
    max_frames: int | None = field(
        default=None, metadata={"help": "VideoRefer-VideoLLaMA3 only: at most this many frames (default: the processor's)."}
    )
    num_mask_frames: int | None = field(
        default=None,
        metadata={
            "help": "At most this many mask frames per object (a departure from the original, which uses every "
            "annotated frame; default: every frame)."
        },
    )
    truncate_after_expansion: bool = field(
        default=False,
        metadata={
            "help": "Cut the EXPANDED sequence at max_length (a departure from the original, which cuts the ids at "
            "max_length before the media and region markers are expanded; default: as the original)."
        },
    )
    projector_lr: float | None = field(default=None, metadata={"help": "Learning rate of connector + region encoder."})
    skip_invalid: bool = field(default=False, metadata={"help": "Skip unusable samples (logged) instead of failing."})
    dtype: str | None = field(
        default="bf16",
        metadata={"help": "Weights dtype.", "choices": sorted(DTYPES)},
    )
    use_lora: bool = field(
        default=False, metadata={"help": "LoRA on the language model (multimodal parts in full); same as use_peft."}
    )
    lora_r: int = field(default=64, metadata={"help": "LoRA rank."})
    lora_alpha: int = field(default=128, metadata={"help": "LoRA alpha."})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dtype is None:
            self.dtype = "bf16"
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}.")
        self.use_peft = self.use_lora = bool(self.use_peft or self.use_lora)
        if (self.load_in_4bit or self.load_in_8bit) and not self.use_peft:
            bits = 4 if self.load_in_4bit else 8
            raise ValueError(f"load_in_{bits}bit (QLoRA) needs use_lora (or use_peft): only adapters can train.")


def _quantization_config(args: VideoReferTrainArguments, dtype: torch.dtype) -> BitsAndBytesConfig | None:
    """bitsandbytes settings of the language model for QLoRA (the multimodal parts and the head stay unquantised)."""
    skip = ["vision_tower", "multi_modal_projector", "region_encoder", "lm_head", "vision_model", "projector"]
    if args.load_in_4bit:
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_compute_dtype=dtype,
            bnb_4bit_quant_type=args.bnb_4bit_quant_type,
            bnb_4bit_use_double_quant=args.use_bnb_nested_quant,
            bnb_4bit_quant_storage=args.bnb_4bit_quant_storage,
            llm_int8_skip_modules=skip,
        )
    if args.load_in_8bit:
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)
    return None


def load_model(args: VideoReferTrainArguments) -> tuple[PreTrainedModel, ProcessorMixin]:
    """The model and processor to train, from a checkpoint or from parts."""
    dtype = resolve_dtype(args.dtype)
    if args.model_name_or_path is None:
        if args.language_model is None:
            raise ValueError("Give model_name_or_path, or language_model (+ vision_tower, pretrained_connector) to build from parts.")
        return build_from_parts(args.language_model, args.vision_tower, args.pretrained_connector, dtype=dtype)
    kwargs = {"dtype": dtype, "revision": args.model_revision}
    if args.attn_implementation:
        kwargs["attn_implementation"] = args.attn_implementation
    quantization_config = _quantization_config(args, dtype)
    if quantization_config is not None:
        kwargs["quantization_config"] = quantization_config
    model = AutoModelForImageTextToText.from_pretrained(args.model_name_or_path, **kwargs)
    processor = AutoProcessor.from_pretrained(args.model_name_or_path, revision=args.model_revision)
    return model, processor


def peft_config_from_args(
    args: VideoReferTrainArguments, stage: Stage, model: PreTrainedModel | None = None
) -> LoraConfig | None:
    """VideoRefer's LoRA config (see `language_model_lora_config`) with `ModelConfig`'s LoRA options applied;
    `model` (when given) names the multimodal modules (VL3's connector is `projector`)."""
    if not args.use_peft:
        return None
    part_names = model_part_names(model) if model is not None else None
    config = language_model_lora_config(args.lora_r, args.lora_alpha, args.lora_dropout, stage, part_names)
    if args.lora_target_modules is not None:
        config.target_modules = args.lora_target_modules
    if args.lora_target_parameters is not None:
        config.target_parameters = args.lora_target_parameters
    if args.lora_modules_to_save is not None:
        config.modules_to_save = args.lora_modules_to_save
    config.task_type = args.lora_task_type
    config.use_rslora = args.use_rslora
    config.use_dora = args.use_dora
    return config


def run(args: VideoReferTrainArguments, training_args: SFTConfig) -> None:
    """Train one stage. The output folder is held for the whole run (a second run into it is refused before any
    model is loaded), and `resume_from_checkpoint: true` resumes from the last COMPLETE checkpoint."""
    holder = exclusive_output_dir(training_args.output_dir) if training_args.should_save else nullcontext()
    with holder:
        resume = resolve_resume_from_checkpoint(training_args.resume_from_checkpoint, training_args.output_dir)
        _train(args, training_args, resume)


def _train(args: VideoReferTrainArguments, training_args: SFTConfig, resume: str | None) -> None:
    stage = get_stage(args.stage)
    training_args.remove_unused_columns = False
    training_args.dataset_kwargs = {**(training_args.dataset_kwargs or {}), "skip_prepare_dataset": True}
    if training_args.bf16 and not torch.cuda.is_available():
        logger.warning("No GPU: training in float32 (bf16 autocast on the CPU is slow).")
        training_args.bf16 = False
    model, processor = load_model(args)
    dataset = load_videorefer_dataset(args.data_path)
    collator = build_collator(processor, args, training_args, stage)
    peft_config = peft_config_from_args(args, stage, model)
    trainer = build_trainer(model, processor, dataset, training_args, stage, collator, args.projector_lr, peft_config)
    trainer.train(resume_from_checkpoint=resume)
    save_final_model(trainer, training_args.output_dir)
    if trainer.is_world_process_zero():
        processor.save_pretrained(training_args.output_dir)
        trainer.state.save_to_json(f"{training_args.output_dir}/trainer_state.json")


def build_collator(
    processor: ProcessorMixin, args: VideoReferTrainArguments, training_args: SFTConfig, stage: Stage
) -> VideoReferDataCollator:
    """The collator of the processor's family: VideoRefer-VideoLLaMA3's (frames by `fps` / `max_frames`, the cut
    at `max_length` after expansion) or VideoRefer-7B's (`num_frames`, `num_mask_frames`, cut before expansion
    unless `truncate_after_expansion`)."""
    shared = {
        "plain": stage.plain,
        "media_root": args.media_root,
        "num_mask_frames": args.num_mask_frames,
        "max_length": training_args.max_length,
        "skip_invalid": args.skip_invalid,
        "seed": training_args.seed,
    }
    if isinstance(processor, VideoReferVL3Processor):
        if args.num_frames is not None:
            raise ValueError("num_frames is VideoRefer-7B's frame sampling; VideoRefer-VideoLLaMA3 takes fps and max_frames.")
        return VideoReferVL3DataCollator(processor, fps=args.fps, max_frames=args.max_frames, **shared)
    if args.fps is not None or args.max_frames is not None:
        raise ValueError("fps / max_frames are VideoRefer-VideoLLaMA3's frame sampling; VideoRefer-7B takes num_frames.")
    return VideoReferDataCollator(
        processor, num_frames=args.num_frames, truncate_after_expansion=args.truncate_after_expansion, **shared
    )


def save_final_model(trainer, output_dir: str) -> None:
    """Save the trained model as a `from_pretrained` checkpoint, however it was sharded.

    FSDP's sharded state dicts (the right choice for intermediate checkpoints) are gathered into a full one for this
    last save: `Trainer.save_model` writes no weights at all for them.
    """
    if trainer.is_fsdp_enabled:
        fsdp_plugin = trainer.accelerator.state.fsdp_plugin
        if "FULL_STATE_DICT" not in str(fsdp_plugin.state_dict_type):
            fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(output_dir)


def main(argv: list[str] | None = None) -> int:
    """The training command; returns the exit status (2, with one line on stderr, for settings the arguments refuse
    (e.g. bf16 on a machine without a GPU), a busy output folder or a checkpoint that cannot be resumed)."""
    parser = TrlParser((VideoReferTrainArguments, SFTConfig))
    try:
        args, training_args = parser.parse_args_and_config(argv)
    except ValueError as error:  # the argument classes' own checks (TrainingArguments, ModelConfig, ours)
        message = " ".join(str(error).split())
        sys.stderr.write(f"transformers_videorefer.train: {message}\n")
        return 2
    try:
        run(args, training_args)
    except (OutputDirInUseError, ResumeCheckpointError) as error:
        sys.stderr.write(f"transformers_videorefer.train: {error}\n")
        return 2
    return 0

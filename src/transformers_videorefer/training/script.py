# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Train a VideoRefer stage with TRL's SFTTrainer.

    python -m transformers_videorefer.train --config examples/train/stage3.yaml   (runs `main` below)
    accelerate launch --config_file examples/train/accelerate/zero2.yaml -m transformers_videorefer.train --config ...

The YAML holds the fields of `VideoReferTrainArguments` below and of `trl.SFTConfig`.
"""

import logging
from dataclasses import dataclass, field

import torch
from transformers import AutoModelForImageTextToText, AutoProcessor, BitsAndBytesConfig
from trl import SFTConfig, TrlParser

from ..dtypes import resolve_dtype
from ..hub.parts import build_from_parts
from .collator import VideoReferDataCollator
from .data import load_videorefer_dataset
from .lora import language_model_lora_config
from .stages import get_stage
from .trainer import build_trainer

logger = logging.getLogger(__name__)


@dataclass
class VideoReferTrainArguments:
    """What to train, on what data (the rest of the configuration is `trl.SFTConfig`)."""

    data_path: list[str] = field(metadata={"help": "VideoRefer-700K-style JSON/JSONL file(s)."})
    stage: str = field(default="3", metadata={"help": "1, 2, 2.5 or 3: which parameters train (see docs/training.md)."})
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "A VideoRefer checkpoint (original or native). Or build from the parts below."}
    )
    language_model: str | None = field(default=None, metadata={"help": "Qwen2 instruct model, to build from parts."})
    vision_tower: str = field(default="google/siglip-so400m-patch14-384", metadata={"help": "SigLIP, for parts."})
    pretrained_connector: str | None = field(default=None, metadata={"help": "Stage-1 mm_projector.bin, for parts."})
    media_root: str | None = field(default=None, metadata={"help": "Folder relative media paths start from."})
    num_frames: int | None = field(default=None, metadata={"help": "Frames per video (default: the model's)."})
    num_mask_frames: int | None = field(default=2, metadata={"help": "At most this many mask frames per object."})
    projector_lr: float | None = field(default=None, metadata={"help": "Learning rate of connector + region encoder."})
    skip_invalid: bool = field(default=False, metadata={"help": "Skip unusable samples (logged) instead of failing."})
    dtype: str = field(default="bf16", metadata={"help": "Weights dtype: bf16, fp16 or float32."})
    attn_implementation: str | None = field(default=None, metadata={"help": "sdpa, eager or flash_attention_2."})
    use_lora: bool = field(default=False, metadata={"help": "LoRA on the language model (multimodal parts in full)."})
    load_in_4bit: bool = field(default=False, metadata={"help": "QLoRA: the language model in 4 bit (GPU, bitsandbytes)."})
    lora_r: int = 64
    lora_alpha: int = 128
    lora_dropout: float = 0.05


def load_model(args: VideoReferTrainArguments):
    """The model and processor to train, from a checkpoint or from parts."""
    dtype = resolve_dtype(args.dtype)
    if args.model_name_or_path is None:
        if args.language_model is None:
            raise ValueError("Give model_name_or_path, or language_model (+ vision_tower, pretrained_connector) to build from parts.")
        return build_from_parts(args.language_model, args.vision_tower, args.pretrained_connector, dtype=dtype)
    kwargs = {"dtype": dtype}
    if args.attn_implementation:
        kwargs["attn_implementation"] = args.attn_implementation
    if args.load_in_4bit:
        if not args.use_lora:
            raise ValueError("load_in_4bit (QLoRA) needs use_lora.")
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_compute_dtype=dtype,
            bnb_4bit_quant_type="nf4",
            llm_int8_skip_modules=["vision_tower", "multi_modal_projector", "region_encoder", "lm_head"],
        )
    model = AutoModelForImageTextToText.from_pretrained(args.model_name_or_path, **kwargs)
    processor = AutoProcessor.from_pretrained(args.model_name_or_path)
    return model, processor


def run(args: VideoReferTrainArguments, training_args: SFTConfig) -> None:
    stage = get_stage(args.stage)
    training_args.remove_unused_columns = False
    training_args.dataset_kwargs = {**(training_args.dataset_kwargs or {}), "skip_prepare_dataset": True}
    if training_args.bf16 and not torch.cuda.is_available():
        logger.warning("No GPU: training in float32 (bf16 autocast on the CPU is slow).")
        training_args.bf16 = False
    model, processor = load_model(args)
    dataset = load_videorefer_dataset(args.data_path)
    collator = VideoReferDataCollator(
        processor,
        plain=stage.plain,
        media_root=args.media_root,
        num_mask_frames=args.num_mask_frames,
        num_frames=args.num_frames,
        max_length=training_args.max_length,
        skip_invalid=args.skip_invalid,
        seed=training_args.seed,
    )
    peft_config = language_model_lora_config(args.lora_r, args.lora_alpha, args.lora_dropout, stage) if args.use_lora else None
    trainer = build_trainer(model, processor, dataset, training_args, stage, collator, args.projector_lr, peft_config)
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    save_final_model(trainer, training_args.output_dir)
    if trainer.is_world_process_zero():
        processor.save_pretrained(training_args.output_dir)
        trainer.state.save_to_json(f"{training_args.output_dir}/trainer_state.json")


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


def main(argv: list[str] | None = None) -> None:
    parser = TrlParser((VideoReferTrainArguments, SFTConfig))
    args, training_args = parser.parse_args_and_config(argv)
    run(args, training_args)

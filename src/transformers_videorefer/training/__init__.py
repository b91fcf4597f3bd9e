"""Training VideoRefer (and VideoRefer-VideoLLaMA3) with TRL: data, collators, stages, trainer and building a
stage-2 start from parts."""

from ..hub.parts import build_from_parts
from .collator import VideoReferDataCollator
from .collator_vl3 import VideoReferVL3DataCollator, collator_for
from .data import load_videorefer_dataset
from .stages import STAGES, Stage, apply_stage, get_stage
from .trainer import VideoReferSFTTrainer, build_trainer, videorefer_sft_config

__all__ = [
    "STAGES",
    "Stage",
    "VideoReferDataCollator",
    "VideoReferSFTTrainer",
    "VideoReferVL3DataCollator",
    "apply_stage",
    "build_from_parts",
    "build_trainer",
    "collator_for",
    "get_stage",
    "load_videorefer_dataset",
    "videorefer_sft_config",
]

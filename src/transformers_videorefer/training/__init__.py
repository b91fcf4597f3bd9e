"""Training VideoRefer with TRL: data, collator, stages, trainer and building a stage-2 start from parts."""

from .collator import VideoReferDataCollator
from .data import load_videorefer_dataset
from .stages import STAGES, Stage, apply_stage, get_stage

__all__ = ["STAGES", "Stage", "VideoReferDataCollator", "apply_stage", "get_stage", "load_videorefer_dataset"]

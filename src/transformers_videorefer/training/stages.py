# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The four training stages: which parameters each trains, and their learning-rate groups.

Stages name the parts by their VideoRefer-7B names (`multi_modal_projector`, `region_encoder`, `vision_tower`);
`model_part_names` maps them to the attribute names of the model at hand (VideoRefer-VideoLLaMA3: `projector`,
`region_encoder`, `vision_model`).
"""

from collections.abc import Mapping
from dataclasses import dataclass

from torch import nn

CONNECTOR = "multi_modal_projector"
REGION_ENCODER = "region_encoder"
VISION_TOWER = "vision_tower"
PART_NAMES = {CONNECTOR: CONNECTOR, REGION_ENCODER: REGION_ENCODER, VISION_TOWER: VISION_TOWER}
VL3_PART_NAMES = {CONNECTOR: "projector", REGION_ENCODER: REGION_ENCODER, VISION_TOWER: "vision_model"}


@dataclass(frozen=True)
class Stage:
    """A training stage of the paper.

    Attributes:
        name: "1", "2", "2.5" or "3".
        trainable: sub-modules of `VideoReferModel` trained in this stage (None: all but `frozen`).
        frozen: sub-modules kept frozen when `trainable` is None.
        plain: stage 1 trains on the plain format (no chat template), loss on the caption.
        learning_rate: the paper's learning rate.
    """

    name: str
    trainable: tuple[str, ...] | None
    frozen: tuple[str, ...]
    plain: bool
    learning_rate: float


STAGES = {
    "1": Stage("1", (CONNECTOR,), (), True, 1e-3),
    "2": Stage("2", (REGION_ENCODER,), (), False, 1e-3),
    "2.5": Stage("2.5", None, (VISION_TOWER,), False, 1e-5),
    "3": Stage("3", None, (VISION_TOWER,), False, 1e-5),
}


def get_stage(name: str | float | int) -> Stage:
    """The stage called `name` ("1", "2", "2.5", "3")."""
    key = str(name)
    if key not in STAGES:
        raise ValueError(f"Unknown training stage {name!r}; expected one of {sorted(STAGES)}.")
    return STAGES[key]


def model_part_names(model: nn.Module) -> Mapping[str, str]:
    """The stage part names (`multi_modal_projector`, `region_encoder`, `vision_tower`) -> the attribute names of
    `model`'s base model: the same for VideoRefer-7B; `projector`, `region_encoder`, `vision_model` for VL3.

    Raises:
        TypeError: `model` is neither family.
    """
    base = getattr(model, "model", model)
    for names in (PART_NAMES, VL3_PART_NAMES):
        if all(hasattr(base, part) for part in names.values()):
            return names
    raise TypeError(
        f"Expected a VideoRefer or VideoRefer-VideoLLaMA3 model (with {sorted(PART_NAMES)} or "
        f"{sorted(VL3_PART_NAMES.values())}), got {type(model).__name__}."
    )


def _base_model(model: nn.Module) -> nn.Module:
    model_part_names(model)  # raises for another model
    return getattr(model, "model", model)


def apply_stage(model: nn.Module, stage: Stage) -> list[str]:
    """Set `requires_grad` as `stage` trains; returns the names of the trainable parameters."""
    base = _base_model(model)
    names = model_part_names(model)
    if stage.trainable is not None:
        model.requires_grad_(False)
        for part in stage.trainable:
            getattr(base, names[part]).requires_grad_(True)
    else:
        model.requires_grad_(True)
        for part in stage.frozen:
            getattr(base, names[part]).requires_grad_(False)
    return [name for name, parameter in model.named_parameters() if parameter.requires_grad]


MULTIMODAL_MODULES = (CONNECTOR, REGION_ENCODER, VL3_PART_NAMES[CONNECTOR])


def is_multimodal_parameter(name: str) -> bool:
    """Whether a parameter belongs to the connector (VL3: `projector`) or the region encoder (which may get their
    own lr)."""
    return any(f".{module}." in f".{name}" for module in MULTIMODAL_MODULES)

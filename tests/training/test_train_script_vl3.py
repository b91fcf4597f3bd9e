"""`python -m transformers_videorefer.train --config ...` on the golden VL3 tiny checkpoint (original format)."""

import json
import math
from pathlib import Path

import yaml
from transformers import AutoModelForImageTextToText, AutoProcessor

import transformers_videorefer  # noqa: F401
from transformers_videorefer.train import main

from .training_fixtures_vl3 import copy_vl3_checkpoint, vl3_golden_or_skip, write_vl3_dataset

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "train" / "vl3_stage3.yaml"


def test_train_script_trains_a_vl3_checkpoint(tmp_path):
    checkpoint = copy_vl3_checkpoint(vl3_golden_or_skip(), tmp_path)
    data = write_vl3_dataset(tmp_path)
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text())  # the example's VL3 settings, made tiny
    config.update(
        model_name_or_path=str(checkpoint), data_path=[str(data)], media_root=str(tmp_path), dtype="float32",
        output_dir=str(tmp_path / "out"), max_steps=2, per_device_train_batch_size=2, gradient_accumulation_steps=1,
        use_cpu=True, bf16=False, save_strategy="no", logging_steps=1, disable_tqdm=True, dataloader_num_workers=0,
        max_frames=4,
    )
    (tmp_path / "vl3.yaml").write_text(yaml.safe_dump(config))
    assert main(["--config", str(tmp_path / "vl3.yaml")]) == 0
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "out")
    processor = AutoProcessor.from_pretrained(tmp_path / "out")
    assert model.config.model_type == "videorefer_vl3"
    assert type(processor).__name__ == "VideoReferVL3Processor"
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    losses = [entry["loss"] for entry in state["log_history"] if "loss" in entry]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)

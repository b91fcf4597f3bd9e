"""Building a stage-2 starting point from parts, and refusing pickles that carry code."""

import pickle

import pytest
import torch
from transformers import Qwen2ForCausalLM, SiglipVisionModel

import transformers_videorefer  # noqa: F401
from transformers_videorefer.hub.parts import build_from_parts, load_connector_weights

from training.training_fixtures import write_tiny_parts


def test_build_from_parts(tmp_path):
    connector = write_tiny_parts(tmp_path)
    model, processor = build_from_parts(
        str(tmp_path / "qwen"), str(tmp_path / "siglip"), str(tmp_path / "mm_projector.bin"), num_frames=4,
        dtype=torch.float32,
    )
    assert processor.tokenizer.convert_tokens_to_ids("<region>") == 30 == model.config.region_token_id
    assert model.get_input_embeddings().weight.shape[0] == 31 == model.config.text_config.vocab_size
    assert (model.config.image_token_id, model.config.video_token_id) == (31, 32)
    for key, value in connector.state_dict().items():
        assert torch.equal(model.model.multi_modal_projector.state_dict()[key], value)
    qwen = Qwen2ForCausalLM.from_pretrained(tmp_path / "qwen")
    assert torch.equal(model.model.language_model.layers[0].mlp.up_proj.weight, qwen.model.layers[0].mlp.up_proj.weight)
    siglip = SiglipVisionModel.from_pretrained(tmp_path / "siglip")
    assert torch.equal(model.model.vision_tower.embeddings.patch_embedding.weight, siglip.embeddings.patch_embedding.weight)

    # it runs, and saves / reloads as a native checkpoint with its processor
    frames = [torch.randint(0, 255, (40, 50, 3), dtype=torch.uint8).numpy() for _ in range(6)]
    mask = torch.zeros(40, 50)
    mask[10:30, 10:30] = 1
    inputs = processor(text=["<video>\nabc <region> d"], videos=[frames], masks=[[{2: mask}]])
    logits = model(**inputs).logits
    model.save_pretrained(tmp_path / "stage2-start")
    processor.save_pretrained(tmp_path / "stage2-start")
    from transformers import AutoModelForImageTextToText, AutoProcessor

    reloaded = AutoModelForImageTextToText.from_pretrained(tmp_path / "stage2-start")
    again = AutoProcessor.from_pretrained(tmp_path / "stage2-start")(text=["<video>\nabc <region> d"], videos=[frames], masks=[[{2: mask}]])
    torch.testing.assert_close(reloaded(**again).logits, logits)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_connector_pickle_with_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    with open(tmp_path / "mm_projector.bin", "wb") as handle:
        pickle.dump({"model.mm_projector.readout.0.weight": _RunsCode(marker)}, handle)
    with pytest.raises(ValueError, match="not a plain state dict"):
        load_connector_weights(tmp_path / "mm_projector.bin")
    assert not marker.exists()


def test_connector_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_connector_weights(tmp_path / "nope.bin")
    torch.save({"something.else": torch.zeros(1)}, tmp_path / "other.bin")
    with pytest.raises(ValueError, match="no `model.mm_projector"):
        load_connector_weights(tmp_path / "other.bin")

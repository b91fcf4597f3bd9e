"""Building a stage-2 starting point from parts, and refusing pickles that carry code."""

import pickle

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM, SiglipVisionConfig, SiglipVisionModel

import transformers_videorefer  # noqa: F401
from transformers_videorefer import VideoReferConfig
from transformers_videorefer.modeling_videorefer_connector import build_connector
from transformers_videorefer.training.build import build_from_parts, load_connector_weights


def _tiny_parts(root):
    vocab = {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2, **{chr(97 + i): 3 + i for i in range(26)}, " ": 29}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<|endoftext|>"))
    backend.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    text_config = Qwen2Config(vocab_size=30, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                              num_attention_heads=2, num_key_value_heads=1, eos_token_id=2)
    torch.manual_seed(0)
    Qwen2ForCausalLM(text_config).save_pretrained(root / "qwen")
    tokenizer.save_pretrained(root / "qwen")
    vision_config = SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                                       image_size=56, patch_size=14)
    SiglipVisionModel(vision_config).save_pretrained(root / "siglip")
    config = VideoReferConfig(vision_config=vision_config.to_dict(), text_config=text_config.to_dict())
    connector = build_connector(config)
    state = {f"model.mm_projector.{k}": v for k, v in connector.state_dict().items()}
    torch.save(state, root / "mm_projector.bin")
    return connector


def test_build_from_parts(tmp_path):
    connector = _tiny_parts(tmp_path)
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

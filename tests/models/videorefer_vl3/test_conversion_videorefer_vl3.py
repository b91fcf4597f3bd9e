"""Reading the releases: the flat config's conversion and the original weight names (tied embeddings too)."""

import json
import shutil

import pytest
import torch

import transformers_videorefer  # noqa: F401  (registers the model types)
from transformers_videorefer.models.videorefer_vl3.conversion_videorefer_vl3 import (
    convert_legacy_config_dict,
    is_videorefer_vl3_legacy_dict,
    read_vision_encoder_file,
)


def flat_config(vl3_golden_dir) -> dict:
    return json.loads((vl3_golden_dir / "checkpoint" / "config.json").read_text())


def test_only_configs_with_a_region_token_are_videorefer(vl3_golden_dir):
    flat = flat_config(vl3_golden_dir)
    assert is_videorefer_vl3_legacy_dict(flat)
    flat.pop("region_token_index")
    assert not is_videorefer_vl3_legacy_dict(flat)
    with pytest.raises(ValueError, match="Not a VideoRefer-VideoLLaMA3 config"):
        convert_legacy_config_dict(flat)


def test_conversion_moves_every_field(vl3_golden_dir):
    native = convert_legacy_config_dict(flat_config(vl3_golden_dir), vl3_golden_dir / "checkpoint")
    assert native["model_type"] == "videorefer_vl3"
    assert native["vision_config"] == {
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
        "num_channels": 3, "patch_size": 14, "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6,
        "attention_dropout": 0.0, "model_type": "video_llama_3_vision",
    }
    assert native["image_token_id"] == 403 and native["region_token_id"] == 406
    assert native["dtype"] == "float32" and native["tie_word_embeddings"] is False
    text = native["text_config"]
    assert text["hidden_size"] == 64 and text["vocab_size"] == 407
    assert not any(key.endswith("_lr") or key.startswith("mm_") or key == "vision_encoder" for key in text)


def test_the_vision_encoder_preprocessor_config_is_read_beside_the_checkpoint(vl3_golden_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    preprocessor = read_vision_encoder_file("./VL3-SigLIP-NaViT", "preprocessor_config.json", vl3_golden_dir / "checkpoint")
    assert preprocessor["min_pixels"] == 3136 and preprocessor["image_mean"] == [0.5, 0.5, 0.5]


def test_a_missing_vision_encoder_folder_is_a_clear_error(vl3_golden_dir, tmp_path):
    flat = flat_config(vl3_golden_dir)
    flat["vision_encoder"] = "./missing-encoder"
    with pytest.raises(FileNotFoundError, match="missing-encoder"):
        convert_legacy_config_dict(flat, tmp_path)


def test_a_hidden_size_that_disagrees_with_the_vision_encoder_is_refused(vl3_golden_dir):
    flat = flat_config(vl3_golden_dir)
    flat["mm_hidden_size"] = 33
    with pytest.raises(ValueError, match=r"`mm_hidden_size` \(33\) differs"):
        convert_legacy_config_dict(flat, vl3_golden_dir / "checkpoint")


def test_another_vision_encoder_type_is_refused(vl3_golden_dir, tmp_path):
    encoder = tmp_path / "enc"
    encoder.mkdir()
    (encoder / "config.json").write_text(json.dumps({"model_type": "clip_vision_model", "hidden_size": 32}))
    flat = flat_config(vl3_golden_dir)
    flat["vision_encoder"] = str(encoder)
    with pytest.raises(ValueError, match="has model_type 'clip_vision_model'"):
        convert_legacy_config_dict(flat)


def tied_release(vl3_golden_dir, folder):
    """The golden checkpoint as a 2B-style release: tied embeddings, no `lm_head.weight` in the weights."""
    from safetensors.torch import load_file, save_file

    source = vl3_golden_dir / "checkpoint"
    shutil.copytree(source / "VL3-SigLIP-NaViT", folder / "VL3-SigLIP-NaViT")
    flat = flat_config(vl3_golden_dir)
    flat["tie_word_embeddings"] = True
    (folder / "config.json").write_text(json.dumps(flat))
    weights = load_file(str(source / "model.safetensors"))
    weights.pop("lm_head.weight")
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder, weights


def test_a_release_with_tied_embeddings_loads_and_round_trips(vl3_golden_dir, tmp_path):
    from transformers import AutoModelForImageTextToText

    folder, weights = tied_release(vl3_golden_dir, tmp_path / "release")
    model = AutoModelForImageTextToText.from_pretrained(folder)
    assert model.config.tie_word_embeddings
    assert torch.equal(model.lm_head.weight, weights["model.embed_tokens.weight"])
    assert torch.equal(model.model.language_model.norm.weight, weights["model.norm.weight"])
    model.save_pretrained(tmp_path / "native")
    again = AutoModelForImageTextToText.from_pretrained(tmp_path / "native")
    assert torch.equal(again.lm_head.weight, weights["model.embed_tokens.weight"])


def test_an_unreachable_release_vision_encoder_falls_back_to_vl3_siglip_navit(vl3_golden_dir, tmp_path):
    flat = flat_config(vl3_golden_dir)
    flat.update(vision_encoder="/mnt/authors/checkpoints/VL3-SigLIP-NaViT", mm_hidden_size=1152)
    with pytest.warns(UserWarning, match="VL3-SigLIP-NaViT architecture"):
        native = convert_legacy_config_dict(flat, tmp_path)
    vision = native["vision_config"]
    assert (vision["hidden_size"], vision["num_hidden_layers"], vision["num_attention_heads"]) == (1152, 27, 16)
    assert vision["intermediate_size"] == 4304 and vision["patch_size"] == 14

"""VideoReferVL3Config: native fields, the releases' flat config converted on load, plain VideoLLaMA3 left alone."""

import json

import pytest

import transformers_videorefer  # noqa: F401  (registers the model types)
from transformers_videorefer.models.videorefer_vl3 import VideoReferVL3Config


def test_defaults_are_the_7b_release():
    config = VideoReferVL3Config()
    assert config.vision_config.model_type == "video_llama_3_vision" and config.vision_config.hidden_size == 1152
    assert config.text_config.model_type == "qwen2" and config.text_config.hidden_size == 3584
    assert (config.image_token_id, config.region_token_id, config.region_token_num) == (151665, 151668, 10)
    assert config.use_token_compression and not config.tie_word_embeddings


def test_the_original_config_converts_on_load_whatever_the_working_directory(vl3_golden_dir, tmp_path, monkeypatch):
    from transformers import AutoConfig

    monkeypatch.chdir(tmp_path)  # `./VL3-SigLIP-NaViT` must be found beside the checkpoint, not here
    config = AutoConfig.from_pretrained(vl3_golden_dir / "checkpoint")
    assert type(config) is VideoReferVL3Config
    assert (config.image_token_id, config.region_token_id) == (403, 406)
    assert (config.spatial_merge_size, config.mm_max_length, config.use_token_compression) == (2, 64, True)
    assert config.vision_config.hidden_size == 32 and config.vision_config.num_hidden_layers == 2
    assert config.text_config.vocab_size == 407 and config.text_config.num_key_value_heads == 2
    assert config.text_config.rope_parameters["rope_theta"] == 1e6


def test_native_save_and_reload_keep_every_field(vl3_golden_dir, tmp_path):
    config = VideoReferVL3Config.from_pretrained(vl3_golden_dir / "checkpoint")
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "videorefer_vl3" and "vision_encoder" not in saved
    assert VideoReferVL3Config.from_pretrained(tmp_path).to_diff_dict() == config.to_diff_dict()


def test_tied_embeddings_in_the_text_config_tie_the_model():
    config = VideoReferVL3Config(text_config={"tie_word_embeddings": True, "vocab_size": 50, "hidden_size": 16,
                                              "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1,
                                              "intermediate_size": 32})
    assert config.tie_word_embeddings


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("projector_type", "linear", "projector_type must be 'mlp2x_gelu'"),
        ("region_token_num", 0, "region_token_num must be at least 1"),
        ("spatial_merge_size", 0, "spatial_merge_size must be at least 1"),
        ("region_token_id", 151665, "image_token_id and region_token_id must differ"),
    ],
)
def test_impossible_values_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        VideoReferVL3Config(**{field: value})


def plain_videollama3_folder(folder, with_remote_code: bool):
    """A tiny plain VideoLLaMA3 config: model_type `videollama3_qwen2`, no region encoder, its own remote code."""
    config = {
        "model_type": "videollama3_qwen2",
        "vocab_size": 50,
        "hidden_size": 16,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "intermediate_size": 32,
        "vision_encoder": "DAMO-NLP-SG/SigLIP-NaViT",
        "image_token_index": 49,
    }
    if with_remote_code:
        config["auto_map"] = {"AutoConfig": "configuration_plain_vl3.PlainVideoLLaMA3Config"}
        (folder / "configuration_plain_vl3.py").write_text(
            "from transformers import Qwen2Config\n\n\nclass PlainVideoLLaMA3Config(Qwen2Config):\n"
            "    model_type = 'videollama3_qwen2'\n"
        )
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_a_plain_videollama3_checkpoint_keeps_its_own_remote_code(tmp_path):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(plain_videollama3_folder(tmp_path, True), trust_remote_code=True)
    assert type(config).__name__ == "PlainVideoLLaMA3Config"
    assert config.vocab_size == 50 and not hasattr(config, "region_token_id")


def test_a_plain_videollama3_checkpoint_without_trust_is_not_captured(tmp_path):
    from transformers import AutoConfig

    with pytest.raises(ValueError, match="plain VideoLLaMA3 checkpoint.*trust_remote_code=True"):
        AutoConfig.from_pretrained(plain_videollama3_folder(tmp_path, True))


def test_a_plain_videollama3_checkpoint_without_remote_code_is_not_captured(tmp_path):
    from transformers import AutoConfig

    with pytest.raises(ValueError, match="plain VideoLLaMA3 checkpoint"):
        AutoConfig.from_pretrained(plain_videollama3_folder(tmp_path, False))


def test_importing_the_vl3_package_first_still_registers_it(vl3_golden_dir):
    import subprocess
    import sys

    script = (
        "import transformers_videorefer.models.videorefer_vl3\n"
        "from transformers import AutoConfig\n"
        f"print(type(AutoConfig.from_pretrained({str(vl3_golden_dir / 'checkpoint')!r})).__name__)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "VideoReferVL3Config"

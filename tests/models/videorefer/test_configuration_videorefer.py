"""VideoRefer configuration: native defaults and checks, and reading the legacy (original release) config."""

import json

import huggingface_hub
import pytest
from transformers import AutoConfig

import transformers_videorefer  # noqa: F401  (registers the model types)
from transformers_videorefer import VideoReferConfig
from transformers_videorefer.models.videorefer.conversion_videorefer import (
    KNOWN_VISION_TOWERS,
    convert_legacy_config_dict,
    resolve_vision_config,
)
from transformers_videorefer.models.videorefer.token_layout_videorefer import num_visual_tokens

SO400M = "google/siglip-so400m-patch14-384"


def _legacy_dict(vision_tower: str, **overrides) -> dict:
    """A flat legacy config as the releases ship it (shrunk)."""
    config = {
        "architectures": ["VideoReferQwen2ForCausalLM"],
        "model_type": "videorefer_qwen2",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "num_key_value_heads": 2,
        "vocab_size": 321,
        "rms_norm_eps": 1e-6,
        "rope_theta": 1000000.0,
        "tie_word_embeddings": False,
        "mm_vision_tower": vision_tower,
        "mm_projector_type": "stc_connector_v35",
        "mm_region_encoder_type": "pooling",
        "mm_vision_select_feature": "patch",
        "mm_vision_select_layer": -2,
        "num_frames": 4,
        "image_aspect_ratio": "square",
        "use_mm_proj": True,
        "tokenizer_model_max_length": 2048,
        "torch_dtype": "float32",
    }
    config.update(overrides)
    return config


def _small_vision_config(**overrides) -> dict:
    config = {
        "architectures": ["SiglipVisionModel"],
        "model_type": "siglip_vision_model",
        "hidden_size": 24,
        "intermediate_size": 48,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "image_size": 56,
        "patch_size": 14,
    }
    config.update(overrides)
    return config


def _write_tower(folder, config: dict):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.fixture
def no_network(monkeypatch):
    """Make any Hub download fail loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"unexpected hf_hub_download{args} {kwargs}")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)


# --------------------------------------------------------------------------------------------- native config
def test_default_config_has_7b_shapes():
    config = VideoReferConfig()
    text, vision = config.text_config, config.vision_config
    assert config.model_type == "videorefer"
    assert text.model_type == "qwen2"
    assert (text.hidden_size, text.num_hidden_layers) == (3584, 28)
    assert vision.model_type == "siglip_vision_model"
    assert (vision.hidden_size, vision.num_hidden_layers, vision.image_size, vision.patch_size) == (1152, 27, 384, 14)
    assert config.vision_grid_size == 27
    assert config.projector_type == "stc_connector_v35"
    assert config.projector_downsample == [2, 2, 2]
    assert config.region_token_num == 4
    assert config.num_frames == 16
    assert config.region_token_id == text.vocab_size - 1
    assert config.image_token_id == text.vocab_size
    assert config.video_token_id == text.vocab_size + 1


def test_num_visual_tokens_release_layout():
    assert num_visual_tokens("stc_connector_v35", 16, 27, (2, 2, 2)) == 1352
    assert num_visual_tokens("stc_connector_v35", 8, 27, (2, 2, 2)) == 676
    assert num_visual_tokens("mlp2x_gelu", 16, 27, (2, 2, 2)) == 27 * 27
    with pytest.raises(ValueError, match="projector_type"):
        num_visual_tokens("foo", 16, 27, (2, 2, 2))
    with pytest.raises(ValueError, match="needs at least 2 frames"):
        num_visual_tokens("stc_connector_v35", 1, 27, (2, 2, 2))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"projector_type": "foo"}, "projector_type"),
        ({"region_token_num": 0}, "region_token_num"),
        ({"num_frames": 0}, "num_frames"),
        ({"projector_downsample": [2, 2]}, "projector_downsample"),
        ({"region_encoder_type": "attention"}, "region_encoder_type"),
        ({"vision_feature_layer": 99}, "vision_feature_layer"),
    ],
)
def test_bad_config_values_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VideoReferConfig(**kwargs)


def test_native_config_round_trip(tmp_path):
    config = VideoReferConfig(
        vision_config=_small_vision_config(),
        text_config={"model_type": "qwen2", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                     "num_key_value_heads": 1, "intermediate_size": 64, "vocab_size": 50},
        projector_type="stp_connector",
        num_frames=6,
    )
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "videorefer"
    reloaded = AutoConfig.from_pretrained(tmp_path)
    assert type(reloaded) is VideoReferConfig
    assert reloaded.projector_type == "stp_connector"
    assert reloaded.num_frames == 6
    assert reloaded.region_token_id == 49 and reloaded.image_token_id == 50 and reloaded.video_token_id == 51
    assert reloaded.vision_config.hidden_size == 24
    assert reloaded.text_config.hidden_size == 32


# --------------------------------------------------------------------------------------- golden legacy config
def test_auto_config_reads_golden_legacy_config(golden_checkpoint, no_network):
    config = AutoConfig.from_pretrained(golden_checkpoint)
    assert type(config) is VideoReferConfig
    assert config.model_type == "videorefer"
    tower = json.loads((golden_checkpoint / "siglip_vision_tower" / "config.json").read_text())
    vision = config.vision_config
    assert vision.model_type == "siglip_vision_model"
    for key in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "image_size", "patch_size"):
        assert getattr(vision, key) == tower[key], key
    assert (vision.hidden_size, vision.num_hidden_layers, vision.image_size, vision.patch_size) == (32, 3, 112, 14)
    text = config.text_config
    assert text.model_type == "qwen2"
    assert (text.hidden_size, text.intermediate_size, text.num_hidden_layers) == (64, 128, 2)
    assert (text.num_attention_heads, text.num_key_value_heads, text.vocab_size) == (4, 2, 321)
    assert config.region_token_id == 320
    assert config.image_token_id == 321 and config.video_token_id == 322
    assert config.num_frames == 4
    assert config.projector_type == "stc_connector_v35"
    assert config.vision_feature_layer == -2
    assert config.image_aspect_ratio == "square"
    assert config.vision_grid_size == 8
    assert not hasattr(config, "mm_vision_tower")


def test_golden_config_is_independent_of_cwd(golden_checkpoint, tmp_path, monkeypatch, no_network):
    monkeypatch.chdir(tmp_path)
    config = VideoReferConfig.from_pretrained(golden_checkpoint)
    assert config.vision_config.hidden_size == 32


# ------------------------------------------------------------------------------------ resolve_vision_config
def test_known_hub_tower_needs_no_network(no_network):
    vision = resolve_vision_config(SO400M)
    assert vision == KNOWN_VISION_TOWERS[SO400M]
    assert (vision["hidden_size"], vision["num_hidden_layers"], vision["image_size"], vision["patch_size"]) == (
        1152, 27, 384, 14,
    )
    # A copy, not the table itself.
    vision["hidden_size"] = 1
    assert KNOWN_VISION_TOWERS[SO400M]["hidden_size"] == 1152


def test_known_hub_tower_through_from_dict(no_network):
    config = VideoReferConfig.from_dict(_legacy_dict(SO400M, mm_hidden_size=1152))
    assert type(config) is VideoReferConfig
    assert config.vision_config.hidden_size == 1152
    assert config.vision_config.num_hidden_layers == 27
    assert config.vision_config.image_size == 384
    assert config.vision_config.patch_size == 14
    assert config.vision_grid_size == 27
    assert config.text_config.hidden_size == 64
    assert config.region_token_id == 320


def test_absolute_tower_folder(tmp_path, no_network):
    folder = _write_tower(tmp_path / "somewhere" / "tower", _small_vision_config())
    vision = resolve_vision_config(str(folder))
    assert vision["hidden_size"] == 24 and vision["model_type"] == "siglip_vision_model"
    assert "architectures" not in vision
    config = VideoReferConfig.from_dict(_legacy_dict(str(folder)))
    assert config.vision_config.hidden_size == 24


def test_absolute_golden_tower_folder(golden_checkpoint, no_network):
    vision = resolve_vision_config(str(golden_checkpoint / "siglip_vision_tower"))
    assert vision["hidden_size"] == 32 and vision["image_size"] == 112


def test_full_siglip_config_folder_gives_its_vision_part(tmp_path, no_network):
    full = {"model_type": "siglip", "text_config": {"hidden_size": 7}, "vision_config": _small_vision_config()}
    folder = _write_tower(tmp_path / "full", full)
    vision = resolve_vision_config(str(folder))
    assert vision["hidden_size"] == 24 and vision["model_type"] == "siglip_vision_model"


def test_relative_tower_folder_beside_checkpoint(tmp_path, monkeypatch, no_network):
    checkpoint = tmp_path / "ckpt"
    _write_tower(checkpoint / "tower", _small_vision_config(hidden_size=40))
    monkeypatch.chdir(tmp_path)  # cwd does not hold ./tower
    vision = resolve_vision_config("./tower", checkpoint)
    assert vision["hidden_size"] == 40
    config = VideoReferConfig.from_dict(_legacy_dict("./tower"), name_or_path=str(checkpoint))
    assert config.vision_config.hidden_size == 40


def test_unknown_relative_tower_folder_raises(tmp_path, monkeypatch, no_network):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no_such_tower"):
        resolve_vision_config("./no_such_tower", tmp_path)
    with pytest.raises(FileNotFoundError):
        resolve_vision_config("./no_such_tower")
    with pytest.raises(FileNotFoundError):
        VideoReferConfig.from_dict(_legacy_dict("./no_such_tower"), name_or_path=str(tmp_path))


@pytest.mark.parametrize("tower", ["openai/clip-vit-large-patch14-336", "./clip_vision_tower"])
def test_clip_tower_raises(tower, no_network):
    with pytest.raises(ValueError, match="CLIP"):
        resolve_vision_config(tower)
    with pytest.raises(ValueError, match="CLIP"):
        VideoReferConfig.from_dict(_legacy_dict(tower))


def test_non_siglip_tower_folder_raises(tmp_path, no_network):
    folder = _write_tower(tmp_path / "vit", {"model_type": "vit", "hidden_size": 8})
    with pytest.raises(ValueError, match="SigLIP"):
        resolve_vision_config(str(folder))


def test_unknown_hub_tower_is_downloaded(tmp_path, monkeypatch):
    config_path = tmp_path / "downloaded" / "config.json"
    _write_tower(config_path.parent, _small_vision_config(hidden_size=48))
    calls = []

    def fake_download(repo_id, filename, **kwargs):
        calls.append((repo_id, filename, kwargs))
        return str(config_path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    vision = resolve_vision_config("someone/siglip-custom-tower", revision="abc")
    assert vision["hidden_size"] == 48
    assert calls == [("someone/siglip-custom-tower", "config.json", {"revision": "abc"})]

    calls.clear()
    config = VideoReferConfig.from_dict(_legacy_dict("someone/siglip-custom-tower", mm_hidden_size=48))
    assert config.vision_config.hidden_size == 48
    assert [c[:2] for c in calls] == [("someone/siglip-custom-tower", "config.json")]


def test_relative_tower_of_hub_checkpoint_is_downloaded(tmp_path, monkeypatch):
    config_path = tmp_path / "downloaded" / "config.json"
    _write_tower(config_path.parent, _small_vision_config(hidden_size=56))
    calls = []

    def fake_download(repo_id, filename, **kwargs):
        calls.append((repo_id, filename, kwargs))
        return str(config_path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    monkeypatch.chdir(tmp_path)
    vision = resolve_vision_config("./siglip_vision_tower", "someone/videorefer-checkpoint")
    assert vision["hidden_size"] == 56
    assert calls == [("someone/videorefer-checkpoint", "config.json", {"subfolder": "siglip_vision_tower"})]


# ---------------------------------------------------------------------------------------- legacy conversion
def test_convert_legacy_config_dict_fields(no_network):
    native = convert_legacy_config_dict(_legacy_dict(SO400M, mm_hidden_size=1152))
    assert native["model_type"] == "videorefer"
    assert native["projector_type"] == "stc_connector_v35"
    assert native["vision_feature_layer"] == -2
    assert native["region_encoder_type"] == "pooling"
    assert native["num_frames"] == 4
    assert native["region_token_id"] == 320
    assert native["tie_word_embeddings"] is False
    text = native["text_config"]
    assert text["model_type"] == "qwen2" and text["hidden_size"] == 64 and text["vocab_size"] == 321
    for dropped in ("mm_vision_tower", "mm_hidden_size", "use_mm_proj", "tokenizer_model_max_length", "architectures"):
        assert dropped not in native and dropped not in text


def test_legacy_mm_hidden_size_mismatch_raises(no_network):
    with pytest.raises(ValueError, match="mm_hidden_size"):
        convert_legacy_config_dict(_legacy_dict(SO400M, mm_hidden_size=1024))


def test_legacy_config_without_tower_raises():
    legacy = _legacy_dict(SO400M)
    del legacy["mm_vision_tower"]
    with pytest.raises(ValueError, match="mm_vision_tower"):
        convert_legacy_config_dict(legacy)


def test_videorefer_fields_are_checked_once_per_construction(monkeypatch):
    """The VideoRefer checks run once (from __post_init__), not again through @strict's validate()."""
    calls = []
    original = VideoReferConfig._check_videorefer_fields

    def counting(self):
        calls.append(1)
        original(self)

    monkeypatch.setattr(VideoReferConfig, "_check_videorefer_fields", counting)
    VideoReferConfig()
    assert len(calls) == 1
    assert not any("videorefer" in validator.__name__ for validator in VideoReferConfig.__class_validators__)


def test_frozen_modules_names_the_parts_or_raises():
    assert VideoReferConfig(frozen_modules=["vision_tower", "lm_head"]).frozen_modules == ["vision_tower", "lm_head"]
    assert VideoReferConfig().frozen_modules is None
    with pytest.raises(ValueError, match="unknown parts \\['vision'\\]"):
        VideoReferConfig(frozen_modules=["vision"])
    with pytest.raises(Exception, match="frozen_modules"):  # refused by the typed field (a list), or by the check
        VideoReferConfig(frozen_modules="vision_tower")

"""The vision-language connectors: token counts, shapes and the original parameter names."""

import pytest
import torch

from helpers import tiny_config, tiny_model
from transformers_videorefer.models.videorefer.modeling_videorefer_connector import (
    VideoReferLinearConnector,
    VideoReferMlpConnector,
    VideoReferSpatioTemporalConnector,
    build_connector,
)
from transformers_videorefer.models.videorefer.token_layout_videorefer import PROJECTOR_TYPES, num_visual_tokens

ALL_PROJECTORS = ("stc_connector_v35", "stc_connector", "stp_connector", "mlp2x_gelu", "linear")
EXPECTED_CLASS = {
    "stc_connector_v35": VideoReferSpatioTemporalConnector,
    "stc_connector": VideoReferSpatioTemporalConnector,
    "stp_connector": VideoReferSpatioTemporalConnector,
    "mlp2x_gelu": VideoReferMlpConnector,
    "linear": VideoReferLinearConnector,
}


def test_all_projector_types_covered():
    assert set(ALL_PROJECTORS) == set(PROJECTOR_TYPES)


@pytest.mark.parametrize("projector_type", ALL_PROJECTORS)
@pytest.mark.parametrize("frames", [2, 4, 6])
def test_connector_token_count(projector_type, frames):
    config = tiny_config(projector_type=projector_type, projector_depth=1)
    torch.manual_seed(0)
    connector = build_connector(config).eval()
    assert type(connector) is EXPECTED_CLASS[projector_type]
    grid = config.vision_grid_size
    batch = 2
    features = torch.randn(batch, frames, grid * grid, config.vision_config.hidden_size)
    with torch.no_grad():
        out = connector(features)
    expected_tokens = num_visual_tokens(projector_type, frames, grid, config.projector_downsample)
    assert out.shape == (batch, expected_tokens, config.text_config.hidden_size)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    "projector_type, frames, expected",
    [
        ("stc_connector_v35", 4, 2 * 2 * 2),
        ("stc_connector_v35", 6, 3 * 2 * 2),
        ("stc_connector", 4, 3 * 3 * 3),
        ("stc_connector", 2, 2 * 3 * 3),
        ("stp_connector", 6, 3 * 2 * 2),
        ("mlp2x_gelu", 6, 16),
        ("linear", 2, 16),
    ],
)
def test_num_visual_tokens_tiny_grid(projector_type, frames, expected):
    assert num_visual_tokens(projector_type, frames, 4, (2, 2, 2)) == expected


@pytest.mark.parametrize("projector_type", ALL_PROJECTORS)
def test_model_expected_visual_tokens_matches_video_features(projector_type):
    model = tiny_model(seed=0, projector_type=projector_type, projector_depth=1)
    size = model.config.vision_config.image_size
    pixels = torch.randn(1, 4, 3, size, size)
    with torch.no_grad():
        features = model.model.get_video_features(pixels).pooler_output
        image_features = model.model.get_image_features(pixels[0, :1]).pooler_output
    assert features.shape[1] == model.model.expected_visual_tokens(4)
    assert image_features.shape[1] == model.model.expected_visual_tokens(model.config.num_frames)


def test_mlp2x_gelu_parameter_names():
    connector = build_connector(tiny_config(projector_type="mlp2x_gelu"))
    names = [n for n, _ in connector.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert connector[0].weight.shape == (32, 16)
    assert connector[2].weight.shape == (32, 32)


def test_linear_parameter_names():
    connector = build_connector(tiny_config(projector_type="linear"))
    names = [n for n, _ in connector.named_parameters()]
    assert names == ["weight", "bias"]
    assert connector.weight.shape == (32, 16)


def test_mean_pooling_connectors_average_frames():
    for projector_type in ("mlp2x_gelu", "linear"):
        torch.manual_seed(0)
        connector = build_connector(tiny_config(projector_type=projector_type)).eval()
        features = torch.randn(1, 3, 16, 16)
        with torch.no_grad():
            torch.testing.assert_close(connector(features), connector(features.mean(1, keepdim=True)))


def test_stc_parameter_names_follow_original():
    config = tiny_config(projector_type="stc_connector_v35", projector_depth=2, projector_readout_depth=2)
    names = {n for n, _ in build_connector(config).named_parameters()}
    for name in (
        "s1.b1.conv1.conv.weight",
        "s1.b1.conv1.bn.weight",
        "s1.b1.conv1.bn.bias",
        "s1.b1.conv2.conv.weight",
        "s1.b1.se.fc1.weight",
        "s1.b1.se.fc2.bias",
        "s1.b1.conv3.conv.weight",
        "s1.b1.downsample.conv.weight",
        "s1.b2.conv1.conv.weight",
        "s2.b1.conv1.conv.weight",
        "s2.b2.conv3.bn.weight",
        "sampler.0.weight",
        "sampler.0.bias",
        "readout.0.weight",
        "readout.2.weight",
    ):
        assert name in names, name
    assert "s1.b2.downsample.conv.weight" not in names  # same width: identity shortcut
    assert "s2.b1.downsample.conv.weight" not in names
    assert not any(n.startswith("s1.b3") for n in names)


def test_stp_connector_has_no_sampler_weights():
    names = {n for n, _ in build_connector(tiny_config(projector_type="stp_connector")).named_parameters()}
    assert not any(n.startswith("sampler.") for n in names)


def test_connector_depth_zero():
    config = tiny_config(
        projector_type="stc_connector_v35",
        projector_depth=0,
        text_config={"model_type": "qwen2", "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 100},
    )
    connector = build_connector(config).eval()
    with torch.no_grad():
        out = connector(torch.randn(1, 4, 16, 16))
    assert out.shape == (1, num_visual_tokens("stc_connector_v35", 4, 4, (2, 2, 2)), 16)


def test_connector_rejects_non_square_grid():
    connector = build_connector(tiny_config(projector_type="stc_connector_v35", projector_depth=1))
    with pytest.raises(ValueError, match="square grid"):
        connector(torch.randn(1, 4, 15, 16))


def test_full_model_connector_weight_names():
    for projector_type, expected in (("mlp2x_gelu", "model.multi_modal_projector.0.weight"),
                                     ("linear", "model.multi_modal_projector.weight")):
        model = tiny_model(seed=0, projector_type=projector_type)
        assert expected in dict(model.named_parameters())


@pytest.mark.parametrize("projector_type", ["stc_connector_v35", "stc_connector", "stp_connector"])
@pytest.mark.parametrize("frames", [2, 4, 5])
def test_channels_last_connector_matches_nchw_reference(projector_type, frames):
    """The package's channels-last connector computes what a direct NCHW transcription of the original does."""
    from reference_connector import ReferenceSpatioTemporalConnector

    config = tiny_config(projector_type=projector_type, projector_depth=2)
    torch.manual_seed(frames)
    fast = build_connector(config).double().eval()
    for parameter in fast.parameters():  # livelier than the default init, so that every path matters
        torch.nn.init.normal_(parameter, std=0.3)
    reference = ReferenceSpatioTemporalConnector(config).double().eval()
    assert reference.load_state_dict(fast.state_dict(), strict=True)
    grid = config.vision_config.image_size // config.vision_config.patch_size
    features = torch.randn(2, frames, grid * grid, config.vision_config.hidden_size, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(fast(features), reference(features), atol=1e-10, rtol=1e-10)

"""A direct NCHW transcription of the original STC connector (timm RegStage + Conv3d), kept as a reference.

The package's connector computes the same thing channels-last; tests load the same weights into both and compare,
and benchmarks/profile_stages.py times both.
"""

import torch
from torch import nn

from transformers_videorefer.models.videorefer.configuration_videorefer import VideoReferConfig

# timm's LayerNormAct2d, which the original blocks build from LayerNorm2d, keeps nn.LayerNorm's default epsilon.
CONNECTOR_NORM_EPS = 1e-5


class ReferenceLayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (batch, channels, height, width) tensor, optionally followed by SiLU."""

    def __init__(self, num_channels: int, apply_act: bool = True, eps: float = CONNECTOR_NORM_EPS):
        super().__init__(num_channels, eps=eps)
        self.act = nn.SiLU() if apply_act else nn.Identity()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = hidden_states.permute(0, 2, 3, 1)
        hidden_states = nn.functional.layer_norm(hidden_states, self.normalized_shape, self.weight, self.bias, self.eps)
        return self.act(hidden_states.permute(0, 3, 1, 2))


class ReferenceConvNormAct(nn.Module):
    """Bias-free convolution -> LayerNorm2d -> optional SiLU (names `conv` and `bn` as in the checkpoints)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, groups: int = 1, apply_act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2, groups=groups, bias=False
        )
        self.bn = ReferenceLayerNorm2d(out_channels, apply_act=apply_act)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(hidden_states))


class ReferenceSqueezeExcite(nn.Module):
    """Squeeze-and-excitation: global mean -> 1x1 conv -> SiLU -> 1x1 conv -> sigmoid gate."""

    def __init__(self, channels: int, reduced_channels: int):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced_channels, kernel_size=1, bias=True)
        self.act = nn.SiLU()
        self.fc2 = nn.Conv2d(reduced_channels, channels, kernel_size=1, bias=True)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        scale = hidden_states.mean((2, 3), keepdim=True)
        scale = self.fc2(self.act(self.fc1(scale)))
        return hidden_states * scale.sigmoid()


class ReferenceBottleneck(nn.Module):
    """RegNet bottleneck block (bottle ratio 1, depthwise 3x3, squeeze-excitation ratio 0.25 of the input)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = ReferenceConvNormAct(in_channels, out_channels, kernel_size=1)
        self.conv2 = ReferenceConvNormAct(out_channels, out_channels, kernel_size=3, groups=out_channels)
        self.se = ReferenceSqueezeExcite(out_channels, int(round(in_channels * 0.25)))
        self.conv3 = ReferenceConvNormAct(out_channels, out_channels, kernel_size=1, apply_act=False)
        if in_channels != out_channels:
            self.downsample = ReferenceConvNormAct(in_channels, out_channels, kernel_size=1, apply_act=False)
        else:
            self.downsample = nn.Identity()
        self.act3 = nn.SiLU()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        shortcut = self.downsample(hidden_states)
        hidden_states = self.conv3(self.se(self.conv2(self.conv1(hidden_states))))
        return self.act3(hidden_states + shortcut)


class ReferenceRegStage(nn.Module):
    """`depth` bottleneck blocks named `b1` ... `bN`; the first maps `in_channels` to `out_channels`."""

    def __init__(self, depth: int, in_channels: int, out_channels: int):
        super().__init__()
        for index in range(depth):
            block_in = in_channels if index == 0 else out_channels
            self.add_module(f"b{index + 1}", ReferenceBottleneck(block_in, out_channels))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        for block in self.children():
            hidden_states = block(hidden_states)
        return hidden_states


def _build_mlp(depth: int, in_features: int, out_features: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(in_features, out_features)]
    for _ in range(1, depth):
        layers += [nn.GELU(), nn.Linear(out_features, out_features)]
    return nn.Sequential(*layers)


class ReferenceSpatioTemporalConnector(nn.Module):
    """The STC / STP connectors: RegNet stage -> 3D down-sampling + SiLU -> RegNet stage -> MLP read-out.

    `stc_connector_v35` (the release) down-samples with a Conv3d without padding, `stc_connector` with padding 1,
    `stp_connector` with average pooling.
    """

    def __init__(self, config: VideoReferConfig):
        super().__init__()
        vision_size = config.vision_config.hidden_size
        text_size = config.text_config.hidden_size
        depth = config.projector_depth
        kernel = tuple(config.projector_downsample)
        self.s1 = ReferenceRegStage(depth, vision_size, text_size) if depth > 0 else nn.Identity()
        if config.projector_type == "stp_connector":
            self.sampler = nn.Sequential(nn.AvgPool3d(kernel), nn.SiLU())
        else:
            padding = 1 if config.projector_type == "stc_connector" else 0
            self.sampler = nn.Sequential(
                nn.Conv3d(text_size, text_size, kernel_size=kernel, stride=kernel, padding=padding, bias=True),
                nn.SiLU(),
            )
        self.s2 = ReferenceRegStage(depth, text_size, text_size) if depth > 0 else nn.Identity()
        self.readout = _build_mlp(config.projector_readout_depth, text_size, text_size)

    def forward(self, frame_features: torch.Tensor) -> torch.Tensor:
        """
        Args:
            frame_features: `(batch, frames, grid * grid, vision_hidden)` patch features of each video.

        Returns:
            `(batch, tokens, text_hidden)` with tokens = frames' x grid' x grid' after down-sampling.
        """
        batch, frames, patches, channels = frame_features.shape
        grid = int(round(patches**0.5))
        if grid * grid != patches:
            raise ValueError(f"Expected a square grid of patch features per frame, got {patches} patches.")
        hidden = frame_features.reshape(batch * frames, grid, grid, channels).permute(0, 3, 1, 2)
        hidden = self.s1(hidden)
        hidden = hidden.reshape(batch, frames, *hidden.shape[1:]).permute(0, 2, 1, 3, 4)
        hidden = self.sampler(hidden)
        new_frames = hidden.shape[2]
        hidden = hidden.permute(0, 2, 1, 3, 4).reshape(batch * new_frames, *hidden.shape[1:2], *hidden.shape[3:])
        hidden = self.s2(hidden)
        hidden = hidden.reshape(batch, new_frames, *hidden.shape[1:]).permute(0, 1, 3, 4, 2)
        hidden = hidden.reshape(batch, -1, hidden.shape[-1])
        return self.readout(hidden)

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The vision-language connectors of VideoRefer, in plain PyTorch.

Parameter names follow the original checkpoints (which used timm's `RegStage`), so that
`model.mm_projector.<name>` in a released checkpoint is `model.multi_modal_projector.<name>` here:
`s1.b1.conv1.conv.weight`, `s1.b1.conv1.bn.weight`, `s1.b1.se.fc1.weight`, `s1.b1.downsample.conv.weight`,
`sampler.0.weight`, `readout.0.weight`, ... The computation runs channels-last: 1x1 convolutions as matrix
products over the channels and the no-padding Conv3d as a matrix product over its patches, which is the same
arithmetic as the original's NCHW convolutions without the transpositions around every LayerNorm.
"""

import torch
from torch import nn

from .configuration_videorefer import VideoReferConfig

# timm's LayerNormAct2d, which the original blocks build from LayerNorm2d, keeps nn.LayerNorm's default epsilon.
CONNECTOR_NORM_EPS = 1e-5


class VideoReferLayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a channels-last `(batch, height, width, channels)` tensor, then optional SiLU."""

    def __init__(self, num_channels: int, apply_act: bool = True, eps: float = CONNECTOR_NORM_EPS):
        super().__init__(num_channels, eps=eps)
        self.act = nn.SiLU() if apply_act else nn.Identity()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.act(nn.functional.layer_norm(hidden_states, self.normalized_shape, self.weight, self.bias, self.eps))


class VideoReferConvNormAct(nn.Module):
    """Bias-free convolution -> LayerNorm2d -> optional SiLU (names `conv` and `bn` as in the checkpoints).

    Works channels-last: a 1x1 convolution is a matrix product over the channels, the depthwise 3x3 one runs on a
    channels-last view, and the LayerNorm needs no transposition.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, groups: int = 1, apply_act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=kernel_size // 2, groups=groups, bias=False
        )
        self.bn = VideoReferLayerNorm2d(out_channels, apply_act=apply_act)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """`(batch, height, width, in_channels)` -> `(batch, height, width, out_channels)`."""
        if self.conv.kernel_size == (1, 1):
            hidden_states = nn.functional.linear(hidden_states, self.conv.weight.flatten(1))
        else:
            hidden_states = self.conv(hidden_states.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        return self.bn(hidden_states)


class VideoReferSqueezeExcite(nn.Module):
    """Squeeze-and-excitation: global mean -> 1x1 conv -> SiLU -> 1x1 conv -> sigmoid gate (channels-last)."""

    def __init__(self, channels: int, reduced_channels: int):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced_channels, kernel_size=1, bias=True)
        self.act = nn.SiLU()
        self.fc2 = nn.Conv2d(reduced_channels, channels, kernel_size=1, bias=True)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        scale = hidden_states.mean((1, 2))
        scale = self.act(nn.functional.linear(scale, self.fc1.weight.flatten(1), self.fc1.bias))
        scale = nn.functional.linear(scale, self.fc2.weight.flatten(1), self.fc2.bias)
        return hidden_states * scale.sigmoid()[:, None, None, :]


class VideoReferBottleneck(nn.Module):
    """RegNet bottleneck block (bottle ratio 1, depthwise 3x3, squeeze-excitation ratio 0.25 of the input)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = VideoReferConvNormAct(in_channels, out_channels, kernel_size=1)
        self.conv2 = VideoReferConvNormAct(out_channels, out_channels, kernel_size=3, groups=out_channels)
        self.se = VideoReferSqueezeExcite(out_channels, int(round(in_channels * 0.25)))
        self.conv3 = VideoReferConvNormAct(out_channels, out_channels, kernel_size=1, apply_act=False)
        if in_channels != out_channels:
            self.downsample = VideoReferConvNormAct(in_channels, out_channels, kernel_size=1, apply_act=False)
        else:
            self.downsample = nn.Identity()
        self.act3 = nn.SiLU()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Channels-last `(batch, height, width, channels)` in and out."""
        shortcut = self.downsample(hidden_states)
        hidden_states = self.conv3(self.se(self.conv2(self.conv1(hidden_states))))
        return self.act3(hidden_states + shortcut)


class VideoReferRegStage(nn.Module):
    """`depth` bottleneck blocks named `b1` ... `bN`; the first maps `in_channels` to `out_channels`."""

    def __init__(self, depth: int, in_channels: int, out_channels: int):
        super().__init__()
        for index in range(depth):
            block_in = in_channels if index == 0 else out_channels
            self.add_module(f"b{index + 1}", VideoReferBottleneck(block_in, out_channels))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Channels-last `(batch, height, width, channels)` in and out."""
        for block in self.children():
            hidden_states = block(hidden_states)
        return hidden_states


def _build_mlp(depth: int, in_features: int, out_features: int) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(in_features, out_features)]
    for _ in range(1, depth):
        layers += [nn.GELU(), nn.Linear(out_features, out_features)]
    return nn.Sequential(*layers)


class VideoReferSpatioTemporalConnector(nn.Module):
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
        self.s1 = VideoReferRegStage(depth, vision_size, text_size) if depth > 0 else nn.Identity()
        if config.projector_type == "stp_connector":
            self.sampler = nn.Sequential(nn.AvgPool3d(kernel), nn.SiLU())
        else:
            padding = 1 if config.projector_type == "stc_connector" else 0
            self.sampler = nn.Sequential(
                nn.Conv3d(text_size, text_size, kernel_size=kernel, stride=kernel, padding=padding, bias=True),
                nn.SiLU(),
            )
        self.s2 = VideoReferRegStage(depth, text_size, text_size) if depth > 0 else nn.Identity()
        self.readout = _build_mlp(config.projector_readout_depth, text_size, text_size)

    def forward(self, frame_features: torch.Tensor) -> torch.Tensor:
        """
        Args:
            frame_features: `(batch, frames, grid * grid, vision_hidden)` patch features of each video.

        Returns:
            `(batch, tokens, text_hidden)` with tokens = frames' x grid' x grid' after down-sampling, in
            (time, height, width) order.
        """
        batch, frames, patches, channels = frame_features.shape
        grid = int(round(patches**0.5))
        if grid * grid != patches:
            raise ValueError(f"Expected a square grid of patch features per frame, got {patches} patches.")
        hidden = self.s1(frame_features.reshape(batch * frames, grid, grid, channels))
        hidden = self._downsample(hidden.reshape(batch, frames, grid, grid, hidden.shape[-1]))
        new_frames, height, width = hidden.shape[1:4]
        hidden = self.s2(hidden.reshape(batch * new_frames, height, width, hidden.shape[-1]))
        return self.readout(hidden.reshape(batch, new_frames * height * width, hidden.shape[-1]))

    def _downsample(self, hidden: torch.Tensor) -> torch.Tensor:
        """`(batch, frames, height, width, channels)` -> the same layout after the 3D down-sampler."""
        conv = self.sampler[0]
        if isinstance(conv, nn.Conv3d) and conv.padding == (0, 0, 0):
            # A stride = kernel convolution without padding is a matrix product over non-overlapping patches.
            kt, kh, kw = conv.kernel_size
            batch, frames, height, width, channels = hidden.shape
            t, h, w = frames // kt, height // kh, width // kw
            if t == 0:
                raise ValueError(f"The connector down-samples time by {kt}: it needs at least {kt} frames, got {frames}.")
            patches = hidden[:, : t * kt, : h * kh, : w * kw].reshape(batch, t, kt, h, kh, w, kw, channels)
            patches = patches.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(batch, t, h, w, kt * kh * kw * channels)
            weight = conv.weight.permute(0, 2, 3, 4, 1).reshape(conv.out_channels, -1)
            return self.sampler[1](nn.functional.linear(patches, weight, conv.bias))
        return self.sampler(hidden.permute(0, 4, 1, 2, 3)).permute(0, 2, 3, 4, 1)


class VideoReferMlpConnector(nn.Sequential):
    """`mlp2x_gelu`: average the frames, then Linear-GELU-Linear on every patch (names `0`, `2`, as the originals)."""

    def __init__(self, config: VideoReferConfig):
        super().__init__(*_build_mlp(2, config.vision_config.hidden_size, config.text_config.hidden_size))

    def forward(self, frame_features: torch.Tensor) -> torch.Tensor:
        """`(batch, frames, patches, vision_hidden)` -> `(batch, patches, text_hidden)`."""
        return super().forward(frame_features.mean(1))


class VideoReferLinearConnector(nn.Linear):
    """`linear`: average the frames, then one Linear on every patch (names `weight`, `bias`, as the originals)."""

    def __init__(self, config: VideoReferConfig):
        super().__init__(config.vision_config.hidden_size, config.text_config.hidden_size)

    def forward(self, frame_features: torch.Tensor) -> torch.Tensor:
        """`(batch, frames, patches, vision_hidden)` -> `(batch, patches, text_hidden)`."""
        return super().forward(frame_features.mean(1))


def build_connector(config: VideoReferConfig) -> nn.Module:
    """The connector named by `config.projector_type`."""
    if config.projector_type == "linear":
        return VideoReferLinearConnector(config)
    if config.projector_type == "mlp2x_gelu":
        return VideoReferMlpConnector(config)
    return VideoReferSpatioTemporalConnector(config)

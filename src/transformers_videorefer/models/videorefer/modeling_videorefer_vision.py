# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""VideoRefer's use of its vision tower: frame features at `vision_feature_layer` (the layers after it are never
run), one pass over several groups of frames, and the inference helpers (a compiled tower, pruning unused layers).

`VideoReferVisionMixin` is mixed into [`VideoReferModel`], which holds `vision_tower` (transformers' SigLIP vision
model), `config` and `_compiled_frame_encoder`.
"""

import torch
from torch import nn


class VideoReferVisionMixin:
    """Frame encoding for [`VideoReferModel`]."""

    def _num_vision_layers_to_run(self) -> int:
        layers = self.config.vision_config.num_hidden_layers
        index = self.config.vision_feature_layer
        return index if index >= 0 else layers + 1 + index

    def get_frame_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Patch features of frames: `(num_frames, 3, H, W)` -> `(num_frames, grid * grid, vision_hidden)`.

        The hidden state at `vision_feature_layer` (index into the tower's hidden states, 0 = embeddings); the
        layers after it are not run.
        """
        if pixel_values.ndim != 4:
            raise ValueError(f"Frame pixel values must be (num_frames, 3, height, width), got shape {tuple(pixel_values.shape)}.")
        pixel_values = pixel_values.to(dtype=self.vision_tower.embeddings.patch_embedding.weight.dtype)
        if self._compiled_frame_encoder is not None and not torch.is_grad_enabled():
            return self._compiled_frame_encoder(pixel_values)
        return self._encode_frames(pixel_values)

    def _encode_frames(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self._encode_frames_all_layers(pixel_values)[-1]

    def _encode_frames_all_layers(self, pixel_values: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The tower's hidden states up to `vision_feature_layer`: embeddings, then one per layer run, each
        `(num_frames, grid * grid, vision_hidden)`."""
        tower = self.vision_tower
        hidden_states = tower.embeddings(pixel_values)
        all_states = [hidden_states]
        for layer in tower.encoder.layers[: self._num_vision_layers_to_run()]:
            hidden_states = layer(hidden_states, None)
            all_states.append(hidden_states)
        return tuple(all_states)

    def _frame_encoder_outputs(
        self,
        pixel_values: torch.Tensor,
        frame_features: torch.Tensor | None,
        output_hidden_states: bool | None,
        output_attentions: bool | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None, tuple[torch.Tensor, ...] | None]:
        """`(frame features, hidden states or None, attentions or None)` of `(num_frames, 3, H, W)` frames, reusing
        `frame_features` (then neither hidden states nor attentions).

        Without hidden states or attentions asked for, only the layers up to `vision_feature_layer` run. With them,
        the whole tower runs as transformers' VLMs run it (`hidden_states`: embeddings + one per layer, each
        `(num_frames, grid * grid, vision_hidden)`; `attentions`: one per layer, eager attention only), and the
        features are its hidden state at `vision_feature_layer`, the same numbers.
        """
        config = self.config
        if output_hidden_states is None:
            output_hidden_states = bool(getattr(config, "output_hidden_states", False))
        if output_attentions is None:
            output_attentions = bool(getattr(config, "output_attentions", False))
        if frame_features is not None:
            return frame_features, None, None
        if not (output_hidden_states or output_attentions):
            return self.get_frame_features(pixel_values), None, None
        pixel_values = pixel_values.to(dtype=self.vision_tower.embeddings.patch_embedding.weight.dtype)
        outputs = self.vision_tower(
            pixel_values, output_hidden_states=True, output_attentions=output_attentions, return_dict=True
        )
        features = outputs.hidden_states[config.vision_feature_layer]
        return (
            features,
            outputs.hidden_states if output_hidden_states else None,
            outputs.attentions if output_attentions else None,
        )

    def compile_vision_tower(self, **compile_kwargs) -> None:
        """Use a `torch.compile`d vision tower for inference (not while gradients are recorded).

        One graph per number of frames in a batch; `compile_kwargs` go to `torch.compile` (default
        `dynamic=False`). Same results up to floating-point rounding of fused kernels.
        """
        compile_kwargs.setdefault("dynamic", False)
        self._compiled_frame_encoder = torch.compile(self._encode_frames, **compile_kwargs)

    def prune_unused_vision_layers(self) -> int:
        """Delete the vision layers after `vision_feature_layer`, the post-layernorm and the pooling head.

        They are never computed; removing them saves their memory (about 61 MB at the 7B shapes) for inference.
        The model can still be saved, without them (loading such a checkpoint reports them missing, harmlessly).
        Returns the number of parameters removed.
        """
        tower = self.vision_tower
        keep = self._num_vision_layers_to_run()
        removed = sum(p.numel() for layer in tower.encoder.layers[keep:] for p in layer.parameters())
        tower.encoder.layers = tower.encoder.layers[:keep]
        for name in ("post_layernorm", "head"):
            module = getattr(tower, name, None)
            if isinstance(module, nn.Module):
                removed += sum(p.numel() for p in module.parameters())
                setattr(tower, name, nn.Identity())
        return removed

    def encode_frames_once(self, *pixel_groups: torch.Tensor | None) -> list[torch.Tensor | None]:
        """Vision features of several groups of frames with one pass of the vision tower.

        Each group is `(n_i, 3, H, W)` (or None); returns one `(n_i, grid * grid, vision_hidden)` tensor per group.
        """
        present = [group for group in pixel_groups if group is not None]
        if not present:
            return [None] * len(pixel_groups)
        if len({tuple(group.shape[1:]) for group in present}) > 1:  # frames of different sizes: one pass each
            pieces = iter([self.get_frame_features(group) for group in present])
        else:
            features = self.get_frame_features(torch.cat(present) if len(present) > 1 else present[0])
            pieces = iter(torch.split(features, [group.shape[0] for group in present]))
        return [None if group is None else next(pieces) for group in pixel_groups]

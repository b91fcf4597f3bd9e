# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Registering VideoRefer with transformers' Auto classes as soon as they exist, without importing them earlier.

`import transformers_videorefer` must make `AutoModelForImageTextToText.from_pretrained(<VideoRefer checkpoint>)`
work, but importing transformers and torch costs seconds (tens of seconds on a loaded machine), which the command
line's `--help` and argument checks must not pay. So the package registers at once when transformers' Auto module
is already imported, and otherwise as soon as it is: a one-shot import hook on `transformers.models.auto`.
"""

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types

AUTO_PACKAGE = "transformers.models.auto"
_PACKAGE = __name__.rsplit(".", 1)[0]
_lock = threading.RLock()
_registered = False


def register_with_auto_classes() -> None:
    """Register both VideoRefer model types, the `sdpa_grouped` attention and the remote-code export (idempotent).

    `videorefer_qwen2` (the original releases) always loads as a native `VideoReferConfig`; its model entries go
    into the Auto mappings directly, since `register` insists that a model's `config_class` be the key.
    """
    global _registered
    with _lock:
        if _registered:
            return
        _registered = True
        from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor

        from .generation import attention  # noqa: F401  (registers the sdpa_grouped attention)
        from .hub.remote_code import register_remote_code
        from .models.videorefer import (
            VideoReferConfig,
            VideoReferForConditionalGeneration,
            VideoReferLegacyConfig,
            VideoReferModel,
            VideoReferProcessor,
        )

        AutoConfig.register(VideoReferConfig.model_type, VideoReferConfig, exist_ok=True)
        AutoConfig.register(VideoReferLegacyConfig.model_type, VideoReferLegacyConfig, exist_ok=True)
        for auto_class, model_class in (
            (AutoModel, VideoReferModel),
            (AutoModelForImageTextToText, VideoReferForConditionalGeneration),
            (AutoModelForCausalLM, VideoReferForConditionalGeneration),
        ):
            auto_class.register(VideoReferConfig, model_class, exist_ok=True)
            auto_class._model_mapping.register(VideoReferLegacyConfig, model_class, exist_ok=True)
        AutoProcessor.register(VideoReferConfig, VideoReferProcessor, exist_ok=True)
        AutoProcessor.register(VideoReferLegacyConfig, VideoReferProcessor, exist_ok=True)
        # save_pretrained / push_to_hub write auto_map and the code: saved checkpoints load without this package
        register_remote_code()


def _family_is_importing() -> bool:
    """Whether the VideoRefer model package is being imported right now (its modules import transformers' Auto
    classes, which runs the hook below before the classes to register exist)."""
    module = sys.modules.get(f"{_PACKAGE}.models.videorefer")
    return module is not None and bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


class _RegisteringLoader(importlib.abc.Loader):
    """Runs the real loader of `transformers.models.auto`, then registers VideoRefer."""

    def __init__(self, loader: importlib.abc.Loader):
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        if not _family_is_importing():  # else the family package registers at its end (models/<family>/__init__.py)
            register_with_auto_classes()


class _AutoImportHook(importlib.abc.MetaPathFinder):
    """A one-shot finder: when `transformers.models.auto` is first imported, wraps its loader."""

    def find_spec(self, fullname: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        if fullname != AUTO_PACKAGE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _RegisteringLoader(spec.loader)
        return spec


def register_now_or_on_import() -> None:
    """Register now if transformers' Auto module is loaded, else when it is."""
    with _lock:
        if AUTO_PACKAGE in sys.modules:
            register_with_auto_classes()
        elif not any(isinstance(finder, _AutoImportHook) for finder in sys.meta_path):
            sys.meta_path.insert(0, _AutoImportHook())

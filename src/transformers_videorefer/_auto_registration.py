# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Registering VideoRefer with transformers' Auto classes as soon as they exist, without importing them earlier.

`import transformers_videorefer` must make `AutoModelForImageTextToText.from_pretrained(<VideoRefer checkpoint>)`
work, but importing transformers and torch costs seconds (tens of seconds on a loaded machine), which the command
line's `--help` and argument checks must not pay. So the package registers at once when transformers' Auto module
is already imported, and otherwise as soon as it is: an import hook watches transformers' modules load and registers
once the Auto module is there and no transformers module is half-imported (transformers' own modules import the
Auto module while they load; registering at that moment would import them in a cycle). The hook removes itself.
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
    """Register the model families (VideoRefer, VideoRefer-VideoLLaMA3), the `sdpa_grouped` attention and the
    remote-code export (idempotent).

    The original releases' model types (`videorefer_qwen2`, `videollama3_qwen2`) always load as the native config;
    their model entries go into the Auto mappings directly, since `register` insists that a model's `config_class`
    be the key.
    """
    global _registered
    with _lock:
        if _registered:
            return
        _registered = True
        from .generation import attention  # noqa: F401  (registers the sdpa_grouped attention)
        from .hub.remote_code import register_remote_code
        from .models.videorefer import (
            VideoReferConfig,
            VideoReferForConditionalGeneration,
            VideoReferLegacyConfig,
            VideoReferModel,
            VideoReferProcessor,
        )
        from .models.videorefer_vl3 import (
            VideoReferVL3Config,
            VideoReferVL3ForConditionalGeneration,
            VideoReferVL3LegacyConfig,
            VideoReferVL3Model,
            VideoReferVL3Processor,
        )

        # Per family: the native config, the original releases' config (converted on load; VideoRefer-VideoLLaMA3's
        # `videollama3_qwen2` leaves plain VideoLLaMA3 checkpoints to their own remote code, see
        # VideoReferVL3LegacyConfig), the base model, the model with its head, the processor.
        families = (
            (VideoReferConfig, VideoReferLegacyConfig, VideoReferModel, VideoReferForConditionalGeneration, VideoReferProcessor),
            (VideoReferVL3Config, VideoReferVL3LegacyConfig, VideoReferVL3Model, VideoReferVL3ForConditionalGeneration, VideoReferVL3Processor),
        )
        for config_class, legacy_config_class, base_model, head_model, processor in families:
            _register_family(config_class, legacy_config_class, base_model, head_model, processor)
        _register_video_processor(VideoReferConfig, VideoReferLegacyConfig)
        # save_pretrained / push_to_hub write auto_map and the code: saved checkpoints load without this package
        register_remote_code()


def _register_family(
    config_class: type, legacy_config_class: type, base_model: type, head_model: type, processor: type
) -> None:
    """Register one model family's config types, models and processor with transformers' Auto classes."""
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor

    AutoConfig.register(config_class.model_type, config_class, exist_ok=True)
    AutoConfig.register(legacy_config_class.model_type, legacy_config_class, exist_ok=True)
    for auto_class, model_class in (
        (AutoModel, base_model),
        (AutoModelForImageTextToText, head_model),
        (AutoModelForCausalLM, head_model),
    ):
        auto_class.register(config_class, model_class, exist_ok=True)
        auto_class._model_mapping.register(legacy_config_class, model_class, exist_ok=True)
    AutoProcessor.register(config_class, processor, exist_ok=True)
    AutoProcessor.register(legacy_config_class, processor, exist_ok=True)


def _register_video_processor(*config_classes: type) -> None:
    """Register VideoRefer's video processor with `AutoVideoProcessor` (any backend: it needs no torchvision), so that
    the video processor of a saved VideoRefer processor loads on its own as transformers' processors' do."""
    from transformers.models.auto.video_processing_auto import (
        AutoVideoProcessor,  # the top-level name needs torchvision
    )

    from .models.videorefer.video_processing_videorefer import VideoReferVideoProcessor

    backends = {"torchvision": VideoReferVideoProcessor, "pil": VideoReferVideoProcessor}
    for config_class in config_classes:
        AutoVideoProcessor.register(config_class, video_processor_classes=backends, exist_ok=True)


def _initializing(module: types.ModuleType | None) -> bool:
    return module is not None and bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


FAMILY_PACKAGE = f"{_PACKAGE}.models.videorefer"
# Every model family's package: the registration imports them all, so it waits while any of them is loading.
FAMILY_PACKAGES = (FAMILY_PACKAGE, f"{_PACKAGE}.models.videorefer_vl3")


def _family_is_importing(finished: str | None = None) -> bool:
    """Whether a model family package (other than `finished`) is being imported right now (its modules import
    transformers, which would run the registration before the classes to register exist)."""
    return any(_initializing(sys.modules.get(name)) for name in FAMILY_PACKAGES if name != finished)


def _ready(finished: str) -> bool:
    """Whether transformers' Auto module is loaded and neither a transformers module nor the VideoRefer model
    package is half-imported (`finished` has just run to its end): only then can the registration import what it
    needs without an import cycle."""
    if AUTO_PACKAGE not in sys.modules or _family_is_importing(finished):
        return False
    return not any(
        _initializing(module)
        for name, module in list(sys.modules.items())
        if name != finished and (name == "transformers" or name.startswith("transformers."))
    )


class _RegisteringLoader(importlib.abc.Loader):
    """Runs a module's real loader (a transformers module, or the VideoRefer model package), then registers
    VideoRefer if everything it needs is loaded."""

    def __init__(self, loader: importlib.abc.Loader, name: str):
        self._loader = loader
        self._name = name

    def __getattr__(self, attribute: str):  # get_source, is_package, get_resource_reader...: the real loader's
        return getattr(self._loader, attribute)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        if not _registered and _ready(self._name):
            uninstall_hook()
            register_with_auto_classes()


class _TransformersImportHook(importlib.abc.MetaPathFinder):
    """Until VideoRefer is registered, wraps the loader of every transformers module that is imported, and of the
    VideoRefer model package (when transformers was ready while that package was still loading)."""

    def find_spec(self, fullname: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        if _registered or not (fullname.startswith("transformers.") or fullname in FAMILY_PACKAGES):
            return None
        for finder in list(sys.meta_path):
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _RegisteringLoader(spec.loader, fullname)
                return spec
        return None


def uninstall_hook() -> None:
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _TransformersImportHook)]


def register_now_or_on_import() -> None:
    """Register now if transformers' Auto module is loaded, else as soon as it is (and transformers is not in the
    middle of importing itself)."""
    with _lock:
        if _registered:
            return
        if AUTO_PACKAGE in sys.modules and not _family_is_importing():
            register_with_auto_classes()
        elif not any(isinstance(finder, _TransformersImportHook) for finder in sys.meta_path):
            sys.meta_path.insert(0, _TransformersImportHook())

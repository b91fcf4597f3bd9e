# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Import paths of the flat 0.1 layout, kept working: each old module name resolves to the module that now holds
its code, with a FutureWarning that names the new path."""

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

_PACKAGE = __name__.rsplit(".", 1)[0]

# old module (relative to the package) -> new module (relative to the package)
MOVED_MODULES = {
    "configuration_videorefer": "models.videorefer.configuration_videorefer",
    "legacy_config_videorefer": "models.videorefer.conversion_videorefer",
    "modeling_videorefer": "models.videorefer.modeling_videorefer",
    "modeling_videorefer_connector": "models.videorefer.modeling_videorefer_connector",
    "modeling_videorefer_region": "models.videorefer.modeling_videorefer_region",
    "token_layout_videorefer": "models.videorefer.token_layout_videorefer",
    "processing_videorefer": "models.videorefer.processing_videorefer",
    "masks_videorefer": "inputs.masks",
    "media_videorefer": "inputs.media",
    "attention_videorefer": "generation.attention",
    "decode_attention_videorefer": "generation.decode_attention",
    "generation_videorefer": "generation.fast_greedy",
    "hub_export": "hub.convert",
    "state_dict_files": "hub.state_dict_files",
    "loading": "cli.loading",
    "cli_common": "cli.common",
    "cli_ask": "cli.ask",
    "cli_convert": "cli.convert",
    "cli_data": "cli.data",
    "cli_demo": "cli.demo",
    "cli_eval": "cli.eval",
    "cli_overlay": "cli.overlay",
    "demo": "apps.demo",
    "sam2_tracking": "apps.sam2_tracking",
    "visualization": "apps.visualization",
    "training.build": "hub.parts",
}


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves `transformers_videorefer.<old name>` to the module at its new path."""

    def __init__(self, package: str, moved: dict[str, str]):
        self._moved = {f"{package}.{old}": f"{package}.{new}" for old, new in moved.items()}

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname not in self._moved:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec) -> types.ModuleType:
        return types.ModuleType(spec.name)  # replaced by the real module in exec_module

    def exec_module(self, module: types.ModuleType) -> None:
        new_name = self._moved[module.__name__]
        warnings.warn(
            f"`{module.__name__}` has moved to `{new_name}`; import from the new path (the old one will be removed "
            "in a future release).",
            FutureWarning,
            stacklevel=2,
        )
        # the import system returns what sys.modules holds under the old name once this returns
        sys.modules[module.__name__] = importlib.import_module(new_name)


def install() -> None:
    """Add the finder once (idempotent)."""
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder(_PACKAGE, MOVED_MODULES))

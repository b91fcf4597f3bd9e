"""VideoRefer for the Hugging Face stack.

Importing the package registers the VideoRefer model types with transformers' Auto classes (native `videorefer`
and the releases' `videorefer_qwen2`), the `sdpa_grouped` attention and the remote-code export of the classes; the
registration happens when transformers' Auto classes are imported (at once if they already are), so that the
package itself imports neither torch nor transformers until they are needed (see `_auto_registration`).

Layout: `models/<family>/` (configuration, modeling, processing: what is exported as remote code), `inputs/` (media
and masks, shared by the families), `generation/`, `hub/`, `training/`, `evaluation/`, `apps/`, `cli/`.
"""

import importlib
from typing import Any

from . import _auto_registration, _moved_modules

# public name -> module (relative to the package) that defines it; imported on first use
_LAZY_EXPORTS = {
    "VideoReferConfig": "models.videorefer",
    "VideoReferLegacyConfig": "models.videorefer",
    "VideoReferForConditionalGeneration": "models.videorefer",
    "VideoReferModel": "models.videorefer",
    "VideoReferPreTrainedModel": "models.videorefer",
    "VideoReferProcessor": "models.videorefer",
    "VideoReferVL3Config": "models.videorefer_vl3",
    "VideoReferVL3LegacyConfig": "models.videorefer_vl3",
    "VideoReferVL3ForConditionalGeneration": "models.videorefer_vl3",
    "VideoReferVL3Model": "models.videorefer_vl3",
    "VideoReferVL3PreTrainedModel": "models.videorefer_vl3",
    "VideoReferVL3Processor": "models.videorefer_vl3",
    "register_remote_code": "hub.remote_code",
}

__all__ = [
    "VideoReferConfig",
    "VideoReferLegacyConfig",
    "VideoReferForConditionalGeneration",
    "VideoReferModel",
    "VideoReferPreTrainedModel",
    "VideoReferProcessor",
    "VideoReferVL3Config",
    "VideoReferVL3LegacyConfig",
    "VideoReferVL3ForConditionalGeneration",
    "VideoReferVL3Model",
    "VideoReferVL3PreTrainedModel",
    "VideoReferVL3Processor",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_EXPORTS:
        value = getattr(importlib.import_module(f".{_LAZY_EXPORTS[name]}", __name__), name)
        _auto_registration.register_with_auto_classes()
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_EXPORTS))


_auto_registration.register_now_or_on_import()
_moved_modules.install()  # the 0.1 import paths (transformers_videorefer.processing_videorefer, ...) keep working

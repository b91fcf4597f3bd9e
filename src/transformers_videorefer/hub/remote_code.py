# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Remote code: the Python files that let a saved VideoRefer folder load with `trust_remote_code=True`, without
this package.

A model family's folder (`models/<family>/`) is written to be exported as it is: its modules import each other with
one dot, which is what transformers follows when it copies the code of a class registered with
`register_for_auto_class`. The one exception is the input handling shared by every family (`inputs/`: media reading
and mask decoding), which the processor side imports as `from ...inputs.<name> import ...`. transformers does not
follow such imports, so the processor's code is written here: the closure of its imports, flat, with each
`from ...inputs.<name> import` rewritten to `from .<name> import` and `inputs/<name>.py` copied beside it (for VideoRefer's processor: its own modules plus `masks.py` and `media.py`).
"""

import importlib
import json
import os
import re
from pathlib import Path

from transformers.utils import PROCESSOR_NAME

SHARED_INPUTS_IMPORT = re.compile(r"^(\s*from\s+)\.\.\.inputs\.(\w+)(\s+import\b)", re.MULTILINE)
SIBLING_IMPORT = re.compile(r"^\s*from\s+\.(\w+)\s+import\b", re.MULTILINE)
SHARED_INPUTS_PACKAGE = __name__.rsplit(".", 2)[0] + ".inputs"


def _module_file(module_name: str) -> Path:
    return Path(importlib.import_module(module_name).__file__)


def remote_code_sources(module_name: str) -> dict[str, str]:
    """Flat file name -> source text of `module_name` and every module it imports, as the exported repository
    holds them (shared input imports rewritten to sibling imports).

    Raises:
        ValueError: a module of the closure imports this package in a way the export cannot carry (an absolute
            `transformers_videorefer` import, or a relative import that leaves the family folder other than
            `...inputs`).
    """
    family_folder = _module_file(module_name).parent
    pending = [(family_folder, _module_file(module_name).stem)]
    sources: dict[str, str] = {}
    while pending:
        folder, stem = pending.pop()
        name = f"{stem}.py"
        if name in sources:
            continue
        text = (folder / name).read_text(encoding="utf-8")
        shared = SHARED_INPUTS_IMPORT.findall(text)
        text = SHARED_INPUTS_IMPORT.sub(r"\1.\2\3", text)
        leftover = re.findall(r"^\s*from\s+\.\.+\w*", text, flags=re.MULTILINE)
        if leftover or re.search(r"^\s*(from|import)\s+transformers_videorefer\b", text, flags=re.MULTILINE):
            raise ValueError(
                f"{folder / name} imports {leftover or 'transformers_videorefer'}: remote code may import only its "
                "own folder (`from .x import`) and the shared inputs (`from ...inputs.x import`)."
            )
        sources[name] = text
        pending += [(folder, sibling) for sibling in SIBLING_IMPORT.findall(text) if (folder / f"{sibling}.py").is_file()]
        shared_folder = _module_file(SHARED_INPUTS_PACKAGE + ".__init__").parent
        pending += [(shared_folder, module) for _, module, _ in shared]
    return sources


def write_remote_code(save_directory: str | os.PathLike, module_name: str) -> list[Path]:
    """Write `remote_code_sources(module_name)` into `save_directory`; returns the paths written."""
    save_directory = Path(save_directory)
    save_directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(remote_code_sources(module_name).items()):
        path = save_directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def write_processor_remote_code(save_directory: str | os.PathLike, processor_class: type) -> list[Path]:
    """After a processor's `save_pretrained`: its code (`write_remote_code`) and the `auto_map` entry of the saved
    `processor_config.json`, so that the folder loads with `AutoProcessor.from_pretrained(..., trust_remote_code=True)`
    alone. The processor object itself is left as it was (a reloaded copy equals it). Returns the code files."""
    written = write_remote_code(save_directory, processor_class.__module__)
    config_path = Path(save_directory) / PROCESSOR_NAME
    config = json.loads(config_path.read_text(encoding="utf-8"))
    module = processor_class.__module__.rsplit(".", 1)[-1]
    config["auto_map"] = {"AutoProcessor": f"{module}.{processor_class.__name__}"}
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return written


def register_remote_code() -> None:
    """Make `save_pretrained` / `push_to_hub` of the VideoRefer classes write `auto_map` and the code files.

    The config and the models go through transformers' own `register_for_auto_class` (their modules import only
    their folder); the processor writes its code with `write_remote_code` (see the module docstring).
    """
    from ..models.videorefer.configuration_videorefer import VideoReferConfig
    from ..models.videorefer.modeling_videorefer import VideoReferForConditionalGeneration, VideoReferModel
    from ..models.videorefer.processing_videorefer import VideoReferProcessor

    VideoReferConfig.register_for_auto_class("AutoConfig")
    VideoReferModel.register_for_auto_class("AutoModel")
    VideoReferForConditionalGeneration.register_for_auto_class("AutoModelForImageTextToText")
    VideoReferProcessor.remote_code_writer = staticmethod(write_processor_remote_code)
    _register_vl3_remote_code()


def _register_vl3_remote_code() -> None:
    """The same for VideoRefer-VideoLLaMA3."""
    from ..models import videorefer_vl3

    videorefer_vl3.VideoReferVL3Config.register_for_auto_class("AutoConfig")
    videorefer_vl3.VideoReferVL3Model.register_for_auto_class("AutoModel")
    videorefer_vl3.VideoReferVL3ForConditionalGeneration.register_for_auto_class("AutoModelForImageTextToText")
    videorefer_vl3.VideoReferVL3Processor.remote_code_writer = staticmethod(write_processor_remote_code)

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Converting released VideoRefer checkpoints (VideoRefer-7B and VideoRefer-VideoLLaMA3, the family read from the
source's config) into self-contained native Hub repositories.

The output holds safetensors shards with their index, the native config with `auto_map`, the generation config,
the processor (SigLIP preprocessing, chat template, tokenizer), a model card, and this package's configuration /
modeling / processing code as remote code, so that `AutoModelForImageTextToText.from_pretrained(repo,
trust_remote_code=True)` and `AutoProcessor.from_pretrained(repo, trust_remote_code=True)` work without the package.
"""

import os
from collections.abc import Iterable
from pathlib import Path

import torch
from huggingface_hub import CommitOperationAdd, HfApi
from transformers import AutoModelForImageTextToText, AutoProcessor
from transformers.configuration_utils import PreTrainedConfig
from transformers.utils import cached_file

from ..dtypes import resolve_dtype
from ..models.videorefer.conversion_videorefer import is_legacy_config_dict, locate_vision_tower_folder
from ..models.videorefer.modeling_videorefer import VideoReferForConditionalGeneration
from ..models.videorefer.processing_videorefer import VideoReferProcessor
from ..models.videorefer.published_results_videorefer import (
    PUBLISHED_VIDEOREFER_7B_BENCH_D,
    PUBLISHED_VIDEOREFER_7B_BENCH_Q,
)
from .model_card_vl3 import vl3_model_card
from .parts import build_from_parts
from .remote_code import register_remote_code
from .state_dict_files import load_prefixed_state_dict

REGION_ENCODER_FILE = "region_encoder.bin"
REGION_ENCODER_PREFIX = "model.region_encoder."
DEFAULT_LANGUAGE_MODEL = "Qwen/Qwen2-7B-Instruct"
DEFAULT_CONNECTOR = "DAMO-NLP-SG/VideoLLaMA2.1-7B-16F-Base"
VIDEOREFER = "videorefer"
VIDEOREFER_VL3 = "videorefer_vl3"
FAMILY_OF_MODEL_TYPE = {
    "videorefer_qwen2": VIDEOREFER,
    "videorefer": VIDEOREFER,
    "videollama3_qwen2": VIDEOREFER_VL3,
    "videorefer_vl3": VIDEOREFER_VL3,
}
REMOTE_CODE_DEPENDENCIES = ("torch", "transformers>=5.24", "numpy", "pillow", "pycocotools (masks as COCO RLE / polygons)", "decord (video files)")


def load_region_encoder_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The region-encoder weights of a `region_encoder.bin` (the stage-2 release), prefix removed.

    The file is a pickle: it is read with `weights_only=True`, and a file that would run code is refused.
    """
    return load_prefixed_state_dict(path, (REGION_ENCODER_PREFIX,))


def _has_weights(source: str) -> bool:
    for name in ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"):
        if cached_file(source, name, _raise_exceptions_for_missing_entries=False, _raise_exceptions_for_connection_errors=False):
            return True
    return False


def detect_family(source: str) -> str:
    """The model family of a checkpoint from its config: "videorefer" (VideoRefer-7B, `videorefer_qwen2` or
    `videorefer`) or "videorefer_vl3" (VideoRefer-VideoLLaMA3, `videollama3_qwen2` with a region token or
    `videorefer_vl3`).

    Raises:
        ValueError: another model type, or a plain VideoLLaMA3 checkpoint (no `region_token_index`).
    """
    raw_config, _ = PreTrainedConfig.get_config_dict(source)
    model_type = raw_config.get("model_type")
    family = FAMILY_OF_MODEL_TYPE.get(model_type)
    if family is None:
        raise ValueError(
            f"{source}: model_type {model_type!r} is not a VideoRefer checkpoint; expected one of "
            f"{sorted(FAMILY_OF_MODEL_TYPE)}."
        )
    if model_type == "videollama3_qwen2" and raw_config.get("region_token_index") is None:
        raise ValueError(
            f"{source}: a plain VideoLLaMA3 checkpoint (model_type videollama3_qwen2 without region_token_index) has no "
            "region encoder; only VideoRefer-VideoLLaMA3 checkpoints are converted."
        )
    return family


def load_release(
    source: str, dtype: torch.dtype = torch.bfloat16, language_model: str | None = None, connector: str | None = None
) -> tuple[VideoReferForConditionalGeneration, VideoReferProcessor]:
    """Load a released checkpoint (folder or Hub repository), legacy or native, of either family.

    A VideoRefer-7B repository with only a config and `region_encoder.bin` (the stage-2 release) is assembled from
    its parts: `language_model` (default Qwen2-7B-Instruct), the SigLIP tower its config names, the stage-1
    `connector` (default VideoLLaMA2.1-7B-16F-Base's `mm_projector.bin`) and the region encoder of the file. A
    VideoRefer-VideoLLaMA3 checkpoint must hold its weights (`language_model` / `connector` do not apply).
    """
    if detect_family(source) == VIDEOREFER_VL3:
        if language_model is not None or connector is not None:
            raise ValueError(
                "--language-model / --connector assemble a VideoRefer-7B stage-2 release from parts; "
                f"{source} is a VideoRefer-VideoLLaMA3 checkpoint, which holds all its weights."
            )
        if not _has_weights(source):
            raise FileNotFoundError(f"{source} is a VideoRefer-VideoLLaMA3 config without model weights: nothing to convert.")
    if _has_weights(source):
        model = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype)
        return model, AutoProcessor.from_pretrained(source)
    region_file = cached_file(source, REGION_ENCODER_FILE, _raise_exceptions_for_missing_entries=False)
    if region_file is None:
        raise FileNotFoundError(f"{source} holds no model weights and no {REGION_ENCODER_FILE}: nothing to convert.")
    region_weights = load_region_encoder_weights(region_file)  # checked before anything is downloaded
    raw_config, _ = PreTrainedConfig.get_config_dict(source)
    if not is_legacy_config_dict(raw_config):
        raise ValueError(f"{source}: a {REGION_ENCODER_FILE}-only repository needs its original videorefer_qwen2 config.")
    tower = raw_config["mm_vision_tower"]
    tower = locate_vision_tower_folder(tower, source) or tower  # a folder beside the checkpoint, else a Hub name
    model, processor = build_from_parts(
        language_model or DEFAULT_LANGUAGE_MODEL,
        tower,
        connector or DEFAULT_CONNECTOR,
        projector_type=raw_config.get("mm_projector_type", "stc_connector_v35"),
        num_frames=raw_config.get("num_frames", 16),
        dtype=dtype,
    )
    model.model.region_encoder.load_state_dict(region_weights, strict=True)
    return model, processor


RELEASES_WITH_PUBLISHED_NUMBERS = ("DAMO-NLP-SG/VideoRefer-7B",)


def is_hub_id(source: str) -> bool:
    """Whether `source` is a Hub repository id (`owner/name` or `name`) rather than a local path."""
    from .locations import looks_like_path

    return not os.path.exists(source) and not looks_like_path(source)


def _published_section(source: str) -> str:
    """The paper's VideoRefer-Bench numbers when `source` is the release they were measured on, else a note."""
    if source.rstrip("/").lower() not in {name.lower() for name in RELEASES_WITH_PUBLISHED_NUMBERS}:
        return (
            "## VideoRefer-Bench\n\n"
            f"No published VideoRefer-Bench numbers for this checkpoint (converted from `{source}`); measure them with "
            "`videorefer eval bench-q` / `videorefer eval bench-d`."
        )
    bench_q = " | ".join(f"{k}: {v}" for k, v in PUBLISHED_VIDEOREFER_7B_BENCH_Q.items())
    bench_d = "\n".join(
        f"| {mode} | " + " | ".join(str(v) for v in scores.values()) + " |"
        for mode, scores in PUBLISHED_VIDEOREFER_7B_BENCH_D.items()
    )
    dimensions = list(next(iter(PUBLISHED_VIDEOREFER_7B_BENCH_D.values())))
    return (
        "## VideoRefer-Bench (published numbers of VideoRefer-7B, from the paper)\n\n"
        f"Bench-Q accuracy (%): {bench_q}\n\n"
        f"| Bench-D mask mode | {' | '.join(dimensions)} |\n|---|{'---|' * len(dimensions)}\n{bench_d}"
    )


def model_card(source: str, repo_id: str | None, family: str = VIDEOREFER) -> str:
    """The README.md of a converted repository of `family` ("videorefer" or "videorefer_vl3").

    `base_model` is given only when `source` is a Hub id (a local path means nothing on the Hub); the paper's
    numbers only when `source` is the release they belong to.
    """
    name = repo_id or "PATH_OR_REPO"
    deps = ", ".join(REMOTE_CODE_DEPENDENCIES)
    if family == VIDEOREFER_VL3:
        return vl3_model_card(source, repo_id, is_hub_id(source), deps)
    base_model = f"base_model: {source}\n" if is_hub_id(source) else ""
    published = _published_section(source)
    return f"""---
license: apache-2.0
library_name: transformers
pipeline_tag: image-text-to-text
tags: [video, referring, region, videorefer]
{base_model}---

# VideoRefer (native transformers format)

Converted from `{source}` by `videorefer convert` (transformers-videorefer). Same weights and the same computation
as the original release; the code is included, so the package is not needed:

```python
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

model = AutoModelForImageTextToText.from_pretrained("{name}", trust_remote_code=True, dtype=torch.bfloat16, device_map="auto")
processor = AutoProcessor.from_pretrained("{name}", trust_remote_code=True)
messages = [{{"role": "user", "content": [{{"type": "video"}}, {{"type": "text", "text": "What is [<region>] doing?"}}]}}]
text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
# one object: its mask (binary array, PIL image, COCO RLE or polygons) on frame 12 of the original clip
inputs = processor(text=[text], videos=["clip.mp4"], masks=[[{{12: mask}}]]).to(model.device, dtype=torch.bfloat16)
out = model.generate(**inputs, max_new_tokens=256)
print(processor.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)[0])
```

The remote code needs: {deps}.

{published}

## Licence

Apache-2.0, as the original release (the language model is Qwen2-7B-Instruct, the vision tower SigLIP; see their
licences).
"""


def convert_checkpoint(
    source: str,
    destination: str | os.PathLike,
    dtype: str = "bf16",
    push_to: str | None = None,
    language_model: str | None = None,
    connector: str | None = None,
    max_shard_size: str | int = "5GB",
    token: str | bool | None = None,
) -> list[str]:
    """Write the native, self-contained repository of `source` into `destination` (and push it to `push_to`).

    The family (VideoRefer-7B or VideoRefer-VideoLLaMA3) is read from the source's config. Returns the relative
    paths of the files written.
    """
    family = detect_family(source)
    model, processor = load_release(source, resolve_dtype(dtype), language_model, connector)
    register_remote_code()
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    from .locations import disable_bpe_cleanup

    disable_bpe_cleanup(processor)  # the released config asks for a clean-up that BPE tokenizers never do
    model.save_pretrained(destination, max_shard_size=max_shard_size)
    processor.save_pretrained(destination)
    (destination / "README.md").write_text(model_card(source, push_to, family), encoding="utf-8")
    files = sorted(str(p.relative_to(destination)) for p in destination.rglob("*") if p.is_file())
    respect_umask(destination / name for name in files)
    if push_to:
        upload_folder(destination, push_to, token=token)
    return files


def respect_umask(paths: Iterable[str | os.PathLike]) -> None:
    """Give files the mode a plain `open` would (0666 less the umask): some writers create them 0600."""
    umask = os.umask(0)
    os.umask(umask)
    for path in paths:
        os.chmod(path, 0o666 & ~umask)


def upload_folder(
    folder: str | os.PathLike, repo_id: str, token: str | bool | None = None, commit_message: str | None = None
) -> list[str]:
    """Create `repo_id` if needed and upload every file of `folder` in one commit; returns the uploaded paths."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    api = HfApi(token=token)
    api.create_repo(repo_id, exist_ok=True, repo_type="model")
    operations = [CommitOperationAdd(path_in_repo=str(p.relative_to(folder)), path_or_fileobj=str(p)) for p in files]
    api.create_commit(
        repo_id, operations=operations, commit_message=commit_message or "Upload VideoRefer (videorefer convert)"
    )
    return [op.path_in_repo for op in operations]

# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""The README.md of a converted VideoRefer-VideoLLaMA3 (VL3) repository."""

# The paper's numbers of the two VL3 releases (VideoRefer-Bench-Q accuracy %, VideoRefer-Bench-D average score).
PUBLISHED_VL3_RESULTS = {
    "DAMO-NLP-SG/VideoRefer-VideoLLaMA3-7B": {"Bench-Q accuracy (%)": 80.1, "Bench-D average": 3.72},
    "DAMO-NLP-SG/VideoRefer-VideoLLaMA3-2B": {"Bench-Q accuracy (%)": 77.7, "Bench-D average": 3.67},
}


def _published_section(source: str, hub_id: bool) -> str:
    """The paper's numbers when `source` is the Hub release they were measured on, else a note."""
    release = next((name for name in PUBLISHED_VL3_RESULTS if hub_id and name.lower() == source.rstrip("/").lower()), None)
    if release is None:
        return (
            "## VideoRefer-Bench\n\n"
            f"No published VideoRefer-Bench numbers for this checkpoint (converted from `{source}`); measure them with "
            "`videorefer eval bench-q` (fps 1) / `videorefer eval bench-d` (fps 4)."
        )
    numbers = " | ".join(f"{name}: {value}" for name, value in PUBLISHED_VL3_RESULTS[release].items())
    return f"## VideoRefer-Bench (published numbers of {release.split('/')[-1]}, from the paper)\n\n{numbers}"


def vl3_model_card(source: str, repo_id: str | None, hub_id: bool, dependencies: str) -> str:
    """The model card of a VL3 conversion of `source` (`hub_id`: whether `source` is a Hub repository id, the only
    case where it is named as `base_model` and where published numbers may apply)."""
    name = repo_id or "PATH_OR_REPO"
    base_model = f"base_model: {source}\n" if hub_id else ""
    return f"""---
license: apache-2.0
library_name: transformers
pipeline_tag: image-text-to-text
tags: [video, referring, region, videorefer, videollama3]
{base_model}---

# VideoRefer-VideoLLaMA3 (native transformers format)

Converted from `{source}` by `videorefer convert` (transformers-videorefer). Same weights and the same computation
as the original release (VideoLLaMA3's SigLIP-NaViT encoder, projector and token compression, Qwen2.5, and the
mask-pooling region encoder); the code is included, so the package is not needed:

```python
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

model = AutoModelForImageTextToText.from_pretrained("{name}", trust_remote_code=True, dtype=torch.bfloat16, device_map="auto")
processor = AutoProcessor.from_pretrained("{name}", trust_remote_code=True)
messages = [{{"role": "user", "content": [{{"type": "video"}}, {{"type": "text", "text": "What is <region> doing?"}}]}}]
text = processor.apply_chat_template(messages, add_generation_prompt=True)
# one <region> per (object, frame) mask: here one object, masked on frame 12 of the original clip
inputs = processor(text=[text], videos=["clip.mp4"], masks=[[{{12: mask}}]], fps=1, max_frames=768).to(model.device, dtype=torch.bfloat16)
out = model.generate(**inputs, max_new_tokens=256)
print(processor.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)[0])
```

The remote code needs: {dependencies}.

{_published_section(source, hub_id)}

## Licence

Apache-2.0, as the original release (the language model is Qwen2.5, the vision encoder VideoLLaMA3's SigLIP-NaViT;
see their licences).
"""

"""Small training sets made by the tests: a frame folder, an image and the bundled mp4, with RLE masks."""

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from pycocotools import mask as mask_utils
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM, SiglipVisionConfig, SiglipVisionModel

from transformers_videorefer import VideoReferConfig
from transformers_videorefer.models.videorefer.modeling_videorefer_connector import build_connector

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_MP4 = REPO_ROOT / "examples" / "data" / "rolling_ball.mp4"  # 24 frames, 120 x 160
HEIGHT, WIDTH = 60, 80


def rle(mask: np.ndarray) -> dict:
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in encoded["size"]], "counts": encoded["counts"].decode("ascii")}


def square_mask(top: int, left: int, size: int = 16, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[top : top + size, left : left + size] = 1
    return mask


def write_media(root: Path) -> None:
    """`clip/` (8 PNG frames, 60 x 80, a square moving right), `still.png`, and `ball.mp4` (the bundled clip)."""
    rng = np.random.default_rng(0)
    (root / "clip").mkdir(parents=True, exist_ok=True)
    for index in range(8):
        frame = rng.integers(0, 60, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
        frame[square_mask(20, 4 + 6 * index) == 1] = (220, 30, 30)
        Image.fromarray(frame).save(root / "clip" / f"{index:03d}.png")
    still = rng.integers(0, 255, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    Image.fromarray(still).save(root / "still.png")
    shutil.copy(EXAMPLE_MP4, root / "ball.mp4")


def samples() -> list[dict]:
    """Four samples: a multi-frame video object, a two-turn video sample with two objects, an image, text only."""
    track = {str(i): {"segmentation": rle(square_mask(20, 4 + 6 * i))} for i in range(0, 8, 2)}
    return [
        {
            "id": "video-track",
            "video": "clip",
            "conversations": [
                {"from": "human", "value": "<video>\nWhat does <region> do?"},
                {"from": "gpt", "value": "The red square slides to the right."},
            ],
            "annotation": [track],
        },
        {
            "id": "video-two-objects",
            "video": "ball.mp4",
            "conversations": [
                {"from": "human", "value": "Compare <region> with <region>.\n<video>"},
                {"from": "gpt", "value": "One is a ball, the other a box."},
                {"from": "human", "value": "Which one moves?"},
                {"from": "gpt", "value": "The ball."},
            ],
            "annotation": [
                {"6": {"segmentation": [[40, 60, 70, 60, 70, 90, 40, 90]]}},
                {"6": {"segmentation": rle(square_mask(30, 100, 30, 120, 160))}},
            ],
        },
        {
            "id": "image",
            "image": "still.png",
            "conversations": [
                {"from": "human", "value": "<image>\nWhat is <region>?"},
                {"from": "gpt", "value": "A patch of noise."},
            ],
            "annotation": [{"0": {"segmentation": rle(square_mask(10, 10))}}],
        },
        {
            "id": "text-only",
            "conversations": [{"from": "human", "value": "Say hello."}, {"from": "gpt", "value": "Hello."}],
        },
    ]


def caption_samples() -> list[dict]:
    """Stage-1 style captions (plain format): media marker only in the question."""
    return [
        {"id": "cap-video", "video": "clip", "conversations": [
            {"from": "human", "value": "<video>"}, {"from": "gpt", "value": "A red square moving right."}]},
        {"id": "cap-image", "image": "still.png", "conversations": [
            {"from": "human", "value": "<image>"}, {"from": "gpt", "value": "Coloured noise."}]},
    ]


def write_dataset(root: Path, records: list[dict], name: str = "train.json", jsonl: bool = False) -> Path:
    write_media(root)
    path = root / name
    if jsonl:
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    else:
        path.write_text(json.dumps(records))
    return path


def write_tiny_parts(root: Path):
    """A tiny Qwen2 (`qwen/`, tokenizer without <region>), SigLIP (`siglip/`) and `mm_projector.bin`; returns the
    connector whose weights the file holds."""
    vocab = {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2, **{chr(97 + i): 3 + i for i in range(26)}, " ": 29}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<|endoftext|>"))
    backend.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    text_config = Qwen2Config(vocab_size=30, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                              num_attention_heads=2, num_key_value_heads=1, eos_token_id=2)
    torch.manual_seed(0)
    Qwen2ForCausalLM(text_config).save_pretrained(root / "qwen")
    tokenizer.save_pretrained(root / "qwen")
    vision_config = SiglipVisionConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                                       image_size=56, patch_size=14)
    SiglipVisionModel(vision_config).save_pretrained(root / "siglip")
    config = VideoReferConfig(vision_config=vision_config.to_dict(), text_config=text_config.to_dict())
    connector = build_connector(config)
    state = {f"model.mm_projector.{k}": v for k, v in connector.state_dict().items()}
    torch.save(state, root / "mm_projector.bin")
    return connector


def cpu_sft_config(tmp_path: Path, **overrides):
    """The SFT config of the training tests: 2 constant-rate CPU steps, no saving, seeded; `overrides` on top."""
    from transformers_videorefer.training.trainer import videorefer_sft_config

    settings = dict(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=2, max_steps=2, learning_rate=1e-3,
        lr_scheduler_type="constant", weight_decay=0.0, logging_steps=1, save_strategy="no", use_cpu=True,
        bf16=False, gradient_checkpointing=False, disable_tqdm=True, seed=0, dataloader_num_workers=0,
    )
    settings.update(overrides)
    return videorefer_sft_config(**settings)

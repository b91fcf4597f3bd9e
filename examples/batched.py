"""Several questions in one batch: different media, objects and mask frames per sample (left padding).

    python examples/batched.py --model PATH
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

import transformers_videorefer  # noqa: F401
from transformers_videorefer.cli.loading import ModelNotAvailableError, resolve_model_source

DATA = Path(__file__).resolve().parent / "data"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="DAMO-NLP-SG/VideoRefer-7B")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    try:  # a folder, the Hub id (Hub reachable) or its copy in the local cache; fails within seconds offline
        source = resolve_model_source(args.model)
    except ModelNotAvailableError as error:
        sys.stderr.write(f"batched.py: {error}\n")
        raise SystemExit(2) from None
    processor = AutoProcessor.from_pretrained(source)
    model = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype).to(device).eval()

    ball_track = json.loads((DATA / "ball_masks.json").read_text())  # {"0": rle, "6": rle, ...}: one object
    box = json.loads((DATA / "box_mask_frame6.json").read_text())
    first_frame = np.asarray(Image.open(DATA / "rolling_ball_frames" / "00006.png"))
    box_as_array = np.zeros(first_frame.shape[:2], dtype=bool)
    box_as_array[30:60, 100:140] = True

    def prompt(kind: str, question: str) -> str:
        messages = [{"role": "user", "content": [{"type": kind}, {"type": "text", "text": question}]}]
        return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    texts = [
        prompt("video", "Describe [<region>] and how it moves."),  # multi-frame object from an mp4
        prompt("video", "What is the relation between [<region>] and [<region>]?"),  # two objects, frame folder
        prompt("image", "What colour is [<region>]?"),  # an image with a bare mask
    ]
    inputs = processor(
        text=texts,
        videos=[str(DATA / "rolling_ball.mp4"), str(DATA / "rolling_ball_frames")],
        images=[first_frame],
        masks=[[ball_track], [{6: ball_track["6"]}, {6: box}], [box_as_array]],
    ).to(device, dtype=dtype)
    output = model.generate(**inputs, max_new_tokens=64, do_sample=False)
    for text, answer in zip(texts, processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)):
        print(text.splitlines()[-2], "->", answer)


if __name__ == "__main__":
    main()

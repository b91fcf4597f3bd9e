"""Stream the answer token by token (transformers' TextIteratorStreamer in a background thread).

    python examples/streaming.py --model PATH
"""

import argparse
import json
import sys
from pathlib import Path
from threading import Thread

import torch
from transformers import AutoModelForImageTextToText, AutoProcessor, TextIteratorStreamer

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
        sys.stderr.write(f"streaming.py: {error}\n")
        raise SystemExit(2) from None
    processor = AutoProcessor.from_pretrained(source)
    model = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype).to(device).eval()

    masks = json.loads((DATA / "ball_masks.json").read_text())
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Describe [<region>] in detail."}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], videos=[str(DATA / "rolling_ball.mp4")], masks=[[masks]]).to(device, dtype=dtype)

    streamer = TextIteratorStreamer(processor.tokenizer, skip_prompt=True, skip_special_tokens=True)
    thread = Thread(target=model.generate, kwargs={**inputs, "max_new_tokens": 128, "do_sample": False, "streamer": streamer})
    thread.start()
    for piece in streamer:
        print(piece, end="", flush=True)
    thread.join()
    print()


if __name__ == "__main__":
    main()

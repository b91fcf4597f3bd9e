"""Ask VideoRefer about the ball in the bundled clip.

    python examples/quickstart.py                      # DAMO-NLP-SG/VideoRefer-7B from the Hub
    python examples/quickstart.py --model PATH         # a local checkpoint (original or native format)
"""

import argparse
import json
import sys
from pathlib import Path

from transformers_videorefer.cli.loading import ModelNotAvailableError, resolve_model_source

DATA = Path(__file__).resolve().parent / "data"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="DAMO-NLP-SG/VideoRefer-7B")
    args = parser.parse_args()

    try:  # a folder, the Hub id (Hub reachable) or its copy in the local cache; fails within seconds offline
        source = resolve_model_source(args.model)
    except ModelNotAvailableError as error:
        sys.stderr.write(f"quickstart.py: {error}\n")
        raise SystemExit(2) from None
    # imported once the checkpoint is known to be there (torch and transformers take a few seconds to import)
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    import transformers_videorefer  # noqa: F401  (registers VideoRefer with the Auto classes)

    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    processor = AutoProcessor.from_pretrained(source)
    model = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype).to(device).eval()

    ball_on_frame_6 = json.loads((DATA / "ball_mask_frame6.json").read_text())  # COCO RLE at the clip's size
    messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "What is [<region>] doing?"}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    inputs = processor(text=[text], videos=[str(DATA / "rolling_ball.mp4")], masks=[[{6: ball_on_frame_6}]])
    inputs = inputs.to(device, dtype=dtype)

    output = model.generate(**inputs, max_new_tokens=64, do_sample=False)
    print(processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)[0])


if __name__ == "__main__":
    main()

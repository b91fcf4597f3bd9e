"""Where the time of a VideoRefer prefill goes, stage by stage (7B shapes, random weights, one GPU).

    python benchmarks/profile_stages.py --batch-sizes 1 8

Prints the median time of: the vision tower over the video frames, the connector, the vision tower over the mask
frame(s) + region encoder, the language model over the merged embeddings, and the whole forward.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "models" / "videorefer"))

from bench_inference import build_model, make_inputs, parse_args, synchronize  # noqa: E402
from reference_connector import ReferenceSpatioTemporalConnector  # noqa: E402


# --tiny: a tiny random model on the CPU, few repeats (a smoke run of the script; its numbers mean nothing)
TINY_DEFAULTS = {"device": "cpu", "dtype": "float32", "batch_sizes": [1, 2], "num_frames": 4, "repeats": 2, "warmup": 1}


def median_ms(fn, device: str, repeats: int = 10, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


@torch.inference_mode()
def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--attn", default="sdpa")
    parser.add_argument("--dtype", default="bf16")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--tiny", action="store_true", help="a tiny random model, 4 frames, 2 repeats (CPU smoke run)")
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="also time torch.compile'd vision layers and connector")
    args = parse_args(parser, argv, TINY_DEFAULTS)
    model = build_model(args)
    inner = model.model
    for batch_size in args.batch_sizes:
        inputs = make_inputs(model, batch_size, args.num_frames, 70, args.device)
        videos = inputs["pixel_values_videos"]
        frame_features = inner.get_frame_features(videos.flatten(0, 1))
        grid_features = frame_features.reshape(batch_size, args.num_frames, *frame_features.shape[1:])
        embeds = inner.get_input_embeddings()(inputs["input_ids"].clamp(max=model.config.text_config.vocab_size - 1))
        reference = ReferenceSpatioTemporalConnector(model.config).to(model.device, model.dtype)
        reference.load_state_dict(inner.multi_modal_projector.state_dict())
        rows = {
            "vision tower, video frames": lambda: inner.get_frame_features(videos.flatten(0, 1)),
            "connector (channels-last, the package's)": lambda: inner.multi_modal_projector(grid_features),
            "connector (NCHW reference, as the original)": lambda: reference(grid_features),
            "mask frames + region encoder": lambda: inner.get_region_features(
                inputs["region_pixel_values"], inputs["region_masks"], inputs["region_mask_frame_index"],
                inputs["region_masks_per_object"],
            ),
            "language model (prefill)": lambda: inner.language_model(inputs_embeds=embeds, use_cache=True),
            "whole forward (logits of the last token)": lambda: model(**inputs, use_cache=True, logits_to_keep=1),
        }
        if args.compile:
            compiled_layers = [torch.compile(layer, dynamic=False) for layer in inner.vision_tower.encoder.layers]
            depth = inner._num_vision_layers_to_run()

            def compiled_vision():
                hidden = inner.vision_tower.embeddings(videos.flatten(0, 1))
                for layer in compiled_layers[:depth]:
                    hidden = layer(hidden, None)
                return hidden

            compiled_connector = torch.compile(inner.multi_modal_projector, dynamic=False)
            rows["vision tower, video frames, layers compiled"] = compiled_vision
            rows["connector, compiled"] = lambda: compiled_connector(grid_features)
        print(f"batch size {batch_size}, sequence {inputs['input_ids'].shape[1]}")
        for name, fn in rows.items():
            print(f"  {name:45s} {median_ms(fn, args.device, args.repeats, args.warmup):8.2f} ms", flush=True)


if __name__ == "__main__":
    main()

"""Stage-3 training over several processes with a shipped accelerate config (ZeRO-2, ZeRO-3 or FSDP), then reload.

Runs the training recipe as a user would:

    accelerate launch --config_file examples/train/accelerate/<config>.yaml --num_processes N \\
        -m transformers_videorefer.train --config <examples/train/stage3.yaml with the overrides below>

on a generated stage-3 set (the bundled rolling-ball clip as a frame folder, one masked object, a question and an
answer of --answer-words words), for --steps optimizer steps, saving the final model. Then it checks the saved
checkpoint against the one training started from: every tensor finite, the frozen vision tower bit-identical,
the trained parts (language model, connector, region encoder) changed; and it computes the loss of one training
sample with the initial and the reloaded model.

Reported: losses per step, tokens/s per device (language-model tokens incl. visual ones, all processes, divided
by the number of processes; median over the steps after --warmup-steps), the peak GPU memory of process 0, the
wall time of the launch, and the reload checks. Exit status 1 when a check fails.

    python benchmarks/make_random_checkpoint.py --tokenizer ../shared/golden/videorefer_tiny/checkpoint --out /tmp/rand7b
    python benchmarks/bench_train_distributed.py --model /tmp/rand7b --accelerate-config examples/train/accelerate/zero2.yaml \\
        --num-processes 2 --work-dir /tmp/zero2
    python benchmarks/bench_train_distributed.py --model <tiny> --accelerate-config ... --cpu --dtype float32   # smoke run
    python benchmarks/bench_train_distributed.py --tiny --device cpu   # smoke run, all made up: see --tiny
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_inference import golden_checkpoint, parse_args  # noqa: E402

EXAMPLE_FRAMES = REPO / "examples" / "data" / "rolling_ball_frames"
EXAMPLE_MASKS = REPO / "examples" / "data" / "ball_masks.json"
STAGE3_RECIPE = REPO / "examples" / "train" / "stage3.yaml"
# --tiny: a tiny random checkpoint (the golden tokenizer), 2 CPU processes (FSDP falls back to DDP), 2 short steps
TINY_DEFAULTS = {"accelerate_config": REPO / "examples" / "train" / "accelerate" / "fsdp.yaml", "steps": 2,
                 "batch_size": 1, "num_frames": 4, "answer_words": 12, "dtype": "float32", "warmup_steps": 1}
WORDS = "the red ball rolls from the left edge of the lawn towards the blue box and keeps its speed".split()


def write_dataset(work_dir: Path, num_samples: int, answer_words: int) -> Path:
    """`num_samples` stage-3 samples on the bundled clip (copied to work_dir/media); returns the JSON path."""
    media = work_dir / "media"
    shutil.copytree(EXAMPLE_FRAMES, media / "rolling_ball_frames", dirs_exist_ok=True)
    track = {frame: {"segmentation": rle} for frame, rle in json.loads(EXAMPLE_MASKS.read_text()).items()}
    answer = " ".join(WORDS[i % len(WORDS)] for i in range(answer_words)).capitalize() + "."
    samples = [
        {
            "id": f"ball-{index}",
            "video": "rolling_ball_frames",
            "conversations": [
                {"from": "human", "value": "<video>\nDescribe what <region> does in this video, step by step."},
                {"from": "gpt", "value": answer},
            ],
            "annotation": [track],
        }
        for index in range(num_samples)
    ]
    path = work_dir / "train.json"
    path.write_text(json.dumps(samples))
    return path


def write_recipe(args: argparse.Namespace, data: Path) -> Path:
    """examples/train/stage3.yaml with this run's model, data, length and output; returns the new YAML's path."""
    recipe = yaml.safe_load(STAGE3_RECIPE.read_text())
    recipe.update(
        model_name_or_path=str(args.model),
        data_path=[str(data)],
        media_root=str(args.work_dir / "media"),
        num_frames=args.num_frames,
        dtype=args.dtype,
        output_dir=str(args.work_dir / "out"),
        max_steps=args.steps,
        per_device_train_batch_size=args.batch_size,
        gradient_accumulation_steps=1,
        logging_steps=1,
        save_strategy="no",
        dataloader_num_workers=2,
        disable_tqdm=True,
    )
    if args.cpu:
        recipe.update(use_cpu=True, bf16=False, dataloader_num_workers=0)
    path = args.work_dir / "stage3.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def launch(args: argparse.Namespace, recipe: Path) -> float:
    """Run the training launch command; its output goes to work_dir/train.log. Returns the wall time."""
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(args.accelerate_config),
        "--num_processes", str(args.num_processes), "--main_process_port", str(args.port),
    ]
    if args.cpu:
        command += ["--mixed_precision", "no"]  # the recipe's use_cpu puts the processes on the CPU
    command += ["-m", "transformers_videorefer.train", "--config", str(recipe)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    print("$", " ".join(command), flush=True)
    start = time.perf_counter()
    with open(args.work_dir / "train.log", "w") as log:
        result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        tail = (args.work_dir / "train.log").read_text()[-6000:]
        raise SystemExit(f"training exited with status {result.returncode}; end of train.log:\n{tail}")
    return elapsed


def training_logs(out: Path) -> list[dict]:
    """The per-step training logs the run saved in trainer_state.json."""
    state_path = out / "trainer_state.json"
    if not state_path.is_file():
        raise SystemExit(f"{state_path} is missing: train.py writes it at the end of a run.")
    return [entry for entry in json.loads(state_path.read_text())["log_history"] if "loss" in entry]


def part_of(name: str) -> str:
    for part in ("vision_tower", "multi_modal_projector", "region_encoder", "language_model", "lm_head"):
        if part in name:
            return part
    return "other"


def compare_checkpoints(initial: Path, trained: Path) -> dict:
    """Per model part: tensors, how many changed, whether all are finite; and the set of keys matches."""
    from safetensors import safe_open

    def open_tensors(folder: Path) -> dict[str, object]:
        """Each tensor name of the folder's safetensors files -> the open file that holds it."""
        found = {}
        for file in sorted(folder.glob("*.safetensors")):
            handle = safe_open(str(file), "pt")
            found.update({key: handle for key in handle.keys()})
        return found

    before, after = open_tensors(initial), open_tensors(trained)
    if set(before) != set(after):
        missing, extra = sorted(set(before) - set(after)), sorted(set(after) - set(before))
        raise SystemExit(f"saved keys differ from the initial checkpoint's: missing {missing[:5]}, extra {extra[:5]}")
    parts: dict[str, dict] = {}
    for key in sorted(before):
        old, new = before[key].get_tensor(key), after[key].get_tensor(key)
        stats = parts.setdefault(part_of(key), {"tensors": 0, "changed": 0, "finite": True, "dtype": str(new.dtype)})
        stats["tensors"] += 1
        stats["changed"] += int(not torch.equal(old, new.to(old.dtype)))  # FSDP may save upcast float32 weights
        stats["finite"] &= bool(torch.isfinite(new.float()).all())
    return parts


def sample_loss(model_dir: Path, data: Path, media_root: Path, num_frames: int, device: str) -> float:
    """The loss of the first training sample under the model in `model_dir` (bf16 on a GPU, float32 on the CPU)."""
    import transformers_videorefer  # noqa: F401
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from transformers_videorefer.training.collator import VideoReferDataCollator
    from transformers_videorefer.training.data import load_videorefer_dataset

    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=dtype).to(device).eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    collator = VideoReferDataCollator(processor, media_root=str(media_root), num_frames=num_frames)
    batch = collator([load_videorefer_dataset([str(data)])[0]])
    batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    with torch.no_grad():
        loss = model(**batch).loss.item()
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return loss


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None,
                        help="Checkpoint to start from (native or original); with --tiny, a tiny random one by default.")
    parser.add_argument("--accelerate-config", type=Path, default=None, help="Required without --tiny.")
    parser.add_argument("--num-processes", type=int, default=2)
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="Data, recipe, log and the trained model (required without --tiny: a temporary folder).")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=2, help="Per device.")
    parser.add_argument("--num-frames", type=int, default=16)
    parser.add_argument("--answer-words", type=int, default=100)
    parser.add_argument("--dtype", default="bf16", help="Weights dtype train.py loads the model in.")
    parser.add_argument("--warmup-steps", type=int, default=2, help="Logged steps left out of the tokens/s median.")
    parser.add_argument("--port", type=int, default=29533)
    parser.add_argument("--cpu", action="store_true", help="A smoke run on CPU processes (gloo; FSDP falls back to DDP).")
    parser.add_argument("--json", type=Path, help="Write the results here too.")
    parser.add_argument("--tiny", action="store_true",
                        help="A smoke run: tiny random model, 2 steps on CPU processes (--device cuda: on GPUs).")
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None, help="cpu is --cpu (default: cuda).")
    args = parse_args(parser, argv, TINY_DEFAULTS)
    args.cpu = args.cpu or args.device == "cpu" or (args.tiny and args.device is None)
    if not args.tiny:
        missing = [flag for flag, value in (("--model", args.model), ("--accelerate-config", args.accelerate_config),
                                            ("--work-dir", args.work_dir)) if value is None]
        if missing:
            parser.error(", ".join(missing) + " required without --tiny")
        run_benchmark(args)
        return
    with tempfile.TemporaryDirectory(prefix="videorefer-train-distributed-") as scratch:
        if args.work_dir is None:
            args.work_dir = Path(scratch)
        if args.model is None:
            from make_random_checkpoint import make_random_checkpoint

            args.model = make_random_checkpoint(
                str(golden_checkpoint()), args.work_dir / "initial", "cpu", "float32", tiny=True
            )
        run_benchmark(args)


def run_benchmark(args: argparse.Namespace) -> None:
    """Write the data and recipe, launch the training, check the saved model and print the tables."""
    args.work_dir.mkdir(parents=True, exist_ok=True)
    data = write_dataset(args.work_dir, num_samples=args.steps * args.batch_size * args.num_processes, answer_words=args.answer_words)
    recipe = write_recipe(args, data)
    wall = launch(args, recipe)
    out = args.work_dir / "out"
    logs = training_logs(out)
    speeds = [entry["tokens_per_second_per_device"] for entry in logs if "tokens_per_second_per_device" in entry]
    measured = speeds[max(0, args.warmup_steps - 1) :] or speeds
    parts = compare_checkpoints(args.model, out)
    device = "cpu" if args.cpu or not torch.cuda.is_available() else "cuda"
    loss_before = sample_loss(args.model, data, args.work_dir / "media", args.num_frames, device)
    loss_after = sample_loss(out, data, args.work_dir / "media", args.num_frames, device)

    results = {
        "accelerate_config": str(args.accelerate_config),
        "num_processes": args.num_processes,
        "device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
        "steps": len(logs),
        "losses": [entry["loss"] for entry in logs],
        "tokens_per_second_per_device": statistics.median(measured) if measured else None,
        "peak_memory_gb_process0": max((entry["peak_memory_gb"] for entry in logs if "peak_memory_gb" in entry), default=None),
        "launch_wall_s": round(wall, 1),
        "parts": parts,
        "sample_loss_initial": loss_before,
        "sample_loss_reloaded": loss_after,
    }
    print("\n| config | processes | steps | tokens/s per device | peak GB (process 0) | launch wall s |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        f"| {args.accelerate_config.name} | {args.num_processes} | {len(logs)} | "
        f"{results['tokens_per_second_per_device']} | {results['peak_memory_gb_process0']} | {results['launch_wall_s']} |"
    )
    print("losses:", ", ".join(f"{loss:.4f}" for loss in results["losses"]))
    print("\n| part | tensors | changed | all finite | dtype |\n| --- | --- | --- | --- | --- |")
    for name, stats in parts.items():
        print(f"| {name} | {stats['tensors']} | {stats['changed']} | {stats['finite']} | {stats['dtype']} |")
    print(f"\nloss of sample 0: initial {loss_before:.4f}, reloaded after training {loss_after:.4f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))

    failures = []
    if len(logs) != args.steps:
        failures.append(f"{len(logs)} logged steps, expected {args.steps}")
    if not all(math.isfinite(loss) for loss in results["losses"]):
        failures.append("a logged loss is not finite")
    if not all(stats["finite"] for stats in parts.values()):
        failures.append("a saved tensor is not finite")
    if parts.get("vision_tower", {}).get("changed", 0):
        failures.append("the frozen vision tower changed")
    for trained in ("language_model", "multi_modal_projector", "region_encoder"):
        if trained in parts and parts[trained]["changed"] == 0:
            failures.append(f"no {trained} tensor changed")
    if not (math.isfinite(loss_after) and math.isfinite(loss_before)):
        failures.append("the reloaded model's loss is not finite")
    if failures:
        raise SystemExit("FAILED: " + "; ".join(failures))
    print("all checks passed")


if __name__ == "__main__":
    main()

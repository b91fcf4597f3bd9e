"""`videorefer convert` on a VideoRefer-VideoLLaMA3 checkpoint: the native sharded repository with remote code,
loaded where the package cannot be imported, gives the package's logits and the original's greedy tokens."""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from no_package import BLOCK_PACKAGE
from safetensors import safe_open
from transformers import AutoModelForImageTextToText, AutoProcessor

import transformers_videorefer  # noqa: F401
from transformers_videorefer.cli import main as cli_main
from transformers_videorefer.hub.convert import convert_checkpoint, detect_family, model_card
from transformers_videorefer.models.videorefer_vl3.processing_videorefer_vl3 import messages_from_question

VL3_SUBDIR = "videorefer_vl3_tiny"
CASE = "video_mp4_two_objects"
GREEDY = {"max_new_tokens": 8, "min_new_tokens": 8, "do_sample": False, "repetition_penalty": 1.0, "eos_token_id": None}


def _vl3_golden() -> Path:
    roots = [Path(os.environ["VIDEOREFER_GOLDEN"])] if os.environ.get("VIDEOREFER_GOLDEN") else []
    roots.append(Path(__file__).resolve().parents[2].parent / "shared" / "golden")
    for root in roots:
        if (root / VL3_SUBDIR / "checkpoint" / "config.json").is_file():
            return (root / VL3_SUBDIR).resolve()
    pytest.skip(f"golden VideoRefer-VideoLLaMA3 fixture not found (looked in: {[str(r / VL3_SUBDIR) for r in roots]}); "
                "set VIDEOREFER_GOLDEN to the `golden` folder")


@pytest.fixture(scope="module")
def vl3_golden() -> Path:
    return _vl3_golden()


@pytest.fixture(scope="module")
def vl3_source(vl3_golden, tmp_path_factory) -> Path:
    """A private copy of the original-format tiny checkpoint (the golden folder is read-only)."""
    target = tmp_path_factory.mktemp("vl3_source") / "checkpoint"
    shutil.copytree(vl3_golden / "checkpoint", target)
    return target


@pytest.fixture(scope="module")
def converted(vl3_source, tmp_path_factory):
    destination = tmp_path_factory.mktemp("vl3_converted")
    files = convert_checkpoint(str(vl3_source), destination, dtype="float32", max_shard_size="100KB")
    return destination, files


def _case_request(golden: Path, name: str) -> dict:
    """What the subprocess needs to run a golden case from its raw media: messages, media, masks, sampling."""
    case = json.loads((golden / "cases" / name / "case.json").read_text())
    return {
        "messages": messages_from_question(case["question"], case["modality"]),
        "modality": case["modality"],
        "media": str(golden / "cases" / name / case["media"]),
        "masks": [case["annotation"]],
        "fps": case.get("fps"),
        "max_frames": case.get("max_frames"),
    }


def _processor_inputs(processor, request: dict):
    prompt = processor.apply_chat_template(request["messages"], add_generation_prompt=True)
    kwargs = {"images" if request["modality"] == "image" else "videos": [request["media"]], "masks": request["masks"]}
    if request["modality"] == "video":
        kwargs.update(fps=request["fps"], max_frames=request["max_frames"])
    return processor(text=[prompt], **kwargs)


REMOTE_SCRIPT = BLOCK_PACKAGE + textwrap.dedent(
    """
    import json, sys, torch

    from transformers import AutoModelForImageTextToText, AutoProcessor

    repo, request_path, out_path = sys.argv[1:4]
    request = json.load(open(request_path))
    model = AutoModelForImageTextToText.from_pretrained(repo, trust_remote_code=True).eval()
    processor = AutoProcessor.from_pretrained(repo, trust_remote_code=True)
    prompt = processor.apply_chat_template(request["messages"], add_generation_prompt=True)
    kwargs = {"images" if request["modality"] == "image" else "videos": [request["media"]], "masks": request["masks"]}
    if request["modality"] == "video":
        kwargs.update(fps=request["fps"], max_frames=request["max_frames"])
    inputs = processor(text=[prompt], **kwargs)
    greedy = {"max_new_tokens": 8, "min_new_tokens": 8, "do_sample": False, "repetition_penalty": 1.0, "eos_token_id": None}
    with torch.no_grad():
        logits = model(**inputs).logits
        out = model.generate(**inputs, **greedy)
    torch.save({"logits": logits, "input_ids": inputs["input_ids"], "ids": out[0, inputs["input_ids"].shape[1]:],
                "model_module": type(model).__module__, "processor_module": type(processor).__module__}, out_path)
    """
)


def test_family_is_read_from_the_source_config(vl3_source, tmp_path):
    assert detect_family(str(vl3_source)) == "videorefer_vl3"
    plain = tmp_path / "plain_videollama3"
    plain.mkdir()
    config = json.loads((vl3_source / "config.json").read_text())
    del config["region_token_index"]
    (plain / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="plain VideoLLaMA3"):
        detect_family(str(plain))
    (plain / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ValueError, match="not a VideoRefer checkpoint"):
        detect_family(str(plain))


def test_converted_vl3_repository_layout(converted):
    destination, files = converted
    shards = [f for f in files if f.endswith(".safetensors")]
    assert "model.safetensors.index.json" in files and len(shards) > 1
    for name in ("config.json", "generation_config.json", "processor_config.json", "chat_template.jinja",
                 "tokenizer.json", "README.md", "configuration_videorefer_vl3.py", "modeling_videorefer_vl3.py",
                 "modeling_videorefer_vl3_region.py", "modeling_videorefer_vl3_compression.py",
                 "processing_videorefer_vl3.py", "masks.py", "media.py"):
        assert name in files, name
    config = json.loads((destination / "config.json").read_text())
    assert config["model_type"] == "videorefer_vl3" and "vision_encoder" not in config
    assert config["auto_map"]["AutoModelForImageTextToText"] == "modeling_videorefer_vl3.VideoReferVL3ForConditionalGeneration"
    processor_config = json.loads((destination / "processor_config.json").read_text())
    assert processor_config["auto_map"]["AutoProcessor"] == "processing_videorefer_vl3.VideoReferVL3Processor"
    index = json.loads((destination / "model.safetensors.index.json").read_text())["weight_map"]
    assert any(k.startswith("model.vision_model.") for k in index) and "model.projector.readout.0.weight" in index
    card = (destination / "README.md").read_text()
    assert "VideoRefer-VideoLLaMA3" in card and "trust_remote_code=True" in card and "base_model" not in card
    assert "No published VideoRefer-Bench numbers" in card
    for name in files:
        if name.endswith(".py"):
            source = (destination / name).read_text()
            assert not re.search(r"^\s*(from|import) transformers_videorefer", source, flags=re.M), name


def test_remote_code_without_the_package_gives_the_packages_logits_and_golden_ids(converted, vl3_source, vl3_golden,
                                                                                  tmp_path):
    destination, _ = converted
    request = _case_request(vl3_golden, CASE)
    (tmp_path / "request.json").write_text(json.dumps(request))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"))
    result = subprocess.run(
        [sys.executable, "-c", REMOTE_SCRIPT, str(destination), str(tmp_path / "request.json"), str(tmp_path / "out.pt")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=280,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    remote = torch.load(tmp_path / "out.pt")
    assert remote["model_module"].startswith("transformers_modules.")
    assert remote["processor_module"].startswith("transformers_modules.")
    expected = torch.load(vl3_golden / "cases" / CASE / "expected.pt", weights_only=False)
    assert remote["ids"].tolist() == expected["generated_ids"].tolist()
    package_model = AutoModelForImageTextToText.from_pretrained(vl3_source).eval()
    inputs = _processor_inputs(AutoProcessor.from_pretrained(vl3_source), request)
    assert torch.equal(inputs["input_ids"], remote["input_ids"])
    with torch.no_grad():
        assert torch.equal(package_model(**inputs).logits, remote["logits"])


def test_bf16_conversion_through_the_cli(vl3_source, tmp_path, capsys):
    status = cli_main(["convert", "--src", str(vl3_source), "--dst", str(tmp_path / "bf16"), "--max-shard-size", "200KB"])
    assert status == 0 and "wrote" in capsys.readouterr().out
    shards = sorted((tmp_path / "bf16").glob("model-*.safetensors"))
    assert len(shards) > 1
    dtypes = set()
    for shard in shards:
        with safe_open(str(shard), framework="pt") as handle:
            dtypes |= {handle.get_slice(key).get_dtype() for key in handle.keys()}
    assert dtypes == {"BF16"}
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "bf16")
    assert model.dtype == torch.bfloat16 and type(model).__name__ == "VideoReferVL3ForConditionalGeneration"


def test_parts_options_are_refused_for_vl3(vl3_source, tmp_path, capsys):
    status = cli_main(["convert", "--src", str(vl3_source), "--dst", str(tmp_path / "out"), "--language-model", "x/y"])
    assert status == 2
    assert "VideoRefer-VideoLLaMA3" in capsys.readouterr().err


def test_vl3_model_card_numbers_only_for_the_releases():
    release = model_card("DAMO-NLP-SG/VideoRefer-VideoLLaMA3-7B", "me/vl3", "videorefer_vl3")
    assert "base_model: DAMO-NLP-SG/VideoRefer-VideoLLaMA3-7B\n" in release and "80.1" in release and "3.72" in release
    small = model_card("DAMO-NLP-SG/VideoRefer-VideoLLaMA3-2B", None, "videorefer_vl3")
    assert "77.7" in small and "80.1" not in small
    local = model_card("./checkpoints/VideoRefer-VideoLLaMA3-7B", None, "videorefer_vl3")
    assert "base_model" not in local and "80.1" not in local and "fps=1" in local

"""`videorefer convert`, remote code without the package, push_to_hub, and unsafe pickles."""

import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from helpers import golden_inputs, load_case
from huggingface_hub import HfApi
from no_package import BLOCK_PACKAGE
from transformers import AutoModelForImageTextToText, AutoProcessor

import transformers_videorefer  # noqa: F401
from transformers_videorefer.cli import main as cli_main
from transformers_videorefer.hub.convert import convert_checkpoint, load_region_encoder_weights, register_remote_code

CASE = "video_mp4_multi_frame_masks"


@pytest.fixture(scope="module")
def converted(golden_checkpoint, tmp_path_factory):
    destination = tmp_path_factory.mktemp("converted")
    files = convert_checkpoint(str(golden_checkpoint), destination, dtype="float32", max_shard_size="500KB")
    return destination, files


def test_converted_repository_layout(converted):
    destination, files = converted
    assert "model.safetensors.index.json" in files and sum(f.endswith(".safetensors") for f in files) > 1
    for name in ("config.json", "generation_config.json", "processor_config.json", "chat_template.jinja",
                 "tokenizer.json", "README.md", "configuration_videorefer.py", "modeling_videorefer.py",
                 "processing_videorefer.py"):
        assert name in files, name
    config = json.loads((destination / "config.json").read_text())
    assert config["model_type"] == "videorefer" and "mm_vision_tower" not in config
    assert config["auto_map"]["AutoModelForImageTextToText"] == "modeling_videorefer.VideoReferForConditionalGeneration"
    assert json.loads((destination / "processor_config.json").read_text())["auto_map"]["AutoProcessor"].startswith("processing_videorefer.")
    card = (destination / "README.md").read_text()
    assert "trust_remote_code=True" in card and "license: apache-2.0" in card
    # a local source: no base_model (only a Hub id belongs there) and no paper numbers (not that release)
    assert "base_model" not in card and "71.9" not in card and "No published VideoRefer-Bench numbers" in card
    # the remote code imports nothing of the package by absolute name
    for name in files:
        if name.endswith(".py"):
            source = (destination / name).read_text()
            assert not re.search(r"^\s*(from|import) transformers_videorefer", source, flags=re.M), name


REMOTE_SCRIPT = BLOCK_PACKAGE + textwrap.dedent(
    """
    import json, sys, torch
    from transformers import AutoModelForImageTextToText, AutoProcessor
    repo, case = sys.argv[1], sys.argv[2]
    model = AutoModelForImageTextToText.from_pretrained(repo, trust_remote_code=True)
    processor = AutoProcessor.from_pretrained(repo, trust_remote_code=True)
    spec = json.load(open(case + "/case.json"))
    messages = [{"role": "user", "content": [{"type": spec["modality"]}, {"type": "text", "text": spec["prompt_sent_to_model"]}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    objects = [{int(k): v["segmentation"] for k, v in o.items()} for o in spec["annotation"]]
    inputs = processor(text=[text], videos=[case + "/" + spec["media"]], masks=[objects])
    out = model.generate(**inputs, max_new_tokens=8, min_new_tokens=8, do_sample=False)
    print(json.dumps({"module": type(model).__module__, "ids": out[0, inputs["input_ids"].shape[1]:].tolist()}))
    """
)


def test_remote_code_reproduces_golden_ids_without_the_package(converted, golden_dir, tmp_path):
    destination, _ = converted
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"))
    result = subprocess.run(
        [sys.executable, "-c", REMOTE_SCRIPT, str(destination), str(golden_dir / "cases" / CASE)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["module"].startswith("transformers_modules.")
    assert payload["ids"] == load_case(golden_dir, CASE)["generated_ids"].tolist()


def test_converted_saved_reloaded_logits_equal_legacy(converted, golden_checkpoint, golden_dir, tmp_path):
    destination, _ = converted
    legacy = AutoModelForImageTextToText.from_pretrained(golden_checkpoint).eval()
    native = AutoModelForImageTextToText.from_pretrained(destination).eval()
    native.save_pretrained(tmp_path / "again")
    again = AutoModelForImageTextToText.from_pretrained(tmp_path / "again").eval()
    ids, kwargs = golden_inputs(legacy, load_case(golden_dir, CASE))
    with torch.no_grad():
        reference = legacy(input_ids=ids, **kwargs).logits
        assert torch.equal(native(input_ids=ids, **kwargs).logits, reference)
        assert torch.equal(again(input_ids=ids, **kwargs).logits, reference)


@pytest.fixture
def fake_hub(monkeypatch):
    """huggingface_hub's API with a local stand-in for the server: records what would be uploaded."""
    uploads: dict[str, list[str]] = {}

    def create_repo(self, repo_id, *args, **kwargs):
        from huggingface_hub import RepoUrl

        uploads.setdefault(repo_id, [])
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def create_commit(self, repo_id, operations, *args, **kwargs):
        uploads.setdefault(repo_id, []).extend(op.path_in_repo for op in operations)
        return None

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "create_commit", create_commit)
    return uploads


def test_push_to_hub_uploads_what_save_pretrained_writes(golden_checkpoint, tmp_path, fake_hub):
    register_remote_code()
    model = AutoModelForImageTextToText.from_pretrained(golden_checkpoint)
    processor = AutoProcessor.from_pretrained(golden_checkpoint)
    model.save_pretrained(tmp_path / "model")
    processor.save_pretrained(tmp_path / "processor")
    model.push_to_hub("someone/videorefer-model")
    processor.push_to_hub("someone/videorefer-processor")

    def listing(folder: Path) -> list[str]:
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())

    # push_to_hub also writes transformers' default model card (README.md); everything else is save_pretrained's
    uploaded_model = sorted(set(fake_hub["someone/videorefer-model"]) - {"README.md"})
    assert uploaded_model == listing(tmp_path / "model")
    assert sorted(set(fake_hub["someone/videorefer-processor"]) - {"README.md"}) == listing(tmp_path / "processor")
    assert "modeling_videorefer.py" in fake_hub["someone/videorefer-model"]


def test_convert_cli_push_uploads_the_converted_files(golden_checkpoint, tmp_path, fake_hub, capsys):
    status = cli_main(["convert", "--src", str(golden_checkpoint), "--dst", str(tmp_path / "out"), "--dtype", "float32",
                       "--push-to", "someone/videorefer-tiny"])
    assert status == 0
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert sorted(fake_hub["someone/videorefer-tiny"]) == written
    assert "pushed them to someone/videorefer-tiny" in capsys.readouterr().out


class _RunsCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickle_that_runs_code_is_refused(golden_checkpoint, tmp_path, capsys):
    marker = tmp_path / "pwned"
    release = tmp_path / "stage2"
    release.mkdir()
    (release / "config.json").write_text((golden_checkpoint / "config.json").read_text())
    with open(release / "region_encoder.bin", "wb") as handle:
        pickle.dump({"model.region_encoder.feat_linear.0.weight": _RunsCode(marker)}, handle)
    with pytest.raises(ValueError, match="not a plain state dict"):
        load_region_encoder_weights(release / "region_encoder.bin")
    status = cli_main(["convert", "--src", str(release), "--dst", str(tmp_path / "out")])
    assert status == 2
    assert "never executed" in capsys.readouterr().err
    assert not marker.exists()


def test_convert_region_encoder_only_release_from_parts(tmp_path):
    """The stage-2 release ships a config and region_encoder.bin: the rest comes from the given parts."""
    import shutil

    from training.training_fixtures import write_tiny_parts

    from transformers_videorefer import VideoReferConfig
    from transformers_videorefer.models.videorefer.modeling_videorefer_region import VideoReferRegionEncoder

    connector = write_tiny_parts(tmp_path)
    release = tmp_path / "stage2"
    shutil.copytree(tmp_path / "siglip", release / "siglip_vision_tower")
    legacy = json.loads((tmp_path / "qwen" / "config.json").read_text())
    legacy.update(model_type="videorefer_qwen2", vocab_size=31, mm_vision_tower="./siglip_vision_tower",
                  mm_projector_type="stc_connector_v35", mm_hidden_size=16, num_frames=4)
    (release / "config.json").write_text(json.dumps(legacy))
    config = VideoReferConfig.from_pretrained(release)
    torch.manual_seed(1)
    region = VideoReferRegionEncoder(config)
    torch.save({f"model.region_encoder.{k}": v for k, v in region.state_dict().items()}, release / "region_encoder.bin")

    status = cli_main(["convert", "--src", str(release), "--dst", str(tmp_path / "out"), "--dtype", "float32",
                       "--language-model", str(tmp_path / "qwen"), "--connector", str(tmp_path / "mm_projector.bin")])
    assert status == 0
    model = AutoModelForImageTextToText.from_pretrained(tmp_path / "out")
    for key, value in region.state_dict().items():
        assert torch.equal(model.model.region_encoder.state_dict()[key], value)
    for key, value in connector.state_dict().items():
        assert torch.equal(model.model.multi_modal_projector.state_dict()[key], value)
    processor = AutoProcessor.from_pretrained(tmp_path / "out")
    assert processor.region_token_id == model.config.region_token_id == 30


def test_model_card_base_model_and_numbers_only_for_the_hub_release():
    from transformers_videorefer.hub.convert import model_card

    release = model_card("DAMO-NLP-SG/VideoRefer-7B", "me/native")
    assert "base_model: DAMO-NLP-SG/VideoRefer-7B\n" in release and "71.9" in release and "3.42" in release
    other = model_card("someone/VideoRefer-finetune", None)
    assert "base_model: someone/VideoRefer-finetune\n" in other and "71.9" not in other
    assert "No published VideoRefer-Bench numbers" in other
    for local in ("./ckpt/videorefer", "../shared/golden/videorefer_tiny/checkpoint", "/abs/ckpt"):
        card = model_card(local, None)
        assert "base_model" not in card and "71.9" not in card


def test_converted_files_respect_the_umask(golden_checkpoint, tmp_path):
    import os
    import stat

    from transformers_videorefer.hub.convert import convert_checkpoint

    previous = os.umask(0o022)
    try:
        files = convert_checkpoint(str(golden_checkpoint), tmp_path / "out", dtype="float32")
    finally:
        os.umask(previous)
    modes = {name: stat.S_IMODE(os.stat(tmp_path / "out" / name).st_mode) for name in files}
    assert modes["model.safetensors"] == 0o644
    assert set(modes.values()) == {0o644}, modes
    config = (tmp_path / "out" / "tokenizer_config.json").read_text()
    assert '"clean_up_tokenization_spaces": false' in config

"""The VL3 model exported as remote code loads with trust_remote_code where the package cannot be imported."""

import json
import subprocess
import sys
import textwrap

import torch
from golden_vl3 import load_vl3_case
from no_package import BLOCK_PACKAGE
from vl3_model_inputs import stored_model_inputs

from transformers_videorefer.hub.remote_code import remote_code_sources

MODELING_MODULE = "transformers_videorefer.models.videorefer_vl3.modeling_videorefer_vl3"

# Run in a fresh interpreter where any import of transformers_videorefer fails.
RELOAD_SCRIPT = BLOCK_PACKAGE + textwrap.dedent(
    """
    import sys

    import torch
    from transformers import AutoModelForImageTextToText

    folder, inputs_path, out_path = sys.argv[1:4]
    model = AutoModelForImageTextToText.from_pretrained(folder, trust_remote_code=True).eval()
    assert "transformers_videorefer" not in type(model).__module__, type(model).__module__
    inputs = torch.load(inputs_path)
    with torch.no_grad():
        logits = model(**inputs).logits
    torch.save({"logits": logits, "module": type(model).__module__}, out_path)
    """
)


def test_the_modeling_bundle_stays_inside_the_folder():
    sources = remote_code_sources(MODELING_MODULE)
    assert {
        "modeling_videorefer_vl3.py",
        "modeling_videorefer_vl3_region.py",
        "modeling_videorefer_vl3_compression.py",
        "configuration_videorefer_vl3.py",
        "conversion_videorefer_vl3.py",
    } <= set(sources)


def test_remote_code_export_reloads_without_the_package_with_identical_logits(vl3_golden_dir, tmp_path):
    from transformers import AutoModelForImageTextToText

    import transformers_videorefer  # noqa: F401

    model = AutoModelForImageTextToText.from_pretrained(vl3_golden_dir / "checkpoint").eval()
    model.save_pretrained(tmp_path / "export")
    auto_map = json.loads((tmp_path / "export" / "config.json").read_text())["auto_map"]
    assert auto_map["AutoModelForImageTextToText"] == "modeling_videorefer_vl3.VideoReferVL3ForConditionalGeneration"
    inputs = stored_model_inputs(load_vl3_case(vl3_golden_dir, "video_mp4_two_objects")[1])
    torch.save(inputs, tmp_path / "inputs.pt")
    with torch.no_grad():
        reference = model(**inputs).logits
    script = tmp_path / "reload.py"
    script.write_text(RELOAD_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "export"), str(tmp_path / "inputs.pt"), str(tmp_path / "out.pt")],
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    reloaded = torch.load(tmp_path / "out.pt")
    assert reloaded["module"].startswith("transformers_modules")
    assert torch.equal(reloaded["logits"], reference)

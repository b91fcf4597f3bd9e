"""The remote-code export: what a saved folder holds so that it loads without the package."""

import re
import sys
import textwrap
import warnings

import pytest

from transformers_videorefer.hub.remote_code import remote_code_sources, write_remote_code

PROCESSOR_MODULE = "transformers_videorefer.models.videorefer.processing_videorefer"
MODELING_MODULE = "transformers_videorefer.models.videorefer.modeling_videorefer"


def _imports_leaving_the_folder(text: str) -> list[str]:
    return re.findall(r"^\s*(?:from\s+\.\.+\w*|(?:from|import)\s+transformers_videorefer\b)", text, flags=re.MULTILINE)


def test_processor_bundle_holds_the_shared_inputs_as_siblings():
    sources = remote_code_sources(PROCESSOR_MODULE)
    assert {"processing_videorefer.py", "masks.py", "media.py", "configuration_videorefer.py"} <= set(sources)
    bundle = "\n".join(sources.values())
    assert re.search(r"^from \.masks import .*decode_segmentation", bundle, flags=re.MULTILINE)
    assert re.search(r"^from \.media import .*open_clip", bundle, flags=re.MULTILINE)
    for name, text in sources.items():
        assert _imports_leaving_the_folder(text) == [], name


def test_every_one_dot_import_of_the_bundle_is_in_the_bundle():
    for module in (PROCESSOR_MODULE, MODELING_MODULE):
        sources = remote_code_sources(module)
        for name, text in sources.items():
            for sibling in re.findall(r"^\s*from\s+\.(\w+)\s+import\b", text, flags=re.MULTILINE):
                assert f"{sibling}.py" in sources, (module, name, sibling)


def test_modeling_bundle_needs_no_shared_inputs():
    sources = remote_code_sources(MODELING_MODULE)
    assert "modeling_videorefer.py" in sources and "masks.py" not in sources and "media.py" not in sources


def test_write_remote_code_writes_the_bundle(tmp_path):
    written = write_remote_code(tmp_path / "out", PROCESSOR_MODULE)
    names = sorted(path.name for path in written)
    assert names == sorted(remote_code_sources(PROCESSOR_MODULE))
    assert (tmp_path / "out" / "masks.py").read_text() == remote_code_sources(PROCESSOR_MODULE)["masks.py"]


@pytest.mark.parametrize(
    "line", ["from ..other_family.thing import helper", "from transformers_videorefer.inputs.media import open_clip"]
)
def test_an_import_the_export_cannot_carry_is_refused(tmp_path, monkeypatch, line):
    family = tmp_path / "fakepkg" / "models" / "fam"
    family.mkdir(parents=True)
    for folder in (tmp_path / "fakepkg", tmp_path / "fakepkg" / "models", family):
        (folder / "__init__.py").write_text("")
    (family / "helper_fam.py").write_text("VALUE = 1\n")
    (family / "processing_fam.py").write_text(textwrap.dedent(f"""
        from .helper_fam import VALUE
        if False:
            {line}
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="remote code may import only its own folder"):
        remote_code_sources("fakepkg.models.fam.processing_fam")
    for name in [m for m in sys.modules if m.startswith("fakepkg")]:
        del sys.modules[name]


def test_processor_save_writes_code_and_auto_map(processor, tmp_path):
    import json

    processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "processor_config.json").read_text())
    assert saved["auto_map"] == {"AutoProcessor": "processing_videorefer.VideoReferProcessor"}
    for name in remote_code_sources(PROCESSOR_MODULE):
        assert (tmp_path / name).is_file(), name
    assert any("from .masks import" in (tmp_path / name).read_text() for name in remote_code_sources(PROCESSOR_MODULE))

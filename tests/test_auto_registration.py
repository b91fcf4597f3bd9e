"""`import transformers_videorefer` registers with transformers' Auto classes without importing them itself."""

import subprocess
import sys

import pytest


def _run(script: str) -> str:
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_importing_the_package_and_the_cli_imports_neither_torch_nor_transformers():
    out = _run(
        "import sys\n"
        "import transformers_videorefer, transformers_videorefer.cli\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    "order",
    [
        "import transformers_videorefer\nfrom transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor\n",
        "from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor\nimport transformers_videorefer\n",
        "import transformers_videorefer\nfrom transformers_videorefer.models.videorefer.processing_videorefer import VideoReferProcessor\n"
        "from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor\n",
    ],
    ids=["package-first", "transformers-first", "submodule-import"],
)
def test_auto_classes_know_both_model_types_whatever_the_import_order(order):
    out = _run(
        order
        + "from transformers import AttentionInterface\n"
        "from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING\n"
        "from transformers.models.auto.processing_auto import PROCESSOR_MAPPING\n"
        "print(type(AutoConfig.for_model('videorefer')).__name__)\n"
        "print(sorted(c.__name__ for c in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING._extra_content))\n"
        "print(sorted(p.__name__ for p in PROCESSOR_MAPPING._extra_content.values()))\n"
        "print('sdpa_grouped' in AttentionInterface._global_mapping)\n"
    )
    lines = out.strip().splitlines()
    assert lines[0] == "VideoReferConfig"
    assert "VideoReferConfig" in lines[1] and "VideoReferLegacyConfig" in lines[1]
    assert "VideoReferProcessor" in lines[2]
    assert lines[3] == "True"


def test_public_names_resolve_lazily():
    out = _run(
        "import sys, transformers_videorefer as tv\n"
        "print('torch' in sys.modules)\n"
        "print(tv.VideoReferForConditionalGeneration.__module__)\n"
        "print(sorted(set(tv.__all__) - set(dir(tv))))\n"
    )
    assert out.split() == ["False", "transformers_videorefer.models.videorefer.modeling_videorefer", "[]"]


def test_unknown_attribute_raises_attribute_error():
    import transformers_videorefer

    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        transformers_videorefer.NoSuchThing


@pytest.mark.parametrize(
    "first_import",
    ["transformers_videorefer.apps.demo", "transformers_videorefer.apps.sam2_tracking", "transformers_videorefer.training"],
)
def test_modules_that_import_transformers_models_first_do_not_cycle(first_import):
    """transformers' own modules import its Auto module while they load: registration waits until they are done."""
    out = _run(
        f"import {first_import}\n"
        "from transformers import AutoConfig\n"
        "print(type(AutoConfig.for_model('videorefer')).__name__, type(AutoConfig.for_model('videorefer_qwen2')).__name__)\n"
    )
    assert out.split() == ["VideoReferConfig", "VideoReferLegacyConfig"]

"""The 0.1 flat import paths keep working, with a FutureWarning that names the new path."""

import importlib
import subprocess
import sys

import pytest

from transformers_videorefer._moved_modules import MOVED_MODULES


@pytest.mark.parametrize("old, new", sorted(MOVED_MODULES.items()))
def test_old_path_resolves_to_the_new_module(old, new):
    module = importlib.import_module(f"transformers_videorefer.{new}")
    sys.modules.pop(f"transformers_videorefer.{old}", None)
    with pytest.warns(FutureWarning, match=f"has moved to `transformers_videorefer.{new}`"):
        assert importlib.import_module(f"transformers_videorefer.{old}") is module


def test_old_from_import_of_a_class_works():
    sys.modules.pop("transformers_videorefer.processing_videorefer", None)
    with pytest.warns(FutureWarning, match="models.videorefer.processing_videorefer"):
        from transformers_videorefer.processing_videorefer import VideoReferProcessor
    from transformers_videorefer import VideoReferProcessor as current

    assert VideoReferProcessor is current


def test_old_path_in_a_fresh_interpreter():
    """`import transformers_videorefer.modeling_videorefer` as the first import of a process (the finder is
    installed by the package's own import)."""
    script = (
        "import warnings\n"
        "warnings.simplefilter('error', FutureWarning)\n"
        "try:\n"
        "    import transformers_videorefer.modeling_videorefer\n"
        "except FutureWarning as warning:\n"
        "    print(warning)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "has moved to `transformers_videorefer.models.videorefer.modeling_videorefer`" in result.stdout

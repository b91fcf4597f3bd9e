"""`videorefer --help` and every sub-command's `--help` answer without importing torch or transformers."""

import subprocess
import sys

import pytest

SUBCOMMANDS = [
    [],
    ["ask"],
    ["convert"],
    ["data"],
    ["data", "check"],
    ["data", "to-trl"],
    ["data", "from-trl"],
    ["demo"],
    ["eval"],
    ["eval", "bench-q"],
    ["eval", "bench-q-score"],
    ["eval", "bench-d"],
    ["eval", "bench-d-score"],
    ["overlay"],
]


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=lambda words: " ".join(words) or "videorefer")
def test_help_imports_neither_torch_nor_transformers(words):
    script = (
        "import sys, contextlib, io\n"
        "from transformers_videorefer.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    try:\n"
        f"        main({words + ['--help']!r})\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, exit.code\n"
        "assert 'usage: videorefer' in out.getvalue(), out.getvalue()\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"

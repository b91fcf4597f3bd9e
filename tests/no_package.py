"""Running code in a fresh Python process where this package cannot be imported (as on a machine without it)."""

# First lines of such a process: any `import transformers_videorefer[...]` then raises ImportError.
BLOCK_PACKAGE = 'import sys\nsys.modules["transformers_videorefer"] = None  # the package must not be importable\n'

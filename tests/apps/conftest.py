"""Fixtures of these tests: the golden VideoRefer-VideoLLaMA3 tiny checkpoint, copied to a temporary folder."""

from evaluation.vl3_checkpoint import vl3_checkpoint  # noqa: F401 (a fixture)

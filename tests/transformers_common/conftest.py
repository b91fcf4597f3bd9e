"""The vendored transformers test mixins in this folder are libraries, not tests: never collect them.

Their file names start with `test_` (as in transformers' own `tests/` folder), so pytest would otherwise collect the
mixin classes and the vendored files' own test classes. The VideoRefer suites that use them live in
`tests/models/videorefer/test_*_videorefer_common.py`.
"""

collect_ignore_glob = ["*.py", "*/*.py"]

"""Compiled decoding steps cached across runs: keys that go stale with what changes, entries saved atomically."""

import pytest
import torch
from helpers import TINY_TEXT_CONFIG, tiny_model

from transformers_videorefer.generation import compile_cache
from transformers_videorefer.generation.compile_cache import CompileCache, compile_cache_key, default_cache_dir

OPTIONS = {"triton.cudagraphs": True, "coordinate_descent_tuning": False}


@pytest.fixture(scope="module")
def model():
    return tiny_model(seed=0)


def test_the_key_changes_with_shapes_versions_and_options(model, monkeypatch):
    key = compile_cache_key(model, 64, OPTIONS)
    assert key == compile_cache_key(model, 64, dict(OPTIONS))
    assert key != compile_cache_key(model, 128, OPTIONS)
    assert key != compile_cache_key(model, 64, {**OPTIONS, "coordinate_descent_tuning": True})
    other = tiny_model(seed=0, text_config={**TINY_TEXT_CONFIG, "hidden_size": 2 * TINY_TEXT_CONFIG["hidden_size"]})
    assert key != compile_cache_key(other, 64, OPTIONS)
    monkeypatch.setattr(torch, "__version__", "0.0.0-other")
    assert key != compile_cache_key(model, 64, OPTIONS)


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEOREFER_COMPILE_CACHE", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("VIDEOREFER_COMPILE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "transformers_videorefer" / "compile"


def test_save_then_load_round_trips_the_artifacts(monkeypatch, tmp_path):
    loaded = []
    monkeypatch.setattr(torch.compiler, "save_cache_artifacts", lambda: (b"compiled kernels", object()))
    monkeypatch.setattr(torch.compiler, "load_cache_artifacts", lambda data: loaded.append(data) or object())
    cache = CompileCache("abc", tmp_path / "cache")
    assert not cache.has() and not cache.load(4)
    path = cache.save(4)
    assert path == tmp_path / "cache" / "abc-bs4.bin" and path.read_bytes() == b"compiled kernels"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["abc-bs4.bin"]  # no temporary file left
    assert cache.has() and cache.has(4) and not cache.has(8)
    assert cache.load(4) and loaded == [b"compiled kernels"]


def test_an_unreadable_entry_is_a_miss_and_nothing_to_save_writes_nothing(monkeypatch, tmp_path, caplog):
    def broken(data):
        raise RuntimeError("bad magic")

    monkeypatch.setattr(torch.compiler, "load_cache_artifacts", broken)
    monkeypatch.setattr(torch.compiler, "save_cache_artifacts", lambda: None)
    cache = CompileCache("abc", tmp_path)
    cache.path(2).write_bytes(b"garbage")
    with caplog.at_level("WARNING", logger=compile_cache.__name__):
        assert not cache.load(2)
    assert "Ignoring the unreadable compile cache entry" in caplog.text
    assert cache.save(8) is None and not cache.has(8)

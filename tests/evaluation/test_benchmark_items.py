"""Benchmark annotation files without a model: item checks reported together, ids, and objects per mask mode."""

import json

import pytest

from transformers_videorefer.evaluation.benchmark_items import (
    MAX_LISTED_PROBLEMS,
    collect_benchmark_items,
    mode_problems,
    objects_for_mode,
    raise_problems,
    read_benchmark_items,
)

KEYS = ("video", "frame_idx", "annotation")
MASK = {"size": [2, 2], "counts": "04"}


def item(**changes):
    return {"video": "clip.mp4", "frame_idx": "3", "annotation": [{"0": MASK, "3": MASK}], **changes}


def write(path, items):
    path.write_text(json.dumps(items))
    return path


def test_ids_default_to_positions_and_bad_items_are_left_out(tmp_path):
    path = write(tmp_path / "b.json", [item(), item(id="x"), item(annotation=[]), {"video": "v"}, item(id="x")])
    items, problems = collect_benchmark_items(path, KEYS, "Bench")
    assert [entry["id"] for entry in items] == [0, "x", "x"]
    assert len(problems) == 3
    assert any("'annotation' must be a non-empty list" in problem for problem in problems)
    assert any("missing key(s) ['frame_idx', 'annotation']" in problem for problem in problems)
    assert any("duplicate id (also at position 1)" in problem for problem in problems)


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No such Bench file"):
        collect_benchmark_items(tmp_path / "none.json", KEYS, "Bench")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="is not valid JSON"):
        collect_benchmark_items(tmp_path / "bad.json", KEYS, "Bench")
    with pytest.raises(ValueError, match="must hold a JSON list of items, got a dict"):
        collect_benchmark_items(write(tmp_path / "d.json", {}), KEYS, "Bench")
    with pytest.raises(ValueError, match="1 problem"):
        read_benchmark_items(write(tmp_path / "k.json", [item(annotation=[{"first": MASK}])]), KEYS, "Bench")


def test_objects_for_mode():
    assert objects_for_mode(item(), "multi") == [{"0": MASK, "3": MASK}]
    assert objects_for_mode(item(frame_idx=3), "single") == [{"3": MASK}]  # frame_idx compared as an integer
    with pytest.raises(ValueError, match="needs the mask at frame_idx '5'"):
        objects_for_mode(item(frame_idx="5"), "single")
    with pytest.raises(ValueError, match="mode must be one of"):
        objects_for_mode(item(), "all")
    assert mode_problems([item(), item(frame_idx="5", id=7)], "single") == [
        (
            "item 7, object 0: single-frame mode needs the mask at frame_idx '5', but the object is annotated on "
            "frames ['0', '3']."
        )
    ]


def test_raise_problems_lists_the_first_ones():
    raise_problems([], "nothing")
    with pytest.raises(ValueError) as caught:
        raise_problems([f"p{n}" for n in range(MAX_LISTED_PROBLEMS + 5)], "Bench")
    assert f"{MAX_LISTED_PROBLEMS + 5} problem(s)" in str(caught.value) and "... and 5 more" in str(caught.value)

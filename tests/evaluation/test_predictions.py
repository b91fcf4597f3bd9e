"""Prediction JSONL files without a model: truncated last lines, malformed lines, shards and merging."""

import json

import pytest

from transformers_videorefer.evaluation.predictions import (
    id_key,
    merge_prediction_files,
    read_prediction_lines,
    read_predictions,
    shard_files,
    shard_path,
)


def write_lines(path, records, tail=b""):
    path.write_bytes(b"".join(json.dumps(record).encode() + b"\n" for record in records) + tail)


def test_ids_1_and_string_1_are_different_keys():
    assert id_key(1) != id_key("1") and id_key(1) == id_key(1)


def test_missing_file_has_no_lines(tmp_path):
    assert read_prediction_lines(tmp_path / "none.jsonl") == ([], 0, False)
    assert read_predictions(tmp_path / "none.jsonl") == []


def test_truncated_last_line_is_dropped(tmp_path):
    path = tmp_path / "pred.jsonl"
    write_lines(path, [{"id": 0}, {"id": 1}], tail=b'{"id": 2, "pr')
    lines, length, truncated = read_prediction_lines(path)
    assert [record for _, record in lines] == [{"id": 0}, {"id": 1}] and truncated
    assert length == len(path.read_bytes()) - len(b'{"id": 2, "pr')


def test_last_line_without_newline_counts_as_complete(tmp_path):
    path = tmp_path / "pred.jsonl"
    path.write_bytes(b'{"id": 0}\n{"id": 1}')
    assert read_predictions(path) == [{"id": 0}, {"id": 1}]


def test_malformed_line_before_the_last_is_an_error(tmp_path):
    path = tmp_path / "pred.jsonl"
    path.write_bytes(b'{"id": 0}\nnot json\n{"id": 1}\n')
    with pytest.raises(ValueError, match="line 2: not valid JSON"):
        read_predictions(path)
    path.write_bytes(b'{"id": 0}\n[1, 2]\n')
    with pytest.raises(ValueError, match="line 2: expected a JSON object, got list"):
        read_predictions(path)


def test_merge_appends_shards_in_order_once_and_deletes_them(tmp_path):
    output = tmp_path / "pred.jsonl"
    write_lines(output, [{"id": 3, "pred": "kept"}], tail=b'{"id": 4')  # an interrupted write
    kept = output.read_bytes()[: output.read_bytes().index(b"\n") + 1]
    write_lines(tmp_path / "pred.jsonl.shard1-of-2", [{"id": 1}, {"id": 3, "pred": "duplicate"}])
    write_lines(tmp_path / "pred.jsonl.shard0-of-2", [{"id": 2}, {"id": 0}])
    assert shard_files(output) == [shard_path(output, 0, 2), shard_path(output, 1, 2)]
    assert merge_prediction_files(output, order=[0, 1, 2, 3]) == 3
    assert output.read_bytes().startswith(kept)
    assert [record["id"] for record in read_predictions(output)] == [3, 0, 1, 2]
    assert read_predictions(output)[0]["pred"] == "kept"
    assert shard_files(output) == []


def test_merge_refuses_lines_without_id(tmp_path):
    output = tmp_path / "pred.jsonl"
    write_lines(tmp_path / "pred.jsonl.shard0-of-1", [{"pred": "x"}])
    with pytest.raises(ValueError, match="has no 'id'"):
        merge_prediction_files(output)

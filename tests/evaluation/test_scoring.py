"""The Bench-Q scorer: answer parsing exactly as the original evaluation, per-type and overall accuracy, CLI."""

import argparse
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transformers_videorefer.cli.eval import add_eval_parser
from transformers_videorefer.evaluation.scoring import (
    is_correct,
    parse_answer_letter,
    parse_prediction_letter,
    score_bench_q,
    score_bench_q_file,
)


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="videorefer")
    add_eval_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


# Hand-written predictions: (type, pred, Answer, right?) — scored as the original scores them.
PREDICTIONS = [
    ("Basic Questions", "(B)", "(B) A cat", True),
    ("Basic Questions", "B) text", "(B) A dog", True),
    ("Basic Questions", "B.", "(C) A bird", False),
    ("Basic Questions", "b", "(B) A fish", True),  # fallback: first character, compared case-insensitively
    ("Future Predictions", "text (C).", "(C) It stops", True),
    ("Future Predictions", "", "(A) It falls", False),  # empty: wrong, not a crash
    ("Future Predictions", "(b)", "(B) It turns", False),  # only capitals are read; the fallback reads "("
    ("Future Predictions", "The answer is (A), not B)", "(A) It waits", True),  # "(X)" is looked for first
]


def records() -> list[dict]:
    return [
        {"id": i, "video": "v", "type": kind, "pred": pred, "Answer": answer}
        for i, (kind, pred, answer, _) in enumerate(PREDICTIONS)
    ]


@pytest.mark.parametrize(
    "prediction, letter",
    [("(B)", "B"), ("B) text", "B"), ("B.", "B"), ("b", "b"), ("text (C).", "C"), ("", ""), ("(b)", "("),
     ("...", ""), (None, ""), ("C", "C"), ("x (D) and (A)", "D"), ("a) b) C)", "C")],
)
def test_prediction_letter_as_the_original_reads_it(prediction, letter):
    assert parse_prediction_letter(prediction) == letter


def test_answer_letter():
    assert parse_answer_letter("(B) A dog") == "B"
    assert parse_answer_letter("B") == "B"  # no "(X)": the whole answer


def test_each_hand_written_prediction():
    for kind, pred, answer, right in PREDICTIONS:
        assert is_correct(pred, answer) is right, (pred, answer)


def test_per_type_and_overall_accuracy_exact():
    score = score_bench_q(records())
    assert score.per_type == {"Basic Questions": 3 / 4, "Future Predictions": 2 / 4}
    assert score.overall == 5 / 8
    assert score.count == 8
    assert list(score.total) == ["Basic Questions", "Future Predictions"]  # order of first appearance


def test_cli_table_and_json(tmp_path, capsys):
    predictions = tmp_path / "pred.jsonl"
    predictions.write_text("".join(json.dumps(r) + "\n" for r in records()), encoding="utf-8")
    out = tmp_path / "scores.json"
    plot = tmp_path / "scores.png"
    assert run_cli(["eval", "bench-q-score", str(predictions), "--json", str(out), "--plot", str(plot)]) == 0
    assert json.loads(out.read_text()) == {
        "overall": 0.625,
        "per_type": {"Basic Questions": 0.75, "Future Predictions": 0.5},
        "count": 8,
    }
    table = capsys.readouterr().out
    assert "Basic Questions" in table and "75.0" in table and "62.5" in table
    assert "75.4" in table  # the published VideoRefer-7B number beside ours
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_truncated_last_line_is_ignored(tmp_path):
    predictions = tmp_path / "pred.jsonl"
    lines = "".join(json.dumps(r) + "\n" for r in records())
    predictions.write_text(lines + '{"id": 99, "type": "Basic', encoding="utf-8")
    assert score_bench_q_file(predictions).count == 8


def test_bad_files_are_reported(tmp_path, capsys):
    with pytest.raises(ValueError, match="missing key"):
        score_bench_q([{"pred": "A", "type": "Basic Questions"}])
    with pytest.raises(ValueError, match="appears twice"):
        score_bench_q([{"id": 1, "pred": "A", "Answer": "(A)", "type": "t"}] * 2)
    with pytest.raises(FileNotFoundError):
        score_bench_q_file(tmp_path / "nothing.jsonl")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('not json\n{"pred": "A", "Answer": "(A)", "type": "t"}\n', encoding="utf-8")
    assert run_cli(["eval", "bench-q-score", str(broken)]) == 2
    assert "line 1" in capsys.readouterr().err


def test_original_file_without_ids_scores(tmp_path):
    predictions = tmp_path / "original.jsonl"  # the original's lines: video, Answer, pred, type (no id)
    rows = [{"video": "v", "Answer": "(A) x", "pred": "A", "type": "t"}] * 2
    predictions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert score_bench_q_file(predictions).overall == 1.0


@given(st.text())
def test_any_prediction_scores_without_crashing(text):
    letter = parse_prediction_letter(text)
    assert len(letter) <= 1
    score = score_bench_q([{"pred": text, "Answer": "(A) x", "type": "t"}])
    assert score.overall in (0.0, 1.0)

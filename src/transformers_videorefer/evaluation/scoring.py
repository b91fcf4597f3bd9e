# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Scoring VideoRefer-Bench-Q predictions exactly as the original evaluation does, so numbers stay comparable.

The chosen letter is read from the prediction by, in order: the first `(X)`, the first `X)`, with `X` a CAPITAL
letter; otherwise the first character once every `.` is removed. The reference letter is the `X` of the first
`(X)` of `"Answer"` (the whole answer if it has none). The two are compared case-insensitively. So `"b"` is read as
`b` (right when the answer is B), while `"(b)"` is read as `(` (wrong), as in the original. An empty prediction (or
one made only of dots) is wrong; the original would crash on it.

Accuracy per question type and overall = right answers / all questions.
"""

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .predictions import read_predictions

_PARENTHESISED_LETTER = re.compile(r"\(([A-Z])\)")
_LETTER_PAREN = re.compile(r"([A-Z])\)")


def parse_prediction_letter(prediction: str | None) -> str:
    """The option a prediction picks, as the original reads it ("" when there is nothing to read)."""
    text = prediction or ""
    match = _PARENTHESISED_LETTER.search(text) or _LETTER_PAREN.search(text)
    if match:
        return match.group(1)
    text = text.replace(".", "")
    return text[0] if text else ""


def parse_answer_letter(answer: str) -> str:
    """The reference letter: the `X` of the first `(X)` in the answer, else the answer itself."""
    match = _PARENTHESISED_LETTER.search(answer)
    return match.group(1) if match else answer


def is_correct(prediction: str | None, answer: str) -> bool:
    """Whether a prediction picks the answer's option (case-insensitive; an empty prediction is wrong)."""
    letter = parse_prediction_letter(prediction)
    return bool(letter) and letter.lower() == parse_answer_letter(answer).lower()


@dataclass
class BenchQScore:
    """Counts and accuracies of a Bench-Q run.

    Attributes:
        total: questions per type, types in order of first appearance.
        right: right answers per type.
    """

    total: dict[str, int] = field(default_factory=dict)
    right: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """Number of questions scored."""
        return sum(self.total.values())

    @property
    def overall(self) -> float:
        """Right answers / all questions (0.0 when there are none)."""
        return sum(self.right.values()) / self.count if self.count else 0.0

    @property
    def per_type(self) -> dict[str, float]:
        """Accuracy per question type."""
        return {name: self.right[name] / total for name, total in self.total.items()}

    def to_json(self) -> dict[str, Any]:
        """`{"overall": float, "per_type": {type: float}, "count": int}`."""
        return {"overall": self.overall, "per_type": self.per_type, "count": self.count}


def score_bench_q(records: Iterable[Mapping[str, Any]], source: str = "predictions") -> BenchQScore:
    """Score prediction records (dicts with `"Answer"`, `"type"` and `"pred"`).

    Raises:
        ValueError: a record without `"Answer"` or `"type"`, or an id that appears twice.
    """
    score = BenchQScore()
    seen_ids: set[str] = set()
    for number, record in enumerate(records, start=1):
        missing = [key for key in ("Answer", "type") if key not in record]
        if missing:
            raise ValueError(f"{source}, record {number}: missing key(s) {missing} (expected 'Answer', 'type', 'pred').")
        if "id" in record:
            key = repr(record["id"])
            if key in seen_ids:
                raise ValueError(f"{source}: the id {record['id']!r} appears twice; each question must be scored once.")
            seen_ids.add(key)
        prediction = record.get("pred")
        if prediction is not None and not isinstance(prediction, str):
            raise TypeError(f"{source}, record {number}: 'pred' must be a string, got {type(prediction).__name__}.")
        name = str(record["type"])
        score.total[name] = score.total.get(name, 0) + 1
        score.right[name] = score.right.get(name, 0) + int(is_correct(prediction, str(record["Answer"])))
    return score


def score_bench_q_file(path: str | os.PathLike) -> BenchQScore:
    """Score a prediction JSONL file (a truncated last line is ignored).

    Raises:
        FileNotFoundError: no such file. ValueError: see `score_bench_q`, or a malformed line.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No such prediction file: {path!r}")
    return score_bench_q(read_predictions(path), source=path)


__all__ = [
    "BenchQScore",
    "is_correct",
    "parse_answer_letter",
    "parse_prediction_letter",
    "score_bench_q",
    "score_bench_q_file",
]

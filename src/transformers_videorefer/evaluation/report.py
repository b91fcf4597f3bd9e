# Copyright 2026 The transformers-videorefer authors. Licensed under the Apache License, Version 2.0.
"""Reports of the VideoRefer-Bench evaluations: text tables, JSON files and a PNG plot next to published numbers."""

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..models.videorefer.published_results_videorefer import (
    PUBLISHED_VIDEOREFER_7B_BENCH_D,
    PUBLISHED_VIDEOREFER_7B_BENCH_Q,
)


def _normalized(name: str) -> str:
    text = " ".join(name.lower().replace("_", " ").split())
    return text[:-1] if text.endswith("s") else text  # "future prediction(s)"


def published_value(published: Mapping[str, float], category: str) -> float | None:
    """The published number of a category, matching names loosely (case, plural); None when not published."""
    wanted = _normalized(category)
    for name, value in published.items():
        if _normalized(name) == wanted:
            return value
    return None


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row))

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(cells[0]), rule] + [line(row) for row in cells[1:]])


def bench_q_table(score: Any, num_frames: int | None = None) -> str:
    """Per-type and overall accuracy (percent) of a `BenchQScore`, beside the published VideoRefer-7B numbers."""
    published = PUBLISHED_VIDEOREFER_7B_BENCH_Q
    rows = [
        [name, score.total[name], score.right[name], f"{100 * accuracy:.1f}", published_value(published, name)]
        for name, accuracy in score.per_type.items()
    ]
    rows.append(["Overall", score.count, sum(score.right.values()), f"{100 * score.overall:.1f}", published["Average"]])
    title = "VideoRefer-Bench-Q" + (f" ({num_frames} frames)" if num_frames else "")
    table = format_table(["type", "questions", "right", "accuracy %", "VideoRefer-7B (paper)"], rows)
    return f"{title}\n{table}"


def bench_d_table(score: Any, mode: str | None = None, num_frames: int | None = None) -> str:
    """The 4 dimension averages and the overall score of a `BenchDScore`, beside the published VideoRefer-7B ones.

    Nothing scored (e.g. the judge unreachable) shows `not scored`, never 0.00; a partial run says INCOMPLETE and how
    many items are missing, since its averages are not comparable with the paper's.
    """
    published = PUBLISHED_VIDEOREFER_7B_BENCH_D.get(mode or "", {})
    if score.count:
        rows = [[name, f"{value:.2f}", published.get(name)] for name, value in score.per_dimension.items()]
        rows.append(["Overall", f"{score.overall:.2f}", published.get("Average")])
    else:
        rows = [[name, "not scored", published.get(name)] for name in published if name != "Average"]
        rows.append(["Overall", "not scored", published.get("Average")])
    details = [f"{score.count} scored", f"{len(score.errors)} not scored"]
    if mode:
        details.insert(0, f"{mode}-frame masks")
    if num_frames:
        details.insert(1, f"{num_frames} frames")
    title = f"VideoRefer-Bench-D ({', '.join(details)})"
    table = f"{title}\n{format_table(['dimension', 'score (0-5)', 'VideoRefer-7B (paper)'], rows)}"
    if score.errors:
        total = score.count + len(score.errors)
        table += (
            f"\nINCOMPLETE: {len(score.errors)} of {total} item(s) not scored (no usable judge reply); "
            + ("these averages cover only the scored items. " if score.count else "")
            + "Rerun when the judge is reachable: usable replies are cached, only the missing items are asked again."
        )
    return table


def write_json(path: str | os.PathLike, data: Mapping[str, Any]) -> None:
    """Write `data` as indented JSON (folders created as needed)."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.write("\n")


def plot_against_published(
    path: str | os.PathLike,
    ours: Mapping[str, float],
    published: Mapping[str, float],
    title: str,
    ylabel: str,
    ymax: float,
    label: str = "this run",
) -> None:
    """A grouped bar chart (PNG, matplotlib's Agg backend) of our numbers per category beside the published ones.

    Categories are ours in order; a category the paper does not publish has only our bar.

    Raises:
        ImportError: matplotlib is not installed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("The plot needs matplotlib: pip install matplotlib") from error
    categories = list(ours)
    reference = [published_value(published, name) for name in categories]
    figure = Figure(figsize=(max(6.0, 1.5 * len(categories) + 2), 5.0), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = range(len(categories))
    width = 0.38
    bars = axes.bar([p - width / 2 for p in positions], [ours[c] for c in categories], width, label=label)
    axes.bar_label(bars, fmt="%.2f" if ymax <= 5 else "%.1f", fontsize=8)
    shown = [(p, v) for p, v in zip(positions, reference) if v is not None]
    if shown:
        bars = axes.bar(
            [p + width / 2 for p, _ in shown], [v for _, v in shown], width, label="VideoRefer-7B (paper)", color="#bbbbbb"
        )
        axes.bar_label(bars, fmt="%.2f" if ymax <= 5 else "%.1f", fontsize=8)
    axes.set_xticks(list(positions))
    axes.set_xticklabels([c.replace(" ", "\n", 1) for c in categories], fontsize=8)
    axes.set_ylim(0, ymax * 1.1)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
    figure.savefig(os.fspath(path), format="png")


def _settings_text(mode: str | None, num_frames: int | None) -> str:
    parts = [f"{mode}-frame masks" if mode else "", f"{num_frames} frames" if num_frames else ""]
    return ", ".join(part for part in parts if part)


def plot_bench_q(path: str | os.PathLike, score: Any, num_frames: int | None = None, mode: str | None = None) -> None:
    """Per-type accuracy of a `BenchQScore` (percent) beside the published VideoRefer-7B numbers."""
    ours = {name: 100 * value for name, value in score.per_type.items()}
    ours["Average"] = 100 * score.overall
    settings = _settings_text(mode, num_frames)
    title = "VideoRefer-Bench-Q" + (f" ({settings})" if settings else "")
    plot_against_published(path, ours, PUBLISHED_VIDEOREFER_7B_BENCH_Q, title, "accuracy (%)", 100.0)


def plot_bench_d(path: str | os.PathLike, score: Any, mode: str | None = None, num_frames: int | None = None) -> None:
    """The 4 dimension averages of a `BenchDScore` beside the published VideoRefer-7B numbers of `mode`."""
    if not score.count:
        raise ValueError("Nothing was scored: no Bench-D plot to draw.")
    ours = dict(score.per_dimension)
    ours["Average"] = score.overall
    published = PUBLISHED_VIDEOREFER_7B_BENCH_D.get(mode or "", {})
    settings = _settings_text(mode, num_frames)
    title = "VideoRefer-Bench-D" + (f" ({settings})" if settings else "")
    plot_against_published(path, ours, published, title, "judge score (0-5)", 5.0)


__all__ = [
    "PUBLISHED_VIDEOREFER_7B_BENCH_D",
    "PUBLISHED_VIDEOREFER_7B_BENCH_Q",
    "bench_d_table",
    "bench_q_table",
    "format_table",
    "plot_against_published",
    "plot_bench_d",
    "plot_bench_q",
    "published_value",
    "write_json",
]

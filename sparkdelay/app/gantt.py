"""Gantt chart of a run, as the study drew it: executor threads (slots) against time.

A timeline is a list of `Bar`s, one per task: `bars_from_sim` makes them from the model's
`TaskRecord`s (which carry the thread slot); the report adds bars from a real run's event log
(`sparkdelay.app.report.timeline`). `draw` puts one timeline on a matplotlib axis, one row per
executor thread that ran anything (grouped by host), so real and simulated runs can sit side
by side with the same time axis; result-stage bars are coloured by partition (the task index)
with the partition number written in bars wide enough to hold it, earlier stages (the map side
of partitionBy) hatched white. `plot_gantt` draws one run into a PNG (`simulate --gantt`).
Uses matplotlib's Agg backend, so it works without a display; `simulate` imports this module
only when asked for a chart, so matplotlib costs `sparkdelay --help` nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sparkdelay.ground.errors import UserError  # noqa: E402
from sparkdelay.sim.model.records import TaskRecord  # noqa: E402

DEFAULT_TITLE = "tasks per executor thread (colour = partition; hatched = earlier stages)"


@dataclass
class Bar:
    host: str
    executor: str
    slot: int
    start: float          # seconds since the job (the action) started
    end: float
    index: int            # partition
    result: bool          # result stage (coloured) or an earlier stage (hatched)


def bars_from_sim(tasks: Sequence[TaskRecord], result_stage_id: int | None = None) -> list[Bar]:
    """Bars of simulated tasks; the result stage is the last one unless given."""
    if result_stage_id is None:
        result_stage_id = max((t.stage_id for t in tasks), default=0)
    return [Bar(t.host, t.executor_id, t.slot, t.launch_time, t.finish_time, t.index, t.stage_id == result_stage_id)
            for t in tasks]


def _num(text: str):
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def draw(ax, bars: Sequence[Bar], title: str, xmax: float | None = None, host_names: dict | None = None) -> None:
    cmap = plt.get_cmap("tab20")
    rows = sorted({(b.host, b.executor, b.slot) for b in bars}, key=lambda r: (r[0], _num(r[1]), r[2]))
    row_of = {r: i for i, r in enumerate(rows)}
    end = xmax or max((b.end for b in bars), default=1.0)
    for b in bars:
        y = row_of[(b.host, b.executor, b.slot)]
        color, hatch = (cmap(b.index % 20), None) if b.result else ("white", "////")
        ax.barh(y, b.end - b.start, left=b.start, height=0.8, color=color, edgecolor="0.25", linewidth=0.4,
                hatch=hatch)
        if b.result and (b.end - b.start) > end / 25:
            ax.text((b.start + b.end) / 2, y, str(b.index), ha="center", va="center", fontsize=6)
    names = host_names or {}
    executors: dict[str, set] = {}
    for h, e, _ in rows:
        executors.setdefault(h, set()).add(e)
    shared = {h for h, es in executors.items() if len(es) > 1}   # rows there also name the executor
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{names.get(h, h)} {f'e{e} ' if h in shared else ''}t{s}" for h, e, s in rows], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlim(0, end * 1.02)
    ax.set_xlabel("time since the job started (s)")
    ax.set_ylabel("executor thread")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", linewidth=0.3)


def plot_gantt(tasks: Sequence[TaskRecord], path: str | Path, title: str = "",
               result_stage_id: int | None = None) -> None:
    bars = bars_from_sim(tasks, result_stage_id)
    threads = len({(b.host, b.executor, b.slot) for b in bars})
    fig, ax = plt.subplots(figsize=(11, max(2.5, 0.28 * threads + 1.2)))
    draw(ax, bars, title or DEFAULT_TITLE)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def check_image_path(path: str, option: str = "--gantt") -> None:
    """Refuse a file name matplotlib cannot write (by its extension) before the simulation runs."""
    suffix = Path(path).suffix.lstrip(".").lower()
    formats = plt.figure().canvas.get_supported_filetypes()
    plt.close("all")
    if suffix not in formats:
        raise UserError(f"{option}: cannot draw {path}: the name must end in one of "
                        f"{', '.join('.' + f for f in sorted(formats))}")

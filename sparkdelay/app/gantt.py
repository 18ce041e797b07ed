"""Gantt chart of a run, as the study drew it: executor threads (slots) against time.

One row per executor slot that ran anything (grouped by host), one bar per task, coloured
by partition (the task index) for the result stage and hatched white for earlier stages, with the
partition number written in bars wide enough to hold it. Uses matplotlib's Agg backend, so it
works without a display.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from sparkdelay.sim.model.records import TaskRecord


def plot_gantt(tasks: Sequence[TaskRecord], path: str | Path, title: str = "",
               result_stage_id: int | None = None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if result_stage_id is None:
        result_stage_id = max((t.stage_id for t in tasks), default=0)
    rows = sorted({(t.host, t.executor_id, t.slot) for t in tasks},
                  key=lambda r: (r[0], _num(r[1]), r[2]))
    row_of = {r: i for i, r in enumerate(rows)}
    end = max((t.finish_time for t in tasks), default=1.0)
    fig, ax = plt.subplots(figsize=(11, max(2.5, 0.28 * len(rows) + 1.2)))
    cmap = plt.get_cmap("tab20")
    for t in tasks:
        y = row_of[(t.host, t.executor_id, t.slot)]
        if t.stage_id == result_stage_id:
            color, hatch = cmap(t.index % 20), None
        else:
            color, hatch = "white", "///"
        ax.barh(y, t.finish_time - t.launch_time, left=t.launch_time, height=0.8, color=color,
                edgecolor="0.2", linewidth=0.5, hatch=hatch)
        if t.stage_id == result_stage_id and (t.finish_time - t.launch_time) > end / 60:
            ax.text(t.launch_time + (t.finish_time - t.launch_time) / 2, y, str(t.index),
                    ha="center", va="center", fontsize=7)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{h} exec {e} thr {s}" for h, e, s in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time since application start (s)")
    ax.set_xlim(0, end * 1.02)
    ax.set_title(title or "tasks per executor thread (colour = partition; hatched = earlier stages)", fontsize=9)
    ax.grid(axis="x", linewidth=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _num(text: str):
    return (0, int(text), "") if text.isdigit() else (1, 0, text)

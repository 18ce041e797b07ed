"""The report's figures (matplotlib, Agg backend, PNG at 100 dpi): each function draws one figure,
saves it and returns a `Figure` with its file name, title and caption (what it shows, and how
many runs stand behind each point), taken from `captions.FIGURES` by figure id with the numbers
filled in. Error bars are 95 % Student-t intervals of the mean over the repetitions
(`sparkdelay.sim.model.metrics.mean_interval`); with one repetition there are none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sparkdelay.sim.model.metrics import mean_interval  # noqa: E402

from sparkdelay.app.report.captions import FIGURES  # noqa: E402
from sparkdelay.app.report.grids import Grid, wait_label  # noqa: E402
from sparkdelay.app.report.timeline import draw  # noqa: E402

DPI = 100
NODE_COLORS = {1: "#1f77b4", 2: "#ff7f0e", 3: "#2ca02c", 4: "#d62728", 5: "#9467bd"}


@dataclass
class Figure:
    file: str
    title: str
    caption: str


def _color(n: int):
    return NODE_COLORS.get(n, plt.get_cmap("tab10")(n % 10))


def _save(fig, out: Path, fig_id: str, numbers: dict | None = None, legend_ax=None,
          legend_title: str = "") -> Figure:
    """Title the figure from `captions.FIGURES[fig_id]` (with `numbers` filled in), save it, describe it."""
    text = FIGURES[fig_id]
    title, caption = text.filled(**(numbers or {}))
    fig.suptitle(title, fontsize=11)
    rect = (0, 0, 1, 1)
    if legend_ax is not None:   # one legend for all panels, in a row under them
        handles, labels = legend_ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, title=legend_title,
                   title_fontsize=8, frameon=False)
        rect = (0, 0.1, 1, 1)
    fig.tight_layout(rect=rect)
    fig.savefig(out / text.file, dpi=DPI)
    plt.close(fig)
    return Figure(text.file, title, caption)


def _reps_text(grid: Grid) -> str:
    r = grid.reps
    return f"{r} simulated run{'s' if r != 1 else ''} (seeds)"


METRICS = {
    "duration": ("job execution time (s)", lambda p: p.duration),
    "fairness": ("Jain's fairness index over nodes (1 = even)", lambda p: p.fairness_ci),
    "max_tasks": ("most tasks on one node (tasks)", lambda p: p.max_tasks_ci),
}


def metric_vs_partitions(grid: Grid, metric: str, out: Path, fig_id: str) -> Figure:
    ylabel, get = METRICS[metric]
    waits = grid.waits
    fig, axes = plt.subplots(1, len(waits), figsize=(4.2 * len(waits), 4.0), sharey=True, squeeze=False)
    for ax, w in zip(axes[0], waits):
        for n in grid.nodes:
            pts = grid.series(n, w)
            vals = [get(p) for p in pts]
            xs = [p.partitions for p in pts]
            ys = [v[0] for v in vals]
            err = [[v[0] - v[1] for v in vals], [v[2] - v[0] for v in vals]]
            ax.errorbar(xs, ys, yerr=err if grid.reps > 1 else None, color=_color(n), lw=1.1, ms=2.5,
                        marker="o", capsize=1.5, elinewidth=0.6, label=f"N = {n}")
        ax.set_title(f"locality wait {wait_label(w)}", fontsize=9)
        ax.set_xlabel("partitions P (partitionBy)")
        ax.grid(linewidth=0.3)
    axes[0][0].set_ylabel(ylabel)
    if metric == "fairness":
        axes[0][0].set_ylim(0, 1.05)
    numbers = {"version": grid.version, "description": grid.description, "reps": _reps_text(grid)}
    return _save(fig, out, fig_id, numbers, legend_ax=axes[0][0], legend_title="worker nodes")


def sim_timelines(panels: Sequence[tuple[str, Sequence]], out: Path, fig_id: str, ncols: int = 2) -> Figure:
    """Several simulated (or real) runs as timelines; panels = [(panel title, bars)]."""
    nrows = math.ceil(len(panels) / ncols)
    heights = [max(len({(b.host, b.executor, b.slot) for b in bars}) for _, bars in panels[i * ncols:(i + 1) * ncols])
               for i in range(nrows)]
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, sum(0.17 * h + 1.3 for h in heights)),
                             squeeze=False, gridspec_kw={"height_ratios": [h + 6 for h in heights]})
    xmax = max(b.end for _, bars in panels for b in bars)
    for ax, (t, bars) in zip(axes.flat, panels):
        draw(ax, bars, t, xmax=xmax)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    return _save(fig, out, fig_id)


def even_gain(hashed: Grid, even: Grid, out: Path, fig_id: str = "even") -> Figure:
    waits = [w for w in hashed.waits if w in (3.0, 0.0)] or hashed.waits
    fig, axes = plt.subplots(1, len(waits), figsize=(5.2 * len(waits), 4.0), sharey=True, squeeze=False)
    for ax, w in zip(axes[0], waits):
        for n in hashed.nodes:
            xs, ys, lo, hi = [], [], [], []
            for p in hashed.series(n, w):
                q = even.get(n, p.partitions, w)
                if q is None:
                    continue
                # same seeds in both sweeps: paired per-seed gains
                gains = [100 * (1 - b / a) for a, b in zip(p.durations, q.durations)]
                m, l, h = mean_interval(gains)
                xs.append(p.partitions), ys.append(m), lo.append(m - l), hi.append(h - m)
            ax.errorbar(xs, ys, yerr=[lo, hi] if hashed.reps > 1 else None, color=_color(n), marker="o", ms=2.5,
                        lw=1.1, capsize=1.5, elinewidth=0.6, label=f"N = {n}")
        ax.axhline(0, color="0.3", lw=0.7)
        ax.set_title(f"locality wait {wait_label(w)}", fontsize=9)
        ax.set_xlabel("partitions P")
        ax.grid(linewidth=0.3)
    axes[0][0].set_ylabel("time saved by even partitions (%)")
    return _save(fig, out, fig_id, {"version": hashed.version, "reps": hashed.reps},
                 legend_ax=axes[0][0], legend_title="worker nodes")

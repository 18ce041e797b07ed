"""The report's figures (matplotlib, Agg backend, PNG at 100 dpi): each function draws one figure,
saves it and returns a `Figure` with its file name, title and caption (what it shows, and how
many runs stand behind each point). Error bars are 95 % Student-t intervals of the mean over the
repetitions (`sim.metrics.mean_interval`); with one repetition there are none.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .grids import Grid, wait_label  # noqa: E402
from .timeline import bars_from_log, bars_from_sim, draw  # noqa: E402

DPI = 100
NODE_COLORS = {1: "#1f77b4", 2: "#ff7f0e", 3: "#2ca02c", 4: "#d62728", 5: "#9467bd"}


@dataclass
class Figure:
    file: str
    title: str
    caption: str


def _color(n: int):
    return NODE_COLORS.get(n, plt.get_cmap("tab10")(n % 10))


def _save(fig, out: Path, name: str, title: str, caption: str, legend_ax=None, legend_title: str = "") -> Figure:
    fig.suptitle(title, fontsize=11)
    rect = (0, 0, 1, 1)
    if legend_ax is not None:   # one legend for all panels, in a row under them
        handles, labels = legend_ax.get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, title=legend_title,
                   title_fontsize=8, frameon=False)
        rect = (0, 0.1, 1, 1)
    fig.tight_layout(rect=rect)
    fig.savefig(out / name, dpi=DPI)
    plt.close(fig)
    return Figure(name, title, caption)


def _reps_text(grid: Grid) -> str:
    r = grid.reps
    return f"{r} simulated run{'s' if r != 1 else ''} (seeds)"


METRICS = {
    "duration": ("job execution time (s)", lambda p: p.duration),
    "fairness": ("Jain's fairness index over nodes (1 = even)", lambda p: p.fairness_ci),
    "max_tasks": ("most tasks on one node (tasks)", lambda p: p.max_tasks_ci),
}


def metric_vs_partitions(grid: Grid, metric: str, out: Path, name: str, title: str, what: str) -> Figure:
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
    caption = (f"{what} against the number of partitions P, one line per number of worker nodes N, one panel per "
               f"locality wait; Spark {grid.version} rules, {grid.description}. Each point is the mean of "
               f"{_reps_text(grid)}; error bars: 95 % interval of the mean.")
    return _save(fig, out, name, title, caption, legend_ax=axes[0][0], legend_title="worker nodes")


def sim_timelines(panels: Sequence[tuple[str, Sequence]], out: Path, name: str, title: str, caption: str,
                  ncols: int = 2) -> Figure:
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
    return _save(fig, out, name, title, caption)


def even_gain(hashed: Grid, even: Grid, out: Path, name: str) -> Figure:
    waits = [w for w in hashed.waits if w in (3.0, 0.0)] or hashed.waits
    fig, axes = plt.subplots(1, len(waits), figsize=(5.2 * len(waits), 4.0), sharey=True, squeeze=False)
    from sim.metrics import mean_interval
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
    caption = (f"Predicted gain of spreading the 40 items evenly over the P partitions (ceil/floor(40/P) each) "
               f"instead of hash partitioning them: 100 x (1 - time_even / time_hash), Spark {hashed.version} rules. "
               f"Each point is the mean over {hashed.reps} paired runs (the same seed for both jobs); error bars: "
               f"95 % interval of the mean gain. Above 0: even partitioning is faster.")
    return _save(fig, out, name, "Future work, quantified: even partitions vs partitionBy's hash", caption,
                 legend_ax=axes[0][0], legend_title="worker nodes")


# ------------------------------------------------------------------------------ model vs real
def _interval(xs):
    from sim.metrics import mean_interval
    return mean_interval(xs)


def predicted_vs_measured(val, out: Path, name: str) -> Figure:
    fig, ax = plt.subplots(figsize=(5.6, 5.0))
    lim = 0.0
    for label, preds, style in (("held-out", val.held_out, dict(mfc=None)), ("in-sample", val.in_sample, dict(mfc="none"))):
        for p in preds.values():
            r = p.first
            meas = [x.duration_s for x in p.runs]
            mm = statistics.mean(meas)
            pm, pl, ph = _interval(p.predicted)
            xerr = [[mm - min(meas)], [max(meas) - mm]] if len(meas) > 1 else None
            marker = "o" if r.wait_s == 0 else ("s" if r.wait_s >= 3 else "^")
            ax.errorbar([mm], [pm], xerr=xerr, yerr=[[pm - pl], [ph - pm]], fmt=marker, color=_color(r.nodes),
                        mfc=style["mfc"] if style["mfc"] else _color(r.nodes), ms=5, elinewidth=0.6, capsize=1.5,
                        alpha=0.9 if label == "held-out" else 0.55)
            lim = max(lim, mm, ph, max(meas))
    ax.plot([0, lim * 1.05], [0, lim * 1.05], color="0.3", lw=0.8, ls="--", label="y = x")
    ax.set_xlim(0, lim * 1.05), ax.set_ylim(0, lim * 1.05)
    ax.set_xlabel("measured job duration (s)")
    ax.set_ylabel("predicted job duration (s)")
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=_color(n), marker="o", ls="", label=f"N = {n}")
               for n in sorted({p.first.nodes for p in val.in_sample.values()})]
    handles += [Line2D([], [], color="0.3", marker="o", ls="", label="filled: held-out"),
                Line2D([], [], color="0.3", marker="o", mfc="none", ls="", label="hollow: in-sample"),
                Line2D([], [], color="0.3", marker="s", ls="", label="square: wait >= 3 s, circle: 0 s")]
    ax.legend(handles=handles, fontsize=7, loc="upper left")
    ax.grid(linewidth=0.3)
    nreal = sorted({len(p.runs) for p in val.in_sample.values()})
    caption = (f"Predicted against measured Spark job duration, one marker per configuration ({len(val.in_sample)} "
               f"configurations, {len(val.runs)} real runs; {'/'.join(map(str, nreal))} real run(s) per configuration, "
               f"horizontal bars: their range). Predictions are the mean of {val.reps} simulated runs (vertical bars: 95 % "
               f"interval). Filled: held-out model (not fitted on that configuration); hollow: in-sample model. "
               f"Dashed: perfect prediction.")
    return _save(fig, out, name, "Model vs measurement: job duration on this machine", caption)


def error_per_config(val, out: Path, name: str) -> Figure:
    keys = list(val.in_sample)
    labels = [val.in_sample[k].first.label for k in keys]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.28 * len(keys) + 2), 3.8))
    xs = range(len(keys))
    w = 0.4
    ins = [100 * val.in_sample[k].rel_error for k in keys]
    ax.bar([x - w / 2 for x in xs], ins, w, color="#9ecae1", label="in-sample")
    if val.held_out:
        ho = [100 * val.held_out[k].rel_error if k in val.held_out else float("nan") for k in keys]
        ax.bar([x + w / 2 for x in xs], ho, w, color="#08519c", label="held-out")
    ax.axhline(0, color="0.2", lw=0.7)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, rotation=90, fontsize=6)
    ax.set_ylabel("prediction error (%)\n(predicted / measured - 1)")
    ax.set_xlabel("configuration (nodes N, partitions P, locality wait)")
    ax.legend(fontsize=7)
    ax.grid(axis="y", linewidth=0.3)
    caption = (f"Relative error of the predicted mean job duration per configuration: {val.reps} simulated runs "
               f"against the mean of the real run(s) of that configuration ({len(val.runs)} real runs in all). "
               f"Positive: the model is too slow.")
    return _save(fig, out, name, "Model vs measurement: error per configuration", caption)


def tasks_per_host(val, out: Path, name: str) -> Figure:
    preds = [p for p in val.in_sample.values() if p.first.nodes >= 2] or list(val.in_sample.values())
    groups: dict[tuple, list] = {}
    for p in preds:
        groups.setdefault((p.first.nodes, p.first.wait_s, p.first.pin, p.first.source), []).append(p)
    keys = sorted(groups, key=lambda k: (k[3], k[2], k[0], -k[1]))
    fig, axes = plt.subplots(len(keys), 1, figsize=(10, 2.3 * len(keys) + 0.6), squeeze=False)
    shades = ["#08519c", "#6baed6", "#c6dbef", "#fdae6b", "#e6550d"]
    for ax, key in zip(axes[:, 0], keys):
        ps = sorted(groups[key], key=lambda p: p.first.partitions)
        ticks, ticklabels = [], []
        for i, p in enumerate(ps):
            real = [sorted(r.tasks_per_host, reverse=True) for r in p.runs]
            real_mean = [statistics.mean(col) for col in zip(*real)]
            sim = [statistics.mean(col) for col in zip(*[sorted(t, reverse=True) for t in p.predicted_tasks])]
            for j, (vals, hatch) in enumerate(((real_mean, None), (sim, "///"))):
                x = 3 * i + j
                bottom = 0.0
                for h, v in enumerate(vals):
                    ax.bar(x, v, 0.9, bottom=bottom, color=shades[h % len(shades)], hatch=hatch, edgecolor="0.3",
                           linewidth=0.4)
                    bottom += v
            ticks.append(3 * i + 0.5)
            ticklabels.append(f"P={p.first.partitions}")
        ax.set_xticks(ticks)
        ax.set_xticklabels(ticklabels, fontsize=7)
        n, w, pin, src = key
        ax.set_title(f"{src}: N = {n}, locality wait {wait_label(w)}{', pinned' if pin else ''}  "
                     f"(left bar: measured, right hatched bar: predicted)", fontsize=8)
        ax.set_ylabel("result-stage tasks")
        ax.grid(axis="y", linewidth=0.3)
    caption = (f"Tasks of the result stage per host, measured (left bar of each pair, mean over the real runs) and "
               f"predicted (right, hatched, mean over {val.reps} simulated runs, in-sample model). Segments are hosts "
               f"from the busiest (dark, bottom) to the least busy, since which host holds the map output differs "
               f"between runs. Configurations with N >= 2 nodes.")
    return _save(fig, out, name, "Model vs measurement: tasks per host", caption)


def real_vs_sim_timeline(pred, out: Path, name: str) -> Figure:
    from .measured import job_tasks
    run = pred.first
    tasks, t0, result_id = job_tasks(run)
    real = bars_from_log(tasks, t0, result_id, {e.executor_id: e.cores for e in run.log.executors})
    sim = bars_from_sim(pred.example_trace)
    fig, axes = plt.subplots(1, 2, figsize=(12.4, 0.2 * max(len({(b.host, b.executor, b.slot) for b in bars})
                                                               for bars in (real, sim)) + 2.2), squeeze=False)
    xmax = max(b.end for b in real + sim)
    draw(axes[0][0], real, f"measured ({run.run_id})", xmax=xmax)
    draw(axes[0][1], sim, "predicted (one simulated run, in-sample model)", xmax=xmax)
    caption = (f"One real run and one simulated run of the same configuration ({run.label}, Spark "
               f"{run.spark_version}): a row per executor thread (real threads numbered in launch order), a bar per "
               f"task, coloured by partition (colours repeat after 20), map side hatched. Single runs, not averages.")
    return _save(fig, out, name, f"Model vs measurement: timeline of {run.label}", caption)

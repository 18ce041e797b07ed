"""Section 3's figures, drawn from a `measured.Measured` (real runs, in-sample and held-out predictions):
predicted against measured job duration with y = x, the error per configuration, result-stage tasks
per host measured and predicted side by side, and one real and one simulated timeline of the same
configuration next to each other. Each function saves one PNG and returns a `figures.Figure` whose
caption (from `captions.FIGURES`) says how many runs and simulations stand behind it.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from matplotlib.lines import Line2D

from sparkdelay.sim.model.engine import simulate

from sparkdelay.app.report.figures import Figure, _color, _save, plt
from sparkdelay.app.report.measured import Measured, by_config, config_label, example_run, mean_error
from sparkdelay.app.report.timeline import bars_from_eventlog, bars_from_sim, draw

# held-out splits: one marker and one bar colour each (in-sample: hollow circles, light bars)
SPLIT_STYLE = {"interpolation": ("o", "#08519c"), "more_nodes": ("^", "#e6550d"), "other_hardware": ("s", "#31a354")}
SPLIT_TEXT = {"interpolation": "held-out: other P", "more_nodes": "held-out: N = 3 from N = 1-2",
              "other_hardware": "held-out: pinned from shared"}


def _splits(m: Measured) -> list:
    return [s for s in m.heldout["splits"] if s.comparisons]


def predicted_vs_measured(m: Measured, out: Path, fig_id: str = "scatter") -> Figure:
    fig, ax = plt.subplots(figsize=(5.8, 5.2))
    series = [("in-sample", "o", None, m.in_sample)] + [
        (SPLIT_TEXT[s.name], SPLIT_STYLE[s.name][0], "filled", s.comparisons) for s in _splits(m)]
    lim = 0.0
    for _, marker, fill, comps in series:
        for c in comps:
            ax.errorbar([c.measured_duration_s], [c.predicted_duration_s], yerr=[c.predicted_sd_s], fmt=marker,
                        color=_color(c.nodes), mfc=_color(c.nodes) if fill else "none", ms=5, elinewidth=0.5,
                        capsize=1.2, alpha=0.85 if fill else 0.5)
            lim = max(lim, c.measured_duration_s, c.predicted_duration_s + c.predicted_sd_s)
    ax.plot([0, lim * 1.05], [0, lim * 1.05], color="0.3", lw=0.8, ls="--")
    ax.set_xlim(0, lim * 1.05), ax.set_ylim(0, lim * 1.05)
    ax.set_xlabel("measured job duration (s)")
    ax.set_ylabel("predicted job duration (s, mean of the simulations)")
    handles = [Line2D([], [], color=_color(n), marker="o", ls="", label=f"N = {n}")
               for n in sorted({c.nodes for c in m.in_sample})]
    handles += [Line2D([], [], color="0.3", marker=mk, ls="", mfc="0.3" if fill else "none", label=label)
                for label, mk, fill, _ in series]
    handles.append(Line2D([], [], color="0.3", ls="--", label="y = x (perfect)"))
    ax.legend(handles=handles, fontsize=7, loc="upper left")
    ax.grid(linewidth=0.3)
    held = ", ".join(f"{len(s.comparisons)} {s.name.replace('_', ' ')}" for s in _splits(m)) or "none possible yet"
    return _save(fig, out, fig_id, {"runs": len(m.in_sample), "held": held, "reps": m.reps})


def error_per_config(m: Measured, out: Path, fig_id: str = "errors") -> Figure:
    ins = by_config(m, m.in_sample)
    keys = list(ins)
    series = [("in-sample", "#9ecae1", ins)] + [(SPLIT_TEXT[s.name], SPLIT_STYLE[s.name][1], by_config(m, s.comparisons))
                                                 for s in _splits(m)]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.3 * len(keys) + 2), 4.0))
    width = 0.8 / len(series)
    for i, (label, color, groups) in enumerate(series):
        xs = [x for x, k in enumerate(keys) if k in groups]
        ax.bar([x - 0.4 + width * (i + 0.5) for x in xs], [100 * mean_error(groups[keys[x]]) for x in xs], width,
               color=color, label=label)
    floor = m.heldout["spread"].get("shared", {}).get("median_abs_dev_from_config_mean")
    if floor is not None and floor == floor:   # NaN: no configuration was measured twice
        ax.axhspan(-100 * floor, 100 * floor, color="0.85", zorder=0, label="run-to-run spread (median)")
    ax.axhline(0, color="0.2", lw=0.7)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([config_label(k, len(m.sweeps) > 1) for k in keys], rotation=90, fontsize=6)
    ax.set_ylabel("prediction error (%)\n(predicted / measured - 1)")
    ax.set_xlabel(f"configuration ({'sweep, ' if len(m.sweeps) > 1 else ''}nodes N, partitions P, locality wait)")
    ax.legend(fontsize=7)
    ax.grid(axis="y", linewidth=0.3)
    return _save(fig, out, fig_id, {"configs": len(keys), "runs": len(m.in_sample), "reps": m.reps})


def tasks_per_host(m: Measured, out: Path, fig_id: str = "hosts") -> Figure:
    groups: dict[tuple, list] = {}
    multi = {k: v for k, v in by_config(m, m.in_sample).items() if k[1] >= 2} or by_config(m, m.in_sample)
    for (sweep, n, p, wait), comps in multi.items():
        groups.setdefault((sweep, n, wait), []).append((p, comps))
    fig, axes = plt.subplots(len(groups), 1, figsize=(10, 2.3 * len(groups) + 0.6), squeeze=False)
    shades = ["#08519c", "#6baed6", "#c6dbef", "#fdae6b", "#e6550d"]
    for ax, (key, configs) in zip(axes[:, 0], groups.items()):
        ticks, ticklabels = [], []
        for i, (p, comps) in enumerate(configs):
            real = [statistics.mean(col) for col in zip(*[c.measured.sorted_counts for c in comps])]
            sim = [statistics.mean(col) for col in zip(*[c.predicted_sorted_mode for c in comps])]
            for j, (vals, hatch) in enumerate(((real, None), (sim, "///"))):
                bottom = 0.0
                for h, v in enumerate(vals):
                    ax.bar(3 * i + j, v, 0.9, bottom=bottom, color=shades[h % len(shades)], hatch=hatch,
                           edgecolor="0.3", linewidth=0.4)
                    bottom += v
            ticks.append(3 * i + 0.5)
            ticklabels.append(f"P={p}" + ("" if all(c.placement_match for c in comps) else " (differs)"))
        ax.set_xticks(ticks)
        ax.set_xticklabels(ticklabels, fontsize=7)
        sweep, n, wait = key
        ax.set_title(f"{sweep}: N = {n}, locality wait {wait}  (left bar: measured, right hatched bar: predicted)",
                     fontsize=8)
        ax.set_ylabel("result-stage tasks")
        ax.grid(axis="y", linewidth=0.3)
    return _save(fig, out, fig_id, {"reps": m.reps})


def real_vs_sim_timeline(m: Measured, out: Path, seed: int, fig_id: str = "real_timeline") -> Figure:
    run, comparison = example_run(m)
    res = simulate(run.measured.cluster, run.measured.job, m.model, seed=seed)   # compare's first seed
    real, sim = bars_from_eventlog(run.measured.log), bars_from_sim(res.tasks)
    vec = lambda d: "/".join(str(v) for v in sorted(d.values(), reverse=True))
    rows = max(len({(b.host, b.executor, b.slot) for b in bars}) for bars in (real, sim))
    fig, axes = plt.subplots(1, 2, figsize=(12.4, 0.2 * rows + 2.2), squeeze=False)
    xmax = max(b.end for b in real + sim)
    draw(axes[0][0], real, f"measured ({comparison.app_id}): {comparison.measured_duration_s:.1f} s, tasks per host "
                           f"{vec(comparison.measured.tasks_per_host)}", xmax=xmax)
    draw(axes[0][1], sim, f"predicted (one simulated run, in-sample model): {res.job_duration_s:.1f} s, tasks per "
                          f"host {vec(res.metrics()['tasks_per_host'])}", xmax=xmax)
    label = config_label((run.sweep, run.row["nodes"], run.row["partitions"], run.row["wait"]), with_sweep=True)
    return _save(fig, out, fig_id, {"label": label, "version": comparison.spark_version})


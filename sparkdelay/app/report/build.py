"""`build_report`: run the grids, check the findings, compare with real runs, draw, write Markdown.

One base seed feeds everything: the sweeps derive each point's seed from it (`sim.sweep.derive_seed`),
the example timelines use the seed of repetition 0 of their point (so they are runs of the grid),
and the real runs' simulations use it plus the repetition (`calibration.validate.compare`), as do
the held-out tests. The result carries the headline numbers that `sparkdelay demo` prints.
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from sparkdelay.app.report import figures as F
from sparkdelay.app.report.findings import Finding, critical_path, evaluate
from sparkdelay.app.report.grids import STUDY_VERSION, TODAY_VERSION, GridSet, GridSpec, run_grids, write_even_job
from sparkdelay.app.report.measured import write_data
from sparkdelay.app.report.measured_text import headline
from sparkdelay.app.report.timeline import bars_from_sim


@dataclass
class ReportOptions:
    out: Path
    grid: GridSpec = field(default_factory=GridSpec)
    runs: Sequence[str] = ()                # folders holding index.jsonl files (may be empty)
    validation_model: str | None = None     # model for section 3 (None: fit on the runs)
    validate_reps: int = 5
    workload: str | None = None             # workload YAML of the real runs' job (None: the study's 40 shards)
    progress: bool = False


@dataclass
class ReportResult:
    readme: Path
    figures: list
    study_findings: list[Finding]
    today_findings: list[Finding]
    grids: GridSet
    measured: object | None                 # measured.Measured: section 3
    even_gain: dict
    timings: dict
    headlines: list[str]
    model_label: str


def model_label(path: str | None) -> str:
    from sparkdelay.sim.model.costs import CostModel
    if path is None:
        return "the `CostModel()` defaults (placeholders shaped like the 2017 study: 3 s worker start-up, 1 s per item)"
    CostModel.load(path)   # fail early on a bad file
    return f"the cost model in `{path}`"


def _seed(grid_seed: int, version: str, nodes: int, partitions: int, wait: str) -> int:
    from sparkdelay.app.sweep import SweepPoint, derive_seed
    return derive_seed(grid_seed, SweepPoint(version, nodes, partitions, wait, 0))


def _sim_bars(version: str, nodes: int, partitions: int, wait: str, spec: GridSpec):
    from sparkdelay.sim.model.costs import CostModel
    from sparkdelay.sim.model.engine import simulate
    from sparkdelay.app.presets import preset
    cluster, job = preset("study2017", nodes=nodes, partitions=partitions, wait=wait, spark_version=version)
    model = CostModel.load(spec.model_path) if spec.model_path else CostModel()
    res = simulate(cluster, job, model, _seed(spec.seed, version, nodes, partitions, wait))
    counts = "/".join(str(v) for v in res.metrics()["tasks_per_host"].values())
    return bars_from_sim(res.tasks), res.job_duration_s, counts


def _gain_table(gs: GridSet) -> dict:
    """Mean paired gain (%) of even partitions per (N, P) at each wait, and the summary numbers."""
    table = {}
    for (n, P, w), p in gs.study.points.items():
        q = gs.even.get(n, P, w)
        if q is not None:
            table[(n, P, w)] = statistics.mean(100 * (1 - b / a) for a, b in zip(p.durations, q.durations))
    at3 = {k: v for k, v in table.items() if k[2] == 3.0 and k[0] >= 2} or table
    best = max(at3.items(), key=lambda kv: kv[1]) if at3 else None
    return {"table": table, "mean_wait3": statistics.mean(at3.values()) if at3 else float("nan"), "best": best}


def build_report(opts: ReportOptions) -> ReportResult:
    from sparkdelay.app.report.markdown import write_readme, write_section

    t_start = time.perf_counter()
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("fig*.png"):
        old.unlink()
    data = out / "data"
    data.mkdir(exist_ok=True)
    spec = opts.grid
    label = model_label(spec.model_path)
    timings = {}

    gs = run_grids(spec, progress=opts.progress)
    timings["grid_s"] = gs.seconds
    timings["grid_runs"] = gs.study.runs + gs.today.runs + gs.even.runs

    t = time.perf_counter()
    from sparkdelay.sim.model.costs import CostModel
    model = CostModel.load(spec.model_path) if spec.model_path else CostModel()
    seeds = [_seed(spec.seed, STUDY_VERSION, 3, 40, "3s") + r for r in range(max(spec.reps, 1))]
    crit = critical_path(STUDY_VERSION, 3, 40, "3s", seeds, model) if 40 in spec.partitions and 3 in spec.nodes else None
    crit_today = critical_path(TODAY_VERSION, 3, 40, "3s", seeds, model) if crit else None
    study_f = evaluate(gs.study, crit)
    today_f = evaluate(gs.today, crit_today)
    gain = _gain_table(gs)
    timings["findings_s"] = time.perf_counter() - t

    t = time.perf_counter()
    figs: dict[str, F.Figure] = {}
    s, td = gs.study, gs.today
    figs["time"] = F.metric_vs_partitions(s, "duration", out, "fig01_time_vs_partitions.png",
                                          "The study re-made: execution time vs partitions (Spark 2.1)",
                                          "Simulated job execution time")
    figs["fairness"] = F.metric_vs_partitions(s, "fairness", out, "fig02_fairness_vs_partitions.png",
                                              "The study re-made: Jain's fairness index vs partitions (Spark 2.1)",
                                              "Jain's fairness index of result-stage tasks over the N nodes")
    figs["max_tasks"] = F.metric_vs_partitions(s, "max_tasks", out, "fig03_max_tasks_vs_partitions.png",
                                               "The study re-made: most tasks on one node vs partitions (Spark 2.1)",
                                               "The largest number of result-stage tasks any one node ran")
    panels = []
    for P in (9, 40):
        for w in ("3s", "0s"):
            bars, dur, counts = _sim_bars(STUDY_VERSION, 3, P, w, spec)
            panels.append((f"N = 3, P = {P}, wait {w}: tasks per node {counts}, job {dur:.1f} s", bars))
    figs["timelines"] = F.sim_timelines(
        panels, out, "fig04_timelines_n3.png", "The study re-made: per-task timelines, N = 3 (Spark 2.1)",
        "Simulated timelines of single runs (the grid's first seed for each point): a row per executor thread that "
        "ran a task (nodes node1..node3, 8 threads each), a bar per task coloured by partition (colours repeat "
        "after 20), the map side of partitionBy hatched. Compare the study's figures 15-18.")
    figs["today_max"] = F.metric_vs_partitions(td, "max_tasks", out, "fig05_today_max_tasks.png",
                                               "Today's Spark (4.0 rules): most tasks on one node vs partitions",
                                               "The largest number of result-stage tasks any one node ran")
    figs["today_time"] = F.metric_vs_partitions(td, "duration", out, "fig06_today_time.png",
                                                "Today's Spark (4.0 rules): execution time vs partitions",
                                                "Simulated job execution time")
    panels = []
    for version in (STUDY_VERSION, TODAY_VERSION):
        bars, dur, counts = _sim_bars(version, 3, 9, "0s", spec)
        panels.append((f"Spark {version}: N = 3, P = 9, wait 0s: tasks per node {counts}, job {dur:.1f} s", bars))
    figs["versions"] = F.sim_timelines(
        panels, out, "fig07_wait0_2.1_vs_4.0.png", "Wait 0 s, N = 3, P = 9: Spark 2.1 vs 4.0 rules",
        "One simulated run each (same seed) of N = 3, P = 9, locality wait 0 s; the panel titles give the tasks per node. "
        "Spark 2.1 drops a locality level whose wait is 0, so bulk offers ignore locality; 4.0 keeps the level, so the "
        "map host's free threads are offered node-local tasks first (SPEC.md). Rows: executor threads; bars: tasks "
        "coloured by partition; map side hatched.")
    figs["even"] = F.even_gain(s, gs.even, out, "fig08_even_partitions_gain.png")
    timings["figures_s"] = time.perf_counter() - t

    t = time.perf_counter()
    measured = None
    if opts.runs:
        from sparkdelay.app.report import measured_figures as MF
        from sparkdelay.app.report.measured import load_measured
        measured = load_measured(opts.runs, opts.workload, opts.validation_model, opts.validate_reps, spec.seed)
        if measured is not None and measured.in_sample:
            figs["scatter"] = MF.predicted_vs_measured(measured, out, "fig09_predicted_vs_measured.png")
            figs["errors"] = MF.error_per_config(measured, out, "fig10_error_per_config.png")
            figs["hosts"] = MF.tasks_per_host(measured, out, "fig11_tasks_per_host.png")
            figs["real_timeline"] = MF.real_vs_sim_timeline(measured, out, "fig12_timeline_real_vs_sim.png", spec.seed)
    timings["validation_s"] = time.perf_counter() - t

    _write_data(data, gs, study_f, today_f, measured)
    write_even_job(data / "even_job.yaml")
    headlines = _headlines(study_f, measured, gain)
    timings["total_s"] = time.perf_counter() - t_start
    result = ReportResult(out / "README.md", list(figs.values()), study_f, today_f, gs, measured, gain, timings,
                          headlines, label)
    write_readme(result, figs, opts)
    write_section(result, figs, out)
    return result


def _headlines(study_f: list[Finding], measured, gain: dict) -> list[str]:
    by = {f.id: f for f in study_f}
    n_ok = sum(1 for f in study_f if f.reproduced)
    n_test = sum(1 for f in study_f if f.reproduced is not None)
    h1 = (f"{n_ok} of {n_test} testable findings reproduced by the model (Spark 2.1 rules); "
          f"F8 {by['F8'].status} ({by['F8'].short}); F11 {by['F11'].status} ({by['F11'].short})")
    h2 = headline(measured)
    best = gain.get("best")
    h3 = (f"even partitioning (future work): predicted time saved {gain['mean_wait3']:.1f} % on average "
          f"(wait 3 s, N >= 2, all P)" + (f", at best {best[1]:.1f} % (N = {best[0][0]}, P = {best[0][1]})" if best else ""))
    return [h1, h2, h3]


def _write_data(data: Path, gs: GridSet, study_f, today_f, measured) -> None:
    rows = gs.study.summary_rows() + gs.today.summary_rows() + gs.even.summary_rows()
    with open(data / "grid_summary.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (data / "findings.json").write_text(json.dumps(
        {"spark_2.1": [asdict(f) for f in study_f], "spark_4.0": [asdict(f) for f in today_f]}, indent=1) + "\n")
    write_data(data, measured)

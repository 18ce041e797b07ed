"""`build_report`: run the grids, check the findings, compare with real runs, draw, write Markdown.

The steps, in order, each a function below: prepare the output folder, simulate the three grids,
check the findings (with the critical-path runs F13 needs), draw the grid figures, compare with
the real runs (when given), write their simulated twins (`twins/`) and draw their figures, write the
data files, write the Markdown.

One base seed feeds everything: the sweeps derive each point's seed from it
(`sparkdelay.app.sweep.derive_seed`), the example timelines use the seed of repetition 0 of their
point (so they are runs of the grid), and the real runs' simulations use it plus the repetition
(`calibration.validate.compare`), as do the held-out tests. The result carries the headline
numbers that `sparkdelay demo` prints.
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.engine import simulate

from sparkdelay.app.bundled import shown
from sparkdelay.app.presets import preset
from sparkdelay.app.sweep import SweepPoint, derive_seed
from sparkdelay.app.report import figures as F
from sparkdelay.app.report import measured_figures as MF
from sparkdelay.app.report.findings import Finding, critical_path, evaluate
from sparkdelay.app.report.grids import STUDY_VERSION, TODAY_VERSION, GridSet, GridSpec, run_grids, write_even_job
from sparkdelay.app.report.markdown import write_readme, write_section
from sparkdelay.app.report.measured import Measured, clear_twins, load_measured, write_data, write_twins
from sparkdelay.app.report.measured_text import headline
from sparkdelay.app.report.timeline import bars_from_sim

TWINS = "twins"   # the simulated twins of the real runs, in the output folder


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
    measured: Measured | None               # section 3
    even_gain: dict
    timings: dict
    headlines: list[str]
    model_label: str


def model_label(path: str | None) -> str:
    if path is None:
        return "the `CostModel()` defaults (placeholders shaped like the 2017 study: 3 s worker start-up, 1 s per item)"
    CostModel.load(path)   # fail early on a bad file
    return f"the cost model in `{shown(path)}`"


def build_report(opts: ReportOptions) -> ReportResult:
    t_start = time.perf_counter()
    out = _prepare_folder(Path(opts.out))
    spec = opts.grid
    label = model_label(spec.model_path)
    timings: dict = {}
    gs = _simulate_grids(spec, opts.progress, timings)
    with _timed(timings, "findings_s"):
        study_f, today_f = _check_findings(gs, spec)
        gain = _gain_table(gs)
    with _timed(timings, "figures_s"):
        figs = _draw_grid_figures(gs, spec, out)
    with _timed(timings, "validation_s"):
        measured = _compare_with_real_runs(opts, out, figs)
    _write_data(out / "data", gs, study_f, today_f, measured)
    headlines = _headlines(study_f, measured, gain)
    timings["total_s"] = time.perf_counter() - t_start
    result = ReportResult(out / "README.md", list(figs.values()), study_f, today_f, gs, measured, gain, timings,
                          headlines, label)
    write_readme(result, figs, opts)
    write_section(result, figs, out)
    return result


# ------------------------------------------------------------------------------ the steps
@contextmanager
def _timed(timings: dict, key: str):
    t = time.perf_counter()
    yield
    timings[key] = time.perf_counter() - t


def _prepare_folder(out: Path) -> Path:
    """The output folder with its data/ subfolder; figures and twins of an earlier report are removed."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("fig*.png"):
        old.unlink()
    clear_twins(out / TWINS)
    (out / "data").mkdir(exist_ok=True)
    return out


def _simulate_grids(spec: GridSpec, progress: bool, timings: dict) -> GridSet:
    gs = run_grids(spec, progress=progress)
    timings["grid_s"] = gs.seconds
    timings["grid_runs"] = gs.study.runs + gs.today.runs + gs.even.runs
    return gs


def _check_findings(gs: GridSet, spec: GridSpec) -> tuple[list[Finding], list[Finding]]:
    """F1..F13 under both rule sets; F13's critical path needs N = 3, P = 40 runs (wait 3 s)."""
    model = _grid_model(spec)
    seeds = [_seed(spec.seed, STUDY_VERSION, 3, 40, "3s") + r for r in range(max(spec.reps, 1))]
    crit = critical_path(STUDY_VERSION, 3, 40, "3s", seeds, model) if 40 in spec.partitions and 3 in spec.nodes else None
    crit_today = critical_path(TODAY_VERSION, 3, 40, "3s", seeds, model) if crit else None
    return evaluate(gs.study, crit), evaluate(gs.today, crit_today)


def _draw_grid_figures(gs: GridSet, spec: GridSpec, out: Path) -> dict[str, F.Figure]:
    """Sections 1, 2 and 4: the grid's figures, by figure id (`captions.FIGURES`)."""
    s, td = gs.study, gs.today
    figs: dict[str, F.Figure] = {}
    figs["time"] = F.metric_vs_partitions(s, "duration", out, "time")
    figs["fairness"] = F.metric_vs_partitions(s, "fairness", out, "fairness")
    figs["max_tasks"] = F.metric_vs_partitions(s, "max_tasks", out, "max_tasks")
    panels = []
    for P in (9, 40):
        for w in ("3s", "0s"):
            bars, dur, counts = _sim_bars(STUDY_VERSION, 3, P, w, spec)
            panels.append((f"N = 3, P = {P}, wait {w}: tasks per node {counts}, job {dur:.1f} s", bars))
    figs["timelines"] = F.sim_timelines(panels, out, "timelines")
    figs["today_max"] = F.metric_vs_partitions(td, "max_tasks", out, "today_max")
    figs["today_time"] = F.metric_vs_partitions(td, "duration", out, "today_time")
    panels = []
    for version in (STUDY_VERSION, TODAY_VERSION):
        bars, dur, counts = _sim_bars(version, 3, 9, "0s", spec)
        panels.append((f"Spark {version}: N = 3, P = 9, wait 0s: tasks per node {counts}, job {dur:.1f} s", bars))
    figs["versions"] = F.sim_timelines(panels, out, "versions")
    figs["even"] = F.even_gain(s, gs.even, out, "even")
    return figs


def _compare_with_real_runs(opts: ReportOptions, out: Path, figs: dict[str, F.Figure]) -> Measured | None:
    """Section 3: the real runs under `opts.runs`, predicted in-sample and held out; adds its figures."""
    if not opts.runs:
        return None
    spec = opts.grid
    measured = load_measured(opts.runs, opts.workload, opts.validation_model, opts.validate_reps, spec.seed)
    if measured is not None and measured.in_sample:
        write_twins(measured, out / TWINS, spec.seed, opts.runs, opts.validation_model)
        figs["scatter"] = MF.predicted_vs_measured(measured, out, "scatter")
        figs["errors"] = MF.error_per_config(measured, out, "errors")
        figs["hosts"] = MF.tasks_per_host(measured, out, "hosts")
        figs["real_timeline"] = MF.real_vs_sim_timeline(measured, out, spec.seed, "real_timeline")
    return measured


def _write_data(data: Path, gs: GridSet, study_f, today_f, measured) -> None:
    rows = gs.study.summary_rows() + gs.today.summary_rows() + gs.even.summary_rows()
    with open(data / "grid_summary.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (data / "findings.json").write_text(json.dumps(
        {"spark_2.1": [asdict(f) for f in study_f], "spark_4.0": [asdict(f) for f in today_f]}, indent=1) + "\n")
    write_data(data, measured)
    write_even_job(data / "even_job.yaml")


# ------------------------------------------------------------------------------ helpers
def _grid_model(spec: GridSpec) -> CostModel:
    return CostModel.load(spec.model_path) if spec.model_path else CostModel()


def _seed(grid_seed: int, version: str, nodes: int, partitions: int, wait: str) -> int:
    return derive_seed(grid_seed, SweepPoint(version, nodes, partitions, wait, 0))


def _sim_bars(version: str, nodes: int, partitions: int, wait: str, spec: GridSpec):
    cluster, job = preset("study2017", nodes=nodes, partitions=partitions, wait=wait, spark_version=version)
    res = simulate(cluster, job, _grid_model(spec), _seed(spec.seed, version, nodes, partitions, wait))
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

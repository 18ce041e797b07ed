"""Held-out tests: fit on some real runs, predict others the fit never saw, and compare.

Three splits of the bundled real sweeps, all with one set of fitting rules (`fit_model` on
the training runs' tasks): (1) interpolation — fit on some partition counts, predict the
others, all nodes and waits; (2) more nodes than seen — fit on nodes 1-2, predict nodes 3;
(3) other hardware — fit on the shared-machine sweep, predict the pinned sweep, whose cluster
file gives each worker its own one-core machine. Each split reports the model's median and
90th-percentile job-duration error and how often the sorted tasks-per-host vectors match,
next to a naive baseline that knows no scheduling: job time interpolated in log(partitions)
from the training runs of the same node count and wait (the nearest node count when that one
was not trained on, the same configuration of the other sweep for split 3). The run-to-run
spread of the measurements at equal configuration says how close any predictor can get (with
one host the wait changes nothing, so N = 1 runs at both waits are repetitions).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.sparkconf import parse_duration_ms
from sparkdelay.sim.model.costs import CostModel

from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.eventlog.run_index import INDEX_NAME, IndexRow, read_index, row_int, row_partitioner
from sparkdelay.calibration.fit import _driver, fit_model
from sparkdelay.calibration.trace_fit import Calibration, TraceRun, calibrate_traces, held_unidentified, trace_run
from sparkdelay.sim.model.cluster import MachineMap, load_machines
from sparkdelay.sim.model.job import PySparkWorkload
from sparkdelay.sim.policy.pyspark_partitioning import DEFAULT_PYTHON_VERSION, KeySpec
from sparkdelay.calibration.samples import LogSamples, samples_from_log
from sparkdelay.calibration.validate import MeasuredRun, RunComparison, compare, measured_run, percentile, error_summary

INTERPOLATION_TRAIN_PARTITIONS = (1, 4, 8, 12, 20, 40)


@dataclass
class Run:
    """One measured run: its index row, what to simulate, and its fitting samples."""

    sweep: str
    row: dict
    measured: MeasuredRun
    samples: LogSamples
    trace: TraceRun | None = None

    @property
    def config(self) -> tuple:
        """Runs with equal configs repeat one experiment. With one host the locality wait cannot
        change a single decision (every offer comes from the host holding the map output), so
        N = 1 runs at different waits count as repetitions too."""
        wait = "any" if self.row["nodes"] == 1 else self.row["wait"]
        return (self.sweep, self.row["nodes"], self.row["partitions"], wait)


@dataclass
class SplitResult:
    name: str
    description: str
    train_runs: int
    test_runs: int
    model: CostModel | None
    comparisons: list[RunComparison] = field(default_factory=list)
    baseline_apes: list[float] = field(default_factory=list)
    note: str = ""

    def summary(self) -> dict:
        s = error_summary(self.comparisons)
        apes = sorted(self.baseline_apes)
        s.update({
            "name": self.name, "description": self.description,
            "train_runs": self.train_runs, "test_runs": self.test_runs,
            "baseline_median_ape": statistics.median(apes) if apes else math.nan,
            "baseline_p90_ape": percentile(apes, 90) if apes else math.nan,
            "note": self.note,
        })
        return s


def row_workload(fields: dict, where: str) -> PySparkWorkload:
    """The workload a `sparkdelay run` row records: its keys (items, key format), hash seed, map
    slices and worker CPython (3.11 for rows that predate the field: the bundled runs' own)."""
    if not isinstance(fields.get("key_format"), str):
        raise UserError(f"{where}: key_format: expected the job's key format (a string), got {fields.get('key_format')!r}")
    keys = KeySpec.parse({"format": fields["key_format"], "count": row_int(fields, "items", where, 1, "keys")},
                         f"{where}: key_format").keys
    env = fields.get("executor_env") or {}
    if not isinstance(env, dict):
        raise UserError(f"{where}: executor_env: expected an object of variables, got {env!r}")
    blas = {"threads": env.get("OPENBLAS_NUM_THREADS", env.get("OMP_NUM_THREADS"))}
    threads = row_int(fields, "task_threads", where, 1, "cores", default=None) or \
        row_int(blas, "threads", f"{where}: executor_env", 1, "cores", default=1)
    version = fields.get("python_version", DEFAULT_PYTHON_VERSION)
    if not isinstance(version, str):
        raise UserError(f"{where}: python_version: expected a version such as \"3.11\", got {version!r}")
    return PySparkWorkload(keys, row_int(fields, "python_hash_seed", where, 0, "hash_seed", default=0), version,
                           row_int(fields, "map_slices", where, 1, "tasks", default=1), threads=threads, source=where,
                           partitioner=row_partitioner(fields, where))


def load_sweep(name: str, folder: Path, workload: PySparkWorkload | None, skipped: list[str] | None = None,
               max_load: float | None = None, left_out: list[str] | None = None) -> list[Run]:
    """Every finished run of a `sparkdelay run` folder (index.jsonl + eventlogs, cluster.yaml).

    Without a `workload`, each run's own row says what its job held (`row_workload`), so runs
    of one folder may differ in keys, hash seed or map slices.

    With a `skipped` list, a run whose log cannot be used is listed there (with why) instead of
    failing the whole sweep, so a sweep still being recorded can be read as far as it goes.
    With `max_load`, a run whose row recorded a higher 1-minute load at its start is left out
    (and listed in `left_out`, or else in `skipped`, when given)."""
    if not (folder / INDEX_NAME).exists():
        return []
    # A sweep still being recorded may end in a row cut off mid-write: with a `skipped` list
    # that row is reported there; without one every line must be a whole row.
    index = read_index(folder / INDEX_NAME, lenient=skipped is not None)
    if index.torn_note is not None:
        skipped.append(index.torn_note)
    cluster_file = folder / "cluster.yaml"
    machines = load_machines(cluster_file) if cluster_file.exists() else MachineMap()
    runs = []
    for row in index.rows:
        if row.status != "ok":
            continue
        load = row.load()
        if max_load is not None and load is not None and load > max_load:
            listed = left_out if left_out is not None else skipped
            if listed is not None:
                listed.append(f"{name}/{row.run_id or row.where}: recorded under a 1-minute load of {load:g} "
                              f"(--max-load {max_load:g})")
            continue
        try:
            log_path = row.event_log()
            if log_path is None or not log_path.exists():
                # A run recorded as ok has a log; without it the sweep is not what its index says.
                raise UserError(f"{row.where}: event_log: {log_path} does not exist (the run is recorded as ok)")
            log = read_eventlog(log_path)
            # A workload file gives the keys; how partitionBy split them is the row's (hash before the field).
            wl = replace(workload, partitioner=row_partitioner(row.fields, row.where)) if workload else \
                row_workload(row.fields, row.where)
            measured = measured_run(log, machines, wl)
            _check_row(row, measured)
            runs.append(Run(name, row.fields, measured, samples_from_log(log, machines, wl),
                            trace_run(log, machines, wl)))
        except UserError as exc:
            if skipped is None:
                raise
            skipped.append(f"{name}/{row.run_id or row.where}: {exc}")
    return runs


def _check_row(row: IndexRow, measured: MeasuredRun) -> None:
    """The row's nodes, partitions and wait (what the splits and the baseline group runs by) are
    whole numbers and agree with the run's own event log: a row edited or damaged by hand would
    otherwise put the run in the wrong split, or crash the grouping."""
    nodes = row.whole("nodes", 1, "hosts")
    partitions = row.whole("partitions", 1, "tasks")
    wait = row.fields.get("wait")
    if not isinstance(wait, str):
        raise UserError(f"{row.where}: wait: expected a Spark duration such as \"3s\", got {wait!r}")
    hosts, executors = len(measured.cluster.hosts), len(measured.cluster.executors)
    if not hosts <= nodes <= executors:
        raise UserError(f"{row.where}: nodes: the row says {nodes}, but its event log has {executors} executors "
                        f"on {hosts} hosts")
    if partitions != measured.job.pyspark.partitions:
        raise UserError(f"{row.where}: partitions: the row says {partitions}, but its event log's reduce stage has "
                        f"{measured.job.pyspark.partitions} tasks")
    if parse_duration_ms(wait, f"{row.where}: wait") != parse_duration_ms(measured.wait, f"{measured.log}: spark.locality.wait"):
        raise UserError(f"{row.where}: wait: the row says {wait}, but its event log ran with "
                        f"spark.locality.wait={measured.wait}")


FIT_METHODS = ("linear", "trace")


def fit(runs: list[Run], method: str = "linear") -> CostModel:
    """The cost model of `runs`: `linear` fits CPU demands recovered under processor sharing
    (`calibration.fit`); `trace` replays the runs through the model's machine and chooses its
    terms by cross-validation (`calibration.trace_fit`)."""
    if method == "trace":
        return trace_calibration(runs).model
    return fit_model([t for r in runs for t in r.samples.tasks], [j for r in runs for j in r.samples.jobs]).model


def trace_calibration(runs: list[Run], terms: tuple[str, ...] | None = None,
                      fixed: dict[str, float] | None = None,
                      progress: Callable[[str], None] | None = None) -> Calibration:
    """`calibrate_traces` of the runs, as `sparkdelay calibrate --method trace` fits their logs:
    the driver's delays from their jobs, and the terms their tasks cannot identify held at 0
    (`held_unidentified`), also when `terms` names them; `progress` is `select_terms`'s."""
    jobs = [j for r in runs for j in r.samples.jobs]
    unseen = held_unidentified(fit_model([t for r in runs for t in r.samples.tasks], jobs).unidentified)
    if terms is not None:
        terms = tuple(t for t in terms if t not in unseen)
    return calibrate_traces([r.trace for r in runs if r.trace is not None], _driver(jobs)[0], terms=terms,
                            fixed={**unseen, **(fixed or {})}, progress=progress)


def baseline(train: list[Run], run: Run) -> float:
    """Job time interpolated in log(P) over the training runs of the nearest node count, same wait."""
    waits = [r for r in train if r.row["wait"] == run.row["wait"]] or train
    nodes = min({r.row["nodes"] for r in waits}, key=lambda n: (abs(n - run.row["nodes"]), -n))
    by_p: dict[int, list[float]] = defaultdict(list)
    for r in waits:
        if r.row["nodes"] == nodes:
            by_p[r.row["partitions"]].append(r.measured.duration_s)
    ps = sorted(by_p)
    xs = [math.log(p) for p in ps]
    ys = [statistics.fmean(by_p[p]) for p in ps]
    x = math.log(run.row["partitions"])
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    raise AssertionError("unreachable")


def evaluate(name: str, description: str, train: list[Run], test: list[Run], reps: int, seed: int,
             method: str = "linear", baseline_of=None, fitter=None) -> SplitResult:
    """Fit on `train` (with `fit(train, method)`, or `fitter(train)`), predict every `test` run."""
    if not train or not test:
        return SplitResult(name, description, len(train), len(test), None,
                           note="not enough real runs recorded for this split")
    try:
        model = fitter(train) if fitter is not None else fit(train, method)
    except UserError as exc:   # too few usable training tasks: say so rather than abort the other splits
        return SplitResult(name, description, len(train), len(test), None, note=f"the fit failed: {exc}")
    result = SplitResult(name, description, len(train), len(test), model)
    for run in test:
        result.comparisons.append(compare(run.measured, model, reps, seed))
        guess = (baseline_of or baseline)(train, run)
        result.baseline_apes.append(abs(guess - run.measured.duration_s) / run.measured.duration_s)
    return result


def run_to_run_spread(runs: list[Run]) -> dict:
    """How far single measurements sit from their configuration's mean (configs with >= 2 reps)."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for r in runs:
        groups[r.config].append(r.measured.duration_s)
    deviations = []
    for durations in groups.values():
        if len(durations) >= 2:
            mean = statistics.fmean(durations)
            deviations += [abs(d - mean) / mean for d in durations]
    deviations.sort()
    return {"configs_with_reps": sum(1 for d in groups.values() if len(d) >= 2),
            "median_abs_dev_from_config_mean": statistics.median(deviations) if deviations else math.nan,
            "p90_abs_dev_from_config_mean": percentile(deviations, 90) if deviations else math.nan}


def split_by_partitions(runs: list[Run], train_p: set[int]) -> tuple[list[Run], list[Run]]:
    """(runs at the training partition counts, the others): the interpolation split."""
    return [r for r in runs if r.row["partitions"] in train_p], [r for r in runs if r.row["partitions"] not in train_p]


def split_by_nodes(runs: list[Run]) -> tuple[list[Run], list[Run]]:
    """(runs on N = 1-2, runs on N = 3): the more-nodes split."""
    return [r for r in runs if r.row["nodes"] <= 2], [r for r in runs if r.row["nodes"] == 3]


def heldout_tests(shared: list[Run], pinned: list[Run], reps: int = 20, seed: int = 0, method: str = "linear") -> dict:
    train_p = set(INTERPOLATION_TRAIN_PARTITIONS)
    splits = [
        evaluate("interpolation", f"fit on P in {sorted(train_p)}, predict the other P (all N and waits, shared machine)",
                 *split_by_partitions(shared, train_p), reps, seed, method),
        evaluate("more_nodes", "fit on N = 1-2, predict N = 3 (shared machine)",
                 *split_by_nodes(shared), reps, seed, method),
        evaluate("other_hardware", "fit on the shared-machine sweep, predict the pinned sweep (one core per worker)",
                 shared, pinned, reps, seed, method),
    ]
    return {"splits": splits, "spread": {"shared": run_to_run_spread(shared), "pinned": run_to_run_spread(pinned)}}

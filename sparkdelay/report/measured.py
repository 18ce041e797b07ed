"""Real runs recorded by `sparkdelay run`, and the model's predictions of the same configurations.

`load_runs` reads every `index.jsonl` under the given folders (rows with status "ok" whose event
log exists and holds a finished shuffle job; anything else is listed as skipped with the reason,
so a sweep still being recorded is read as far as it goes). Each run's event log is parsed with
`calibration.eventlog`, its fitting samples made with `calibration.samples` (a pinned run's
workers are one-core machines of their own; otherwise all loopback hosts share this machine).

`predict` simulates each measured configuration with the same cluster shape (the `local` preset's
hosts, executor cores and locality wait, the run's Spark version rules; pinned: one core per host)
and the same job (keys, hash seed, map slices, partitions), `reps` seeds per configuration. Two
models are compared: the *in-sample* one (`data/model.json` when given, else a fit to all runs)
and the *held-out* one, refitted for each configuration on the runs of every other
configuration (leave-one-configuration-out), so that configuration's error is a true prediction.
"""

from __future__ import annotations

import math
import os
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from sparkdelay.errors import UserError


@dataclass
class MeasuredRun:
    run_id: str
    source: str               # the folder holding index.jsonl
    nodes: int
    partitions: int
    wait: str
    wait_s: float
    rep: int
    pin: bool
    cores: int
    items: int
    key_format: str
    map_slices: int
    hash_seed: int
    work_repeat: int
    spark_version: str
    duration_s: float         # Spark job: submitted -> ended (the model's job_duration_s)
    hosts: list[str]          # worker hosts, in order
    tasks_per_host: list[int]  # result-stage tasks per host (hosts order)
    log_path: Path
    loadavg_1m: float | None = None   # this machine's 1-min load average when the run started
    log: object = field(repr=False, default=None)       # calibration.records.EventLog
    samples: object = field(repr=False, default=None)   # calibration.samples.LogSamples

    @property
    def config(self) -> tuple:
        return (self.source, self.nodes, self.partitions, self.wait_s, self.pin, self.cores, self.items,
                self.key_format, self.map_slices, self.hash_seed, self.work_repeat, self.spark_version)

    @property
    def label(self) -> str:
        return f"N{self.nodes} P{self.partitions} w{self.wait_s:g}s" + (" pin" if self.pin else "")


def _index_files(paths: Iterable[str | Path]) -> list[Path]:
    found: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_file() and p.name.endswith(".jsonl"):
            found.append(p)
        elif p.is_dir():
            found.extend(sorted(p.rglob("index.jsonl")))
        elif not p.exists():
            raise UserError(f"--runs: {p}: no such file or folder")
    return list(dict.fromkeys(found))


def _workload(run: MeasuredRun):
    from calibration.inputs import Workload
    from sim.pyspark_partitioning import KeySpec
    keys = KeySpec.parse({"format": run.key_format, "count": run.items}).keys
    return Workload(keys, run.hash_seed, run.map_slices, "3.11")


def _machines(run: MeasuredRun):
    from calibration.inputs import Machine, MachineMap
    if run.pin:
        return MachineMap({h: Machine(f"cpu-{h}", 1, (h,)) for h in run.hosts}, source="pinned run")
    return MachineMap()


def load_runs(paths: Sequence[str | Path]) -> tuple[list[MeasuredRun], list[str]]:
    """Finished real runs under `paths`, and one line per run that was left out (with why)."""
    from calibration.eventlog import read_eventlog
    from calibration.samples import samples_from_log
    from real.index import read_rows

    runs: list[MeasuredRun] = []
    skipped: list[str] = []
    for index in _index_files(paths):
        for row in read_rows(index):
            rid = row.get("run_id", "?")
            if row.get("status") != "ok":
                skipped.append(f"{index.parent.name}/{rid}: status {row.get('status')!r}")
                continue
            log_rel = row.get("event_log") or row.get("eventlog")
            if not log_rel or not (index.parent / log_rel).exists():
                skipped.append(f"{index.parent.name}/{rid}: event log missing")
                continue
            try:
                run = MeasuredRun(
                    run_id=rid, source=index.parent.name, nodes=int(row["nodes"]),
                    partitions=int(row["partitions"]), wait=str(row["wait"]), wait_s=float(row["wait_ms"]) / 1000.0,
                    rep=int(row.get("rep", 1)), pin=bool(row.get("pin")), cores=int(row.get("cores", 8)),
                    items=int(row.get("items", 40)), key_format=str(row.get("key_format", "shard-{:02d}")),
                    map_slices=int(row.get("map_slices", 1)), hash_seed=int(row.get("python_hash_seed", 0)),
                    work_repeat=int(row.get("work_repeat") or 0), spark_version=str(row.get("spark_version", "4.0")),
                    duration_s=float(row["job_duration_ms"]) / 1000.0, hosts=list(row.get("executors") or []),
                    tasks_per_host=[], log_path=index.parent / log_rel,
                    loadavg_1m=float(row["loadavg_1m"]) if row.get("loadavg_1m") is not None else None)
                log = read_eventlog(run.log_path)
                if log.in_progress and not log.jobs:
                    raise UserError("event log still in progress")
                run.log = log
                run.samples = samples_from_log(log, _machines(run), _workload(run))
                if not run.samples.jobs:
                    raise UserError("no finished shuffle job in the event log")
                per_host = {h: 0 for h in run.hosts}
                for t in result_tasks(run):
                    per_host[t.host] = per_host.get(t.host, 0) + 1
                run.hosts = list(per_host)
                run.tasks_per_host = list(per_host.values())
            except (UserError, KeyError, ValueError, TypeError) as exc:
                skipped.append(f"{index.parent.name}/{rid}: {exc}")
                continue
            runs.append(run)
    return runs, skipped


def result_tasks(run: MeasuredRun) -> list:
    """Successful tasks of the result stage (the shuffle job's highest stage id), latest attempt."""
    log = run.log
    job = next(j for j in log.jobs if j.result == "JobSucceeded")
    stage = log.stage(max(job.stage_ids))
    return [t for t in log.tasks if t.stage_id == stage.stage_id and t.stage_attempt == stage.attempt
            and t.succeeded]


def job_tasks(run: MeasuredRun) -> tuple[list, float, int]:
    """(tasks of the shuffle job, its submission time in epoch ms, result stage id)."""
    log = run.log
    job = next(j for j in log.jobs if j.result == "JobSucceeded")
    tasks = [t for t in log.tasks if t.stage_id in job.stage_ids and t.succeeded and t.finish_ms is not None]
    return tasks, job.submission_ms, max(job.stage_ids)


# ------------------------------------------------------------------------------ model side
def sim_setup(run: MeasuredRun):
    """(cluster, job) of the model for the configuration of a real run."""
    from sim.cluster import ClusterSpec, ExecutorSpec, MachineSpec
    from sim.presets import study_job

    hosts = run.hosts or [f"127.0.0.{i + 2}" for i in range(run.nodes)]
    executors = [ExecutorSpec(str(i), h, run.cores, 0.0) for i, h in enumerate(hosts)]
    if run.pin:
        machines = [MachineSpec(f"cpu{i}", 1, (h,)) for i, h in enumerate(hosts)]
    else:
        machines = [MachineSpec("localhost", os.cpu_count() or 1, tuple(hosts))]
    version = ".".join(run.spark_version.split(".")[:2])
    cluster = ClusterSpec.make(version, {"spark.locality.wait": run.wait, "spark.executor.cores": str(run.cores)},
                               executors, machines, where=f"run {run.run_id}")
    job = study_job(run.partitions, python_hash_seed=run.hash_seed, map_slices=run.map_slices,
                    keys={"format": run.key_format, "count": run.items})
    return cluster, job


def fit_on(runs: Sequence[MeasuredRun]):
    """`calibration.fit.fit_model` on these runs' samples; returns the CostModel."""
    from calibration.fit import fit_model
    tasks = [t for r in runs for t in r.samples.tasks]
    jobs = [j for r in runs for j in r.samples.jobs]
    return fit_model(tasks, jobs).model


@dataclass
class ConfigPrediction:
    runs: list[MeasuredRun]
    predicted: list[float]                  # simulated durations (one per seed)
    predicted_tasks: list[list[int]]        # simulated tasks per host, per seed
    example_trace: list = field(default_factory=list, repr=False)   # sim TaskRecords of the first seed

    @property
    def first(self) -> MeasuredRun:
        return self.runs[0]

    @property
    def measured_mean(self) -> float:
        return statistics.mean(r.duration_s for r in self.runs)

    @property
    def predicted_mean(self) -> float:
        return statistics.mean(self.predicted)

    @property
    def rel_error(self) -> float:
        return self.predicted_mean / self.measured_mean - 1.0


def group_configs(runs: Sequence[MeasuredRun]) -> dict[tuple, list[MeasuredRun]]:
    groups: dict[tuple, list[MeasuredRun]] = {}
    for r in runs:
        groups.setdefault(r.config, []).append(r)
    return dict(sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][4], kv[0][1], kv[0][2], -kv[0][3])))


def predict(groups: dict[tuple, list[MeasuredRun]], model_for: Callable[[tuple], object], reps: int,
            seed: int) -> dict[tuple, ConfigPrediction]:
    """Simulate every configuration `reps` times with the model `model_for(config)` (None: skip)."""
    from sim.engine import simulate
    from sim.sweep import SweepPoint, derive_seed

    out = {}
    for key, runs in groups.items():
        model = model_for(key)
        if model is None:
            continue
        cluster, job = sim_setup(runs[0])
        durations, per_host, trace = [], [], []
        for rep in range(reps):
            s = derive_seed(seed, SweepPoint(cluster.spark_version, runs[0].nodes, runs[0].partitions, runs[0].wait, rep))
            res = simulate(cluster, job, model, s)
            durations.append(res.job_duration_s)
            m = res.metrics()["tasks_per_host"]
            per_host.append([m[h] for h in cluster.hosts])
            if rep == 0:
                trace = res.tasks
        out[key] = ConfigPrediction(runs, durations, per_host, trace)
    return out


@dataclass
class Validation:
    runs: list[MeasuredRun]
    skipped: list[str]
    model_label: str                       # what the in-sample model is
    in_sample: dict[tuple, ConfigPrediction]
    held_out: dict[tuple, ConfigPrediction]
    held_out_note: str
    reps: int

    @staticmethod
    def errors(preds: dict[tuple, ConfigPrediction]) -> list[float]:
        return [p.rel_error for p in preds.values()]

    @staticmethod
    def median_abs(preds: dict[tuple, ConfigPrediction]) -> float:
        errs = [abs(e) for e in Validation.errors(preds)]
        return statistics.median(errs) if errs else float("nan")


def validate(run_paths: Sequence[str | Path], model_path: str | Path | None, reps: int = 5,
             seed: int = 0) -> Validation | None:
    """Load the real runs and predict them in-sample and held-out; None if there are no runs."""
    from sim.costs import CostModel

    runs, skipped = load_runs(run_paths)
    if not runs:
        return Validation([], skipped, "none", {}, {}, "no runs", reps) if skipped else None
    groups = group_configs(runs)
    if model_path is not None and Path(model_path).exists():
        model = CostModel.load(model_path)
        label = f"`{model_path}` (bundled calibration; may have been fitted on these same runs)"
    else:
        try:
            model = fit_on(runs)
            label = f"fitted here with `calibration.fit.fit_model` on all {len(runs)} runs"
        except UserError as exc:
            model = CostModel()
            label = f"CostModel defaults (the fit failed: {exc})"
    in_sample = predict(groups, lambda key: model, reps, seed)

    def held_out_model(key):
        others = [r for k, rs in groups.items() if k != key for r in rs]
        if not others:
            return None
        try:
            return fit_on(others)
        except UserError:
            return None

    held_out = predict(groups, held_out_model, reps, seed) if len(groups) > 1 else {}
    note = (f"leave-one-configuration-out: for each of the {len(groups)} configurations the cost model was "
            f"refitted (`calibration.fit.fit_model`) on the runs of all other configurations, then simulated "
            f"{reps} times" if held_out else "only one configuration: no held-out prediction possible")
    return Validation(runs, skipped, label, in_sample, held_out, note, reps)


def percent(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x * 100:.0f} %"

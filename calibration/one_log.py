"""From one event log, every other run of the same job: the what-if model against real runs,
next to a Sparklens-style baseline.

Given the logs of one job recorded in several configurations (executors, executor cores,
`spark.locality.wait`, partitions of its stages), each log in turn is the only input: its
`LoggedApp` (`logged_dag`) is changed to every other log's configuration (that log's executor
count and cores, wait, and task count of each stage, matched in `canonical` order: by depth in
the DAG and what each stage computes, since stage ids of independent stages differ between runs)
and simulated; the prediction is compared with what that
log measured (absolute percentage error of the application's job time). Each source log's
replay of its own configuration is scored too (the first thing `whatif` prints).

The baseline is what Sparklens does with an event log: the recorded task durations
list-scheduled onto the new number of task slots (each task, in index order, onto the slot
that frees first), a stage after its parents, plus the logged driver time; no locality, no
contention for a machine's cores. A changed partition count spreads the stage's recorded task
time over the new tasks with its profile (`respread`), which Sparklens itself cannot do.
"""

from __future__ import annotations

import heapq
import statistics
from dataclasses import dataclass

import numpy as np

from sparkdelay.ground.errors import UserError
from sparkdelay.eventlog.log import EventLog

from sparkdelay.calibration.logged_dag import LoggedApp, LoggedStage, cluster_with, job_spec, predict, respread


def canonical(app: LoggedApp) -> list[LoggedStage]:
    """The app's stages in an order that two runs of one job share: per job, by depth in its DAG,
    then by what the stage computes (its RDDs) and which stages it reads. Stage ids are not that
    order: independent stages are numbered as the DAGScheduler happens to visit them, so the two
    sides of a DataFrame join swap ids between runs (`sqlagg`: the scan of 20,000 rows is stage 0
    in one run and stage 1 in the next)."""
    by_id = {s.stage_id: s for s in app.stages}
    depth: dict[int, int] = {}

    def depth_of(s: LoggedStage) -> int:
        if s.stage_id not in depth:
            depth[s.stage_id] = 1 + max((depth_of(by_id[p]) for p in s.parents if p in by_id), default=-1)
        return depth[s.stage_id]

    pos: dict[int, int] = {}
    out: list[LoggedStage] = []
    for job in sorted({s.job for s in app.stages}):
        stages = [s for s in app.stages if s.job == job]
        for d in sorted({depth_of(s) for s in stages}):
            level = sorted((s for s in stages if depth_of(s) == d),
                           key=lambda s: (s.rdds, tuple(sorted(pos[p] for p in s.parents)), s.stage_id))
            for s in level:
                pos[s.stage_id] = len(out)
                out.append(s)
    return out


def shape(app: LoggedApp) -> tuple:
    """What makes two logs runs of one job: per stage in canonical order, its job, what it
    computes and the canonical positions of its parents."""
    order = canonical(app)
    pos = {s.stage_id: i for i, s in enumerate(order)}
    return tuple((s.job, s.rdds, tuple(sorted(pos[p] for p in s.parents))) for s in order)


@dataclass(frozen=True)
class Config:
    executors: int
    cores: int
    wait: str
    tasks: tuple[int, ...]   # per stage, in canonical order

    def label(self) -> str:
        return f"N{self.executors} C{self.cores} w{self.wait} tasks {'/'.join(map(str, self.tasks))}"


def config_of(app: LoggedApp) -> Config:
    cores = {e.cores for e in app.cluster.executors}
    if len(cores) != 1:
        raise UserError(f"{app.path}: executors of {sorted(cores)} cores; one size is compared")
    return Config(len(app.cluster.executors), cores.pop(), app.cluster.config.get("spark.locality.wait", "3s"),
                  tuple(s.num_tasks for s in canonical(app)))


def sparklens_time(app: LoggedApp, recorded: dict[int, list[float]], slots: int, tasks: dict[int, int]) -> float:
    """The baseline's job time for `slots` task slots and `tasks` per stage id."""
    total, finish = 0.0, {}
    by_job: dict[int, list] = {}
    for s in app.stages:
        by_job.setdefault(s.job, []).append(s)
    for j, stages in sorted(by_job.items()):
        start = app.gaps_s[j] + app.driver["submit_delay_s"]
        job_end = 0.0
        for s in stages:
            durations = recorded[s.stage_id]
            if tasks[s.stage_id] != len(durations):
                ms = respread(tuple(int(round(d * 1000)) for d in durations), tasks[s.stage_id])
                durations = [m / 1000.0 for m in ms]
            ready = max([finish[p] + app.driver["stage_gap_s"] for p in s.parents], default=0.0)
            free = [ready] * slots
            end = ready
            for d in durations:
                t = heapq.heappop(free) + d
                end = max(end, t)
                heapq.heappush(free, t)
            finish[s.stage_id] = end
            job_end = max(job_end, end)
        total += start + job_end + app.driver["collect_s"]
    return total


def task_durations(log: EventLog, app: LoggedApp) -> dict[int, list[float]]:
    ids = {s.stage_id for s in app.stages}
    out: dict[int, dict[int, float]] = {sid: {} for sid in ids}
    for t in log.tasks:
        if t.stage_id in ids and t.succeeded and t.index not in out[t.stage_id]:
            out[t.stage_id][t.index] = t.duration_ms / 1000.0
    return {sid: [d[i] for i in sorted(d)] for sid, d in out.items()}


@dataclass(frozen=True)
class Pair:
    source: str
    target: str
    target_config: str
    measured_s: float
    model_s: float
    baseline_s: float

    @property
    def model_ape(self) -> float:
        return abs(self.model_s - self.measured_s) / self.measured_s

    @property
    def baseline_ape(self) -> float:
        return abs(self.baseline_s - self.measured_s) / self.measured_s


def one_log_heldout(runs: list[tuple[EventLog, LoggedApp]], reps: int, seed: int, progress=None) -> dict:
    """Every (source, target) pair of runs of one job: model and baseline errors, and each source's replay."""
    if len(runs) < 2:
        raise UserError("at least two logs of one job are needed (one to read, one to predict)")
    shapes = {shape(a) for _, a in runs}
    if len(shapes) != 1:
        raise UserError(f"{runs[0][1].path}: the logs are not all runs of one job (their stage structures differ)")
    configs = [config_of(a) for _, a in runs]
    durations = [task_durations(log, a) for log, a in runs]
    pairs, replays = [], []
    for i, (log, src) in enumerate(runs):
        order = canonical(src)
        replay = predict(src, src.cluster, job_spec(src), reps, seed)
        replays.append(abs(replay.mean_s - src.measured_s) / src.measured_s)
        for k, (_, tgt) in enumerate(runs):
            if k == i:
                continue
            cfg = configs[k]
            cluster = cluster_with(src.cluster, cfg.executors, cfg.cores, {"spark.locality.wait": cfg.wait}, src.machines)
            tasks = {s.stage_id: n for s, n in zip(order, cfg.tasks)}
            changed = {s.stage_id: tasks[s.stage_id] for s in src.stages if tasks[s.stage_id] != s.num_tasks}
            p = predict(src, cluster, job_spec(src, changed), reps, seed)
            base = sparklens_time(src, durations[i], cfg.executors * cfg.cores, tasks)
            pairs.append(Pair(src.app_id, tgt.app_id, cfg.label(), tgt.measured_s, p.mean_s, base))
            if progress is not None:
                progress()
    m = np.array([p.model_ape for p in pairs])
    b = np.array([p.baseline_ape for p in pairs])
    return {"logs": len(runs), "pairs": len(pairs),
            "model_median_ape": float(np.median(m)), "model_p90_ape": float(np.percentile(m, 90)),
            "baseline_median_ape": float(np.median(b)), "baseline_p90_ape": float(np.percentile(b, 90)),
            "replay_median_ape": float(statistics.median(replays)), "replay_p90_ape": float(np.percentile(replays, 90)),
            "rows": [p.__dict__ | {"model_ape": p.model_ape, "baseline_ape": p.baseline_ape} for p in pairs]}

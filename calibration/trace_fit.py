"""Fit the cost model by replaying the recorded tasks through the model's own machine.

The simulator's costs are mechanisms (`sim/model/costs.py`, `backend.py`, `machine.py`): a
Python daemon per executor, workers forked from it and reused oldest-first across stages, a
start-up the first time a worker runs a stage's function, per-task and per-item CPU work, time
off the CPU, threads per task, a background load per executor and a throughput penalty when a
machine is oversubscribed. This fit gives each of those terms the value under which the
recorded run is reproduced: every task of the log is replayed where and when Spark launched it
(its executor, its launch time), its CPU work shares its machine's cores with every other
recorded task exactly as `Machine` shares them, and the predicted duration is compared with the
recorded one. Placement is taken from the log, so the fit sees costs and contention only, not
scheduling; the simulator then predicts placement from those costs.

Per task, with the terms' values θ:
- which worker it got is replayed from the log as PySpark's PythonWorkerFactory hands them out
  (one queue per executor, oldest idle worker first, a fork when none is idle): forked or not,
  and whether that worker already ran this stage's function (else it pays `worker_startup_s`);
- the first Python task of an executor starts its daemon (`executor_start_s` of CPU on the
  machine); that task and the ones launched before the daemon is up start their work then;
- each executor's JVM that launches a task burns `executor_jit_s` of CPU beside its tasks from
  that launch (one more runnable thread, as the warm-up below); a property of the platform, held
  at its measured value (`calibration.platform`) unless a calibration is told to fit it;
- each executor's JVM, once registered, still has `executor_warmup_s` of CPU to do (class
  loading, JIT), one more runnable thread on its machine from its registration (or the job's
  submission, less what it had time for before, as the simulator runs it);
- CPU demand c = overhead + items x per-item + bytes x per-byte (+ start-up, fork), served at
  `useful` x r(t), r the per-thread rate of its machine; then `wait` seconds off the CPU;
- r(t) = min(1, capacity(t) / (k(t) x penalty(k))) with k(t) the runnable threads of the
  machine's tasks (a task counts while its CPU work runs, not while it waits) and capacity(t)
  its cores less `executor_background_cores` per executor registered there by then.

The residual is the relative error of each task's duration (floored at 0.5 s, so sub-second
map tasks do not dominate), minimised with a robust loss and every term >= 0. The replay is
open-loop (the other tasks' CPU phases are the recorded ones, not the predicted ones): a
closed-loop replay (every machine an exact processor-sharing schedule of the predicted phases)
was tried on the differential cases and predicted their held-out job times worse (7.4 % median
against 5.9 % with the same terms), its errors compounding where many tasks share the cores. Which terms a
workload needs is chosen by cross-validation over its runs (`select_terms`, stepwise forward
then backward): a term is kept only if the held-out runs' task durations are predicted better
with it.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.optimize import least_squares

from sparkdelay.calibration.fit import _spreads
from sparkdelay.calibration.platform import PLATFORM_TERMS, load_platform
from sparkdelay.eventlog.log import EventLog
from sparkdelay.eventlog.shuffle_job import shuffle_job_stages
from sparkdelay.ground.errors import UserError
from sparkdelay.sim.model.cluster import MachineMap
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.job import PySparkWorkload

# Every term the fit can set, in the order of the parameter vector.
TERMS = ("task_overhead_s", "map_task_overhead_s", "worker_startup_s", "cpu_per_item_s", "map_cpu_per_item_s",
         "cpu_per_byte_s", "executor_start_s", "executor_warmup_s", "worker_fork_s", "wait_per_task_s",
         "wait_per_item_s", "oversubscription_penalty", "executor_background_cores", "thread_parallel_fraction",
         "executor_jit_s")
BASE_TERMS = ("task_overhead_s", "map_task_overhead_s", "worker_startup_s", "cpu_per_item_s", "map_cpu_per_item_s")
# The terms the selection tries. The platform's (the executors' JIT burst) are not among them:
# they are held at a measured value (`calibration.platform`), because chosen by held-out task
# errors the burst was kept on some workloads and not on others (README, "Other jobs").
OPTIONAL_TERMS = tuple(t for t in TERMS if t not in BASE_TERMS and t not in PLATFORM_TERMS)
# A term left out of a fit keeps this value (its "off" value).
# A task's extra threads are off when they do no work: one thread's worth per task.
OFF = {t: 0.0 for t in TERMS}
# Upper bounds: the model's own limits where a term has one (a fitted model must load: a per-byte
# cost standing in for a per-item one once reached 1.5 ms a byte on `sleep`), else a wide range.
_UPPER = {"oversubscription_penalty": 5.0, "executor_background_cores": 1.0, "thread_parallel_fraction": 1.0,
          "cpu_per_byte_s": 1e-3}
_DURATION_FLOOR_S = 0.5
_DAEMON_PASSES = 12
_CLOSED_PASSES = 40
_SCALE = {"cpu_per_byte_s": 1e-6}   # parameters are fitted in units where each is about 1
_JIT_STARTS = (0.5, 1.5, 4.0)   # CPU-s: where a fitted JIT burst's search starts (fit_terms)


@dataclass
class TraceTask:
    """One recorded task, as the replay needs it (times in seconds since its log's start)."""

    executor: str
    launch: float
    finish: float
    kind: str            # "reduce", "map" or "other" (another job's task: contention only)
    items: int
    nbytes: int
    threads: int
    forked: bool         # found no idle worker: forked one from the daemon
    imports: bool        # its worker had not run this stage's function: pays the start-up
    fitted: bool         # a successful task of the measured job: part of the objective


@dataclass
class TraceRun:
    """One event log's tasks on one cluster's machines, with what the replay needs to know."""

    app_id: str
    tasks: list[TraceTask]
    machine_of: dict[str, str]             # executor -> machine
    cores: dict[str, int]                  # machine -> cores
    registered: dict[str, list[float]]     # machine -> times executors registered there
    job_span: tuple[float, float]          # the measured job's submission and completion (s)

    @property
    def threads_used(self) -> int:
        return max((t.threads for t in self.tasks), default=1)


def trace_run(log: EventLog, machines: MachineMap, workload: PySparkWorkload | None) -> TraceRun | None:
    """The log as a `TraceRun`; None when it has no successful PySpark shuffle job to fit."""
    job = next((j for j in log.jobs if j.result == "JobSucceeded" and shuffle_job_stages(log, j)), None)
    if job is None or job.submission_ms is None or job.completion_ms is None:
        return None
    result, maps = shuffle_job_stages(log, job)
    t0 = min([t.launch_ms for t in log.tasks] + [job.submission_ms])
    machine_of, cores, registered = {}, {}, {}
    for e in log.executors:
        m = machines.machine_of(e.host, e.executor_id, e.cores)
        machine_of[e.executor_id] = m.name
        cores[m.name] = m.cores
        registered.setdefault(m.name, []).append(((e.added_ms or t0) - t0) / 1000.0)
    for times in registered.values():
        times.sort()
    threads = blas_threads(log, workload)
    reduce_items = workload.reduce_items(result.num_tasks) if workload else None
    map_items = {s.stage_id: (workload.map_items(s.num_tasks) if workload else None) for s in maps}
    workers = _replay_workers(log, {e.executor_id: max(1, e.cores // _task_cpus(log)) for e in log.executors})
    tasks = []
    for t in log.tasks:
        if t.finish_ms is None or t.executor_id not in machine_of:
            continue
        ok = t.succeeded and t.stage_attempt == (log.stage(t.stage_id).attempt if log.stage(t.stage_id) else 0)
        if t.stage_id == result.stage_id:
            kind = "reduce"
            items = reduce_items[t.index] if reduce_items else t.shuffle_records_read
        elif t.stage_id in map_items:
            kind = "map"
            mi = map_items[t.stage_id]
            items = mi[t.index] if mi else 0
        else:
            kind, items = "other", 0
        forked, imports = workers.get(t.task_id, (False, False))
        tasks.append(TraceTask(t.executor_id, (t.launch_ms - t0) / 1000.0, (t.finish_ms - t0) / 1000.0, kind, items,
                               t.shuffle_read_bytes, threads if kind == "reduce" else 1,
                               forked, imports, ok and kind != "other"))
    tasks.sort(key=lambda t: t.launch)
    return TraceRun(log.app_id or log.path, tasks, machine_of, cores, registered,
                    ((job.submission_ms - t0) / 1000.0, (job.completion_ms - t0) / 1000.0))


def _task_cpus(log: EventLog) -> int:
    try:
        return max(1, int(log.properties.get("spark.task.cpus", "1")))
    except ValueError:
        raise UserError(f"{log.path}: spark.task.cpus: expected a whole number, "
                        f"got {log.properties['spark.task.cpus']!r}") from None


def blas_threads(log: EventLog, workload: PySparkWorkload | None = None) -> int:
    """BLAS threads of a reduce task: OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS) as the application
    set it for its executors (`spark.executorEnv.*`), else the workload's `threads`, else 1. A log
    cannot say whether a job's code runs BLAS at all, so an unset variable is not read as
    OpenBLAS's default of a thread per core: a workload whose tasks do should say `threads`."""
    value = log.properties.get("spark.executorEnv.OPENBLAS_NUM_THREADS") or \
        log.properties.get("spark.executorEnv.OMP_NUM_THREADS")
    if value is None:
        return workload.threads if workload is not None else 1
    try:
        return max(1, int(value))
    except ValueError:
        raise UserError(f"{log.path}: spark.executorEnv.OPENBLAS_NUM_THREADS: expected a whole number, "
                        f"got {value!r}") from None


def _replay_workers(log: EventLog, slots: dict[str, int]) -> dict[int, tuple[bool, bool]]:
    """task id -> (forked a worker, paid the function's start-up), replaying PythonWorkerFactory:
    one queue of idle workers per executor, oldest first, each the set of stages it ran.

    Spark frees a slot when the executor reports the task done, but the driver stamps "Finish
    Time" after fetching the result, so a next task can launch a few ms before the previous one
    "finishes": a launch onto a full executor means the running task that finishes first had
    already ended, and its worker (PySpark releases it even earlier) is idle."""
    reuse = log.properties.get("spark.python.worker.reuse", "true").strip().lower() != "false"
    out: dict[int, tuple[bool, bool]] = {}
    by_exec: dict[str, list] = {}
    for t in log.tasks:
        by_exec.setdefault(t.executor_id, []).append(t)
    for executor, group in by_exec.items():
        cap = slots.get(executor)
        timeline = sorted([(t.launch_ms, 1, t) for t in group] +
                          [(t.finish_ms, 0, t) for t in group if t.finish_ms is not None],
                          key=lambda e: (e[0], e[1], e[2].task_id))
        idle: deque[set[int]] = deque()
        running: dict[int, tuple] = {}

        def release(task_id: int) -> None:
            t, worker = running.pop(task_id)
            if reuse:
                idle.append(worker)

        for _, is_launch, t in timeline:
            if not is_launch:
                if t.task_id in running:
                    release(t.task_id)
                continue
            while cap and len(running) >= cap:
                first = min(running.values(), key=lambda r: (r[0].finish_ms is None, r[0].finish_ms or 0, r[0].task_id))
                release(first[0].task_id)
            if idle:
                worker = idle.popleft()
                out[t.task_id] = (False, t.stage_id not in worker)
                worker.add(t.stage_id)
            else:
                worker = {t.stage_id}
                out[t.task_id] = (True, True)
            running[t.task_id] = (t, worker)
    return out


# ------------------------------------------------------------------------------ the replay
class Replay:
    """Predicted finishes of a run's tasks under the terms' values (`predict`), in numpy: the
    run's arrays are built once, each prediction is a few vector operations per machine."""

    def __init__(self, run: TraceRun):
        self.run = run
        tasks = run.tasks
        self.launch = np.array([t.launch for t in tasks])
        self.finish = np.array([t.finish for t in tasks])
        self.is_map = np.array([t.kind == "map" for t in tasks])
        self.is_reduce = np.array([t.kind == "reduce" for t in tasks])
        self.items = np.array([t.items for t in tasks], dtype=float)
        self.nbytes = np.array([t.nbytes for t in tasks], dtype=float)
        self.threads = np.array([t.threads for t in tasks], dtype=float)
        self.forked = np.array([t.forked for t in tasks])
        self.imports = np.array([t.imports and t.kind == "reduce" for t in tasks])
        self.fitted = np.array([t.fitted for t in tasks])
        executors = sorted({t.executor for t in tasks})
        self.executor = np.array([executors.index(t.executor) for t in tasks], dtype=int)
        # The first task of each executor (tasks are in launch order) starts its daemon.
        self.first = np.array([int(np.flatnonzero(self.executor == e)[0]) for e in range(len(executors))], dtype=int)
        machines = sorted(set(run.machine_of[e] for e in executors))
        exec_machine = np.array([machines.index(run.machine_of[e]) for e in executors], dtype=int)
        self.machines = [(run.cores[m], np.sort(np.array(run.registered.get(m, []), dtype=float)),
                          np.flatnonzero(exec_machine[self.executor] == i),
                          np.flatnonzero(exec_machine == i)) for i, m in enumerate(machines)]

    def predict(self, p: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """(predicted finish, recorded finish) of the run's fitted tasks, in the run's seconds."""
        predicted, _ = self._replay(p)
        return predicted[self.fitted], self.finish[self.fitted]

    def demand_residuals(self, p: dict[str, float]) -> np.ndarray:
        """Per fitted task: the CPU seconds it received by its recorded finish (less its predicted
        time off the CPU) minus the CPU seconds the terms demand of it.

        This, not the error of its finish, is the noise of its demand: on a machine shared k-fold
        a task whose demand is 0.1 s over finishes about k x 0.1 s late, so spreads taken from
        finish errors would be k times too wide and, drawn as demand noise in the simulator,
        stretch every busy stage's slowest task far past the recorded one."""
        _, residual = self._replay(p)
        return residual[self.fitted]

    def _replay(self, p: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """Predicted finishes of all tasks, and their demand residuals (CPU seconds)."""
        cpu = np.where(self.is_map, p["map_task_overhead_s"] + p["map_cpu_per_item_s"] * self.items,
                       p["task_overhead_s"] + p["cpu_per_item_s"] * self.items + p["cpu_per_byte_s"] * self.nbytes)
        cpu = cpu + self.imports * p["worker_startup_s"] + self.forked * p["worker_fork_s"]
        wait = np.where(self.is_map, 0.0, p["wait_per_task_s"] + p["wait_per_item_s"] * self.items)
        useful = np.where(self.threads > 1, 1.0 + p["thread_parallel_fraction"] * (self.threads - 1), 1.0)
        work = cpu / useful
        ready = self.launch[self.first] + p["executor_start_s"]   # daemon up, per executor (first guess)
        warmup, jit = p["executor_warmup_s"], p["executor_jit_s"]
        # JVM threads beside the tasks, per machine (start, CPU work), as the simulator runs them:
        # each JVM's warm-up from its registration or the job's submission, whichever is later,
        # less the part behind it by then (`registered_before_s`), and each JVM's JIT burst from
        # its first task's launch.
        submitted = self.run.job_span[0]
        burst_from, burst_work = [], []
        for _, registered, _, execs in self.machines:
            starts, works = [], []
            if warmup:
                starts.append(np.maximum(registered, submitted))
                works.append(np.maximum(warmup - np.maximum(submitted - registered, 0.0), 0.0))
            if jit:
                starts.append(self.launch[self.first[execs]])
                works.append(np.full(len(execs), jit))
            burst_from.append(np.concatenate(starts) if starts else np.zeros(0))
            burst_work.append(np.concatenate(works) if works else np.zeros(0))
        burst_end = [f + w for f, w in zip(burst_from, burst_work)]   # done (first guess)
        bursts = bool(warmup or jit)
        recorded_end = np.maximum(self.launch, self.finish - wait)   # CPU phases as recorded
        # The daemons' and the bursts' ends and the machines' rates depend on each other: iterate
        # to the fixed point (a few passes; one without either).
        passes = _DAEMON_PASSES if p["executor_start_s"] or bursts else 1
        for _ in range(passes):
            before = np.concatenate([ready, *burst_end]) if passes > 1 else None
            start = np.maximum(self.launch, ready[self.executor]) if p["executor_start_s"] else self.launch
            predicted = np.empty(len(self.launch))
            residual = np.empty(len(self.launch))
            for m, (cores, registered, idx, execs) in enumerate(self.machines):
                # Runnable threads: each task's working threads during its CPU phase as recorded
                # (its end less its predicted wait), each executor's daemon start while it runs,
                # each JVM thread beside them.
                s, e, w = start[idx], np.maximum(start[idx], recorded_end[idx]), useful[idx]
                if p["executor_start_s"]:
                    d0 = self.launch[self.first[execs]]
                    s, e, w = (np.concatenate((s, d0)), np.concatenate((e, np.maximum(d0, ready[execs]))),
                               np.concatenate((w, np.ones(len(execs)))))
                if bursts:
                    s, e, w = (np.concatenate((s, burst_from[m])), np.concatenate((e, burst_end[m])),
                               np.concatenate((w, np.ones(len(burst_from[m])))))
                times, rates, cum = _rate_profile(s, e, w, cores, registered, p["executor_background_cores"],
                                                  p["oversubscription_penalty"])
                predicted[idx] = _served_until(times, rates, cum, start[idx], work[idx]) + wait[idx]
                cpu_end = np.maximum(start[idx], recorded_end[idx])
                received = _service_at(times, rates, cum, cpu_end) - _service_at(times, rates, cum, start[idx])
                residual[idx] = (received - work[idx]) * useful[idx]
                if p["executor_start_s"]:
                    d0 = self.launch[self.first[execs]]
                    ready[execs] = _served_until(times, rates, cum, d0, np.full(len(execs), p["executor_start_s"]))
                if bursts:
                    burst_end[m] = _served_until(times, rates, cum, burst_from[m], burst_work[m])
            if passes > 1 and np.all(np.abs(np.concatenate([ready, *burst_end]) - before) < 1e-4):
                break
        return predicted, residual


def _rate_profile(s, e, w, cores: int, registered: np.ndarray, background: float, penalty: float):
    """Per-thread rate of a machine as a step function of time: breakpoints, the rate from each
    on, and the service one thread has received by each (all numpy arrays)."""
    live = e > s
    t = np.concatenate((s[live], e[live]))
    dk = np.concatenate((w[live], -w[live]))
    if background:
        t = np.concatenate((t, registered))
        dk = np.concatenate((dk, np.zeros(len(registered))))
    order = np.argsort(t, kind="stable")
    t, k = t[order], np.cumsum(dk[order])
    last = np.concatenate((t[1:] != t[:-1], [True])) if len(t) else np.zeros(0, dtype=bool)
    t, k = t[last], np.maximum(k[last], 0.0)
    times = np.concatenate(([min(0.0, t[0]) - 1.0 if len(t) else 0.0], t))
    k = np.concatenate(([0.0], k))
    cap = np.full(len(times), float(cores))
    if background:
        cap = np.maximum(cores - background * np.searchsorted(registered, times, side="right"), 1e-3 * cores)
    over = k > cap
    rates = np.ones(len(times))
    rates[over] = cap[over] / (k[over] * (1.0 + penalty * (k[over] - cap[over]) / cap[over]))
    cum = np.concatenate(([0.0], np.cumsum(np.diff(times) * rates[:-1])))
    return times, rates, cum


def _service_at(times, rates, cum, t):
    """The service one thread has received by times `t` (arrays)."""
    i = np.maximum(np.searchsorted(times, t, side="right") - 1, 0)
    return cum[i] + (t - times[i]) * rates[i]


def _served_until(times, rates, cum, start, work):
    """When threads that start at `start` have received `work` seconds of service (arrays)."""
    i = np.maximum(np.searchsorted(times, start, side="right") - 1, 0)
    target = cum[i] + (start - times[i]) * rates[i] + work
    j = np.maximum(np.searchsorted(cum, target, side="right") - 1, i)
    return times[j] + (target - cum[j]) / rates[j]


# ------------------------------------------------------------------------------ the fit
@dataclass
class TraceFit:
    params: dict[str, float]
    terms: tuple[str, ...]
    task_error: float          # median relative error of the fitted tasks' durations
    span_error: float          # median relative error of the runs' measured job spans
    runs: int
    tasks: int
    notes: list[str] = field(default_factory=list)


def fit_terms(runs: list[TraceRun], terms: tuple[str, ...] = TERMS, fixed: dict[str, float] | None = None,
              start: dict[str, float] | None = None) -> TraceFit:
    """Least squares over `terms` on every fitted task; the terms in `fixed` keep the values given
    there (e.g. a machine's terms fitted on other workloads), every other term its off value.
    `start` gives starting values (a fit of fewer terms on these runs: far fewer iterations)."""
    if not runs:
        raise UserError("no successful reduce tasks of a PySpark shuffle job (partitionBy -> collect) in the logs")
    fixed = dict(fixed or {})
    terms = tuple(t for t in TERMS if t in terms and t not in fixed)
    if max(r.threads_used for r in runs) <= 1:
        # No task has threads to share: the fraction cannot be seen, and keeps the model's default.
        terms = tuple(t for t in terms if t != "thread_parallel_fraction")
        fixed.setdefault("thread_parallel_fraction", CostModel.thread_parallel_fraction)
    replays = [Replay(r) for r in runs]
    observed = [np.array([t.finish for t in r.tasks if t.fitted]) for r in runs]
    launches = [np.array([t.launch for t in r.run.tasks if t.fitted]) for r in replays]
    scale = np.array([_SCALE.get(t, 1.0) for t in terms])

    def params_of(x) -> dict[str, float]:
        return {**OFF, **fixed, **{t: float(v) * s for t, v, s in zip(terms, x, scale)}}

    def residuals(x) -> np.ndarray:
        p = params_of(x)
        out = []
        for rep, obs, launch in zip(replays, observed, launches):
            pred, _ = rep.predict(p)
            dur = np.maximum(obs - launch, _DURATION_FLOOR_S)
            out.append(((pred - launch) - (obs - launch)) / dur)
        return np.concatenate(out)

    start = start or {}
    if "executor_jit_s" in terms and "executor_jit_s" not in start:
        # The JIT burst is not convex to fit: a burst longer than the job is one more runnable
        # thread throughout, a flat valley the per-task terms adjust to. From the default start a
        # noiseless fit of a 1.2 s burst ended there, at 6-20 s (task error 0.7 %, 0 at the truth).
        # So the other terms are first fitted with the burst held at a few values, and the fit
        # starts from the best of those.
        others = tuple(t for t in terms if t != "executor_jit_s")
        profile = [fit_terms(runs, others, {**fixed, "executor_jit_s": v}, start) for v in _JIT_STARTS]
        start = min(profile, key=lambda f: f.task_error).params
    x0 = np.array([(start[t] if t in start and start[t] > 0 else _start(t)) / s for t, s in zip(terms, scale)])
    lower = np.zeros(len(terms))
    upper = np.array([_UPPER.get(t, np.inf) / s for t, s in zip(terms, scale)])
    x0 = np.clip(x0, lower, upper)   # a start taken from another fit may sit on a bound
    sol = least_squares(residuals, x0, bounds=(lower, upper), loss="soft_l1", f_scale=0.1, x_scale="jac",
                        max_nfev=200)
    params = params_of(sol.x)
    return TraceFit(params, terms, float(np.median(np.abs(residuals(sol.x)))), span_error(runs, params),
                    len(runs), int(sum(len(o) for o in observed)))


def _start(term: str) -> float:
    return {"task_overhead_s": 0.3, "map_task_overhead_s": 0.5, "worker_startup_s": 1.0, "cpu_per_item_s": 0.3,
            "map_cpu_per_item_s": 0.01, "thread_parallel_fraction": 0.5,
            "executor_warmup_s": 3.0, "executor_jit_s": 1.0, "cpu_per_byte_s": 1e-6}.get(term, 0.01)


def span_error(runs: list[TraceRun], params: dict[str, float]) -> float:
    """Median relative error of the measured job's span (first launch to last finish of its tasks)."""
    errors = []
    for run in runs:
        pred, obs = Replay(run).predict(params)
        launch = min(t.launch for t in run.tasks if t.fitted)
        errors.append(abs(pred.max() - obs.max()) / max(obs.max() - launch, _DURATION_FLOOR_S))
    return float(np.median(errors)) if errors else math.nan


@dataclass
class TermChoice:
    term: str
    kept: bool
    cv_error_without: float
    cv_error_with: float


def task_errors(run: TraceRun, params: dict[str, float]) -> np.ndarray:
    """Relative errors of the run's fitted task durations replayed with `params`."""
    pred, obs = Replay(run).predict(params)
    launch = np.array([t.launch for t in run.tasks if t.fitted])
    return np.abs(pred - obs) / np.maximum(obs - launch, _DURATION_FLOOR_S)


def cv_error(runs: list[TraceRun], terms: tuple[str, ...], folds: int = 3,
             start: dict[str, float] | None = None, fixed: dict[str, float] | None = None) -> float:
    """Held-out error: fit on all runs but one fold, replay that fold's tasks; per held-out run the
    median relative error of its tasks' durations, averaged over the runs. Tasks, not job spans,
    are what it judges: a run has one span but dozens of tasks, and with the few runs a user has
    (three, say) the spans alone cannot tell a term the runs need from one that fits by accident
    (on simulated random cases, span-judged selection kept a per-task wait where the runs had a
    per-item one, 16.8 % median held-out job error against 4.0 %). Each run weighs the same, so a
    run of many tasks does not decide alone."""
    order = sorted(range(len(runs)), key=lambda i: runs[i].app_id)
    k = min(folds, len(runs))
    if k < 2:
        params = fit_terms(runs, terms, fixed, start=start).params
        return float(np.mean([np.median(task_errors(r, params)) for r in runs]))
    errors = []
    for f in range(k):
        test = [runs[i] for j, i in enumerate(order) if j % k == f]
        train = [runs[i] for j, i in enumerate(order) if j % k != f]
        params = fit_terms(train, terms, fixed, start=start).params
        errors += [float(np.median(task_errors(run, params))) for run in test]
    return float(np.mean(errors))


def _cv_of(args) -> float:
    return cv_error(*args)


def _map(fn, jobs: list) -> list:
    """fn over jobs, on this machine's cores: each candidate term's cross-validation is a dozen
    least-squares fits, independent of the others (results are the same as in one process)."""
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers <= 1 or multiprocessing.current_process().daemon:
        return [fn(j) for j in jobs]
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        return list(pool.map(fn, jobs))


def select_terms(runs: list[TraceRun], candidates: tuple[str, ...] = OPTIONAL_TERMS, folds: int = 3,
                 min_gain: float = 0.02, fixed: dict[str, float] | None = None,
                 base: tuple[str, ...] = BASE_TERMS,
                 progress: Callable[[str], None] | None = None) -> tuple[tuple[str, ...], list[TermChoice]]:
    """Stepwise selection by cross-validation, from the base terms: each forward round tries every
    remaining optional term on top of the terms kept so far and keeps the best one if it lowers
    the held-out error by at least `min_gain` (relative); it stops when none does, and then drops
    again, one by one, kept terms the held-out error is lower without. Terms are tried
    with the ones kept, not alone, because they act together: on the differential cases a per-
    executor background load alone changed nothing (0.237 -> 0.236), but on top of the per-item
    wait it lowered the held-out task error from 0.131 to 0.101. Terms in `fixed` keep their
    values throughout (the platform's, say); `base` are the terms always fitted. `progress(what)`
    is called after each step (each takes a dozen fits or more)."""
    say = progress or (lambda what: None)
    kept = tuple(base)
    choices: list[TermChoice] = []
    current = cv_error(runs, kept, folds, fixed=fixed)
    say(f"base terms: held-out task error {current:.1%}")
    remaining = [c for c in candidates if c not in kept and c not in (fixed or {}) and
                 not (c == "thread_parallel_fraction" and max(r.threads_used for r in runs) <= 1)]
    while remaining:
        start = fit_terms(runs, kept, fixed).params     # the folds' fits start from the terms kept so far
        tried = dict(zip(remaining, _map(_cv_of, [(runs, kept + (c,), folds, start, fixed) for c in remaining])))
        best = min(remaining, key=lambda c: tried[c])
        if tried[best] >= current * (1 - min_gain):
            choices += [TermChoice(c, False, current, tried[c]) for c in sorted(remaining, key=lambda c: tried[c])]
            say(f"no further term lowers the held-out error {min_gain:.0%}")
            break
        choices.append(TermChoice(best, True, current, tried[best]))
        say(f"kept {best}: held-out task error {tried[best]:.1%}")
        kept += (best,)
        current = tried[best]
        remaining.remove(best)
    # Backward: a term kept early can be made redundant by one kept later (on the differential
    # cases the per-executor background load came before the executors' warm-up, and once the
    # warm-up was in, the held-out error was lower without it: 0.0761 against 0.0771). Drop
    # the optional term whose removal lowers the held-out error most, while one does.
    while len(kept) > len(base) + 1:
        optional = [t for t in kept if t not in base]
        without = dict(zip(optional, _map(_cv_of, [(runs, tuple(t for t in kept if t != c), folds, None, fixed)
                                                   for c in optional])))
        worst = min(optional, key=lambda c: without[c])
        if without[worst] >= current:
            break
        choices.append(TermChoice(worst, False, without[worst], current))
        say(f"dropped {worst} again: held-out task error {without[worst]:.1%}")
        kept = tuple(t for t in kept if t != worst)
        current = without[worst]
    return kept, choices


# ------------------------------------------------------------------------------ the model
@dataclass
class Calibration:
    """A fitted cost model with the report of how its terms were chosen."""

    model: CostModel
    fit: TraceFit
    choices: list[TermChoice]
    uncertainty: dict[str, float | None]
    held: dict[str, float] = field(default_factory=dict)   # terms held at given values (the platform's)


def held_unidentified(unidentified) -> dict[str, float]:
    """The trace fit's terms among `unidentified` (the columns the linear fit of the same runs'
    tasks left out, `calibration.fit`), held at 0.

    A term the tasks cannot identify (no task exercises it, or it is collinear with the others,
    as the per-item cost is when every reduce task has the same items, or the map's when every
    map task has) is as unidentifiable for the replay: the fit would split one duration among
    them at random (one run of one reduce task came out 4.4 s start-up + 5.5 s overhead + 2.6 s
    per item)."""
    return {t: 0.0 for t in unidentified if t in TERMS}


def calibrate_traces(runs: list[TraceRun], driver: dict[str, float], choose_terms: bool = True,
                     terms: tuple[str, ...] | None = None, folds: int = 3,
                     fixed: dict[str, float] | None = None,
                     platform: dict[str, float] | str | None = None,
                     progress: Callable[[str], None] | None = None) -> Calibration:
    """The cost model of `runs`: terms chosen by cross-validation (or the given `terms`), fitted on
    every run, the noise spreads from the residuals, the driver delays as given.

    `platform`: the platform's terms (`calibration.platform`), held at these values in the
    selection and the fit; None reads the bundled platform file, {} leaves them off, "fit" fits
    them from the logs beside the base terms. `fixed` holds further terms (and wins); a term
    named in `terms` is fitted. `progress` is `select_terms`'s."""
    if platform == "fit":
        held, base = {}, BASE_TERMS + PLATFORM_TERMS
    else:
        held, base = dict(load_platform() if platform is None else platform), BASE_TERMS
    held.update(fixed or {})
    if terms is not None:
        held = {t: v for t, v in held.items() if t not in terms}
    choices: list[TermChoice] = []
    if terms is None:
        # One run cannot be cross-validated: it gets the base terms only.
        terms, choices = (select_terms(runs, folds=folds, fixed=held, base=base, progress=progress)
                          if choose_terms and len(runs) >= 2
                          else (base, []))
    fit = fit_terms(runs, terms, held)
    residuals, imports, items = [], [], []
    for run in runs:
        demand = Replay(run).demand_residuals(fit.params)
        fitted = [t for t in run.tasks if t.fitted]
        for t, r in zip(fitted, demand):
            if t.kind == "reduce":
                residuals.append(r)
                imports.append(t.imports)
                items.append(t.items)
    params = dict(fit.params)
    params.update(_spreads(np.array(residuals), np.array(imports), np.array(items), params, len(fit.terms)))
    params.update(driver)
    model = CostModel.from_params(params, where="fitted model")
    return Calibration(model, fit, choices, {t: None for t in TERMS}, held)

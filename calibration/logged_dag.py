"""Any application's event log as the model's cluster and DAG job, and that job changed (what-if).

`logged_app(log, machines)` reads every successful job of the log in order, each with the
stages that ran (latest attempt; stages Spark skipped because an earlier job left their shuffle
output behind are left out, and so is a job none of whose stages ran), their parents, and per
task what the model needs:
- its CPU demand: the CPU its wall-clock interval received under processor sharing with every
  other task the log shows on the same machine (`contention.cpu_demands`), so a task slowed by
  its neighbours is charged its own work only. The demand includes what the task spent on
  Python worker start-up and off the CPU; a what-if therefore keeps those per task. What an
  executor JVM paid once on its first tasks (their slow deserialization,
  `contention.executor_cold_start`) is taken out and charged by the model once per executor
  (`executor_first_task_s`), so a what-if with more executors pays it more often;
- which tasks started a Python worker for their stage (`contention.fresh_worker_tasks`): in a
  stage with tasks on fresh and on reused workers, the start-up is fitted as its own term and
  left to the model to charge, so more executors (more fresh workers) cost what they should;
- its size: shuffle bytes read, else input bytes, else input records, and per stage a fit
  demand = fixed + per-unit x size (+ start-up; least squares, all >= 0), where the fixed cost is
  the JVM-side overhead the log records per task (deserialization, result serialization), not an
  intercept fitted to a handful of tasks: that is what a changed partition count is scaled by;
- the shuffle bytes it wrote and read, from which a one-parent stage's preferred hosts come (the
  20 % rule on the simulated map outputs, as ShuffledRDD; two or more parents: none, as
  CoGroupedRDD; no parent: none, unless the log's `prefs` were known, which it does not record).
The driver's own times come from the log too: action to first stage submission
(`submit_delay_s`), parent completion to child submission (`stage_gap_s`), result stage
completion to job end (`collect_s`), as medians, and the time between one job's end and the
next one's submission (each job's `gap_s`). What cannot be modelled is refused with one line
naming the job and stage: a stage that was retried, jobs that overlapped in time (concurrent
actions), a stage whose tasks did not all succeed.

`job_spec(app, partitions)` builds the job, with any stage's task count changed: the stage's
recorded sizes are spread over the new partitions keeping their observed skew (the size profile
over the partition index, interpolated), each new task costs fixed + per-unit x its size, and
what the stage writes for its children is spread the same way. `cluster_with(...)` changes the
executors' number and cores.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.limits import check_limit
from sparkdelay.sim.model.cluster import ClusterSpec, ExecutorSpec, MachineMap, MachineSpec
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.engine import simulate
from sparkdelay.sim.model.job import JobSpec, StageSpec

from sparkdelay.eventlog.log import EventLog, Job, Stage, Task

from sparkdelay.calibration.contention import cpu_demands, executor_cold_start, fresh_worker_tasks
from sparkdelay.calibration.validate import logged_cluster


@dataclass(frozen=True)
class LoggedStage:
    """One stage as it ran: ids from the log, and per task (by index) demand and sizes."""

    stage_id: int
    name: str
    job: int                      # position of its job among the modelled jobs
    parents: tuple[int, ...]      # stage ids (of the same job) whose shuffle output it read
    demands_s: tuple[float, ...]  # CPU seconds per task index
    sizes: tuple[int, ...]        # bytes (or records) per task index: what the work scales with
    size_unit: str                # "records", "bytes" or "" (no size recorded)
    read_bytes: tuple[int, ...]
    write_bytes: tuple[int, ...]
    fixed_s: float                # fitted demand = fixed_s + per_unit_s x size
    per_unit_s: float
    residual_sd_s: float          # spread of the demands around the fit
    python: bool = False          # its tasks run in Python workers
    startup_s: float = 0.0        # CPU a task pays on a worker that has not run this stage yet
    rdds: tuple[str, ...] = ()    # its RDDs' class names, sorted: what it computes, whatever its id

    @property
    def num_tasks(self) -> int:
        return len(self.demands_s)

    @property
    def label(self) -> str:
        return f"{self.stage_id}:{self.name}"


@dataclass(frozen=True)
class LoggedJob:
    job_id: int
    submission_ms: int
    completion_ms: int

    @property
    def duration_s(self) -> float:
        return (self.completion_ms - self.submission_ms) / 1000.0


@dataclass(frozen=True)
class LoggedApp:
    path: str
    app_id: str
    cluster: ClusterSpec
    stages: tuple[LoggedStage, ...]
    jobs: tuple[LoggedJob, ...]
    gaps_s: tuple[float, ...]     # per job: driver time since the previous job ended (job 0: 0)
    driver: dict[str, float]      # submit_delay_s, stage_gap_s, collect_s (medians over the log)
    machines: MachineMap = field(default_factory=MachineMap)   # the cluster file's machines, spare hosts included
    executor_first_task_s: float = 0.0   # CPU an executor's JVM pays on its first tasks (contention.executor_cold_start)

    @property
    def measured_s(self) -> float:
        """The application's job time: first job's submission to last job's completion."""
        return (self.jobs[-1].completion_ms - self.jobs[0].submission_ms) / 1000.0

    def cost_model(self) -> CostModel:
        """The driver's times and the executors' cold start: every task's own cost is in its
        stage's demands already."""
        return CostModel(worker_startup_s=0.0, worker_startup_sd_s=0.0, task_overhead_s=0.0,
                         task_overhead_sd_s=0.0, cpu_per_item_s=0.0, cpu_per_item_sd_s=0.0,
                         map_task_overhead_s=0.0, executor_first_task_s=self.executor_first_task_s, **self.driver)

    def stage_named(self, key: str, where: str) -> LoggedStage:
        """A stage by its id or its name (the log's call site); a name must be unique."""
        if key.isdigit():
            found = [s for s in self.stages if s.stage_id == int(key)]
        else:
            found = [s for s in self.stages if s.name == key]
        if len(found) == 1:
            return found[0]
        known = ", ".join(s.label for s in self.stages)
        if not found:
            raise UserError(f"{where}: no stage {key!r} in {self.path} (stages: {known})")
        raise UserError(f"{where}: {len(found)} stages are named {key!r}; give the stage id (stages: {known})")


# ---------------------------------------------------------------------------- reading the log
def _succeeded_jobs(log: EventLog) -> list[Job]:
    jobs = [j for j in log.jobs if j.result == "JobSucceeded" and j.submission_ms is not None
            and j.completion_ms is not None]
    if not jobs:
        raise UserError(f"{log.path}: no successful job with a submission and a completion time in the log")
    for a, b in zip(jobs, jobs[1:]):
        if b.submission_ms < a.completion_ms:
            raise UserError(f"{log.path}: job {b.job_id} was submitted before job {a.job_id} ended: concurrent "
                            f"jobs (actions from several threads) are not modelled")
    return jobs


def _stage_tasks(log: EventLog, job: Job, stage: Stage, by_stage: dict) -> list[Task]:
    if stage.attempt > 0:
        raise UserError(f"{log.path}: job {job.job_id}, stage {stage.stage_id} ({stage.name}): attempt "
                        f"{stage.attempt}: retried stages are not modelled")
    done = {}
    for t in by_stage.get((stage.stage_id, stage.attempt), []):
        if t.succeeded and t.index not in done:
            done[t.index] = t
    if sorted(done) != list(range(stage.num_tasks)):
        missing = stage.num_tasks - len(done)
        raise UserError(f"{log.path}: job {job.job_id}, stage {stage.stage_id} ({stage.name}): {missing} of "
                        f"{stage.num_tasks} tasks have no successful attempt in the log")
    return [done[i] for i in range(stage.num_tasks)]


def _jvm_overhead_s(task: Task) -> float:
    """What a task costs whatever its data: deserializing the task and serializing its result."""
    return ((task.executor_deserialize_time_ms or 0) + (task.result_serialization_time_ms or 0)) / 1000.0


# Fewest tasks a stage needs before a fixed cost per task is fitted from it (by leave-one-out):
# below it, a handful of sizes that differ by chance would decide how the stage's work scales.
MIN_TASKS_FOR_INTERCEPT = 5


def _fit(demands: list[float], sizes: list[int], fresh: list[bool],
         overhead: float = 0.0) -> tuple[float, float, float, float]:
    """(fixed, per unit, start-up, residual sd) of demand = fixed + per_unit x size + start-up x
    fresh, all >= 0 (non-negative least squares).

    Two readings of the fixed cost compete. Data-parallel: the fixed cost is the JVM-side
    overhead the log records per task (`overhead`: deserializing the task, serializing its
    result) and the rest is work that scales with the data, so a what-if with more partitions
    spreads the stage's work. Fitted: an intercept, for work a task pays whatever its data (a
    model's weights unpickled per task). The fitted one is kept only where the stage has at least
    MIN_TASKS_FOR_INTERCEPT tasks and it predicts each task left out better than the
    data-parallel one: an intercept through a few tasks whose sizes differ by chance takes the
    stage's work for a per-task cost and multiplies it with the partitions. The start-up is
    told apart where the stage has tasks on fresh and on reused workers; where every task forked a
    fresh worker, a fitted intercept above the JVM overhead is taken for the start-up."""
    d = np.asarray(demands, float)
    x = np.asarray(sizes, float)
    f = np.asarray(fresh, float)
    if not x.any():   # no size: the stage's work spread evenly (job_spec), its mean per task
        return float(d.mean()) if len(d) else 0.0, 0.0, 0.0, float(d.std(ddof=1)) if len(d) > 1 else 0.0
    with_startup = 0 < f.sum() < len(f) and len(d) > 3

    def data_parallel(d, x, f):
        fixed = min(overhead, float(d.min()))
        if with_startup and 0 < f.sum() < len(f):
            (per, startup), _ = nnls(np.column_stack([x, f]), d - fixed)
        else:   # the ratio estimate: the stage's work over its data, so the total is kept
            per, startup = float((d - fixed).sum() / x.sum()) if x.sum() else 0.0, 0.0
        return fixed, float(per), float(startup)

    def fitted(d, x, f):
        cols = [np.ones_like(d), x] + ([f] if with_startup and 0 < f.sum() < len(f) else [])
        coef, _ = nnls(np.column_stack(cols), d)
        return float(coef[0]), float(coef[1]), float(coef[2]) if len(coef) > 2 else 0.0

    def loo(reading) -> float:
        errs = []
        for i in range(len(d)):
            keep = np.arange(len(d)) != i
            a, b, c = reading(d[keep], x[keep], f[keep])
            errs.append((d[i] - a - b * x[i] - c * f[i]) ** 2)
        return float(np.mean(errs))

    reading = data_parallel
    if len(d) >= MIN_TASKS_FOR_INTERCEPT and np.ptp(x) > 0 and loo(fitted) < loo(data_parallel):
        reading = fitted
    fixed, per, startup = reading(d, x, f)
    if reading is fitted and len(f) and f.all() and fixed > overhead:
        # Every task forked a fresh worker: its start-up and a per-task cost are one intercept.
        # It is read as the start-up (imports, the model built on first use), which a what-if
        # with fewer slots than tasks charges only to the tasks that find no idle worker.
        fixed, startup = min(overhead, fixed), fixed - min(overhead, fixed)
    resid = d - fixed - per * x - startup * f
    sd = float(resid.std(ddof=1)) if len(d) > 1 else 0.0
    return fixed, per, startup, sd


def _is_python(stage: Stage) -> bool:
    """Whether its tasks run Python workers: a PythonRDD (RDD API) or a Python UDF's plan node."""
    return any(n.startswith("Python") or "EvalPython" in n for n in stage.rdd_names)


def _sizes(tasks: list[Task], read: list[int]) -> tuple[list[int], str]:
    """What a stage's work scales with, per task: shuffle bytes read, else input bytes, else input
    records. Bytes come first because PySpark pickles records in batches, so its "Total Records
    Read" counts batches (one per map output block), not items."""
    for sizes, unit in ((read, "bytes"), ([t.input_bytes for t in tasks], "bytes"),
                        ([t.input_records for t in tasks], "records")):
        if any(sizes):
            return sizes, unit
    return [0] * len(tasks), ""


def logged_app(log: EventLog, machines: MachineMap) -> LoggedApp:
    jobs = _succeeded_jobs(log)
    cluster = logged_cluster(log, machines, jobs[0], local_mode=True)
    machine_of_host = {h: m for m in cluster.machines for h in m.hosts}
    by_stage = defaultdict(list)
    for t in log.tasks:
        by_stage[(t.stage_id, t.stage_attempt)].append(t)
    slots = {e.id: e.cores for e in cluster.executors}
    fresh_ids = fresh_worker_tasks(log.tasks, slots)
    demand = cpu_demands(log.tasks, lambda t: (machine_of_host[t.host].name, machine_of_host[t.host].cores)
                         if t.host in machine_of_host else (f"host:{t.host}", 1))
    # The model charges an executor's cold start once per executor (a what-if with more executors
    # pays it more often), so the first tasks that paid it in the log keep only the rest.
    cold, first_task_s = executor_cold_start(log.tasks, demand)
    demand = {tid: d - cold.get(tid, 0.0) for tid, d in demand.items()}

    stages: list[LoggedStage] = []
    kept_jobs: list[LoggedJob] = []
    submit_delays, stage_gaps, collects = [], [], []
    for job in jobs:
        ran = [s for sid in sorted(job.stage_ids) if (s := log.stage(sid)) is not None and s.submission_ms is not None]
        if not ran:
            continue   # every stage skipped: its time counts as driver time before the next job
        jpos = len(kept_jobs)
        kept_jobs.append(LoggedJob(job.job_id, job.submission_ms, job.completion_ms))
        ids = {s.stage_id for s in ran}
        submit_delays.append(min(s.submission_ms for s in ran) - job.submission_ms)
        for s in ran:
            tasks = _stage_tasks(log, job, s, by_stage)
            parents = tuple(p for p in s.parent_ids if p in ids)   # a skipped parent's output exists already
            ends = [c for p in parents if (c := log.stage(p).completion_ms) is not None]
            if ends:   # a stage is submitted once its last parent has finished
                stage_gaps.append(s.submission_ms - max(ends))
            read = [t.shuffle_read_bytes for t in tasks]
            sizes, unit = _sizes(tasks, read)
            python = _is_python(s)
            fresh = [python and t.task_id in fresh_ids for t in tasks]
            ds = [demand.get(t.task_id, 0.0) for t in tasks]
            overhead = statistics.median(_jvm_overhead_s(t) for t in tasks)
            fixed, per, startup, sd = _fit(ds, sizes, fresh, overhead)
            # The start-up is the model's to charge (to the tasks its own replay finds on fresh
            # workers), so each task keeps only the rest of its demand.
            own = tuple(max(0.0, dm - startup * fr) for dm, fr in zip(ds, fresh))
            stages.append(LoggedStage(s.stage_id, s.name or f"stage {s.stage_id}", jpos, parents, own,
                                      tuple(sizes), unit, tuple(read), tuple(t.shuffle_bytes_written for t in tasks),
                                      fixed, per, sd, python, startup, tuple(sorted(s.rdd_names))))
        result = max(ran, key=lambda s: s.stage_id)
        if result.completion_ms is not None:
            collects.append(job.completion_ms - result.completion_ms)
    _check_result_stages(log, stages)
    gaps = tuple([0.0] + [max(0.0, (b.submission_ms - a.completion_ms) / 1000.0)
                          for a, b in zip(kept_jobs, kept_jobs[1:])])
    med = lambda xs: max(0.0, statistics.median(xs) / 1000.0) if xs else 0.0   # noqa: E731
    driver = {"submit_delay_s": med(submit_delays), "stage_gap_s": med(stage_gaps), "collect_s": med(collects)}
    return LoggedApp(log.path, log.app_id or Path(log.path).name, cluster, tuple(stages), tuple(kept_jobs), gaps,
                     driver, machines, first_task_s)


def _check_result_stages(log: EventLog, stages: list[LoggedStage]) -> None:
    """A job's stages must all lead to its last (result) stage, as the DAG form requires."""
    by_job = defaultdict(list)
    for s in stages:
        by_job[s.job].append(s)
    for group in by_job.values():
        result = group[-1]
        ids = {s.stage_id: s for s in group}
        reached, todo = set(), [result.stage_id]
        while todo:
            sid = todo.pop()
            if sid not in reached:
                reached.add(sid)
                todo.extend(ids[sid].parents)
        for s in group:
            if s.stage_id not in reached:
                raise UserError(f"{log.path}: stage {s.label} does not lead to its job's result stage "
                                f"{result.label}: not a job Spark's DAGScheduler builds")


# --------------------------------------------------------------------------- the job, changed
def respread(values: tuple[int, ...], n: int) -> list[int]:
    """`values` (per partition) spread over n partitions with the same profile over the partition
    index, as whole numbers with the same total (largest remainders get the rest)."""
    total = sum(values)
    if n == len(values):
        return list(values)
    if total == 0:
        return [0] * n
    old = np.asarray(values, float)
    # The profile as a step function of the relative position; each new partition takes the
    # mean of the old profile over its own share of [0, 1).
    edges_old = np.linspace(0.0, 1.0, len(old) + 1)
    cum_old = np.concatenate([[0.0], np.cumsum(old)])
    cum_new = np.interp(np.linspace(0.0, 1.0, n + 1), edges_old, cum_old)
    shares = np.diff(cum_new)
    base = np.floor(shares).astype(int)
    rest = int(total - base.sum())
    order = np.argsort(-(shares - base), kind="stable")
    base[order[:rest]] += 1
    return [int(v) for v in base]


def job_spec(app: LoggedApp, partitions: dict[int, int] | None = None, noise: bool = True) -> JobSpec:
    """The logged application as a DAG job; `partitions` (stage id -> tasks) changes stages' widths."""
    partitions = partitions or {}
    names = {s.stage_id: f"{s.stage_id}:{s.name}" for s in app.stages}
    specs = []
    for s in app.stages:
        n = partitions.get(s.stage_id, s.num_tasks)
        check_limit(n, "tasks", f"stage {s.label}: partitions")
        sd = 0.0   # a task as logged keeps its own demand: its spread is the stage's, not noise
        if n == s.num_tasks:
            demands, read, write = s.demands_s, s.read_bytes, s.write_bytes
        else:
            sd = s.residual_sd_s if noise else 0.0   # new tasks vary about the fit as the logged ones did
            sizes = respread(s.sizes, n)
            if s.size_unit:
                demands = tuple(max(0.0, s.fixed_s + s.per_unit_s * x) for x in sizes)
            else:   # no size recorded: the stage's total work, spread evenly (the data-parallel reading)
                demands = (sum(s.demands_s) / n,) * n
            read, write = tuple(respread(s.read_bytes, n)), tuple(respread(s.write_bytes, n))
        specs.append(StageSpec(
            name=names[s.stage_id], prefs=((),) * n, cpu_seconds=tuple(demands),
            cpu_seconds_sd=sd,
            parents=tuple(names[p] for p in s.parents), job=s.job, python=s.python, startup_seconds=s.startup_s,
            shuffle_write_bytes=tuple(write), shuffle_read_bytes=tuple(read),
            prefs_from_shuffle=len(s.parents) == 1))
    return JobSpec(stages=tuple(specs), gaps_s=app.gaps_s, where=app.path)


def cluster_with(cluster: ClusterSpec, executors: int | None = None, cores: int | None = None,
                 config: dict[str, str] | None = None, machines_map: MachineMap | None = None) -> ClusterSpec:
    """The cluster with `executors` executors, `cores` slots each, and `config` keys set. The
    first logged executors are kept; more go first on the hosts `machines_map` (the cluster file)
    lists and the log did not use, in the file's order, on their machines (so a fourth loopback
    host of a 2-core box shares its 2 cores), then on new hosts placed like the logged ones: on
    the one shared machine if all hosts share one, else each on a machine of its own."""
    execs = list(cluster.executors)
    machines = {m.name: m for m in cluster.machines}
    machine_of = {h: m.name for m in cluster.machines for h in m.hosts}
    shared = len(machines) == 1 and len(cluster.hosts) > 1
    template = execs[0]
    spare = [(h, m) for h, m in (machines_map.by_host.items() if machines_map else ()) if h not in machine_of]
    if executors is not None:
        if executors <= len(execs):
            execs = execs[:executors]
        else:
            taken = {e.host for e in execs}
            k = 0
            while len(execs) < executors:
                k += 1
                if spare:
                    host, m = spare.pop(0)
                    execs.append(replace(template, id=f"whatif-{k}", host=host))
                    kept = machines.get(m.name, replace(m, hosts=()))
                    machines[m.name] = replace(kept, hosts=kept.hosts + (host,))
                    machine_of[host] = m.name
                    taken.add(host)
                    continue
                host = f"whatif-host-{k}"
                if host in taken:
                    continue
                execs.append(replace(template, id=f"whatif-{k}", host=host))
                if shared:
                    m = next(iter(machines.values()))
                    machines[m.name] = replace(m, hosts=m.hosts + (host,))
                else:
                    m = machines[machine_of[template.host]]
                    machines[f"host:{host}"] = MachineSpec(f"host:{host}", m.cores, (host,))
                machine_of[host] = next(n for n, mm in machines.items() if host in mm.hosts)
    if cores is not None:
        # A host that is a machine of its own with as many cores as its slots (the default rule
        # for a host no cluster file places) is a node whose cores are its executors' slots: it
        # grows and shrinks with them. A machine hosts share keeps its cores.
        own = {name for name, m in machines.items() if len(m.hosts) == 1
               and m.cores == sum(e.cores for e in execs if e.host == m.hosts[0])}
        execs = [replace(e, cores=cores) for e in execs]
        for name in own:
            m = machines[name]
            machines[name] = replace(m, cores=cores * sum(1 for e in execs if e.host in m.hosts))
    hosts = {e.host for e in execs}
    kept = [replace(m, hosts=tuple(h for h in m.hosts if h in hosts)) for m in machines.values()]
    conf = dict(cluster.config)
    if cores is not None:
        conf["spark.executor.cores"] = str(cores)
    conf.update(config or {})
    return ClusterSpec.make(cluster.spark_version, conf, execs, [m for m in kept if m.hosts],
                            where="what-if cluster")


# ------------------------------------------------------------------------------- predictions
@dataclass(frozen=True)
class Prediction:
    """`reps` simulations of one configuration: job times and the widest stage's placement."""

    times_s: tuple[float, ...]          # the application's job time per simulation
    job_times_s: tuple[tuple[float, ...], ...]   # per simulation, per job
    stage_tasks: dict[str, int]         # stage label -> tasks
    tasks_per_host: dict[str, float]    # mean over simulations, all stages
    locality_counts: dict[str, float]   # mean over simulations, all stages

    @property
    def mean_s(self) -> float:
        return float(np.mean(self.times_s))

    def interval_s(self, mass: float = 0.95) -> tuple[float, float]:
        """The central `mass` of the simulated job times."""
        lo, hi = np.quantile(self.times_s, [(1 - mass) / 2, (1 + mass) / 2])
        return float(lo), float(hi)


def predict(app: LoggedApp, cluster: ClusterSpec, job: JobSpec, reps: int, seed: int) -> Prediction:
    times, per_job = [], []
    hosts: dict[str, float] = defaultdict(float)
    locality: dict[str, float] = defaultdict(float)
    cm = app.cost_model()
    for i in range(reps):
        r = simulate(cluster, job, cm, seed=seed + i)
        times.append(r.job_duration_s)
        per_job.append(tuple(r.job_durations_s))
        for t in r.tasks:
            hosts[t.host] += 1 / reps
            locality[t.locality] += 1 / reps
    return Prediction(tuple(times), tuple(per_job), {s.name: s.num_tasks for s in job.stages},
                      {h: hosts.get(h, 0.0) for h in cluster.hosts}, dict(locality))


def logged_placement(log: EventLog, app: LoggedApp) -> tuple[dict[str, int], dict[str, int]]:
    """Tasks per host and per locality level of the modelled stages' successful tasks, as logged."""
    ids = {s.stage_id for s in app.stages}
    hosts: dict[str, int] = {h: 0 for h in app.cluster.hosts}
    locality: dict[str, int] = defaultdict(int)
    seen = set()
    for t in log.tasks:
        if t.stage_id in ids and t.succeeded and (t.stage_id, t.index) not in seen:
            seen.add((t.stage_id, t.index))
            hosts[t.host] = hosts.get(t.host, 0) + 1
            locality[t.locality] += 1
    return hosts, dict(locality)


def shuffle_widths(app: LoggedApp, partitions: int) -> dict[int, int]:
    """Stage id -> tasks when the application's shuffle partition count becomes `partitions`.

    The logged count is the most common task count of the stages that read a shuffle (ties: the
    smaller; `spark.sql.shuffle.partitions` or the `numPartitions` the job passed). A stage that
    reads a shuffle and also has other partitions, as PySpark's `join` does (the union of the
    shuffled side and the other RDD's slices, `P + M` tasks), keeps the others: it changes by the
    same difference, at least to 1 task."""
    readers = [s for s in app.stages if s.parents]
    if not readers:
        return {}
    counts: dict[int, int] = defaultdict(int)
    for s in readers:
        counts[s.num_tasks] += 1
    logged = min(counts, key=lambda n: (-counts[n], n))
    return {s.stage_id: max(1, s.num_tasks + partitions - logged) for s in readers}

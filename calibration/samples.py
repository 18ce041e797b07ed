"""From parsed event logs to fitting samples: one per task, one per job for the driver delays.

A job counts when it succeeded and its result stage read a shuffle (`eventlog.shuffle_job`: the
PySpark `partitionBy -> mapPartitions -> collect` shape); its other stages are the map side. Only
the last attempt of each stage and only successful tasks become samples, but every task of the
log counts for machine contention and for the Python worker pools (with
`spark.python.worker.reuse=false` every task starts a worker). Items per reduce task come from
the workload (exact partition sizes for P = the result stage's task count); without one, from
"Total Records Read", which for PySpark counts pickled batches, not items. Driver delays are job
submission -> first launch, last map-stage completion -> first reduce launch, and last reduce
finish -> job end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.sparkconf import spark_default

from sparkdelay.calibration.contention import cpu_demands, fresh_worker_tasks
from sparkdelay.sim.model.cluster import MachineMap
from sparkdelay.sim.model.job import PySparkWorkload
from sparkdelay.eventlog.log import EventLog, Job, Stage, Task
from sparkdelay.eventlog.shuffle_job import shuffle_job_stages


@dataclass
class TaskSample:
    app_id: str
    kind: str  # "reduce" or "map"
    job_id: int
    stage_id: int
    index: int
    task_id: int
    executor_id: str
    host: str
    machine: str
    launch_s: float  # since the job's submission
    duration_s: float
    cpu_s: float  # CPU demand recovered from the duration under processor sharing
    fresh_worker: bool
    items: int | None
    items_source: str  # "workload", "records" or "unknown"
    shuffle_read_bytes: int


@dataclass
class DriverSample:
    app_id: str
    job_id: int
    partitions: int
    submit_delay_s: float
    stage_gap_s: float | None
    collect_s: float | None


@dataclass
class LogSamples:
    path: str
    app_id: str
    tasks: list[TaskSample]
    jobs: list[DriverSample]
    skipped_jobs: int


def samples_from_log(log: EventLog, machines: MachineMap, workload: PySparkWorkload | None) -> LogSamples:
    """Task samples (reduce side, then map side) and one driver sample for every shuffle job."""
    sampler = _sampler(log, machines)
    tasks: list[TaskSample] = []
    jobs: list[DriverSample] = []
    skipped = 0
    for job in log.jobs:
        stages = shuffle_job_stages(log, job) if job.result == "JobSucceeded" else None
        if stages is None or job.submission_ms is None:
            skipped += 1
            continue
        result, maps = stages
        if len(maps) != 1:
            # A chain of shuffles (wordcount, sqlagg): its "map" stages would be fitted as one map
            # side and its last stage as the only reduce, a silently wrong model; as validate does.
            raise UserError(f"{log.path}: job {job.job_id} has {len(maps)} map stages "
                            f"({', '.join(str(s.stage_id) for s in maps)}) before result stage {result.stage_id}; "
                            f"only one shuffle is modelled (`sparkdelay whatif` models any job shape)")
        reduce_tasks = _finished(log, result)
        tasks += _reduce_samples(sampler, job, result, reduce_tasks, workload)
        tasks += _map_samples(sampler, job, maps, workload)
        jobs.append(_driver_sample(sampler, job, result, maps, reduce_tasks))
    return LogSamples(log.path, sampler.app_id, tasks, jobs, skipped)


@dataclass(frozen=True)
class _Sampler:
    """What every sample of one log needs: where each task ran, its CPU demand, fresh workers."""

    log: EventLog
    app_id: str
    machine_of: Callable[[Task], tuple[str, int]]   # task -> (machine name, cores)
    demand: dict[int, float]                        # task id -> CPU seconds received
    fresh: set[int]                                 # ids of tasks that started a Python worker

    def sample(self, t: Task, job: Job, kind: str, items: int | None, source: str) -> TaskSample:
        return TaskSample(self.app_id, kind, job.job_id, t.stage_id, t.index, t.task_id, t.executor_id, t.host,
                          self.machine_of(t)[0], (t.launch_ms - job.submission_ms) / 1000.0, t.duration_ms / 1000.0,
                          self.demand[t.task_id], t.task_id in self.fresh, items, source, t.shuffle_read_bytes)


def _sampler(log: EventLog, machines: MachineMap) -> _Sampler:
    cores_of_exec = {e.executor_id: e.cores for e in log.executors}

    def machine_of(t: Task) -> tuple[str, int]:
        m = machines.machine_of(t.host, t.executor_id, cores_of_exec.get(t.executor_id, 1))
        return m.name, m.cores

    # Every task of the log counts, not only sampled ones: they all shared the machines and workers.
    return _Sampler(log, log.app_id or log.path, machine_of, cpu_demands(log.tasks, machine_of), _fresh_workers(log))


def _fresh_workers(log: EventLog) -> set[int]:
    reuse = log.properties.get("spark.python.worker.reuse", spark_default("spark.python.worker.reuse"))
    if reuse.strip().lower() == "false":
        return {t.task_id for t in log.tasks}  # every task forks its own worker
    try:
        task_cpus = max(1, int(log.properties.get("spark.task.cpus", spark_default("spark.task.cpus"))))
    except ValueError:
        raise UserError(f"{log.path}: spark.task.cpus: expected a whole number, "
                        f"got {log.properties['spark.task.cpus']!r}") from None
    return fresh_worker_tasks(log.tasks, {e.executor_id: e.cores // task_cpus for e in log.executors})


def _finished(log: EventLog, stage: Stage) -> list[Task]:
    """Successful tasks of one stage attempt that have a finish time, by partition index."""
    return sorted((t for t in log.tasks if t.stage_id == stage.stage_id and t.stage_attempt == stage.attempt
                   and t.succeeded and t.finish_ms is not None), key=lambda t: t.index)


def _reduce_samples(sampler: _Sampler, job: Job, result: Stage, reduce_tasks: list[Task],
                    workload: PySparkWorkload | None) -> list[TaskSample]:
    items_by_index = workload.reduce_items(result.num_tasks) if workload else None
    if items_by_index is None:
        return [sampler.sample(t, job, "reduce", t.shuffle_records_read, "records") for t in reduce_tasks]
    _check_workload_matches(sampler.log, reduce_tasks, items_by_index, workload)
    return [sampler.sample(t, job, "reduce", items_by_index[t.index], "workload") for t in reduce_tasks]


def _map_samples(sampler: _Sampler, job: Job, maps: list[Stage], workload: PySparkWorkload | None) -> list[TaskSample]:
    out = []
    for stage in maps:
        map_items = workload.map_items(stage.num_tasks) if workload else None
        for t in _finished(sampler.log, stage):
            if map_items is not None:
                out.append(sampler.sample(t, job, "map", map_items[t.index], "workload"))
            else:
                out.append(sampler.sample(t, job, "map", None, "unknown"))
    return out


def _driver_sample(sampler: _Sampler, job: Job, result: Stage, maps: list[Stage],
                   reduce_tasks: list[Task]) -> DriverSample:
    log, t0 = sampler.log, job.submission_ms
    first_launch = min(t.launch_ms for t in log.tasks if t.stage_id in job.stage_ids)
    map_done = [s.completion_ms for s in maps if s.completion_ms is not None]
    reduce_launch = min((t.launch_ms for t in log.tasks if t.stage_id == result.stage_id), default=None)
    last_finish = max((t.finish_ms for t in reduce_tasks), default=None)
    return DriverSample(
        sampler.app_id, job.job_id, result.num_tasks,
        submit_delay_s=(first_launch - t0) / 1000.0,
        stage_gap_s=(reduce_launch - max(map_done)) / 1000.0 if map_done and reduce_launch is not None else None,
        collect_s=(job.completion_ms - last_finish) / 1000.0 if last_finish is not None and job.completion_ms else None,
    )


def _check_workload_matches(log: EventLog, reduce_tasks: list[Task], items_by_index: list[int], workload: PySparkWorkload):
    # A partition with items reads at least one shuffle record and an empty one reads none;
    # anything else means the workload file describes a different job than the log.
    for t in reduce_tasks:
        if (items_by_index[t.index] > 0) != (t.shuffle_records_read > 0):
            raise UserError(
                f"{workload.source}: does not match {log.path}: partition {t.index} of {len(items_by_index)} "
                f"should hold {items_by_index[t.index]} items but its task read {t.shuffle_records_read} shuffle records "
                f"(check keys, python_hash_seed, python_version)")

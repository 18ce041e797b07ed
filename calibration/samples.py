"""From parsed event logs to fitting samples: one per task, one per job for the driver delays.

A job counts when it succeeded and its result stage (the job's highest stage id: Spark creates
parents first) read a shuffle, i.e. the PySpark `partitionBy -> mapPartitions -> collect`
shape; its other stages are the map side. Only the last attempt of each stage and only
successful tasks become samples, but every task of the log counts for machine contention and
for the Python worker pools (with `spark.python.worker.reuse=false` every task starts a worker). Items per reduce task come from the workload (exact partition sizes
for P = the result stage's task count); without one, from "Total Records Read", which for
PySpark counts pickled batches, not items. Driver delays are job submission -> first launch,
last map-stage completion -> first reduce launch, and last reduce finish -> job end.
"""

from __future__ import annotations

from dataclasses import dataclass

from sparkdelay.ground.errors import UserError

from sparkdelay.calibration.contention import cpu_demands, fresh_worker_tasks
from sparkdelay.calibration.inputs import MachineMap, Workload
from sparkdelay.eventlog.records import EventLog, Job, Task


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


def shuffle_job_stages(log: EventLog, job: Job):
    """(result stage, map stages) of a job, latest attempts, or None if it is not a shuffle job."""
    ran = [s for sid in job.stage_ids if (s := log.stage(sid)) is not None and s.submission_ms is not None]
    if not ran:
        return None
    result = max(ran, key=lambda s: s.stage_id)
    if not result.parent_ids:
        return None
    return result, [s for s in ran if s is not result]


def samples_from_log(log: EventLog, machines: MachineMap, workload: Workload | None) -> LogSamples:
    app_id = log.app_id or log.path
    cores_of_exec = {e.executor_id: e.cores for e in log.executors}

    def machine_of(t: Task) -> tuple[str, int]:
        m = machines.machine_of(t.host, t.executor_id, cores_of_exec.get(t.executor_id, 1))
        return m.name, m.cores

    demand = cpu_demands(log.tasks, machine_of)
    if log.properties.get("spark.python.worker.reuse", "true").strip().lower() == "false":
        fresh = {t.task_id for t in log.tasks}  # every task forks its own worker
    else:
        try:
            task_cpus = max(1, int(log.properties.get("spark.task.cpus", "1")))
        except ValueError:
            raise UserError(f"{log.path}: spark.task.cpus: expected a whole number, "
                            f"got {log.properties['spark.task.cpus']!r}") from None
        fresh = fresh_worker_tasks(log.tasks, {e.executor_id: e.cores // task_cpus for e in log.executors})
    tasks: list[TaskSample] = []
    jobs: list[DriverSample] = []
    skipped = 0
    for job in log.jobs:
        stages = shuffle_job_stages(log, job) if job.result == "JobSucceeded" else None
        if stages is None or job.submission_ms is None:
            skipped += 1
            continue
        result, maps = stages
        t0 = job.submission_ms

        def done(stage):
            return sorted((t for t in log.tasks if t.stage_id == stage.stage_id and t.stage_attempt == stage.attempt
                           and t.succeeded and t.finish_ms is not None), key=lambda t: t.index)

        reduce_tasks = done(result)
        P = result.num_tasks
        items_by_index = workload.reduce_items(P) if workload else None
        if items_by_index is not None:
            _check_workload_matches(log, reduce_tasks, items_by_index, workload)

        def sample(t: Task, kind: str, items, source: str) -> TaskSample:
            return TaskSample(app_id, kind, job.job_id, t.stage_id, t.index, t.task_id, t.executor_id, t.host,
                              machine_of(t)[0], (t.launch_ms - t0) / 1000.0, t.duration_ms / 1000.0,
                              demand[t.task_id], t.task_id in fresh, items, source, t.shuffle_read_bytes)

        for t in reduce_tasks:
            if items_by_index is not None:
                tasks.append(sample(t, "reduce", items_by_index[t.index], "workload"))
            else:
                tasks.append(sample(t, "reduce", t.shuffle_records_read, "records"))
        for stage in maps:
            map_items = workload.map_items(stage.num_tasks) if workload else None
            for t in done(stage):
                if map_items is not None:
                    tasks.append(sample(t, "map", map_items[t.index], "workload"))
                else:
                    tasks.append(sample(t, "map", None, "unknown"))

        job_tasks = [t for t in log.tasks if t.stage_id in job.stage_ids]
        first_launch = min(t.launch_ms for t in job_tasks)
        map_done = [s.completion_ms for s in maps if s.completion_ms is not None]
        reduce_launch = min((t.launch_ms for t in log.tasks if t.stage_id == result.stage_id), default=None)
        last_finish = max((t.finish_ms for t in reduce_tasks), default=None)
        jobs.append(DriverSample(
            app_id, job.job_id, P,
            submit_delay_s=(first_launch - t0) / 1000.0,
            stage_gap_s=(reduce_launch - max(map_done)) / 1000.0 if map_done and reduce_launch is not None else None,
            collect_s=(job.completion_ms - last_finish) / 1000.0 if last_finish is not None and job.completion_ms else None,
        ))
    return LogSamples(log.path, app_id, tasks, jobs, skipped)


def _check_workload_matches(log: EventLog, reduce_tasks: list[Task], items_by_index: list[int], workload: Workload):
    # A partition with items reads at least one shuffle record and an empty one reads none;
    # anything else means the workload file describes a different job than the log.
    for t in reduce_tasks:
        if (items_by_index[t.index] > 0) != (t.shuffle_records_read > 0):
            raise UserError(
                f"{workload.source}: does not match {log.path}: partition {t.index} of {len(items_by_index)} "
                f"should hold {items_by_index[t.index]} items but its task read {t.shuffle_records_read} shuffle records "
                f"(check keys, python_hash_seed, python_version)")

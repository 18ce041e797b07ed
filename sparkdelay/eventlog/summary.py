"""What one event log says about its application, per job and per stage (`sparkdelay inspect`).

Pure functions over an `EventLog` into small dataclass records, so that any Spark job (many jobs,
many stages, SQL, RDD) can be read the way a user looks at it first: task counts (succeeded,
failed, killed, speculative), stage durations ("Submission Time" -> "Completion Time"), task-time
quantiles of "Executor Run Time" and of launch -> finish, skew (max / median task duration),
tasks per locality level under Spark's names, executors and hosts, input, shuffle read and
write, CPU vs run time, GC time; per job its duration, stages, their "Parent IDs" and the
critical path; and the driver's time between jobs.

Definitions (so numbers can be checked against the log by hand):
- A stage summary is one stage *attempt*; its tasks are every task attempt that ran for it.
  Quantiles are over its succeeded tasks (as Spark's UI summarises), linear interpolation
  between closest ranks (numpy's default, pandas' `describe`).
- A task is succeeded when its "Task End Reason" is Success, killed when Spark marked it
  "Killed" or its reason is TaskKilled, failed when it ended otherwise, running when the log
  holds no SparkListenerTaskEnd for it.
- A stage that several jobs list ran for the job active at its "Submission Time" (the later
  jobs skip it: its shuffle output is reused); without job times (Spark 1.2), for the first job
  listing it.
- A job's duration is "Submission Time" -> "Completion Time"; when the log has no job times
  (Spark 1.2 wrote none), it is the span of its stages (`duration_from` says which).
- The critical path of a job walks back from the stage that completed last through "Parent
  IDs", each time to the parent (run in the same job) that completed last: the chain of stages
  that held the job up. Stages the job skipped are not on it. Logs of Spark before 1.4 have no
  "Parent IDs": the path of a job that ran more than one stage is then unknown (None).
- Driver time between jobs: per job, from the previous job's "Completion Time" to its
  "Submission Time", jobs in submission order (negative: the jobs overlapped); for the
  application, the time between the first job's submission and the last completion when no job
  was running (so overlapping jobs add nothing), and the time before the first job (from the
  application's start) and after the last (to its end).
- Metrics a Spark version did not record yet count as 0 (Spark 1.2 wrote no local shuffle bytes
  and no record counts); CPU time, which Spark 2.1 added, is then shown as not recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sparkdelay.eventlog.log import EventLog, Job, Stage, Task

# Spark's TaskLocality, in its order (most local first).
LOCALITY_LEVELS = ("PROCESS_LOCAL", "NODE_LOCAL", "NO_PREF", "RACK_LOCAL", "ANY")
QUANTILES = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)


@dataclass
class Quantiles:
    """min, p25, median, p75, p90, max of a set of times in ms (all None when the set is empty)."""
    count: int
    min: float | None = None
    p25: float | None = None
    median: float | None = None
    p75: float | None = None
    p90: float | None = None
    max: float | None = None


@dataclass
class TaskCounts:
    tasks: int = 0
    succeeded: int = 0
    failed: int = 0
    killed: int = 0
    running: int = 0
    speculative: int = 0


@dataclass
class IO:
    """Sums over tasks of Spark's task metrics (bytes, records, ms)."""
    input_bytes: int = 0
    input_records: int = 0
    shuffle_read_bytes: int = 0
    shuffle_read_records: int = 0
    shuffle_write_bytes: int = 0
    shuffle_write_records: int = 0
    run_time_ms: int = 0
    cpu_time_ms: float = 0.0
    gc_time_ms: int = 0
    cpu_per_run: float | None = None   # CPU time / run time; None when no CPU time is recorded


@dataclass
class StageSummary:
    stage_id: int
    attempt: int
    name: str
    job_id: int | None
    num_tasks: int
    parent_ids: list[int]
    submission_ms: int | None
    completion_ms: int | None
    duration_ms: int | None
    failure_reason: str | None
    counts: TaskCounts
    run_time: Quantiles          # "Executor Run Time" of succeeded tasks
    task_duration: Quantiles     # launch -> finish of succeeded tasks
    skew: float | None           # max / median task duration
    locality: dict[str, int]
    executors: list[str]
    hosts: list[str]
    io: IO


@dataclass
class JobSummary:
    job_id: int
    result: str | None
    submission_ms: int | None
    completion_ms: int | None
    duration_ms: int | None
    duration_from: str | None          # "job times", "stage times", or None (not known)
    stage_ids: list[int]               # every stage the job lists
    stages_run: list[int]              # the ones that ran for it (the rest it skipped)
    parents: dict[int, list[int]]      # stage run -> its "Parent IDs"
    critical_path: list[int] | None    # first stage -> last; None: the log has no "Parent IDs" to follow
    critical_path_ms: int | None       # first submission -> last completion along the path
    gap_before_ms: int | None          # driver time since the previous job's completion
    counts: TaskCounts
    locality: dict[str, int]
    io: IO


@dataclass
class ExecutorUse:
    executor_id: str
    host: str
    cores: int
    tasks: int


@dataclass
class AppSummary:
    path: str
    app_id: str | None
    app_name: str | None
    spark_version: str | None
    in_progress: bool
    start_ms: int | None
    end_ms: int | None
    duration_ms: int | None
    executors: list[ExecutorUse]
    hosts: list[str]
    counts: TaskCounts
    locality: dict[str, int]
    io: IO
    before_first_job_ms: int | None
    between_jobs_ms: int | None        # time between the first job's start and the last's end when no job ran
    after_last_job_ms: int | None
    jobs: list[JobSummary] = field(default_factory=list)
    stages: list[StageSummary] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------


def quantiles(values) -> Quantiles:
    values = [v for v in values if v is not None]
    if not values:
        return Quantiles(0)
    q = np.quantile(np.asarray(values, dtype=float), QUANTILES)
    return Quantiles(len(values), *(float(x) for x in q))


def _killed(t: Task) -> bool:
    return t.killed or t.end_reason == "TaskKilled"


def task_counts(tasks: list[Task]) -> TaskCounts:
    c = TaskCounts(tasks=len(tasks))
    for t in tasks:
        c.speculative += t.speculative
        if t.finish_ms is None:
            c.running += 1
        elif t.succeeded:
            c.succeeded += 1
        elif _killed(t):
            c.killed += 1
        else:
            c.failed += 1
    return c


def locality(tasks: list[Task]) -> dict[str, int]:
    out = {level: 0 for level in LOCALITY_LEVELS}
    for t in tasks:
        out[t.locality] = out.get(t.locality, 0) + 1   # a level of a future Spark is kept as named
    return out


def io(tasks: list[Task]) -> IO:
    s = IO()
    cpu_ns = 0
    for t in tasks:
        s.input_bytes += t.input_bytes
        s.input_records += t.input_records
        s.shuffle_read_bytes += t.shuffle_read_bytes
        s.shuffle_read_records += t.shuffle_records_read
        s.shuffle_write_bytes += t.shuffle_bytes_written
        s.shuffle_write_records += t.shuffle_records_written
        s.run_time_ms += t.executor_run_time_ms or 0
        cpu_ns += t.executor_cpu_time_ns or 0
        s.gc_time_ms += t.jvm_gc_time_ms or 0
    s.cpu_time_ms = cpu_ns / 1e6
    # Spark before 2.1 measured no "Executor CPU Time": a zero sum over real run time means "not recorded".
    s.cpu_per_run = s.cpu_time_ms / s.run_time_ms if cpu_ns and s.run_time_ms else None
    return s


def _span(start: int | None, end: int | None) -> int | None:
    return None if start is None or end is None else end - start


def stage_jobs(log: EventLog) -> dict[tuple[int, int], int | None]:
    """(stage id, attempt) -> the job it ran for (see the module's definitions)."""
    out = {}
    for s in log.stages:
        listing = [j for j in log.jobs if s.stage_id in j.stage_ids]
        active = [j for j in listing if j.submission_ms is not None and s.submission_ms is not None
                  and j.submission_ms <= s.submission_ms
                  and (j.completion_ms is None or s.submission_ms <= j.completion_ms)]
        chosen = max(active, key=lambda j: j.submission_ms) if active else (listing[0] if listing else None)
        out[(s.stage_id, s.attempt)] = chosen.job_id if chosen else None
    return out


def summarize_stage(stage: Stage, tasks: list[Task], job_id: int | None) -> StageSummary:
    ok = [t for t in tasks if t.succeeded]
    durations = quantiles([t.duration_ms for t in ok])
    skew = durations.max / durations.median if durations.median else None
    return StageSummary(
        stage_id=stage.stage_id, attempt=stage.attempt, name=stage.name, job_id=job_id,
        num_tasks=stage.num_tasks, parent_ids=list(stage.parent_ids),
        submission_ms=stage.submission_ms, completion_ms=stage.completion_ms,
        duration_ms=_span(stage.submission_ms, stage.completion_ms), failure_reason=stage.failure_reason,
        counts=task_counts(tasks), run_time=quantiles([t.executor_run_time_ms for t in ok]),
        task_duration=durations, skew=skew, locality=locality(tasks),
        executors=sorted({t.executor_id for t in tasks}, key=_natural), hosts=sorted({t.host for t in tasks}),
        io=io(tasks),
    )


def _natural(eid: str):
    return (0, int(eid), "") if eid.isdigit() else (1, 0, eid)


def critical_path(stages: list[Stage]) -> list[int]:
    """Stage ids from the first to the one that completed last, through "Parent IDs" (the
    parent that completed last each time), among the given stages of one job."""
    ends: dict[int, int] = {}
    for s in stages:
        if s.completion_ms is not None:
            ends[s.stage_id] = max(ends.get(s.stage_id, s.completion_ms), s.completion_ms)
    if not ends:
        return []
    parents = {s.stage_id: s.parent_ids for s in stages}
    # The last to complete; a tie goes to the higher id (the result stage is created last).
    cur = max(ends, key=lambda sid: (ends[sid], sid))
    path = [cur]
    while True:
        ran = [p for p in parents.get(cur, []) if p in ends and p not in path]
        if not ran:
            return path[::-1]
        cur = max(ran, key=lambda sid: (ends[sid], sid))
        path.append(cur)


def summarize_job(job: Job, stages: list[Stage], tasks: list[Task]) -> JobSummary:
    # Without "Parent IDs" (Spark before 1.4) only a one-stage job's path is known.
    known = all(s.parents_known for s in stages) or len({s.stage_id for s in stages}) <= 1
    path = critical_path(stages) if known else None
    starts = [s.submission_ms for s in stages if s.submission_ms is not None]
    stops = [s.completion_ms for s in stages if s.completion_ms is not None]
    duration, source = _span(job.submission_ms, job.completion_ms), "job times"
    if duration is None and job.result is not None and starts and stops:
        duration, source = max(stops) - min(starts), "stage times"
    elif duration is None:
        source = None
    on_path = [s for s in stages if s.stage_id in (path or [])]
    path_start = [s.submission_ms for s in on_path if s.stage_id == path[0] and s.submission_ms is not None] if path else []
    path_end = [s.completion_ms for s in on_path if s.stage_id == path[-1] and s.completion_ms is not None] if path else []
    return JobSummary(
        job_id=job.job_id, result=job.result, submission_ms=job.submission_ms, completion_ms=job.completion_ms,
        duration_ms=duration, duration_from=source, stage_ids=sorted(job.stage_ids),
        stages_run=sorted({s.stage_id for s in stages}),
        parents={s.stage_id: sorted(s.parent_ids) for s in sorted(stages, key=lambda s: (s.stage_id, s.attempt))},
        critical_path=path,
        critical_path_ms=max(path_end) - min(path_start) if path_start and path_end else None,
        gap_before_ms=None, counts=task_counts(tasks), locality=locality(tasks), io=io(tasks),
    )


def summarize(log: EventLog) -> AppSummary:
    """The whole summary of one log."""
    by_stage: dict[tuple[int, int], list[Task]] = {}
    for t in log.tasks:
        by_stage.setdefault((t.stage_id, t.stage_attempt), []).append(t)
    jobs_of = stage_jobs(log)
    stages = [summarize_stage(s, by_stage.get((s.stage_id, s.attempt), []), jobs_of[(s.stage_id, s.attempt)])
              for s in log.stages]
    jobs = []
    for job in log.jobs:
        mine = [s for s in log.stages if jobs_of[(s.stage_id, s.attempt)] == job.job_id]
        tasks = [t for s in mine for t in by_stage.get((s.stage_id, s.attempt), [])]
        jobs.append(summarize_job(job, mine, tasks))
    # Driver time: jobs in submission order (job id order where times are missing).
    timed = sorted((j for j in jobs if j.submission_ms is not None), key=lambda j: (j.submission_ms, j.job_id))
    for prev, nxt in zip(timed, timed[1:]):
        nxt.gap_before_ms = _span(prev.completion_ms, nxt.submission_ms)
    # Idle time between jobs: the holes in the union of the jobs' spans (overlapping jobs leave none).
    spans = sorted((j.submission_ms, j.completion_ms) for j in timed if j.completion_ms is not None)
    idle, reach = (0 if len(spans) == len(timed) else None), None
    for start, end in spans:
        if reach is not None and idle is not None and start > reach:
            idle += start - reach
        reach = end if reach is None else max(reach, end)
    used = {}
    for t in log.tasks:
        used[t.executor_id] = used.get(t.executor_id, 0) + 1
    executors = [ExecutorUse(e.executor_id, e.host, e.cores, used.get(e.executor_id, 0))
                 for e in sorted(log.executors, key=lambda e: _natural(e.executor_id))]
    return AppSummary(
        path=log.path, app_id=log.app_id, app_name=log.app_name, spark_version=log.spark_version,
        in_progress=log.in_progress, start_ms=log.start_ms, end_ms=log.end_ms,
        duration_ms=_span(log.start_ms, log.end_ms),
        executors=executors, hosts=sorted({e.host for e in log.executors}),
        counts=task_counts(log.tasks), locality=locality(log.tasks), io=io(log.tasks),
        before_first_job_ms=_span(log.start_ms, timed[0].submission_ms) if timed else None,
        between_jobs_ms=idle if len(timed) > 1 else None,
        after_last_job_ms=_span(max((j.completion_ms for j in timed if j.completion_ms is not None), default=None),
                                log.end_ms) if timed else None,
        jobs=jobs, stages=stages,
    )

"""What a run's own Spark event log says about it, for its row in the run index.

Spark names a finished log `<appId>[.codec]` in `spark.eventLog.dir`; `find_log` finds it (not
an `.inprogress` one). Reading it (every codec Spark writes, rolling folders, a cut-off last line)
is `sparkdelay.eventlog.reader`'s job; `read_logged_run` reduces it to the index's fields: the
measured job duration (`sparkdelay.eventlog.shuffle_job`: the successful shuffle job's
SparkListenerJobStart "Submission Time" to its SparkListenerJobEnd "Completion Time"), where that
job's reduce-stage tasks succeeded, per host, and the executors lost during the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.eventlog.shuffle_job import measured_job, succeeded_tasks


@dataclass(frozen=True)
class LoggedRun:
    """The index fields a run's event log provides (names as in `index.jsonl`)."""

    job_duration_ms: int | None              # None: no successful shuffle job in the log
    job_results: list[str | None]            # "Job Result" of every job, in job id order
    reduce_tasks_per_host: dict[str, int]    # host -> successful reduce tasks, hosts sorted
    executors_removed: list[str]


def find_log(eventlog_dir: Path, app_id: str) -> Path | None:
    """The finished event log of `app_id` in `eventlog_dir` (not an `.inprogress` one)."""
    for suffix in ("", ".zstd", ".lz4", ".snappy", ".lzf"):
        path = Path(eventlog_dir) / f"{app_id}{suffix}"
        if path.is_file():
            return path
    return None


def read_logged_run(path: Path) -> LoggedRun:
    log = read_eventlog(path)
    job = measured_job(log)
    placement: dict[str, int] = {}
    for t in succeeded_tasks(log, job.result) if job is not None else []:
        placement[t.host] = placement.get(t.host, 0) + 1
    return LoggedRun(
        job_duration_ms=job.duration_ms if job is not None else None,
        job_results=[j.result for j in log.jobs],
        reduce_tasks_per_host=dict(sorted(placement.items())),
        executors_removed=[e.executor_id for e in log.executors if e.removed_ms is not None],
    )

"""What the run index records from a run's Spark event log.

Spark names a finished log `<appId>[.codec]` in `spark.eventLog.dir`; `find_log` finds it (not
an `.inprogress` one). Reading (every codec Spark writes, rolling folders, a cut-off last line)
is `calibration.eventlog`'s job; `summarize` reduces its records to the index's fields: job
duration from the first SparkListenerJobStart "Submission Time" to the last SparkListenerJobEnd
"Completion Time", the result stage's successful tasks per host, and lost executors.
"""

from __future__ import annotations

from pathlib import Path

from sparkdelay.eventlog.reader import read_eventlog


def find_log(eventlog_dir: Path, app_id: str) -> Path | None:
    """The finished event log of `app_id` in `eventlog_dir` (not an `.inprogress` one)."""
    for suffix in ("", ".zstd", ".lz4", ".snappy", ".lzf"):
        path = Path(eventlog_dir) / f"{app_id}{suffix}"
        if path.is_file():
            return path
    return None


def summarize(path: Path) -> dict:
    log = read_eventlog(path)
    starts = [j.submission_ms for j in log.jobs if j.submission_ms is not None]
    ends = [j.completion_ms for j in log.jobs if j.completion_ms is not None]
    placement: dict[str, int] = {}
    if log.tasks:
        last = max(t.stage_id for t in log.tasks)  # the stage that ran partitionBy's reducers
        for t in log.tasks:
            if t.stage_id == last and t.succeeded:
                placement[t.host] = placement.get(t.host, 0) + 1
    return {
        "job_duration_ms": (max(ends) - min(starts)) if starts and ends else None,
        "job_results": [j.result for j in log.jobs],
        "reduce_tasks_per_host": dict(sorted(placement.items())),
        "executors_removed": [e.executor_id for e in log.executors if e.removed_ms is not None],
    }

"""An event log's content: `EventLog` and a small dataclass per Spark entity it records.

One application's executors, jobs, stages and tasks, as `reader` folds them from the listener
events; `shuffle_job` finds the measured job among them.

Times keep Spark's units and epoch: wall-clock times are epoch milliseconds (`*_ms`), CPU times
nanoseconds (`*_ns`), as in the log, so nothing is lost by rounding; `seconds()` converts. Every
record is flat enough for `dataclasses.asdict` to go straight to JSON, and `write_csv` writes a
list of them as CSV (list fields as JSON text). Shuffle-read bytes are stored both split (remote,
local) and summed, because the cost model reads the sum.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable


def seconds(ms: int | None) -> float | None:
    return None if ms is None else ms / 1000.0


@dataclass
class Executor:
    executor_id: str
    host: str
    cores: int
    added_ms: int | None = None
    removed_ms: int | None = None
    removed_reason: str | None = None


@dataclass
class Job:
    job_id: int
    submission_ms: int | None
    completion_ms: int | None = None
    stage_ids: list[int] = field(default_factory=list)
    result: str | None = None  # "JobSucceeded", "JobFailed"; None while running


@dataclass
class Stage:
    stage_id: int
    attempt: int
    name: str
    num_tasks: int
    submission_ms: int | None = None
    completion_ms: int | None = None
    parent_ids: list[int] = field(default_factory=list)
    rdd_names: list[str] = field(default_factory=list)  # e.g. ShuffledRDD tells a reduce stage
    failure_reason: str | None = None
    parents_known: bool = True  # False: its "Stage Info" has no "Parent IDs" (Spark before 1.4 wrote none)


@dataclass
class Task:
    stage_id: int
    stage_attempt: int
    index: int
    attempt: int
    task_id: int
    executor_id: str
    host: str
    locality: str
    launch_ms: int
    finish_ms: int | None = None  # None: still running when the log ends
    task_type: str | None = None  # "ShuffleMapTask" / "ResultTask"
    speculative: bool = False
    failed: bool = False
    killed: bool = False
    end_reason: str | None = None  # "Success", "ExceptionFailure", "TaskKilled", ...
    end_detail: str | None = None
    getting_result_ms: int = 0
    executor_run_time_ms: int | None = None
    executor_cpu_time_ns: int | None = None
    executor_deserialize_time_ms: int | None = None
    result_serialization_time_ms: int | None = None
    jvm_gc_time_ms: int | None = None
    result_size: int | None = None
    shuffle_remote_bytes_read: int = 0
    shuffle_local_bytes_read: int = 0
    shuffle_read_bytes: int = 0
    shuffle_records_read: int = 0
    shuffle_bytes_written: int = 0
    shuffle_records_written: int = 0
    input_bytes: int = 0
    input_records: int = 0

    @property
    def succeeded(self) -> bool:
        return self.end_reason == "Success"

    @property
    def duration_ms(self) -> int | None:
        return None if self.finish_ms is None else self.finish_ms - self.launch_ms


@dataclass
class EventLog:
    path: str
    app_id: str | None = None
    app_name: str | None = None
    spark_version: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    properties: dict[str, str] = field(default_factory=dict)
    executors: list[Executor] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    in_progress: bool = False
    skipped_events: dict[str, int] = field(default_factory=dict)  # unknown event type -> count

    def stage(self, stage_id: int, attempt: int | None = None) -> Stage | None:
        """The latest attempt of a stage (or the given attempt)."""
        found = [s for s in self.stages if s.stage_id == stage_id and attempt in (None, s.attempt)]
        return max(found, key=lambda s: s.attempt) if found else None


def write_csv(records: Iterable, path: str | Path) -> int:
    """Write dataclass records as CSV (header from the first record); return the row count."""
    rows = [dataclasses.asdict(r) for r in records]
    with open(path, "w", newline="") as f:
        if not rows:
            return 0
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()})
    return len(rows)

"""One row per task attempt, named as Spark's event log names its TaskInfo fields.

`TaskRecord` is the trace the model writes (`--trace out.csv`) and what metrics and the Gantt
chart read. Field names follow the event log's `SparkListenerTaskEnd` ("Stage ID", "Task ID",
"Index", "Attempt", "Executor ID", "Host", "Locality", "Launch Time", "Finish Time") in
snake_case; times are seconds since the application started (the event log uses epoch
milliseconds). `slot` is the executor thread that ran it (for the Gantt chart), `items` the
number of input items and `cpu_s` the CPU seconds it needed.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterable, Sequence

# snake_case field -> the event log's key
EVENT_LOG_KEYS = {
    "stage_id": "Stage ID", "task_id": "Task ID", "index": "Index", "attempt": "Attempt",
    "executor_id": "Executor ID", "host": "Host", "locality": "Locality",
    "launch_time": "Launch Time", "finish_time": "Finish Time",
}


@dataclass(slots=True)
class TaskRecord:
    stage_id: int
    task_id: int
    index: int
    attempt: int
    executor_id: str
    host: str
    locality: str
    launch_time: float
    finish_time: float = float("nan")
    slot: int = 0
    items: int = 0
    cpu_s: float = 0.0
    stage_name: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


FIELDS = [f.name for f in fields(TaskRecord)]
_FLOAT_FIELDS = {"launch_time", "finish_time", "cpu_s"}
_INT_FIELDS = {"stage_id", "task_id", "index", "attempt", "slot", "items"}


def write_csv(records: Iterable[TaskRecord], path_or_file) -> None:
    """Write records as CSV with a header of the field names (times rounded to microseconds)."""
    def rows(writer):
        writer.writerow(FIELDS)
        for r in records:
            writer.writerow([round(v, 6) if isinstance(v, float) else v
                             for v in (getattr(r, f) for f in FIELDS)])
    if isinstance(path_or_file, (str, Path)):
        with open(path_or_file, "w", newline="") as fh:
            rows(csv.writer(fh))
    else:
        rows(csv.writer(path_or_file))


def read_csv(path_or_file) -> list[TaskRecord]:
    if isinstance(path_or_file, (str, Path)):
        with open(path_or_file, newline="") as fh:
            return read_csv(fh)
    out = []
    for row in csv.DictReader(path_or_file):
        kwargs = {}
        for k in FIELDS:
            if k not in row:
                continue
            v = row[k]
            kwargs[k] = float(v) if k in _FLOAT_FIELDS else int(v) if k in _INT_FIELDS else v
        out.append(TaskRecord(**kwargs))
    return out


def to_json(records: Sequence[TaskRecord], event_log_names: bool = False) -> str:
    """A JSON list of records; with `event_log_names`, the event log's keys where it has one."""
    if event_log_names:
        rows = [{EVENT_LOG_KEYS.get(k, k): v for k, v in r.to_dict().items()} for r in records]
    else:
        rows = [r.to_dict() for r in records]
    return json.dumps(rows)


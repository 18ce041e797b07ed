"""Read one Spark 3.x/4.x event log into the records of `sparkdelay.eventlog.log`.

A log is a single file (`<appId>[.codec][.inprogress]`) or a rolling folder
`eventlog_v2_<appId>/` holding `events_<n>_<appId>[.codec]` files, read in numeric order of n,
and an `appstatus_<appId>[.inprogress]` marker. Each line is one JSON event written by Spark's
`JsonProtocol`; field names are used exactly as written there ("Task Info" -> "Launch Time", ...).
Unknown event types are counted and skipped, so newer Spark versions still load. A log still being
written may end in half a line: for an in-progress log the broken last line is dropped; anywhere
else a line that is not JSON, or an event missing a field the records need, is a `UserError`
naming the file and line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

from sparkdelay.ground.errors import UserError

from sparkdelay.eventlog.codecs import iter_chunks
from sparkdelay.eventlog.log import EventLog, Executor, Job, Stage, Task

EVENTS_FILE_RE = re.compile(r"^events_(\d+)_")
ROLLING_PREFIX = "eventlog_v2_"


class _Missing(Exception):
    """A required field is absent or has the wrong type; the message is its dotted path."""


def _get(obj, *keys, kind=None, default=...):
    """obj[k1][k2]...; raise _Missing naming the path unless a default is given."""
    cur = obj
    for i, key in enumerate(keys):
        if not isinstance(cur, dict) or key not in cur or cur[key] is None:
            if default is not ...:
                return default
            raise _Missing(" -> ".join(f'"{k}"' for k in keys[: i + 1]))
        cur = cur[key]
    if kind is not None and not isinstance(cur, kind) or (kind is int and isinstance(cur, bool)):
        raise _Missing(" -> ".join(f'"{k}"' for k in keys) + f" (expected {getattr(kind, '__name__', kind)})")
    return cur


def _num(obj, *keys, default=0):
    value = _get(obj, *keys, default=default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if value is default:
            return value
        raise _Missing(" -> ".join(f'"{k}"' for k in keys) + " (expected a number)")
    return int(value)


# ---------------------------------------------------------------------------------------------
# Files and lines


def log_files(path: str | Path) -> tuple[list[Path], bool]:
    """The files of one log in reading order, and whether the log is still in progress."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: event log not found")
    if path.is_file():
        return [path], path.name.endswith(".inprogress")
    events = []
    for child in path.iterdir():
        m = EVENTS_FILE_RE.match(child.name)
        if m and child.is_file():
            events.append((int(m.group(1)), child))
    if not events:
        raise UserError(f"{path}: not an event log (a folder needs events_<n>_<appId> files)")
    events.sort()
    # Spark marks a rolling log as running with appstatus_<appId>.inprogress; no marker: finished.
    in_progress = any(c.name.startswith("appstatus_") and c.name.endswith(".inprogress") for c in path.iterdir())
    return [p for _, p in events], in_progress


def iter_lines(path: Path, tolerate_truncation: bool) -> Iterator[tuple[int, bytes, bool]]:
    """Yield (line number, line bytes, ended with a newline) for one decompressed file."""
    pending = b""
    lineno = 0
    for chunk in iter_chunks(path, tolerate_truncation):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            lineno += 1
            yield lineno, line, True
    if pending:
        yield lineno + 1, pending, False


def iter_events(path: str | Path) -> Iterator[tuple[Path, int, dict]]:
    """Yield (file, line number, event dict) for every complete event of a log."""
    files, in_progress = log_files(path)
    for i, file in enumerate(files):
        last_file = i == len(files) - 1
        tolerate = in_progress and last_file
        lines = iter_lines(file, tolerate)
        prev = next(lines, None)
        while prev is not None:
            cur = next(lines, None)
            lineno, raw, _ = prev
            is_last = cur is None
            prev = cur
            if not raw.strip():
                continue
            try:
                event = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                if tolerate and is_last:
                    return  # the half-written tail of a running application's log
                raise UserError(f"{file}:{lineno}: not a JSON event ({exc.__class__.__name__}: {exc})") from None
            if not isinstance(event, dict) or not isinstance(event.get("Event"), str):
                raise UserError(f'{file}:{lineno}: not a Spark event (no "Event" field)')
            yield file, lineno, event


# ---------------------------------------------------------------------------------------------
# Events -> records


def _task_from(ev: dict) -> Task:
    info = _get(ev, "Task Info", kind=dict)
    return Task(
        stage_id=_get(ev, "Stage ID", kind=int),
        stage_attempt=_num(ev, "Stage Attempt ID"),
        index=_get(info, "Index", kind=int),
        attempt=_num(info, "Attempt"),
        task_id=_get(info, "Task ID", kind=int),
        executor_id=str(_get(info, "Executor ID")),
        host=str(_get(info, "Host")),
        locality=str(_get(info, "Locality")),
        launch_ms=_get(info, "Launch Time", kind=int),
        speculative=bool(_get(info, "Speculative", default=False)),
    )


def _fill_task_end(task: Task, ev: dict) -> None:
    info = _get(ev, "Task Info", kind=dict)
    finish = _get(info, "Finish Time", kind=int)
    task.finish_ms = finish
    task.failed = bool(_get(info, "Failed", default=False))
    task.killed = bool(_get(info, "Killed", default=False))
    task.getting_result_ms = _num(info, "Getting Result Time")
    task.task_type = _get(ev, "Task Type", default=None)
    reason = _get(ev, "Task End Reason", default={})
    task.end_reason = reason.get("Reason") if isinstance(reason, dict) else str(reason)
    if isinstance(reason, dict):
        detail = reason.get("Description") or reason.get("Kill Reason") or reason.get("Loss Reason")
        task.end_detail = str(detail).splitlines()[0][:200] if detail else None
    m = _get(ev, "Task Metrics", default=None)
    if not isinstance(m, dict):
        return  # failed tasks may carry no metrics
    task.executor_run_time_ms = _num(m, "Executor Run Time")
    task.executor_cpu_time_ns = _num(m, "Executor CPU Time")
    task.executor_deserialize_time_ms = _num(m, "Executor Deserialize Time")
    task.result_serialization_time_ms = _num(m, "Result Serialization Time")
    task.jvm_gc_time_ms = _num(m, "JVM GC Time")
    task.result_size = _num(m, "Result Size")
    task.shuffle_remote_bytes_read = _num(m, "Shuffle Read Metrics", "Remote Bytes Read")
    task.shuffle_local_bytes_read = _num(m, "Shuffle Read Metrics", "Local Bytes Read")
    task.shuffle_read_bytes = task.shuffle_remote_bytes_read + task.shuffle_local_bytes_read
    task.shuffle_records_read = _num(m, "Shuffle Read Metrics", "Total Records Read")
    task.shuffle_bytes_written = _num(m, "Shuffle Write Metrics", "Shuffle Bytes Written")
    task.shuffle_records_written = _num(m, "Shuffle Write Metrics", "Shuffle Records Written")
    task.input_bytes = _num(m, "Input Metrics", "Bytes Read")
    task.input_records = _num(m, "Input Metrics", "Records Read")


def _stage_from(info: dict) -> Stage:
    return Stage(
        stage_id=_get(info, "Stage ID", kind=int),
        attempt=_num(info, "Stage Attempt ID"),
        name=str(_get(info, "Stage Name", default="")),
        num_tasks=_get(info, "Number of Tasks", kind=int),
        submission_ms=_get(info, "Submission Time", default=None),
        completion_ms=_get(info, "Completion Time", default=None),
        parent_ids=list(_get(info, "Parent IDs", default=[])),
        rdd_names=[str(r.get("Name")) for r in _get(info, "RDD Info", default=[]) if isinstance(r, dict)],
        failure_reason=(str(_get(info, "Failure Reason", default="")).splitlines() or [None])[0] or None,
    )


class _Builder:
    """Folds events, in log order, into an `EventLog`."""

    def __init__(self, log: EventLog):
        self.log = log
        self.executors: dict[str, Executor] = {}
        self.jobs: dict[int, Job] = {}
        self.stages: dict[tuple[int, int], Stage] = {}
        self.tasks: dict[int, Task] = {}

    def add(self, ev: dict) -> None:
        kind = ev["Event"]
        handler = getattr(self, "_on_" + kind.rsplit(".", 1)[-1], None)
        if handler is None:
            self.log.skipped_events[kind] = self.log.skipped_events.get(kind, 0) + 1
        else:
            handler(ev)

    def _on_SparkListenerLogStart(self, ev):
        self.log.spark_version = str(_get(ev, "Spark Version"))

    def _on_SparkListenerApplicationStart(self, ev):
        self.log.app_id = _get(ev, "App ID", default=None)
        self.log.app_name = _get(ev, "App Name", default=None)
        self.log.start_ms = _get(ev, "Timestamp", kind=int)

    def _on_SparkListenerApplicationEnd(self, ev):
        self.log.end_ms = _get(ev, "Timestamp", kind=int)

    def _on_SparkListenerEnvironmentUpdate(self, ev):
        props = _get(ev, "Spark Properties", default={})
        # Spark 1.x wrote [[k, v], ...]; 2.x+ writes an object.
        items = props.items() if isinstance(props, dict) else (tuple(p) for p in props)
        self.log.properties.update({str(k): str(v) for k, v in items if str(k).startswith("spark.")})

    def _on_SparkListenerExecutorAdded(self, ev):
        eid = str(_get(ev, "Executor ID"))
        self.executors[eid] = Executor(
            executor_id=eid,
            host=str(_get(ev, "Executor Info", "Host")),
            cores=_get(ev, "Executor Info", "Total Cores", kind=int),
            added_ms=_get(ev, "Timestamp", kind=int),
        )

    def _on_SparkListenerExecutorRemoved(self, ev):
        eid = str(_get(ev, "Executor ID"))
        ex = self.executors.get(eid)
        if ex is not None:
            ex.removed_ms = _get(ev, "Timestamp", kind=int)
            ex.removed_reason = _get(ev, "Removed Reason", default=None)

    def _on_SparkListenerJobStart(self, ev):
        jid = _get(ev, "Job ID", kind=int)
        self.jobs[jid] = Job(jid, _get(ev, "Submission Time", default=None), stage_ids=list(_get(ev, "Stage IDs", default=[])))

    def _on_SparkListenerJobEnd(self, ev):
        jid = _get(ev, "Job ID", kind=int)
        job = self.jobs.setdefault(jid, Job(jid, None))
        job.completion_ms = _get(ev, "Completion Time", kind=int)
        job.result = str(_get(ev, "Job Result", "Result"))

    def _on_SparkListenerStageSubmitted(self, ev):
        stage = _stage_from(_get(ev, "Stage Info", kind=dict))
        self.stages[(stage.stage_id, stage.attempt)] = stage

    def _on_SparkListenerStageCompleted(self, ev):
        stage = _stage_from(_get(ev, "Stage Info", kind=dict))
        self.stages[(stage.stage_id, stage.attempt)] = stage  # the completed info is the fuller one

    def _on_SparkListenerTaskStart(self, ev):
        task = _task_from(ev)
        self.tasks[task.task_id] = task

    def _on_SparkListenerTaskEnd(self, ev):
        task = _task_from(ev)
        # TaskEnd repeats the full Task Info, so a missing TaskStart loses nothing.
        self.tasks[task.task_id] = task
        _fill_task_end(task, ev)

    # Known events the records do not need: listed so they are not reported as unknown.
    def _ignore(self, ev):
        pass

    _on_SparkListenerBlockManagerAdded = _on_SparkListenerBlockManagerRemoved = _ignore
    _on_SparkListenerResourceProfileAdded = _on_SparkListenerTaskGettingResult = _ignore
    _on_SparkListenerStageExecutorMetrics = _on_SparkListenerExecutorMetricsUpdate = _ignore
    _on_SparkListenerUnpersistRDD = _on_SparkListenerBlockUpdated = _ignore

    def finish(self) -> EventLog:
        log = self.log
        log.executors = sorted(self.executors.values(), key=lambda e: (e.added_ms or 0, e.executor_id))
        log.jobs = sorted(self.jobs.values(), key=lambda j: j.job_id)
        log.stages = sorted(self.stages.values(), key=lambda s: (s.stage_id, s.attempt))
        log.tasks = sorted(self.tasks.values(), key=lambda t: t.task_id)
        if log.app_id is None:
            log.app_id = log.properties.get("spark.app.id")
        return log


def read_eventlog(path: str | Path) -> EventLog:
    """Parse one event log (file or rolling folder) into an `EventLog`."""
    files, in_progress = log_files(path)
    builder = _Builder(EventLog(path=str(path), in_progress=in_progress))
    for file, lineno, event in iter_events(path):
        try:
            builder.add(event)
        except _Missing as exc:
            raise UserError(f"{file}:{lineno}: {event['Event']} lacks field {exc}") from None
    return builder.finish()

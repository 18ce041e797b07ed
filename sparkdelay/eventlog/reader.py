"""Read one Spark event log (1.x to 4.x) into the records of `sparkdelay.eventlog.log`.

A log is a single file (`<appId>[.codec][.inprogress]`), a rolling folder
`eventlog_v2_<appId>/` holding `events_<n>_<appId>[.codec]` files, read in numeric order of n,
and an `appstatus_<appId>[.inprogress]` marker, or a Spark 1.0-1.2 log folder (`EVENT_LOG_<n>`
files, `SPARK_VERSION_<v>`, `APPLICATION_COMPLETE` once finished, `COMPRESSION_CODEC_<codec>`
when compressed), as Spark's History Server reads them. Each line is one JSON event written by Spark's
`JsonProtocol`; field names are used exactly as written there ("Task Info" -> "Launch Time", ...).
Unknown event types are counted and skipped, so newer Spark versions still load. A log still being
written may end in half a line: for an in-progress log the broken last line is dropped; anywhere
else a line that is not JSON, or an event missing a field the records need, is a `UserError`
naming the file and line. So is a value no Spark writes (a string time, NaN, a 0-core or duplicate
executor, a task on an executor never added, a task that ends before it starts, a job that ends
before it starts): a record built from it would make every answer drawn from the log quietly wrong.

What older Spark versions really write is taken as written: Spark 1.2 wrote no "Submission Time"
on SparkListenerJobStart and no "Completion Time" on SparkListenerJobEnd (the job's times stay
None), and before Spark 1.5 local mode posted no SparkListenerExecutorAdded for its one executor
("driver"; "<driver>" in Spark 1.0-1.2), which only its SparkListenerBlockManagerAdded names. In
such a log an executor is taken from its block manager; its cores are the N of `spark.master`
local[N] (local: 1), and otherwise (local[*], whose N is the driver machine's core count, which
the log does not say) the most tasks that ran on it at once, the fewest it can have had.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.limits import LIMITS
from sparkdelay.ground.sparkconf import SPARK_KEYS
from sparkdelay.ground.strict import MAX_DEPTH, check_json_values

from sparkdelay.eventlog.codecs import BY_NAME, codec_named, iter_chunks
from sparkdelay.eventlog.log import EventLog, Executor, Job, Stage, Task

EVENTS_FILE_RE = re.compile(r"^events_(\d+)_")
LEGACY_FILE_RE = re.compile(r"^EVENT_LOG_(\d+)$")   # Spark 1.0-1.2's log folder
LEGACY_CODEC_PREFIX, LEGACY_VERSION_PREFIX, LEGACY_COMPLETE = "COMPRESSION_CODEC_", "SPARK_VERSION_", "APPLICATION_COMPLETE"
LOCAL_MASTER_RE = re.compile(r"^local(?:\[(\d+)(?:,\s*\d+)?\])?$")
LEGACY_DRIVER_ID = "<driver>"   # Spark 1.x's name for the driver's block manager
ROLLING_PREFIX = "eventlog_v2_"
JOB_RESULTS = ("JobSucceeded", "JobFailed")


class _Missing(Exception):
    """A required field is absent or has the wrong type; the message is its dotted path."""


class _Bad(Exception):
    """A field holds a value no Spark writes; the message names it and says why."""


def _path(keys) -> str:
    return " -> ".join(f'"{k}"' for k in keys)


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
    """A metric (time, bytes, count): a number >= 0, as an int; absent gives `default`."""
    value = _get(obj, *keys, default=default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if value is default:
            return value
        raise _Missing(_path(keys) + " (expected a number)")
    if value < 0:
        raise _Bad(f"{_path(keys)}: must not be negative, got {value!r}")
    return int(value)


def _id(obj, *keys, default=...):
    """An id or index: a whole number >= 0."""
    value = _get(obj, *keys, kind=int, default=default)
    if value is not None and value is not default and value < 0:
        raise _Bad(f"{_path(keys)}: must not be negative, got {value!r}")
    return value


def _attempt(obj, *keys) -> int:
    """A stage's or task's attempt number: a whole number 0 .. the attempts limit; absent is 0."""
    value = _get(obj, *keys, default=0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Missing(_path(keys) + " (expected a whole number)")
    if not 0 <= value <= LIMITS["attempts"].maximum:
        raise _Bad(f"{_path(keys)}: must be between 0 and {LIMITS['attempts'].maximum:,} (README, Limits), got {value!r}")
    return value


def _time(obj, *keys, default=...):
    """An epoch-millisecond time: a whole number (None when absent and a default is given)."""
    value = _get(obj, *keys, default=default)
    if value is None or value is default:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Missing(_path(keys) + " (expected a whole number of epoch milliseconds)")
    return value


def _bool(obj, *keys):
    value = _get(obj, *keys, default=False)
    if not isinstance(value, bool):
        raise _Missing(_path(keys) + " (expected true or false)")
    return value


def _ids(obj, *keys) -> list[int]:
    """A list of stage ids ("Stage IDs", "Parent IDs"); absent is empty."""
    value = _get(obj, *keys, default=[])
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in value):
        raise _Missing(_path(keys) + " (expected a list of whole numbers >= 0)")
    return list(value)


def _text(obj, *keys, default=...):
    value = _get(obj, *keys, default=default)
    if value is None or value is default:
        return value
    if isinstance(value, (dict, list, bool)):
        raise _Missing(_path(keys) + " (expected a string)")
    return str(value)


def _properties(props) -> dict[str, str]:
    # Spark 1.x wrote [[k, v], ...]; 2.x+ writes an object.
    if isinstance(props, dict):
        items = list(props.items())
    elif isinstance(props, list) and all(isinstance(p, list) and len(p) == 2 for p in props):
        items = [tuple(p) for p in props]
    else:
        raise _Missing('"Spark Properties" (expected an object of key: value)')
    if any(isinstance(v, (dict, list)) for _, v in items) or any(not isinstance(k, str) for k, _ in items):
        raise _Missing('"Spark Properties" (expected string keys and single values)')
    return {k: str(v) for k, v in items}


# ---------------------------------------------------------------------------------------------
# Files and lines


def is_legacy_folder(path: Path) -> bool:
    """A Spark 1.0-1.2 log folder (EVENT_LOG_<n> files)."""
    return path.is_dir() and any(LEGACY_FILE_RE.match(c.name) and c.is_file() for c in path.iterdir())


def legacy_codec(folder: Path) -> str | None:
    """The codec a Spark 1.x log folder names in its COMPRESSION_CODEC_<codec> file; None: plain."""
    names = [c.name[len(LEGACY_CODEC_PREFIX):] for c in folder.iterdir() if c.name.startswith(LEGACY_CODEC_PREFIX)]
    if len(names) > 1:
        raise UserError(f"{folder}: {len(names)} {LEGACY_CODEC_PREFIX}* files (Spark writes one)")
    return codec_named(names[0], f"{folder}/{LEGACY_CODEC_PREFIX}{names[0]}") if names else None


def legacy_version(folder: Path) -> str | None:
    names = [c.name[len(LEGACY_VERSION_PREFIX):] for c in folder.iterdir() if c.name.startswith(LEGACY_VERSION_PREFIX)]
    return names[0] if len(names) == 1 else None


def log_files(path: str | Path) -> tuple[list[Path], bool]:
    """The files of one log in reading order, and whether the log is still in progress."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: event log not found")
    if path.is_file():
        return [path], path.name.endswith(".inprogress")
    legacy = sorted((int(m.group(1)), c) for c in path.iterdir() if (m := LEGACY_FILE_RE.match(c.name)) and c.is_file())
    if legacy:
        # Spark 1.x marked a finished application's folder with an APPLICATION_COMPLETE file.
        return [p for _, p in legacy], not (path / LEGACY_COMPLETE).exists()
    events = []
    for child in path.iterdir():
        m = EVENTS_FILE_RE.match(child.name)
        if m and child.is_file():
            events.append((int(m.group(1)), child))
    if not events:
        raise UserError(f"{path}: not an event log (a folder needs events_<n>_<appId> files, or Spark 1.x's "
                        f"EVENT_LOG_<n>)")
    events.sort()
    # Spark marks a rolling log as running with appstatus_<appId>.inprogress; no marker: finished.
    in_progress = any(c.name.startswith("appstatus_") and c.name.endswith(".inprogress") for c in path.iterdir())
    return [p for _, p in events], in_progress


def iter_lines(path: Path, tolerate_truncation: bool, codec=BY_NAME) -> Iterator[tuple[int, bytes, bool]]:
    """Yield (line number, line bytes, ended with a newline) for one decompressed file."""
    pending = b""
    lineno = 0
    for chunk in iter_chunks(path, tolerate_truncation, codec):
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
    # A Spark 1.x folder's files carry no codec suffix: the folder's COMPRESSION_CODEC_* names it.
    codec = legacy_codec(Path(path)) if Path(path).is_dir() and is_legacy_folder(Path(path)) else BY_NAME
    for i, file in enumerate(files):
        last_file = i == len(files) - 1
        tolerate = in_progress and last_file
        lines = iter_lines(file, tolerate, codec)
        prev = next(lines, None)
        while prev is not None:
            cur = next(lines, None)
            lineno, raw, _ = prev
            is_last = cur is None
            prev = cur
            if not raw.strip():
                continue
            try:
                # Decoded strictly first: json.loads(bytes) lets UTF-8-encoded surrogates through.
                event = check_json_values(json.loads(raw.decode("utf-8")), f"{file}:{lineno}")
            except RecursionError:
                raise UserError(f"{file}:{lineno}: nested more than {MAX_DEPTH} levels deep") from None
            except (ValueError, UnicodeDecodeError) as exc:   # JSONDecodeError is a ValueError
                if tolerate and is_last:
                    return  # the half-written tail of a running application's log
                if isinstance(exc, UnicodeDecodeError):
                    raise UserError(f"{file}:{lineno}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                                    f"{exc.start} of the line)") from None
                raise UserError(f"{file}:{lineno}: not a JSON event ({exc.__class__.__name__}: {exc})") from None
            if not isinstance(event, dict) or not isinstance(event.get("Event"), str):
                raise UserError(f'{file}:{lineno}: not a Spark event (no "Event" field)')
            yield file, lineno, event


# ---------------------------------------------------------------------------------------------
# Events -> records


def _task_from(ev: dict) -> Task:
    info = _get(ev, "Task Info", kind=dict)
    return Task(
        stage_id=_id(ev, "Stage ID"),
        stage_attempt=_attempt(ev, "Stage Attempt ID"),
        index=_id(info, "Index"),
        attempt=_attempt(info, "Attempt"),
        task_id=_id(info, "Task ID"),
        executor_id=_text(info, "Executor ID"),
        host=_text(info, "Host"),
        locality=_text(info, "Locality"),
        launch_ms=_time(info, "Launch Time"),
        speculative=_bool(info, "Speculative"),
    )


def _fill_task_end(task: Task, ev: dict) -> None:
    info = _get(ev, "Task Info", kind=dict)
    finish = _time(info, "Finish Time")
    if finish < task.launch_ms:
        raise _Bad(f'"Task Info" -> "Finish Time" {finish} is before its "Launch Time" {task.launch_ms} '
                   f"(task {task.task_id})")
    task.finish_ms = finish
    task.failed = _bool(info, "Failed")
    task.killed = _bool(info, "Killed")
    task.getting_result_ms = _num(info, "Getting Result Time")
    task.task_type = _get(ev, "Task Type", default=None)
    reason = _get(ev, "Task End Reason", default={})
    if not isinstance(reason, (dict, str)):
        raise _Missing('"Task End Reason" (expected an object)')
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
        stage_id=_id(info, "Stage ID"),
        attempt=_attempt(info, "Stage Attempt ID"),
        name=_text(info, "Stage Name", default=""),
        num_tasks=_num_tasks(info),
        submission_ms=_time(info, "Submission Time", default=None),
        completion_ms=_time(info, "Completion Time", default=None),
        parent_ids=_ids(info, "Parent IDs"),
        rdd_names=[str(r.get("Name")) for r in _rdds(info) if isinstance(r, dict)],
        failure_reason=(str(_get(info, "Failure Reason", default="")).splitlines() or [None])[0] or None,
        parents_known="Parent IDs" in info,
    )


def _num_tasks(info: dict) -> int:
    n = _id(info, "Number of Tasks")
    if n > LIMITS["tasks"].maximum:
        raise _Bad(f'"Number of Tasks": {n} is beyond the limit of {LIMITS["tasks"].maximum:,.0f} (README, Limits)')
    return n


def _rdds(info: dict) -> list:
    value = _get(info, "RDD Info", default=[])
    if not isinstance(value, list):
        raise _Missing('"RDD Info" (expected a list)')
    return value


class _Builder:
    """Folds events, in log order, into an `EventLog`."""

    def __init__(self, log: EventLog):
        self.log = log
        self.executors: dict[str, Executor] = {}
        self.jobs: dict[int, Job] = {}
        self.stages: dict[tuple[int, int], Stage] = {}
        self.tasks: dict[int, Task] = {}
        self.block_managers: dict[str, str] = {}   # executor id -> host, from SparkListenerBlockManagerAdded
        self.from_block_manager: set[str] = set()  # executors no SparkListenerExecutorAdded added

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
        self.log.start_ms = _time(ev, "Timestamp")

    def _on_SparkListenerApplicationEnd(self, ev):
        self.log.end_ms = _time(ev, "Timestamp")

    def _on_SparkListenerEnvironmentUpdate(self, ev):
        props = _properties(_get(ev, "Spark Properties", default={}))
        self.log.properties.update({k: v for k, v in props.items() if k.startswith("spark.")})

    def _on_SparkListenerExecutorAdded(self, ev):
        eid = _text(ev, "Executor ID")
        host = _get(ev, "Executor Info", "Host", kind=str)
        cores = _get(ev, "Executor Info", "Total Cores", kind=int)
        if not 1 <= cores <= LIMITS["cores"].maximum:
            raise _Bad(f'"Executor Info" -> "Total Cores": must be between 1 and {LIMITS["cores"].maximum:,.0f} '
                       f"(README, Limits), got {cores}")
        old = self.executors.get(eid)
        # Spark never reuses an executor id within an application.
        if old is not None and old.host != host:
            raise _Bad(f'"Executor ID" {eid!r} on host {host!r} was already added on host {old.host!r}')
        if len(self.executors) >= LIMITS["executors"].maximum:
            raise _Bad(f'more than {LIMITS["executors"].maximum:,.0f} executors (README, Limits)')
        self.from_block_manager.discard(eid)
        self.executors[eid] = Executor(
            executor_id=eid,
            host=host,
            cores=cores,
            added_ms=_time(ev, "Timestamp"),
        )

    def _on_SparkListenerExecutorRemoved(self, ev):
        eid = str(_get(ev, "Executor ID"))
        ex = self.executors.get(eid)
        if ex is not None:
            ex.removed_ms = _time(ev, "Timestamp")
            ex.removed_reason = _get(ev, "Removed Reason", default=None)

    def _on_SparkListenerJobStart(self, ev):
        jid = _id(ev, "Job ID")
        self.jobs[jid] = Job(jid, _time(ev, "Submission Time", default=None), stage_ids=_ids(ev, "Stage IDs"))

    def _on_SparkListenerJobEnd(self, ev):
        jid = _id(ev, "Job ID")
        job = self.jobs.setdefault(jid, Job(jid, None))
        # Spark 1.2 wrote no "Completion Time" (1.3 on do): the job's end time is then unknown.
        job.completion_ms = _time(ev, "Completion Time", default=None)
        if job.submission_ms is not None and job.completion_ms is not None and job.completion_ms < job.submission_ms:
            raise _Bad(f'"Completion Time" {job.completion_ms} of job {jid} is before its '
                       f'"Submission Time" {job.submission_ms}')
        job.result = _get(ev, "Job Result", "Result", kind=str)
        if job.result not in JOB_RESULTS:   # JsonProtocol writes one of these two
            raise _Bad(f'"Job Result" -> "Result": expected {" or ".join(JOB_RESULTS)}, got {job.result!r}')

    def _on_SparkListenerStageSubmitted(self, ev):
        stage = _stage_from(_get(ev, "Stage Info", kind=dict))
        self.stages[(stage.stage_id, stage.attempt)] = stage

    def _on_SparkListenerStageCompleted(self, ev):
        stage = _stage_from(_get(ev, "Stage Info", kind=dict))
        self.stages[(stage.stage_id, stage.attempt)] = stage  # the completed info is the fuller one

    def _on_SparkListenerBlockManagerAdded(self, ev):
        eid = _text(ev, "Block Manager ID", "Executor ID")
        self.block_managers[eid] = _text(ev, "Block Manager ID", "Host")

    def _before_1_5(self) -> bool:
        """Whether the log is from a Spark older than 1.5: no SparkListenerLogStart (1.0-1.3) or
        one naming 1.4 or older. Spark 1.5 on posts SparkListenerExecutorAdded in local mode too."""
        m = re.match(r"(\d+)\.(\d+)", self.log.spark_version or "")
        return self.log.spark_version is None or (m is not None and (int(m.group(1)), int(m.group(2))) < (1, 5))

    def _task(self, ev) -> Task:
        task = _task_from(ev)
        ex = self.executors.get(task.executor_id)
        if ex is None and task.executor_id in self.block_managers and self._before_1_5():
            # Local mode before Spark 1.5 (and cluster executors before 1.3) announced executors only by
            # their block manager: take the executor from it (cores are settled in finish()).
            ex = self.executors[task.executor_id] = Executor(task.executor_id, self.block_managers[task.executor_id], 1)
            self.from_block_manager.add(task.executor_id)
        if ex is None:
            raise _Bad(f'"Task Info" -> "Executor ID": task {task.task_id} ran on executor {task.executor_id!r}, '
                       f"which no SparkListenerExecutorAdded before it added")
        if task.host != ex.host:   # a task runs where its executor lives
            raise _Bad(f'"Task Info" -> "Host": task {task.task_id} ran on host {task.host!r}, but its executor '
                       f"{task.executor_id!r} is on host {ex.host!r}")
        return task

    def _on_SparkListenerTaskStart(self, ev):
        task = self._task(ev)
        self.tasks[task.task_id] = task

    def _on_SparkListenerTaskEnd(self, ev):
        task = self._task(ev)
        # TaskEnd repeats the full Task Info, so a missing TaskStart loses nothing.
        self.tasks[task.task_id] = task
        _fill_task_end(task, ev)

    # Known events the records do not need: listed so they are not reported as unknown.
    def _ignore(self, ev):
        pass

    _on_SparkListenerBlockManagerRemoved = _ignore
    _on_SparkListenerResourceProfileAdded = _on_SparkListenerTaskGettingResult = _ignore
    _on_SparkListenerStageExecutorMetrics = _on_SparkListenerExecutorMetricsUpdate = _ignore
    _on_SparkListenerUnpersistRDD = _on_SparkListenerBlockUpdated = _ignore

    def _settle_cores(self, log: EventLog) -> None:
        m = LOCAL_MASTER_RE.match(log.properties.get("spark.master", ""))
        for eid in self.from_block_manager:
            if m and eid in ("driver", LEGACY_DRIVER_ID):
                self.executors[eid].cores = int(m.group(1) or 1)
                continue
            # local[*] or a 1.x cluster executor: at least as many cores as tasks ran on it at once.
            # (time, step) sorts an end (-1) before a start (+1) at the same millisecond.
            edges = sorted(e for t in self.tasks.values() if t.executor_id == eid
                           for e in ((t.launch_ms, 1), (t.finish_ms if t.finish_ms is not None else 2**62, -1)))
            running = peak = 0
            for _, step in edges:
                running += step
                peak = max(peak, running)
            self.executors[eid].cores = max(1, peak)

    def finish(self) -> EventLog:
        log = self.log
        self._settle_cores(log)
        log.executors = sorted(self.executors.values(), key=lambda e: (e.added_ms or 0, e.executor_id))
        log.jobs = sorted(self.jobs.values(), key=lambda j: j.job_id)
        log.stages = sorted(self.stages.values(), key=lambda s: (s.stage_id, s.attempt))
        log.tasks = sorted(self.tasks.values(), key=lambda t: t.task_id)
        if log.app_id is None:
            log.app_id = log.properties.get("spark.app.id")
        for key, value in log.properties.items():
            if key in SPARK_KEYS:   # spark.task.cpus=0, a wait of "soon": no Spark ran with these
                SPARK_KEYS[key].parse(value, f'{log.path}: "Spark Properties" -> {key}')
        ran = {t.stage_id for t in log.tasks}
        for job in log.jobs:
            # A job that ran tasks took time; a 0 ms span would divide validation's errors by zero.
            if job.submission_ms is not None and job.submission_ms == job.completion_ms and ran & set(job.stage_ids):
                raise UserError(f'{log.path}: job {job.job_id}: "Completion Time" equals its "Submission Time" '
                                f"({job.submission_ms}), yet its stages ran tasks")
        sizes = {(s.stage_id, s.attempt): s.num_tasks for s in log.stages}
        for t in log.tasks:
            n = sizes.get((t.stage_id, t.stage_attempt))
            if n is not None and t.index >= n:
                raise UserError(f'{log.path}: task {t.task_id}: "Index" {t.index} is out of range for stage '
                                f"{t.stage_id} (attempt {t.stage_attempt}) of {n} tasks")
        return log


def read_eventlog(path: str | Path) -> EventLog:
    """Parse one event log (file or rolling folder) into an `EventLog`."""
    files, in_progress = log_files(path)
    builder = _Builder(EventLog(path=str(path), in_progress=in_progress))
    events = 0
    for file, lineno, event in iter_events(path):
        events += 1
        try:
            builder.add(event)
        except _Missing as exc:
            raise UserError(f"{file}:{lineno}: {event['Event']} lacks field {exc}") from None
        except _Bad as exc:
            raise UserError(f"{file}:{lineno}: {event['Event']}: {exc}") from None
    if not events and not in_progress:   # a running application may not have written its first event yet
        raise UserError(f"{path}: no events (an empty event log)")
    if builder.log.spark_version is None and is_legacy_folder(Path(path)):
        builder.log.spark_version = legacy_version(Path(path))   # 1.x wrote no SparkListenerLogStart
    return builder.finish()

"""`index.jsonl`, the run index of `sparkdelay run`: one JSON object per run; the one reader and writer.

Writing: each row is appended with flush + fsync as soon as its run ends, so a sweep that dies at
any moment (a crash, a killed session) loses at most the row it was writing. A row cut short that
way has no final newline; the next append drops that torn tail before writing (its run is not
done, so it is redone), so a torn row never ends up in the middle of the file.

Reading has two modes. Strict (the default) requires every non-blank line to be a JSON object and
raises `UserError` naming `file:line` otherwise. Lenient, for an index a sweep may still be writing
or may have died writing, tolerates one thing only: a torn last line (no newline, not JSON), which is
dropped and reported in `RunIndex.torn`; a bad line anywhere else is still an error. The rows keep
the field names exactly as written on disk (`run_id`, `status`, `event_log`, `nodes`, ...).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.limits import check_limit
from sparkdelay.ground.strict import parse_json
from sparkdelay.sim.policy.pyspark_partitioning import DEFAULT_PARTITIONER, check_partitioner

INDEX_NAME = "index.jsonl"


@dataclass(frozen=True)
class IndexRow:
    """One run's row: where it was read (index file, line) and its JSON object as written."""

    index: Path
    lineno: int
    fields: dict

    @property
    def where(self) -> str:
        return f"{self.index}:{self.lineno}"

    @property
    def run_id(self) -> str | None:
        return self.fields.get("run_id")

    @property
    def status(self) -> str | None:
        return self.fields.get("status")

    def whole(self, key: str, minimum: int = 0, limit: str | None = None, default=...) -> int:
        return row_int(self.fields, key, self.where, minimum, limit, default)

    def event_log(self) -> Path | None:
        """The run's event log (relative paths are relative to the index's folder); None when the
        run failed before Spark wrote one."""
        # `sparkdelay run` writes "event_log"; "eventlog" is accepted for hand-made indexes.
        key = "event_log" if "event_log" in self.fields else "eventlog"
        log = self.fields.get(key)
        if log is None:
            return None
        if not isinstance(log, str) or not log:
            raise UserError(f"{self.where}: {key}: expected a path, got {log!r}")
        return self.index.parent / log

    def load(self) -> float | None:
        """The 1-minute load average `sparkdelay run` recorded at the run's start (`loadavg_1m`);
        None when the row has none (an older or hand-made index)."""
        load = self.fields.get("loadavg_1m")
        if load is None:
            return None
        if isinstance(load, bool) or not isinstance(load, (int, float)) or not math.isfinite(load) or load < 0:
            raise UserError(f"{self.where}: loadavg_1m: expected a load >= 0, got {load!r}")
        return float(load)


def row_partitioner(fields: dict, where: str) -> str:
    """The partitionBy function a row's run used (`sparkdelay run --partitioner`): hash or even.
    A row recorded before the field existed ran partitionBy(P), PySpark's hash."""
    return check_partitioner(fields.get("partitioner", DEFAULT_PARTITIONER), f"{where}: partitioner")


def recorded_partitioners(args) -> dict[Path, str]:
    """Event log (resolved) -> the partitioner its `sparkdelay run` row recorded, for every index
    among the arguments (an index.jsonl, or a folder holding one), so that calibration and
    validation simulate an even run with even partitions whatever workload file they are given."""
    out: dict[Path, str] = {}
    for arg in args:
        path = Path(arg)
        index = path if path.is_file() and path.name.endswith(".jsonl") else path / INDEX_NAME
        if not index.is_file():
            continue
        for row in read_index(index).rows:
            log = row.event_log()
            if log is not None:
                out[log.resolve()] = row_partitioner(row.fields, row.where)
    return out


def row_int(fields: dict, key: str, where: str, minimum: int = 0, limit: str | None = None, default=...) -> int:
    """A row's whole-number field (`nodes`, `partitions`, `items`, ...), checked: a number, or a
    string of digits as `run` records the hash seed; at least `minimum`; within the named limit.
    Anything else is one line naming the row and the field, not a crash or a quietly wrong split."""
    if key not in fields or fields[key] is None:
        if default is not ...:
            return default
        raise UserError(f"{where}: {key}: missing (not a row `sparkdelay run` wrote)")
    value = fields[key]
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{where}: {key}: expected a whole number, got {value!r}")
    if value < minimum:
        raise UserError(f"{where}: {key}: must be at least {minimum}, got {value}")
    if limit is not None:
        check_limit(value, limit, f"{where}: {key}")
    return value


@dataclass(frozen=True)
class RunIndex:
    path: Path
    rows: list[IndexRow]
    torn: int | None = None   # line number of a torn last line that was dropped (lenient mode)

    @property
    def torn_note(self) -> str | None:
        """One line saying what was dropped, for the caller to report; None when nothing was."""
        if self.torn is None:
            return None
        return f"{self.path}:{self.torn}: last line is cut off (a run's row was being written); ignored"

    def done_ids(self, retry_failed: bool = False) -> set[str]:
        """Run ids that count as done: every recorded run, or with `retry_failed` the "ok" ones."""
        return {r.run_id for r in self.rows if r.run_id is not None and (not retry_failed or r.status == "ok")}


def read_index(path: str | Path, lenient: bool = False) -> RunIndex:
    """The rows of one index; `lenient` drops (and reports) a torn last line instead of failing."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    lines = data.split(b"\n")
    # After the final newline split() leaves b""; anything else there is a line without one.
    unterminated = len(lines) if lines[-1].strip() else None
    rows, torn = [], None
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            entry = parse_json(raw, f"{path}:{lineno}")
        except (ValueError, UserError) as exc:   # not JSON, not UTF-8, NaN, nested too deep
            if lineno == unterminated and lenient:
                torn = lineno
                continue
            cut = " (cut off: a row still being written, or a crash mid-write)" if lineno == unterminated else ""
            if isinstance(exc, UserError):
                raise UserError(f"{exc}{cut}") from None
            raise UserError(f"{path}:{lineno}: not a JSON object ({getattr(exc, 'msg', exc)}){cut}") from None
        if not isinstance(entry, dict):
            raise UserError(f"{path}:{lineno}: expected a JSON object (one run per line), got {type(entry).__name__}")
        rows.append(IndexRow(path, lineno, entry))
    return RunIndex(path, rows, torn)


def append_row(path: str | Path, row: dict) -> None:
    """Append one run's row and sync it to disk, after dropping a torn tail left by a crash."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(row, sort_keys=False, separators=(",", ":")) + "\n").encode("utf-8")
    with open(path, "ab+") as f:
        _seal_tail(f)
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def _seal_tail(f) -> None:
    """Make the file end in a newline: a whole last row gets one, a torn one is cut off."""
    end = f.seek(0, os.SEEK_END)
    if end == 0:
        return
    f.seek(-1, os.SEEK_END)
    if f.read(1) == b"\n":
        return
    f.seek(0)
    start = f.read().rfind(b"\n") + 1   # an index is a few hundred rows: reading it is cheap
    f.seek(start)
    last = f.read()
    try:
        whole = isinstance(json.loads(last), dict)
    except (json.JSONDecodeError, UnicodeDecodeError):
        whole = False
    if whole:
        f.write(b"\n")  # a hand-written file whose last row lacks only its newline
    else:
        f.truncate(start)   # the torn row's run is not done: it is redone

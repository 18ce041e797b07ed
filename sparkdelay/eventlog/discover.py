"""Turn the LOGS arguments of `sparkdelay calibrate` into a list of event logs.

An argument may be one log (a file, a rolling `eventlog_v2_*` folder: any folder holding
`events_<n>_*` files, or a Spark 1.0-1.2 folder holding `EVENT_LOG_<n>`), an `index.jsonl` written by `sparkdelay run` (read by `run_index`: one JSON
object per line whose `event_log` names a log, relative to the index's folder; runs without one
are skipped), or
a folder of many logs, searched recursively. Inside a folder, an `index.jsonl` wins over
scanning; otherwise a file counts as a log when its first decompressed bytes are a Spark event
(`{"Event":`), so names need not follow Spark's, and `.crc`/hidden files are passed over.
"""

from __future__ import annotations


import os
from pathlib import Path

from sparkdelay.ground.errors import UserError

from sparkdelay.eventlog.codecs import iter_chunks
from sparkdelay.eventlog.reader import EVENTS_FILE_RE, is_legacy_folder
from sparkdelay.eventlog.run_index import INDEX_NAME, read_index


def is_rolling_folder(path: Path) -> bool:
    """A folder that is one log: a rolling `eventlog_v2_*` folder, or a Spark 1.0-1.2 log folder."""
    return path.is_dir() and (any(EVENTS_FILE_RE.match(c.name) and c.is_file() for c in path.iterdir())
                              or is_legacy_folder(path))


def looks_like_log(path: Path) -> bool:
    """True when the file starts like a Spark event log (after decompression)."""
    try:
        for chunk in iter_chunks(path, tolerate_truncation=True):
            return chunk.lstrip()[:16].replace(b" ", b"").startswith(b'{"Event"')
    except (UserError, OSError):
        return False
    return False


def logs_of_index(path: Path) -> list[Path]:
    """The event logs a `sparkdelay run` index names (read strictly: every line a run)."""
    logs = []
    for row in read_index(path).rows:
        log_path = row.event_log()
        if log_path is None:
            continue  # a run that failed before Spark wrote a log
        if not log_path.exists():
            raise UserError(f"{row.where}: event_log: {log_path} does not exist")
        logs.append(log_path)
    return logs


def walk_logs(folder: Path, skip: tuple[Path, ...] = (), looks=looks_like_log) -> list[Path]:
    """Every event log under `folder` at any depth, sorted: files that start like a log (`looks`)
    and rolling folders; hidden files and folders, `.crc` files, `index.jsonl` and the folders in
    `skip` (resolved paths) are passed over, and symlinked folders are not entered."""
    skipped = {p.resolve() for p in skip}
    found = []
    for root, dirs, files in os.walk(folder):
        root_path = Path(root)
        dirs.sort()
        for d in list(dirs):
            if d.startswith(".") or (root_path / d).resolve() in skipped:
                dirs.remove(d)
            elif is_rolling_folder(root_path / d):
                dirs.remove(d)  # a rolling log: one log, not a folder of logs
                found.append(root_path / d)
        for name in sorted(files):
            if name.startswith(".") or name.endswith(".crc") or name == INDEX_NAME:
                continue
            if looks(root_path / name):
                found.append(root_path / name)
    return sorted(found)


def _scan(folder: Path) -> list[Path]:
    if (folder / INDEX_NAME).is_file():
        return logs_of_index(folder / INDEX_NAME)
    return walk_logs(folder)


def find_logs(args: list[str | Path]) -> list[Path]:
    """Every event log named by the arguments, without duplicates, in argument order."""
    out: list[Path] = []
    for arg in args:
        path = Path(arg)
        if not path.exists():
            raise UserError(f"{path}: no such file or folder")
        if path.is_file() and path.name.endswith(".jsonl"):
            logs = logs_of_index(path)
        elif path.is_file() or is_rolling_folder(path):
            logs = [path]
        else:
            logs = _scan(path)
            if not logs:
                raise UserError(f"{path}: no Spark event logs found in this folder")
        out.extend(p for p in logs if p not in out)
    return out


def recorded_loads(args: list[str | Path]) -> dict[Path, float]:
    """Event log (resolved) -> the 1-minute load its `sparkdelay run` row recorded at the run's
    start, for every index among the arguments (an index.jsonl, or a folder holding one). Real
    timings on shared cores are only as good as the machine was quiet: a run recorded under load
    is flagged by `validate` and left out on request (`--max-load`)."""
    out: dict[Path, float] = {}
    for arg in args:
        path = Path(arg)
        index = path if path.is_file() and path.name.endswith(".jsonl") else path / INDEX_NAME
        if not index.is_file():
            continue
        for row in read_index(index).rows:
            log, load = row.event_log(), row.load()
            if log is not None and load is not None:
                out[log.resolve()] = load
    return out

"""Spark's locality levels and task locations (TaskLocality, TaskLocation).

Levels are ordered as Spark orders them, PROCESS_LOCAL < NODE_LOCAL < NO_PREF < RACK_LOCAL < ANY,
and `a <= b` means "a is allowed under constraint b". A preferred location is one of Spark's
`TaskLocation` strings: `executor_<host>_<execId>` (a cached block on an executor; split at the
first underscore after the prefix), `hdfs_cache_<host>`, or a plain host name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from sparkdelay.ground.errors import UserError


class TaskLocality(IntEnum):
    PROCESS_LOCAL = 0
    NODE_LOCAL = 1
    NO_PREF = 2
    RACK_LOCAL = 3
    ANY = 4

    def __str__(self) -> str:  # Spark's spelling in every output
        return self.name


def parse_locality(name, where: str = "locality") -> TaskLocality:
    try:
        return TaskLocality[str(name)]
    except KeyError:
        valid = ", ".join(level.name for level in TaskLocality)
        raise UserError(f"{where}: unknown locality level {name!r} (expected one of {valid})") from None


@dataclass(frozen=True)
class TaskLocation:
    """A preferred location. `kind` is "host", "executor" or "hdfs_cache"."""

    host: str
    kind: str = "host"
    executor_id: str | None = None

    def __str__(self) -> str:
        if self.kind == "executor":
            return f"executor_{self.host}_{self.executor_id}"
        if self.kind == "hdfs_cache":
            return f"hdfs_cache_{self.host}"
        return self.host


_EXECUTOR_PREFIX = "executor_"
_HDFS_CACHE_PREFIX = "hdfs_cache_"


def parse_task_location(text, where: str = "preferred location") -> TaskLocation:
    """Parse a Spark TaskLocation string as `TaskLocation.apply` does."""
    if not isinstance(text, str) or not text:
        raise UserError(f"{where}: expected a TaskLocation string such as host1 or executor_host1_3, got {text!r}")
    if text.startswith(_EXECUTOR_PREFIX):
        rest = text[len(_EXECUTOR_PREFIX):]
        host, sep, executor_id = rest.partition("_")
        if not sep or not host or not executor_id:
            raise UserError(f"{where}: {text!r} must look like executor_<host>_<executorId>")
        return TaskLocation(host, "executor", executor_id)
    if text.startswith(_HDFS_CACHE_PREFIX):
        host = text[len(_HDFS_CACHE_PREFIX):]
        if not host:
            raise UserError(f"{where}: {text!r} names no host")
        return TaskLocation(host, "hdfs_cache")
    return TaskLocation(text)

"""Processes the tool started, remembered in pid files so that exactly those can be ended.

Each daemon is started in its own session, so its session id equals its pid and covers
everything it forks (a worker's executor JVMs and their Python workers; PySpark's daemon
moves into a process group of its own, so process groups would miss it, sessions do not). A pid file
records the pid with the process's start time from /proc/<pid>/stat: a pid that the kernel
has since reused for another program has a different start time and is left alone. This
is what lets `cluster stop` clean up after a crash of the tool without touching anything
it did not start (no pkill by name).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path


def start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(")") + 2:].split()
    return int(fields[19])


def _sid_and_state(pid: int) -> tuple[int, str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2:].split()
    return int(fields[3]), fields[0]


def write_pidfile(path: Path, pid: int, **info) -> dict:
    record = {"pid": pid, "start_ticks": start_ticks(pid), **info}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)
    return record


def read_pidfile(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def is_alive(record: dict) -> bool:
    """True if the recorded process still runs (same pid and same start time, not a zombie)."""
    pid = record.get("pid")
    if not isinstance(pid, int):
        return False
    ticks = start_ticks(pid)
    if ticks is None or ticks != record.get("start_ticks"):
        return False
    st = _sid_and_state(pid)
    return st is not None and st[1] != "Z"


def group_members(record: dict) -> list[int]:
    """Live pids in the recorded session that started no earlier than its leader."""
    sid, since = record["pid"], record.get("start_ticks") or 0
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        st = _sid_and_state(pid)
        if st is None or st[0] != sid or st[1] == "Z":
            continue
        ticks = start_ticks(pid)
        if ticks is not None and ticks >= since:
            members.append(pid)
    return members


def terminate_group(record: dict, grace_s: float = 10.0) -> list[int]:
    """SIGTERM the recorded session (Spark's shutdown hooks stop executors), SIGKILL leftovers.

    Returns the pids that were signalled. Only members of the recorded session that started
    after its leader are signalled, so a reused pid or session id is never hit.
    """
    members = group_members(record)
    for pid in members:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not group_members(record):
            return members
        time.sleep(0.2)
    for pid in group_members(record):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5.0
    while group_members(record) and time.monotonic() < deadline:
        time.sleep(0.1)
    return members


def reap(record: dict) -> None:
    """Collect the exit status of a daemon that this very process started (no zombie left)."""
    try:
        os.waitpid(record["pid"], os.WNOHANG)
    except (ChildProcessError, OSError):
        pass  # started by another sparkdelay process: init reaps it

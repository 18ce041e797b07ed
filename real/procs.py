"""Processes the tool started, known by their identity, so that exactly those are ever ended.

A `Tracked` process is its pid, its create time and the command line it was started with (read
with psutil; a daemon's is kept in a pid file). Before any signal the live process must match all
three: a pid the kernel has since given to another program has another create time or command
line, so a stale pid file can never end an unrelated process (no pkill by name). The command
line matches when the arguments after the program end the live one, because `spark-class` execs
java with the daemon's class and arguments last. Ending a tracked process ends its tree: itself,
its descendants, and whatever runs in its session (each daemon and driver is started in a session
of its own; PySpark's daemon moves into a process group of its own, which a kill of the process
group would miss). A tracked process that has died is not matched any more, so children it left
behind are not touched: they can no longer be told apart from another program's (Spark's
executors and Python workers exit by themselves once their worker or driver is gone).
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

# A create time is boot time + start ticks; psutil's boot time can move by a fraction of a second
# when the clock is adjusted, so a pid file written earlier is matched within this slack.
CREATE_TIME_SLACK_S = 1.0


@dataclass(frozen=True)
class Tracked:
    pid: int
    create_time: float | None                  # None: the process was gone when it was tracked
    cmdline: tuple[str, ...]                   # as started: program, then arguments
    info: dict = field(default_factory=dict)   # what a pid file says besides (name, host, log)


def track(pid: int, cmdline: list[str], **info) -> Tracked:
    """Identify a process this tool has just started with `cmdline`."""
    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        created = None
    return Tracked(pid, created, tuple(cmdline), info)


def write_pidfile(path: Path, tracked: Tracked) -> None:
    record = {"pid": tracked.pid, "create_time": tracked.create_time, "cmdline": list(tracked.cmdline),
              **tracked.info}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, path)


def read_pidfile(path: Path) -> Tracked | None:
    """The process a pid file records; None if it cannot be read. A file of an older format
    (no create time or command line) gives a record that matches no process."""
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError):   # a damaged file records no process
        return None
    pid = raw.get("pid") if isinstance(raw, dict) else None
    # A bool is an int to Python, and pid 0 or -1 would signal a whole process group.
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return None
    info = {k: v for k, v in raw.items() if k not in ("pid", "create_time", "cmdline", "start_ticks")}
    created = raw.get("create_time")
    cmdline = raw.get("cmdline")
    return Tracked(raw["pid"], created if isinstance(created, (int, float)) else None,
                   tuple(cmdline) if isinstance(cmdline, list) else (), info)


def _identified(tracked: Tracked) -> psutil.Process | None:
    """The live, non-zombie process with the tracked identity, or None."""
    # Every process the tool starts has arguments after its program, and those are what is
    # compared (the program itself changes when spark-class execs java): a record without them
    # (a damaged pid file) would match any process that has the pid and create time.
    if tracked.create_time is None or len(tracked.cmdline) < 2 \
            or not all(isinstance(a, str) for a in tracked.cmdline):
        return None
    try:
        proc = psutil.Process(tracked.pid)
        if abs(proc.create_time() - tracked.create_time) > CREATE_TIME_SLACK_S:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        live = proc.cmdline()
        # A process in the middle of exec (spark-class exec'ing java) shows an empty command
        # line for an instant: read it again rather than call a live daemon dead.
        for _ in range(20):
            if live:
                break
            time.sleep(0.05)
            live = proc.cmdline()
    except psutil.Error:   # gone, a zombie, or not ours to inspect
        return None
    args = list(tracked.cmdline[1:])
    if live[-len(args):] != args:
        return None
    return proc


def is_alive(tracked: Tracked) -> bool:
    """True if the tracked process still runs (same pid, create time and command line)."""
    return _identified(tracked) is not None


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _tree(known: list[psutil.Process], sid: int, since: float) -> list[psutil.Process]:
    """The running processes among `known`, their descendants, and members of session `sid`
    started no earlier than `since` (the session of an identified leader: its id cannot be
    given to another session while any of its members lives)."""
    found: dict[int, psutil.Process] = {}
    for proc in known:
        if _running(proc):
            found.setdefault(proc.pid, proc)
            try:
                for child in proc.children(recursive=True):
                    found.setdefault(child.pid, child)
            except psutil.Error:
                pass
    for proc in psutil.process_iter():
        try:
            if proc.pid not in found and os.getsid(proc.pid) == sid and proc.create_time() >= since:
                found[proc.pid] = proc
        except (OSError, psutil.Error):
            continue
    return [p for p in found.values() if _running(p)]


def tree(tracked: Tracked) -> list[psutil.Process]:
    """The tracked process (identity checked) and everything it started that still runs; [] if it
    is not running."""
    leader = _identified(tracked)
    if leader is None:
        return []
    return _tree([leader], tracked.pid, leader.create_time())


def end_tree(tracked: Tracked, grace_s: float = 10.0) -> list[int]:
    """SIGTERM the tracked process's tree (Spark's shutdown hooks stop executors), SIGKILL what is
    left after `grace_s`. Returns the pids signalled; nothing is signalled unless the tracked
    process itself is identified. Zombies count as ended: their parent reaps them."""
    leader = _identified(tracked)
    if leader is None:
        return []
    since = leader.create_time()
    members = _tree([leader], tracked.pid, since)
    signalled: list[int] = []
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        for proc in members:
            try:
                proc.send_signal(sig)   # psutil refuses a pid that now names another process
            except psutil.Error:
                continue
            if proc.pid not in signalled:
                signalled.append(proc.pid)
        deadline = time.monotonic() + wait_s
        while True:
            # Rescanned: a process forked while the tree shuts down is ended too.
            members = _tree(members, tracked.pid, since)
            if not members:
                return signalled
            if time.monotonic() >= deadline:
                break
            time.sleep(0.2)
    return signalled


def reap(tracked: Tracked) -> None:
    """Collect the exit status of a daemon that this very process started (no zombie left)."""
    try:
        os.waitpid(tracked.pid, os.WNOHANG)
    except (ChildProcessError, OSError):
        pass  # started by another sparkdelay process: init reaps it

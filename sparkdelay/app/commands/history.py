"""`sparkdelay history start|status|stop`: Spark's own History Server on a folder of event logs.

Real runs (`sparkdelay run`, `data/runs/*/eventlogs`) and simulated ones (`simulate --event-log`)
in one folder open side by side in the UI Spark users already read: the stage page's event
timeline, the task table with each task's host and locality, the executors. The server is the
installed pyspark's, listening on 127.0.0.1 only; its pid file, settings and log live in
`--state-dir` (default `.sparkdelay/history`), so `stop` ends exactly what `start` began. Spark
itself lists only the top level of its log folder; here every log under each `--dir` (repeatable)
at any depth is shown, also those written after the start (`real.history_links`), and `start`
says how many it found where. A `--dir` that does not exist is refused; one that holds no log yet
is accepted with a note, because starting the server before `sparkdelay run` or `simulate
--event-log` write into it is a normal way to watch runs arrive.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from sparkdelay.ground.errors import UserError
from sparkdelay.real.history import DEFAULT_PORT, DEFAULT_STATE_DIR, HistoryServer

from sparkdelay.app.argtypes import fixed_port, input_path, seconds

NAME = "history"
MAX_FOLDERS_SHOWN = 6
HELP = "start, inspect or stop Spark's History Server on a folder of real and simulated event logs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = sub.add_parser("start", help="start the History Server on --dir and print its URL")
    start.add_argument("--dir", action="append", default=None, type=input_path, metavar="DIR",
                       help="folder of event logs to show, searched at any depth; repeatable (default: runs)")
    start.add_argument("--port", type=fixed_port, default=DEFAULT_PORT,
                       help="web UI port on 127.0.0.1, spark.history.ui.port (default %(default)s)")
    start.add_argument("--timeout", type=seconds, default=60.0, help="seconds to wait for it to answer (default 60)")
    for p in (start, sub.add_parser("status", help="say whether it runs, and its URL"),
              sub.add_parser("stop", help="stop the server recorded in the state dir")):
        p.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR),
                       help="directory for its pid file, settings and log (default: %(default)s)")


def _found(info, folders: list[str]) -> str:
    """How many logs the server shows, and where they were found."""
    where = ", ".join(folders)
    if not info.logs:
        return (f"no event logs under {where} yet: logs written there later (at any depth) appear within "
                f"a few seconds")
    shown = sorted(info.per_folder.items())
    parts = [f"{folder} {n}" for folder, n in shown[:MAX_FOLDERS_SHOWN]]
    more = f" and {len(shown) - MAX_FOLDERS_SHOWN} more folders" if len(shown) > MAX_FOLDERS_SHOWN else ""
    text = f"{info.logs} event log{'s' if info.logs != 1 else ''} found under {where} ({', '.join(parts)}{more})"
    if info.duplicates:
        text += (f"; {len(info.duplicates)} not shown, another log has the same name (the same application "
                 f"twice?): {', '.join(info.duplicates[:3])}{' ...' if len(info.duplicates) > 3 else ''}")
    return text + "; logs written later appear within a few seconds"


def log_folders(paths: list) -> list[str]:
    """The folders holding the given logs (a folder as given; a log file's, an index.jsonl's or a
    rolling log's parent), each once and none inside another: the `--dir`s that show them all."""
    folders = []
    for a in paths:
        p = Path(a)
        if p.is_file() or (p.is_dir() and any(c.name.startswith("events_") for c in p.iterdir())):
            p = p.parent
        folders.append(p)
    resolved = [f.resolve() for f in folders]
    out: list[str] = []
    for f, r in zip(folders, resolved):
        if not any(o in r.parents for o in resolved) and str(f) not in out:
            out.append(str(f))
    return out


def start_command(folders: list[str], port: int = DEFAULT_PORT) -> str:
    """The one line that shows every log under `folders` in the History Server."""
    dirs = " ".join(f"--dir {shlex.quote(str(f))}" for f in folders)
    return f"sparkdelay history start {dirs}" + ("" if port == DEFAULT_PORT else f" --port {port}")


def run(args) -> int:
    server = HistoryServer(args.state_dir)
    if args.action == "start":
        folders = args.dir or ["runs"]
        info = server.start(folders, port=args.port, timeout_s=args.timeout)
        print(f"History Server {info.url}  (pid {info.pid})")
        print(_found(info, folders))
        print(f"stop it with: sparkdelay history stop --state-dir {server.dir}")
        return 0
    if args.action == "status":
        info = server.status()
        if info is None:
            print(f"no History Server recorded in {server.dir}")
            return 1
        state = "running" if info.running else "NOT RUNNING"
        logs = "" if info.logs is None else f" ({info.logs} event logs" + (
            ", kept in sync" if info.linker_running else ", NOT kept in sync: the linker has stopped") + ")"
        print(f"History Server {info.url}  pid {info.pid} {state}  logs from {info.log_dir}{logs}  log {info.log}")
        return 0 if info.running else 1
    if args.action == "stop":
        ended = server.stop()
        print(f"stopped the History Server of {server.dir}" if ended else f"nothing running in {server.dir}")
        return 0
    raise UserError(f"history: unknown action {args.action!r}")

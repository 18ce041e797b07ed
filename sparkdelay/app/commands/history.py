"""`sparkdelay history start|status|stop`: Spark's own History Server on a folder of event logs.

Real runs (`sparkdelay run`, `data/runs/*/eventlogs`) and simulated ones (`simulate --event-log`)
in one folder open side by side in the UI Spark users already read: the stage page's event
timeline, the task table with each task's host and locality, the executors. The server is the
installed pyspark's, listening on 127.0.0.1 only; its pid file, settings and log live in
`--state-dir` (default `.sparkdelay/history`), so `stop` ends exactly what `start` began. As in
Spark, the server lists the logs at the top level of `--dir` (not in its subfolders).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sparkdelay.ground.errors import UserError
from sparkdelay.real.history import DEFAULT_PORT, DEFAULT_STATE_DIR, HistoryServer

from sparkdelay.app.argtypes import fixed_port

NAME = "history"
HELP = "start, inspect or stop Spark's History Server on a folder of real and simulated event logs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = sub.add_parser("start", help="start the History Server on --dir and print its URL")
    start.add_argument("--dir", default="runs", help="folder of event logs to show (default: %(default)s)")
    start.add_argument("--port", type=fixed_port, default=DEFAULT_PORT,
                       help="web UI port on 127.0.0.1, spark.history.ui.port (default %(default)s)")
    start.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for it to answer (default 60)")
    for p in (start, sub.add_parser("status", help="say whether it runs, and its URL"),
              sub.add_parser("stop", help="stop the server recorded in the state dir")):
        p.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR),
                       help="directory for its pid file, settings and log (default: %(default)s)")


def _logs_below(folder: Path) -> list[Path]:
    """Subfolders holding logs: a hint when --dir itself holds none (Spark does not look deeper)."""
    def has_logs(d: Path) -> bool:
        return any(f.name.startswith(("app-", "local-", "application_", "eventlog_v2_")) for f in d.iterdir())
    try:
        if has_logs(folder):
            return []
        return sorted(d for d in folder.iterdir() if d.is_dir() and has_logs(d))
    except OSError:
        return []


def run(args) -> int:
    server = HistoryServer(args.state_dir)
    if args.action == "start":
        info = server.start(args.dir, port=args.port, timeout_s=args.timeout)
        print(f"History Server {info.url}  (pid {info.pid}, logs from {info.log_dir})")
        below = _logs_below(Path(args.dir))
        if below:
            print(f"note: Spark lists only the logs at the top level of --dir; these subfolders hold logs: "
                  f"{', '.join(str(d) for d in below)} (start with --dir on one of them)")
        print(f"stop it with: sparkdelay history stop --state-dir {server.dir}")
        return 0
    if args.action == "status":
        info = server.status()
        if info is None:
            print(f"no History Server recorded in {server.dir}")
            return 1
        state = "running" if info.running else "NOT RUNNING"
        print(f"History Server {info.url}  pid {info.pid} {state}  logs from {info.log_dir}  log {info.log}")
        return 0 if info.running else 1
    if args.action == "stop":
        ended = server.stop()
        print(f"stopped the History Server of {server.dir}" if ended else f"nothing running in {server.dir}")
        return 0
    raise UserError(f"history: unknown action {args.action!r}")

"""`sparkdelay cluster start|status|stop`: a Spark Standalone cluster on this machine.

The master listens on 127.0.0.1 and worker i on 127.0.0.(i+1), so each worker is a distinct
host for Spark's locality levels. State (pid files, logs, work dirs) lives in `--state-dir`
(default `.sparkdelay/cluster` under the current directory); `stop` ends exactly the
processes recorded there, also after the tool crashed. See `real.cluster`.
"""

from __future__ import annotations

import argparse
import re

from sparkdelay.ground.errors import UserError
from sparkdelay.real.cluster import DEFAULT_STATE_DIR, Cluster, StandaloneLayout

from sparkdelay.app.argtypes import cores, port, positive_int, seconds

NAME = "cluster"
HELP = "start, inspect or stop a local Spark Standalone cluster (one host per worker)"


def add_state_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR),
                   help="directory for pid files, logs and work dirs (default: %(default)s)")


def add_cluster_options(p: argparse.ArgumentParser, workers_required: bool) -> None:
    """Options shared by `cluster start` and `run` (which may start its own cluster)."""
    if workers_required:
        p.add_argument("--workers", type=positive_int, required=True, help="number of workers (hosts 127.0.0.2 ...)")
    p.add_argument("--cores", type=cores, default=8, help="task slots per worker = spark.executor.cores (default 8)")
    p.add_argument("--memory", default="2g", help="memory per worker, e.g. 2g (default 2g)")
    p.add_argument("--pin", action="store_true", help="pin worker i to CPU i-1 (needs one CPU per worker)")
    p.add_argument("--master-port", type=port, default=7077, help="master port on 127.0.0.1 (default 7077)")
    p.add_argument("--webui-port", type=port, default=8080, help="master web UI port, 0 = any free port (default 8080)")
    p.add_argument("--worker-port", type=port, default=7078,
                   help="port of worker 1; worker i uses this + i - 1 (default 7078)")
    p.add_argument("--worker-webui-port", type=port, default=0,
                   help="web UI port of worker 1 (worker i: + i - 1); 0 = any free port (default)")
    p.add_argument("--register-timeout", type=seconds, default=60.0,
                   help="seconds to wait for each daemon to come up and register (default 60)")


def spec_from_args(args, workers: int) -> StandaloneLayout:
    check_memory(args.memory)
    return StandaloneLayout(workers=workers, cores=args.cores, memory=args.memory, pin=args.pin,
                       master_port=args.master_port, webui_port=args.webui_port,
                       worker_port_base=args.worker_port, worker_webui_port_base=args.worker_webui_port,
                       register_timeout_s=args.register_timeout)


def check_memory(text: str) -> str:
    """A worker's memory as Spark takes it (2g, 512m); also checked by `run` for an external master,
    where it is only recorded, so a typo is not recorded as if it had been used."""
    if not re.fullmatch(r"[1-9][0-9]*[kmgtKMGT]?", text or ""):
        raise UserError(f"--memory: expected a size such as 2g or 512m, got {text!r}")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    start = sub.add_parser("start", help="start a master and N workers")
    add_cluster_options(start, workers_required=True)
    add_state_dir(start)
    status = sub.add_parser("status", help="list master, workers, hosts and cores")
    add_state_dir(status)
    stop = sub.add_parser("stop", help="stop the processes recorded in the state dir")
    add_state_dir(stop)


def run(args) -> int:
    cluster = Cluster(args.state_dir)
    if args.action == "start":
        state = cluster.start(spec_from_args(args, args.workers))
        print(f"master {state.master_url}")
        for w in state.workers:
            pin = f", CPU {w['cpus'][0]}" if w["cpus"] else ""
            print(f"worker {w['name']} on {w['host']}:{w['port']} ({state.spec.cores} cores, {state.spec.memory}{pin})")
        print(f"state and logs in {cluster.dir}")
        return 0
    if args.action == "status":
        rows = cluster.status()
        if not rows:
            print(f"no cluster in {cluster.dir}")
            return 1
        for r in rows:
            alive = "running" if r["alive"] else "NOT RUNNING"
            if r["name"] == "master":
                print(f"master   {r.get('url', '?'):28} pid {r['pid']:>7} {alive}  log {r['log']}")
            else:
                pin = f" cpu {r['cpus'][0]}" if r.get("cpus") else ""
                print(f"{r['name']:8} {r['host']}:{r.get('port')!s:<17} pid {r['pid']:>7} {alive}  "
                      f"{r.get('cores')} cores {r.get('memory')}{pin}  log {r['log']}")
        return 0 if all(r["alive"] for r in rows) else 1
    stopped = cluster.stop()
    print(f"stopped {', '.join(stopped)}" if stopped else f"nothing running in {cluster.dir}")
    return 0

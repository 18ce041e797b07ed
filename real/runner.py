"""Run one job as its own driver process and turn what it left behind into an index row.

The driver is `python -m sparkdelay.real.job` with this interpreter, `PYSPARK_PYTHON` set to it and
`PYTHONHASHSEED` fixed, in its own session so a timeout can end it and everything it
forked. Whatever happens (crash, timeout, lost executor, missing items), the run yields a
row with a status: the JSON the driver wrote, the job duration from the event log
(first SparkListenerJobStart to last SparkListenerJobEnd), the driver-side wall time and
where the tasks of the reduce stage ran.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from sparkdelay.real import eventlog
from sparkdelay.real.job import EXIT_EXECUTORS, EXIT_INCOMPLETE
from sparkdelay.real.sweep import RunSpec


def driver_command(spec: RunSpec, master: str, out: Path, result: Path, codec: str,
                   register_wait: str = "120s") -> list[str]:
    s = spec.shape
    cmd = [sys.executable, "-m", "sparkdelay.real.job", "--master", master, "--nodes", str(spec.nodes),
           "--cores", str(s.cores), "--partitions", str(spec.partitions), "--wait", spec.wait,
           "--items", str(s.items), "--key-format", s.key_format, "--map-slices", str(s.map_slices),
           "--work-repeat", str(s.work_repeat), "--eventlog-dir", str(out / "eventlogs"),
           "--eventlog-codec", codec, "--register-wait", register_wait,
           "--app-name", f"sparkdelay {spec.run_id}", "--result", str(result)]
    if s.test_limit is not None:
        cmd += ["--test-limit", str(s.test_limit)]
    if s.mnist_dir is not None:
        cmd += ["--mnist-dir", s.mnist_dir]
    return cmd


def run_one(spec: RunSpec, master: str, out: Path, codec: str = "zstd", timeout_s: float = 600.0,
            keep_logs: bool = False) -> dict:
    out = Path(out).resolve()
    for sub in ("eventlogs", "logs", "tmp"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    result_path = out / "tmp" / f"{spec.run_id}.json"
    result_path.unlink(missing_ok=True)
    log_path = out / "logs" / f"{spec.run_id}.log"
    env = dict(os.environ)
    env.update({"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
                "PYTHONHASHSEED": spec.shape.python_hash_seed, "SPARK_LOCAL_IP": "127.0.0.1"})
    env.pop("SPARK_CONF_DIR", None)
    started = time.time()
    load = os.getloadavg()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(driver_command(spec, master, out, result_path, codec), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            code = proc.returncode
        except BaseException:
            _kill_group(proc)  # Ctrl-C: take the driver (and its JVM) down with us
            raise
    wall = time.time() - started

    try:
        res = json.loads(result_path.read_text())
    except (OSError, ValueError):
        res = {}
    result_path.unlink(missing_ok=True)
    if timed_out:
        status, error = "timeout", f"driver still running after {timeout_s:g}s; killed"
    elif code == 0 and res.get("status") == "ok":
        status, error = "ok", None
    else:
        status = res.get("status") or ("executors-missing" if code == EXIT_EXECUTORS else
                                       "incomplete" if code == EXIT_INCOMPLETE else "error")
        if status == "ok":
            status = "error"
        error = res.get("error") or _tail(log_path)

    s = spec.shape
    row = {
        "run_id": spec.run_id, "config_id": s.digest(), "status": status,
        "nodes": spec.nodes, "partitions": spec.partitions, "wait": spec.wait, "wait_ms": spec.wait_ms,
        "rep": spec.rep, "items": s.items, "key_format": s.key_format, "map_slices": s.map_slices,
        "work_repeat": s.work_repeat, "cores": s.cores, "memory": s.memory, "pin": s.pin,
        "python_hash_seed": s.python_hash_seed, "test_limit": s.test_limit, "mnist_dir": s.mnist_dir,
        "master": master, "app_id": res.get("app_id"), "spark_version": res.get("spark_version"),
        "event_log": None, "job_duration_ms": None,
        "driver_wall_s": _round(res.get("driver_wall_s")), "collect_s": _round(res.get("collect_s")),
        "wall_s": round(wall, 3), "accuracy": res.get("accuracy"), "item_accuracy": res.get("item_accuracy"),
        "items_returned": res.get("items_returned"), "executors": res.get("executors"),
        "started_at": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        "hostname": socket.gethostname(), "loadavg_1m": round(load[0], 2),
        "exit_code": code, "error": error,
    }
    if res.get("app_id"):
        path = eventlog.find_log(out / "eventlogs", res["app_id"])
        if path is not None:
            row["event_log"] = str(path.relative_to(out))
            try:
                summary = eventlog.summarize(path)
                row["job_duration_ms"] = summary["job_duration_ms"]
                row["reduce_tasks_per_host"] = summary["reduce_tasks_per_host"]
                row["executors_removed"] = summary["executors_removed"]
                if status == "ok" and summary["executors_removed"]:
                    row["status"] = "ok-executor-lost"
            except Exception as exc:  # a broken log is recorded, not fatal to the sweep
                row["error"] = (row["error"] or "") + f" event log unreadable: {exc}"
    # Per item: [partition, correct, n, seconds] -- enough to see F13's uneven partitions.
    row["item_results"] = {r["key"]: [r["partition"], r["correct"], r["n"], round(r["seconds"], 3)]
                           for r in sorted(res.get("rows") or [], key=lambda r: r["key"])}
    if row["status"] == "ok" and not keep_logs:
        log_path.unlink(missing_ok=True)
    else:
        row["driver_log"] = str(log_path.relative_to(out))
    return row


def _kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no driver log"
    return " | ".join(text[-lines:])[-1500:]


def _round(x):
    return round(x, 3) if isinstance(x, (int, float)) else None

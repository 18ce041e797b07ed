"""Run one job as its own driver process and turn what it left behind into an index row.

The driver is `python -m sparkdelay.real.job` with this interpreter, `PYSPARK_PYTHON` set to it and
`PYTHONHASHSEED` fixed, in its own session so a timeout can end it and everything it
forked (`procs.end_tree`). Whatever happens (crash, timeout, lost executor, missing items), the
run yields a row with a status: the JSON the driver wrote, the measured job duration and the
reduce tasks per host from the event log (`logged_run`), the driver-side wall time. A multi-stage job
(`real.workloads.Job.driver` "dag_jobs") is driven by `python -m sparkdelay.real.dag_jobs` with the
same result JSON and exit codes; its row has its own parameters and the application's job time.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import psutil

from sparkdelay.ground.errors import UserError
from sparkdelay.real import procs
from sparkdelay.real.job import EXIT_EXECUTORS, EXIT_INCOMPLETE
from sparkdelay.real.logged_run import find_log, read_logged_run
from sparkdelay.real.plan import RunPoint
from sparkdelay.real.workloads import job_named


def driver_command(spec: RunPoint, master: str, out: Path, result: Path, codec: str,
                   register_wait: str = "120s") -> list[str]:
    s = spec.shape
    if job_named(s.job).driver != "job":
        return _dag_driver_command(spec, master, out, result, codec, register_wait)
    cmd = [sys.executable, "-m", "sparkdelay.real.job", "--master", master, "--nodes", str(spec.nodes),
           "--cores", str(s.cores), "--partitions", str(spec.partitions), "--partitioner", s.partitioner,
           "--wait", spec.wait,
           "--job", s.job, "--items", str(s.items), "--key-format", s.key_format, "--map-slices", str(s.map_slices),
           "--work-repeat", str(s.work_repeat), "--eventlog-dir", str(out / "eventlogs"),
           "--eventlog-codec", codec, "--register-wait", register_wait,
           "--app-name", f"sparkdelay {spec.run_id}", "--result", str(result)]
    if s.test_limit is not None:
        cmd += ["--test-limit", str(s.test_limit)]
    if s.mnist_dir is not None:
        cmd += ["--mnist-dir", s.mnist_dir]
    return cmd


def _dag_driver_command(spec: RunPoint, master: str, out: Path, result: Path, codec: str,
                        register_wait: str) -> list[str]:
    """The multi-stage jobs' driver (`real.dag_jobs`): no items, keys or MNIST to pass."""
    s = spec.shape
    return [sys.executable, "-m", f"sparkdelay.real.{job_named(s.job).driver}", "--master", master,
            "--nodes", str(spec.nodes), "--cores", str(s.cores), "--partitions", str(spec.partitions),
            "--wait", spec.wait, "--job", s.job, "--map-slices", str(s.map_slices),
            "--work-repeat", str(s.work_repeat), "--eventlog-dir", str(out / "eventlogs"),
            "--eventlog-codec", codec, "--register-wait", register_wait,
            "--app-name", f"sparkdelay {spec.run_id}", "--result", str(result)]


PROBE_LOOPS = 3_000_000


def cpu_probe_ms() -> float:
    """Milliseconds one core takes for a fixed pure-Python loop, just before a run: what this
    machine's cores deliver in this sitting (a VM on shared hardware ran the same sweep twice as
    fast 13 hours later; data/corpus/README.md), recorded so sittings can be told apart."""
    t0 = time.perf_counter()
    total = 0
    for i in range(PROBE_LOOPS):
        total += i
    return round((time.perf_counter() - t0) * 1000.0, 1)


def steal_share(before, after) -> float | None:
    """The share of CPU time the hypervisor gave to others during the run (Linux "steal")."""
    if not hasattr(before, "steal"):
        return None
    total = sum(after) - sum(before)
    return round((after.steal - before.steal) / total, 4) if total > 0 else 0.0


def run_one(spec: RunPoint, master: str, out: Path, codec: str = "zstd", timeout_s: float = 600.0,
            keep_logs: bool = False, register_wait: str = "120s") -> dict:
    """Run one configuration; its index row, whatever happened."""
    paths = _RunPaths.prepare(Path(out).resolve(), spec.run_id)
    probe_ms = cpu_probe_ms()
    started, load, cpu_before = time.time(), os.getloadavg(), psutil.cpu_times()
    ended = _drive(driver_command(spec, master, paths.out, paths.result, codec, register_wait), _driver_env(spec),
                  paths.driver_log, timeout_s)
    wall = time.time() - started
    res = _take_result(paths.result)
    status, error = _status(ended, res, paths.driver_log)
    row = _row(spec, master, res, status, error, ended.code, started, wall, load[0])
    row["cpu_probe_ms"] = probe_ms
    row["cpu_steal_share"] = steal_share(cpu_before, psutil.cpu_times())
    if job_named(spec.shape.job).driver != "job":
        return _dag_row(row, res, paths, keep_logs)
    if res.get("app_id"):
        _add_event_log(row, paths.out, res["app_id"])
    # Per item: [partition, correct, n, seconds] -- enough to see F13's uneven partitions.
    row["item_results"] = {r["key"]: [r["partition"], r["correct"], r["n"], round(r["seconds"], 3)]
                           for r in sorted(res.get("rows") or [], key=lambda r: r["key"])}
    if row["status"] == "ok" and not keep_logs:
        paths.driver_log.unlink(missing_ok=True)
    else:
        row["driver_log"] = str(paths.driver_log.relative_to(paths.out))
    return row


# Row fields of the study's shape that a multi-stage job has no value for: left out of its row
# (not null), so no reader takes it for a one-shuffle run with items and keys (its shuffles
# partition by PySpark's portable_hash or Spark SQL's hash, not by --partitioner).
_SHAPE_ONLY_FIELDS = ("items", "key_format", "test_limit", "mnist_dir", "partitioner", "accuracy", "item_accuracy",
                      "items_returned")


def _dag_row(row: dict, res: dict, paths: _RunPaths, keep_logs: bool) -> dict:
    """A multi-stage job's row: the common fields, its own parameters and answer size, and from
    its event log the application's job time (not `job_duration_ms`, which stays the one-shuffle
    measured job's and is null here), its jobs, shuffles and stages."""
    from sparkdelay.real.dag_jobs import DURATION_DEFINITION, DURATION_FIELD, dag_row_fields, logged_dag_run
    for name in _SHAPE_ONLY_FIELDS:
        row.pop(name, None)
    row.update(job_params=res.get("job_params"), answer_rows=res.get("answer_rows"),
               duration_field=DURATION_FIELD, duration_definition=DURATION_DEFINITION, **{DURATION_FIELD: None})
    path = find_log(paths.out / "eventlogs", res["app_id"]) if res.get("app_id") else None
    if path is not None:
        row["event_log"] = str(path.relative_to(paths.out))
        try:
            row.update(dag_row_fields(logged_dag_run(path)))
        except (UserError, OSError) as exc:   # as _add_event_log: recorded, and the run is not ok
            row["error"] = ((row["error"] or "") + f" event log unreadable: {exc}").strip()
            if row["status"] == "ok":
                row["status"] = "eventlog-unreadable"
        if row["status"] == "ok" and row.get("executors_removed"):
            row["status"] = "ok-executor-lost"
    if row["status"] == "ok" and not keep_logs:
        paths.driver_log.unlink(missing_ok=True)
    else:
        row["driver_log"] = str(paths.driver_log.relative_to(paths.out))
    return row


@dataclass(frozen=True)
class _RunPaths:
    out: Path          # the sweep's folder: index.jsonl, eventlogs/, logs/, tmp/
    result: Path       # the JSON the driver writes at its end
    driver_log: Path   # the driver's stdout and stderr

    @classmethod
    def prepare(cls, out: Path, run_id: str) -> _RunPaths:
        for sub in ("eventlogs", "logs", "tmp"):
            (out / sub).mkdir(parents=True, exist_ok=True)
        paths = cls(out, out / "tmp" / f"{run_id}.json", out / "logs" / f"{run_id}.log")
        paths.result.unlink(missing_ok=True)  # a result left by an earlier attempt is not this run's
        return paths


@dataclass(frozen=True)
class _DriverExit:
    code: int | None
    timed_out: bool
    timeout_s: float


def _driver_env(spec: RunPoint) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
                "PYTHONHASHSEED": spec.shape.python_hash_seed, "SPARK_LOCAL_IP": "127.0.0.1"})
    env.pop("SPARK_CONF_DIR", None)
    return env


def _drive(cmd: list[str], env: dict[str, str], log_path: Path, timeout_s: float) -> _DriverExit:
    """Start the driver in a session of its own and wait for it; end its tree on timeout."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    driver = procs.track(proc.pid, cmd)
    try:
        return _DriverExit(proc.wait(timeout=timeout_s), False, timeout_s)
    except subprocess.TimeoutExpired:
        procs.end_tree(driver, grace_s=15)
        return _DriverExit(proc.wait(), True, timeout_s)
    except BaseException:
        procs.end_tree(driver, grace_s=15)  # Ctrl-C: take the driver (and its JVM) down with us
        raise


def _take_result(path: Path) -> dict:
    """The driver's result JSON ({} if it wrote none), removed once read."""
    try:
        res = json.loads(path.read_text())
    except (OSError, ValueError):
        res = {}
    path.unlink(missing_ok=True)
    return res


def _status(ended: _DriverExit, res: dict, log_path: Path) -> tuple[str, str | None]:
    if ended.timed_out:
        return "timeout", f"driver still running after {ended.timeout_s:g}s; killed"
    if ended.code == 0 and res.get("status") == "ok":
        return "ok", None
    status = res.get("status") or ("executors-missing" if ended.code == EXIT_EXECUTORS else
                                   "incomplete" if ended.code == EXIT_INCOMPLETE else "error")
    if status == "ok":
        status = "error"  # the driver said ok but exited with an error
    return status, res.get("error") or _tail(log_path)


def task_threads(shape) -> int:
    """Threads a reduce task of the run's job runs: its OPENBLAS_NUM_THREADS, else, for a job whose
    tasks run numpy's BLAS, OpenBLAS's default of one per core the worker sees (one when pinned)."""
    job = job_named(shape.job)
    if "OPENBLAS_NUM_THREADS" in job.executor_env:
        return int(job.executor_env["OPENBLAS_NUM_THREADS"])
    if job.uses_weights is None:
        return 1
    return 1 if shape.pin else (os.cpu_count() or 1)


def _row(spec: RunPoint, master: str, res: dict, status: str, error: str | None, code: int | None,
         started: float, wall: float, load_1m: float) -> dict:
    """The row's fields known without the event log, in their on-disk order."""
    s = spec.shape
    return {
        "run_id": spec.run_id, "config_id": s.digest(), "status": status,
        "nodes": spec.nodes, "partitions": spec.partitions, "wait": spec.wait, "wait_ms": spec.wait_ms,
        "rep": spec.rep, "job": s.job, "executor_env": job_named(s.job).executor_env,
        "task_threads": task_threads(s), "items": s.items, "key_format": s.key_format, "map_slices": s.map_slices,
        "partitioner": s.partitioner,
        "work_repeat": s.work_repeat, "cores": s.cores, "memory": s.memory, "pin": s.pin,
        "python_hash_seed": s.python_hash_seed, "test_limit": s.test_limit, "mnist_dir": s.mnist_dir,
        # the workers' CPython (PYSPARK_PYTHON is this interpreter): it decides portable_hash
        "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
        "master": master, "app_id": res.get("app_id"), "spark_version": res.get("spark_version"),
        "event_log": None, "job_duration_ms": None,
        "driver_wall_s": _round(res.get("driver_wall_s")), "collect_s": _round(res.get("collect_s")),
        "wall_s": round(wall, 3), "accuracy": res.get("accuracy"), "item_accuracy": res.get("item_accuracy"),
        "items_returned": res.get("items_returned"), "executors": res.get("executors"),
        "started_at": datetime.fromtimestamp(started, timezone.utc).isoformat(timespec="seconds"),
        "hostname": socket.gethostname(), "loadavg_1m": round(load_1m, 2),
        "exit_code": code, "error": error,
    }


def _add_event_log(row: dict, out: Path, app_id: str) -> None:
    """Fill the row's event-log fields from the run's finished log, if Spark wrote one."""
    path = find_log(out / "eventlogs", app_id)
    if path is None:
        return
    row["event_log"] = str(path.relative_to(out))
    try:
        logged = read_logged_run(path)
    except (UserError, OSError) as exc:
        # A broken log is recorded, not fatal to the sweep; but the run is not `ok`: no job time
        # or placement can be drawn from it, and calibration must not take it for a good run.
        row["error"] = ((row["error"] or "") + f" event log unreadable: {exc}").strip()
        if row["status"] == "ok":
            row["status"] = "eventlog-unreadable"
        return
    row["job_duration_ms"] = logged.job_duration_ms
    row["reduce_tasks_per_host"] = logged.reduce_tasks_per_host
    row["executors_removed"] = logged.executors_removed
    if row["status"] == "ok" and logged.executors_removed:
        row["status"] = "ok-executor-lost"


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no driver log"
    return " | ".join(text[-lines:])[-1500:]


def _round(x):
    return round(x, 3) if isinstance(x, (int, float)) else None

"""A Spark Standalone cluster on this machine: one master and N workers on distinct hosts.

The master listens on 127.0.0.1; worker i (1-based) binds 127.0.0.(i+1), with
`SPARK_LOCAL_IP` set so that its executors register with that host too. Every worker is
therefore a distinct host to Spark's scheduler, which is what makes delay scheduling
(NODE_LOCAL vs ANY) visible on one machine. Daemons are started with the pyspark
installation's `bin/spark-class` in their own sessions; their pid files, logs and work
dirs live in one state directory, so `stop` ends exactly what `start` began, also after a
crash of the tool. `--pin` gives worker i CPU i-1 (the set is inherited by its executor
JVM and Python workers).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from sparkdelay.ground.errors import UserError

from sparkdelay.real import procs
from sparkdelay.real.spark_env import check_java, python_executable, spark_class, spark_home

DEFAULT_STATE_DIR = Path(".sparkdelay") / "cluster"
MASTER_HOST = "127.0.0.1"
REGISTERED = "Successfully registered with master"
MASTER_UP = "I have been elected leader"


def worker_host(i: int) -> str:
    """Host of worker i (1-based): 127.0.0.2, 127.0.0.3, ..."""
    if not 1 <= i <= 253:
        raise UserError(f"--workers: at most 253 workers fit in 127.0.0.0/24, got {i}")
    return f"127.0.0.{i + 1}"


@dataclass
class StandaloneLayout:
    """The shape of a local Standalone cluster: N workers on loopback hosts, their cores and ports."""

    workers: int
    cores: int = 8
    memory: str = "2g"
    pin: bool = False
    master_port: int = 7077
    webui_port: int = 8080          # master web UI; 0 = any free port
    worker_port_base: int = 7078    # worker i listens on base + i - 1
    worker_webui_port_base: int = 0  # 0 = any free port for every worker UI
    register_timeout_s: float = 60.0

    @property
    def master_url(self) -> str:
        return f"spark://{MASTER_HOST}:{self.master_port}"

    def worker_port(self, i: int) -> int:
        return self.worker_port_base + i - 1

    def worker_webui_port(self, i: int) -> int:
        return 0 if self.worker_webui_port_base == 0 else self.worker_webui_port_base + i - 1


@dataclass
class ClusterState:
    spec: StandaloneLayout
    master_url: str
    started_at: float
    workers: list = field(default_factory=list)  # [{"name", "host", "port", "cpus"}]


class Cluster:
    """The cluster whose state lives in `state_dir` (which may hold no cluster yet)."""

    def __init__(self, state_dir: Path | str = DEFAULT_STATE_DIR):
        self.dir = Path(state_dir)
        self._log_offsets: dict[str, int] = {}   # daemon -> size of its log before this start

    # -- paths ---------------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.dir / "cluster.json"

    def pidfile(self, name: str) -> Path:
        return self.dir / "pids" / f"{name}.json"

    def logfile(self, name: str) -> Path:
        return self.dir / "logs" / f"{name}.log"

    # -- state ---------------------------------------------------------------------------
    def load(self) -> ClusterState | None:
        fix = f"run `sparkdelay cluster stop --state-dir {self.dir}`"
        try:
            raw = json.loads(self.state_file.read_bytes().decode("utf-8"))
        except OSError:
            return None
        except RecursionError:
            raise UserError(f"{self.state_file}: nested too deeply; {fix}") from None
        except ValueError:   # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise UserError(f"{self.state_file}: not valid JSON; {fix}") from None
        # Written by _save only; anything else in it means the file was damaged or replaced.
        if not isinstance(raw, dict):
            raise UserError(f"{self.state_file}: expected a JSON object, got {type(raw).__name__}; {fix}")
        for key, kind in (("spec", dict), ("master_url", str), ("started_at", (int, float)), ("workers", list)):
            if key in raw and (isinstance(raw[key], bool) or not isinstance(raw[key], kind)):
                raise UserError(f"{self.state_file}: {key}: wrong type ({type(raw[key]).__name__}); {fix}")
            if key not in raw and key != "workers":
                raise UserError(f"{self.state_file}: {key}: missing; {fix}")
        try:
            spec = StandaloneLayout(**raw["spec"])
        except TypeError as exc:   # unknown or missing fields of the layout
            raise UserError(f"{self.state_file}: spec: {exc}; {fix}") from None
        for f in fields(StandaloneLayout):   # each field of the type _save wrote (a bool is no int here)
            value, kind = getattr(spec, f.name), {"int": int, "str": str, "bool": bool, "float": (int, float)}[f.type]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise UserError(f"{self.state_file}: spec.{f.name}: wrong type ({type(value).__name__}); {fix}")
        workers = raw.get("workers", [])
        if not all(isinstance(w, dict) and isinstance(w.get("name"), str) for w in workers):
            raise UserError(f"{self.state_file}: workers: expected objects with a name; {fix}")
        return ClusterState(spec=spec, master_url=raw["master_url"], started_at=raw["started_at"], workers=workers)

    def _save(self, state: ClusterState) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(state), indent=1))
        os.replace(tmp, self.state_file)

    def records(self) -> dict[str, procs.Tracked]:
        """Tracked daemons by name ('master', 'worker-1', ...), as their pid files say."""
        out = {}
        pid_dir = self.dir / "pids"
        if pid_dir.is_dir():
            for path in sorted(pid_dir.glob("*.json")):
                rec = procs.read_pidfile(path)
                if rec is not None:
                    out[path.stem] = rec
        return out

    def is_running(self) -> bool:
        """Any recorded daemon, or anything it forked (executors, Python workers), still alive."""
        return any(procs.tree(r) for r in self.records().values())

    def healthy(self, workers: int | None = None) -> bool:
        """Master and every recorded worker alive (and, if given, exactly `workers` of them)."""
        state = self.load()
        if state is None:
            return False
        recs = self.records()
        names = ["master"] + [w["name"] for w in state.workers]
        if workers is not None and len(state.workers) != workers:
            return False
        return all(n in recs and procs.is_alive(recs[n]) for n in names)

    # -- start ---------------------------------------------------------------------------
    def start(self, spec: StandaloneLayout) -> ClusterState:
        if spec.workers < 1:
            raise UserError(f"--workers: must be at least 1, got {spec.workers}")
        if spec.cores < 1:
            raise UserError(f"--cores: must be at least 1, got {spec.cores}")
        if self.is_running():
            raise UserError(f"a cluster is already running from {self.dir}; stop it first (sparkdelay cluster stop --state-dir {self.dir})")
        check_java()
        cpus = sorted(os.sched_getaffinity(0))
        if spec.pin and spec.workers > len(cpus):
            raise UserError(f"--pin: needs one CPU per worker, but {spec.workers} workers and only {len(cpus)} CPUs")
        self._check_ports(spec)
        # Old pid files of a stopped (or crashed and already stopped) cluster are stale.
        for path in (self.dir / "pids").glob("*.json") if (self.dir / "pids").is_dir() else []:
            path.unlink()
        state = ClusterState(spec=spec, master_url=spec.master_url, started_at=time.time())
        self._save(state)
        try:
            self._spawn("master", MASTER_HOST, None, [
                "org.apache.spark.deploy.master.Master", "--host", MASTER_HOST,
                "--port", str(spec.master_port), "--webui-port", str(spec.webui_port)])
            self._wait_for_log("master", MASTER_UP, spec.register_timeout_s, "master did not start")
            for i in range(1, spec.workers + 1):
                host = worker_host(i)
                name = f"worker-{i}"
                cpu = [cpus[i - 1]] if spec.pin else None
                work_dir = self.dir / "work" / name
                work_dir.mkdir(parents=True, exist_ok=True)
                self._spawn(name, host, cpu, [
                    "org.apache.spark.deploy.worker.Worker", "--host", host,
                    "--port", str(spec.worker_port(i)), "--webui-port", str(spec.worker_webui_port(i)),
                    "--cores", str(spec.cores), "--memory", spec.memory,
                    "--work-dir", str(work_dir.resolve()), spec.master_url])
                state.workers.append({"name": name, "host": host, "port": spec.worker_port(i),
                                      "cpus": cpu})
                self._save(state)
            # Workers start in parallel; wait for all of them to register.
            for w in state.workers:
                self._wait_for_log(w["name"], REGISTERED, spec.register_timeout_s,
                                   f"{w['name']} ({w['host']}) did not register with {spec.master_url}")
        except BaseException:
            self.stop()
            raise
        return state

    def _check_ports(self, spec: StandaloneLayout) -> None:
        wanted = [(MASTER_HOST, spec.master_port, "--master-port"), (MASTER_HOST, spec.webui_port, "--webui-port")]
        for i in range(1, spec.workers + 1):
            wanted.append((worker_host(i), spec.worker_port(i), "--worker-port"))
            wanted.append((worker_host(i), spec.worker_webui_port(i), "--worker-webui-port"))
        for host, port, option in wanted:
            if port == 0:
                continue
            if not 1 <= port <= 65535:
                raise UserError(f"{option}: port {port} is out of range")
            if port_in_use(host, port):
                raise UserError(f"{option}: port {port} on {host} is in use (another Spark cluster? pick other ports)")

    def _spawn(self, name: str, host: str, cpus: list[int] | None, args: list[str]) -> None:
        log = self.logfile(name)
        log.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update({
            "SPARK_HOME": str(spark_home()),
            # Binds the daemon (and the executors it launches) to its own loopback address.
            "SPARK_LOCAL_IP": host,
            "SPARK_LOG_DIR": str(log.parent.resolve()),
            "PYSPARK_PYTHON": python_executable(),
        })
        env.pop("SPARK_CONF_DIR", None)

        def setup():
            if cpus is not None:
                os.sched_setaffinity(0, set(cpus))

        cmd = [str(spark_class()), *args]
        # The log is appended to: a stopped cluster's lines (its "elected leader") stay above, so
        # the wait for this daemon reads only what it writes from here on.
        self._log_offsets[name] = log.stat().st_size if log.exists() else 0
        with open(log, "ab") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT, env=env,
                                    cwd=str(self.dir), start_new_session=True,
                                    preexec_fn=setup if cpus is not None else None)
        # spark-class execs java, so this pid is the daemon's JVM (same create time, same arguments last).
        procs.write_pidfile(self.pidfile(name), procs.track(proc.pid, cmd, name=name, host=host, log=str(log)))

    def _wait_for_log(self, name: str, needle: str, timeout_s: float, what: str) -> None:
        log = self.logfile(name)
        rec = procs.read_pidfile(self.pidfile(name))
        deadline = time.monotonic() + timeout_s
        offset = self._log_offsets.get(name, 0)
        while time.monotonic() < deadline:
            try:
                with open(log, "rb") as f:
                    f.seek(offset)
                    if needle in f.read().decode(errors="replace"):
                        return
            except OSError:
                pass
            if rec is None or not procs.is_alive(rec):
                raise UserError(f"{what}: the process exited; see {log}")
            time.sleep(0.25)
        raise UserError(f"{what} within {timeout_s:g}s; see {log}")

    # -- stop / status -------------------------------------------------------------------
    def stop(self) -> list[str]:
        """End every daemon recorded in the state dir (workers first); return their names."""
        recs = self.records()
        stopped = []
        order = sorted((n for n in recs if n != "master"), reverse=True) + (["master"] if "master" in recs else [])
        for name in order:
            rec = recs[name]
            if procs.end_tree(rec):
                stopped.append(name)
            procs.reap(rec)
            self.pidfile(name).unlink(missing_ok=True)
        self.state_file.unlink(missing_ok=True)
        return stopped

    def status(self) -> list[dict]:
        state = self.load()
        recs = self.records()
        rows = []
        if state is None and not recs:
            return rows
        spec = state.spec if state else None
        for name, rec in recs.items():
            row = {"name": name, "host": rec.info.get("host"), "pid": rec.pid, "alive": procs.is_alive(rec)}
            if name == "master" and state:
                row["url"] = state.master_url
            elif state:
                w = next((w for w in state.workers if w["name"] == name), {})
                row.update(port=w.get("port"), cores=spec.cores, memory=spec.memory, cpus=w.get("cpus"))
            row["log"] = rec.info.get("log")
            rows.append(row)
        return rows


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False

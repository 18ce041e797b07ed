"""Spark's own History Server on this machine, showing a folder of real and simulated event logs.

Started like the Standalone daemons (`real.cluster`): the pyspark installation's
`bin/spark-class org.apache.spark.deploy.history.HistoryServer`, in a session of its own, with
`SPARK_LOCAL_IP=127.0.0.1` so that its web UI listens on loopback only. Its settings are Spark's
keys in a properties file in the state directory: `spark.history.fs.logDirectory` (the folder),
`spark.history.ui.port`, a short `spark.history.fs.update.interval` (a log written after the
start is listed within a second or two, not Spark's default 10 s) and `spark.port.maxRetries=0`
(a taken port is an error, not a silent move to the next port, so the printed URL is the real
one). The pid file records the JVM's identity (`real.procs`), so `stop` ends exactly the process
tree `start` began, also after a crash of the tool, and never an unrelated process.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from sparkdelay.ground.errors import UserError

from sparkdelay.real import procs
from sparkdelay.real.cluster import port_in_use
from sparkdelay.real.spark_env import check_java, spark_class, spark_home

DEFAULT_STATE_DIR = Path(".sparkdelay") / "history"
DEFAULT_PORT = 18080            # Spark's default spark.history.ui.port
HOST = "127.0.0.1"
MAIN_CLASS = "org.apache.spark.deploy.history.HistoryServer"
UPDATE_INTERVAL = "1s"


def _escape(value: str) -> str:
    """A value as java.util.Properties reads it back (backslash, leading blank, non-ASCII)."""
    out = value.replace("\\", "\\\\")
    if out[:1] in (" ", "\t"):
        out = "\\" + out
    return "".join(c if ord(c) < 128 else f"\\u{ord(c):04x}" for c in out)


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    url: str
    port: int
    log_dir: str
    log: str
    running: bool


class HistoryServer:
    """The History Server whose pid file, settings and log live in `state_dir`."""

    def __init__(self, state_dir: Path | str = DEFAULT_STATE_DIR):
        self.dir = Path(state_dir)

    @property
    def pidfile(self) -> Path:
        return self.dir / "pids" / "history.json"

    @property
    def logfile(self) -> Path:
        return self.dir / "logs" / "history.log"

    @property
    def conf_file(self) -> Path:
        return self.dir / "history.conf"

    def record(self) -> procs.Tracked | None:
        return procs.read_pidfile(self.pidfile) if self.pidfile.exists() else None

    def is_running(self) -> bool:
        rec = self.record()
        return rec is not None and bool(procs.tree(rec))

    def status(self) -> ServerInfo | None:
        """What the pid file records (None: nothing was started from this state dir)."""
        rec = self.record()
        if rec is None:
            return None
        return ServerInfo(pid=rec.pid, url=str(rec.info.get("url", "")), port=int(rec.info.get("port", 0)),
                          log_dir=str(rec.info.get("log_dir", "")), log=str(rec.info.get("log", "")),
                          running=procs.is_alive(rec))

    def start(self, log_dir: Path | str, port: int = DEFAULT_PORT, timeout_s: float = 60.0) -> ServerInfo:
        """Start the server on `log_dir` and wait until its REST API answers."""
        log_dir = Path(log_dir)
        if not log_dir.exists():
            raise UserError(f"--dir: {log_dir} does not exist (the folder of event logs to show)")
        if not log_dir.is_dir():
            raise UserError(f"--dir: {log_dir} is not a folder")
        if not 1 <= port <= 65535:
            raise UserError(f"--port: port {port} is out of range (1-65535)")
        if self.is_running():
            raise UserError(f"a History Server is already running from {self.dir}; stop it first "
                            f"(sparkdelay history stop --state-dir {self.dir})")
        if port_in_use(HOST, port):
            raise UserError(f"--port: port {port} on {HOST} is in use (another History Server? pick another port)")
        check_java()
        log_dir = log_dir.resolve()
        self.pidfile.unlink(missing_ok=True)   # a stale one: its process is gone (checked above)
        self.dir.mkdir(parents=True, exist_ok=True)
        settings = {"spark.history.fs.logDirectory": str(log_dir), "spark.history.ui.port": str(port),
                    "spark.history.fs.update.interval": UPDATE_INTERVAL, "spark.port.maxRetries": "0"}
        self.conf_file.write_text("".join(f"{k}={_escape(v)}\n" for k, v in settings.items()))
        url = f"http://{HOST}:{port}"
        self.logfile.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update({"SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": HOST,
                    "SPARK_LOG_DIR": str(self.logfile.parent.resolve())})
        env.pop("SPARK_CONF_DIR", None)   # a user's spark-defaults.conf must not change the port or folder
        cmd = [str(spark_class()), MAIN_CLASS, "--properties-file", str(self.conf_file.resolve())]
        with open(self.logfile, "ab") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    env=env, cwd=str(self.dir), start_new_session=True)
        # spark-class execs java: this pid is the server's JVM, with these arguments last.
        tracked = procs.track(proc.pid, cmd, name="history", host=HOST, port=port, url=url,
                              log_dir=str(log_dir), log=str(self.logfile.resolve()))
        procs.write_pidfile(self.pidfile, tracked)
        try:
            self._wait_until_up(tracked, url, timeout_s)
        except BaseException:
            self.stop()
            raise
        return self.status()

    def _wait_until_up(self, tracked: procs.Tracked, url: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/api/v1/applications", timeout=2) as resp:
                    json.loads(resp.read())
                    return
            except (OSError, ValueError, urllib.error.URLError):
                pass
            if not procs.is_alive(tracked):
                raise UserError(f"the History Server exited at start; see {self.logfile}")
            time.sleep(0.25)
        raise UserError(f"the History Server did not answer on {url} within {timeout_s:g}s; see {self.logfile}")

    def stop(self) -> bool:
        """End the recorded server's process tree; True if something was running."""
        rec = self.record()
        if rec is None:
            return False
        ended = bool(procs.end_tree(rec))
        procs.reap(rec)
        self.pidfile.unlink(missing_ok=True)
        return ended

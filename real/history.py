"""Spark's own History Server on this machine, showing folders of real and simulated event logs.

Started like the Standalone daemons (`real.cluster`): the pyspark installation's
`bin/spark-class org.apache.spark.deploy.history.HistoryServer`, in a session of its own, with
`SPARK_LOCAL_IP=127.0.0.1` so that its web UI listens on loopback only. Its settings are Spark's
keys in a properties file in the state directory: `spark.history.fs.logDirectory`,
`spark.history.ui.port`, a short `spark.history.fs.update.interval` (a log written after the
start is listed within a second or two, not Spark's default 10 s) and `spark.port.maxRetries=0`
(a taken port is an error, not a silent move to the next port, so the printed URL is the real
one). Spark lists only the top level of its log directory, so that directory is a staging folder
of links to every log under the `--dir` folders at any depth, kept in sync by a linker process
(`real.history_links`). The pid files record the JVM's and the linker's identity (`real.procs`),
so `stop` ends exactly the process trees `start` began, also after a crash of the tool, and never
an unrelated process.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path

from sparkdelay.ground.errors import UserError

from sparkdelay.real import history_links, procs
from sparkdelay.real.cluster import port_in_use
from sparkdelay.real.spark_env import check_java, spark_class, spark_home

DEFAULT_STATE_DIR = Path(".sparkdelay") / "history"
DEFAULT_PORT = 18080            # Spark's default spark.history.ui.port
HOST = "127.0.0.1"
MAIN_CLASS = "org.apache.spark.deploy.history.HistoryServer"
UPDATE_INTERVAL = "1s"


def stages_url(app_id: str, port: int = DEFAULT_PORT) -> str:
    """The stage list of one application in the server's UI (single-attempt applications)."""
    return f"http://{HOST}:{port}/history/{app_id}/stages/"


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
    log_dir: str                 # the --dir folders, comma-separated
    log: str
    running: bool
    logs: int | None = None      # event logs the last sync linked (None: not known)
    per_folder: dict = field(default_factory=dict)   # folder holding logs -> how many
    duplicates: tuple = ()       # logs not shown: another log has their name
    linker_running: bool = False


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

    @property
    def staging(self) -> Path:
        """Spark's spark.history.fs.logDirectory: one link per log found under the --dir folders."""
        return self.dir / "eventlogs"

    @property
    def linker_pidfile(self) -> Path:
        return self.dir / "pids" / "links.json"

    def record(self) -> procs.Tracked | None:
        return procs.read_pidfile(self.pidfile) if self.pidfile.exists() else None

    def linker_record(self) -> procs.Tracked | None:
        return procs.read_pidfile(self.linker_pidfile) if self.linker_pidfile.exists() else None

    def is_running(self) -> bool:
        return any(rec is not None and procs.tree(rec) for rec in (self.record(), self.linker_record()))

    def status(self) -> ServerInfo | None:
        """What the pid file records (None: nothing was started from this state dir)."""
        rec = self.record()
        if rec is None:
            return None
        linker = self.linker_record()
        links = history_links.read_status(self.staging) or {}
        return ServerInfo(pid=rec.pid, url=str(rec.info.get("url", "")), port=int(rec.info.get("port", 0)),
                          log_dir=str(rec.info.get("log_dir", "")), log=str(rec.info.get("log", "")),
                          running=procs.is_alive(rec),
                          logs=links.get("logs") if isinstance(links.get("logs"), int) else None,
                          per_folder=links.get("per_folder") if isinstance(links.get("per_folder"), dict) else {},
                          duplicates=tuple(links.get("duplicates") or ()),
                          linker_running=linker is not None and procs.is_alive(linker))

    def start(self, log_dirs: Path | str | list, port: int = DEFAULT_PORT, timeout_s: float = 60.0) -> ServerInfo:
        """Start the server on every event log under `log_dirs` (at any depth) and wait until its
        REST API answers. A folder with no log yet is accepted: logs written later appear."""
        folders = [Path(d) for d in ([log_dirs] if isinstance(log_dirs, (str, Path)) else log_dirs)]
        for log_dir in folders:
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
        self.pidfile.unlink(missing_ok=True)   # stale ones: their processes are gone (checked above)
        self.linker_pidfile.unlink(missing_ok=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        history_links.clear(self.staging)
        try:
            found = history_links.sync(folders, self.staging)   # listed by Spark's first scan already
        except OSError as exc:
            raise UserError(f"--dir: cannot list the event logs: {exc.filename}: {exc.strerror or exc}") from None
        settings = {"spark.history.fs.logDirectory": str(self.staging.resolve()), "spark.history.ui.port": str(port),
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
        shown_dirs = ", ".join(str(f.resolve()) for f in folders)
        tracked = procs.track(proc.pid, cmd, name="history", host=HOST, port=port, url=url,
                              log_dir=shown_dirs, log=str(self.logfile.resolve()))
        procs.write_pidfile(self.pidfile, tracked)
        try:
            self._start_linker(folders)
            self._wait_until_up(tracked, url, timeout_s)
        except BaseException:
            self.stop()
            raise
        # As found at the start, with the folders as the user gave them (the linker's own
        # status file names them by absolute path).
        return replace(self.status(), per_folder=found.per_folder, logs=len(found.targets),
                       duplicates=tuple(found.duplicates))

    def _start_linker(self, folders: list[Path]) -> None:
        cmd = history_links.command(folders, self.staging, self.pidfile)
        with open(self.logfile.with_name("links.log"), "ab") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=str(self.dir), start_new_session=True)
        procs.write_pidfile(self.linker_pidfile, procs.track(proc.pid, cmd, name="history-links"))

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
        """End the recorded linker's and server's process trees; True if something was running."""
        ended = False
        for rec, pidfile in ((self.linker_record(), self.linker_pidfile), (self.record(), self.pidfile)):
            if rec is None:
                continue
            ended = bool(procs.end_tree(rec)) or ended
            procs.reap(rec)
            pidfile.unlink(missing_ok=True)
        return ended

"""`sweep --engine spark`: the points of a sweep still to do, simulated as a Spark job.

The points are cut into chunks of consecutive points (repetitions of one point, which share a
build, stay together), `sc.parallelize(chunks, len(chunks))` makes one partition per chunk, and
each partition is simulated in a Python worker by `sweep.run_point`, the very function the local
pool runs per point, so rows are the local engine's rows, byte for byte.

How rows come back (the choice): one single-task job per chunk (`sc.runJob(rdd, f, [i])`),
several in flight at once from a small thread pool (twice the cores, at least 8), rows yielded
to the sweep as each job ends. The sweep appends and flushes them at once, as with the local
pool, so a kill -9 loses only the chunks still running and the resume (matching rows by point
and `sweep_id`) neither redoes nor duplicates anything appended. The alternatives fall short:
`collect()` of one job returns nothing before the last partition ends (no streaming, a kill
loses everything); `toLocalIterator()` streams, but runs one partition at a time (plus one
prefetched), so it never uses more than two cores; one job per batch of chunks waits for the
slowest chunk of each batch. Spark's FIFO scheduler hands the concurrent jobs' tasks to free
cores in submission order, so the cluster stays busy and chunks finish roughly in grid order.

Code and Python: the imported `sparkdelay` package's .py files (the folders setuptools maps into
the namespace, `sim/`, `real/`, `calibration/`, included: each package is found by its import
spec, not by walking one folder) are zipped and shipped with `sc.addPyFile`, so executors need no
install of sparkdelay. They need the same Python packages otherwise (simpy, numpy, pyyaml, tqdm,
...): for `local[N]` and a master on a loopback host (the tool's own `sparkdelay cluster`) the
executors run this interpreter (`spark.pyspark.python` = `sys.executable`, unless
`PYSPARK_PYTHON` says otherwise); for any other `spark://` master the workers' `python3` (or
`PYSPARK_PYTHON`) must have them. A probe task checks this first and names what is missing.
Cluster, job and cost-model files are read on the driver and shipped as objects, so workers need
none of the user's files. Bad input ends as one line: a malformed `--master`, a master that does
not answer on its port (5 s), no executor within `register_timeout_s`.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from sparkdelay.ground.errors import UserError

DEFAULT_MASTER = "local[2]"
CONNECT_TIMEOUT_S = 5.0
REGISTER_TIMEOUT_S = 60.0
# Modules a sweep's run imports on an executor besides sparkdelay (which is shipped).
WORKER_MODULES = ("simpy", "numpy", "yaml", "tqdm")
_LOCAL = re.compile(r"local(\[(\*|[1-9][0-9]*)\])?")
_STANDALONE = re.compile(r"spark://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+):([0-9]+)")


@dataclass(frozen=True)
class Master:
    """A `--master` URL as Spark spells it: `local[N]` / `local[*]` / `local`, or `spark://HOST:PORT`."""

    url: str
    host: str | None = None     # spark:// only
    port: int | None = None

    @property
    def local(self) -> bool:
        return self.host is None

    @property
    def on_this_machine(self) -> bool:
        """local[N] or a loopback master (the tool's own cluster): executors can run this interpreter."""
        if self.host is None:
            return True
        try:
            return all(info[4][0].startswith("127.") or info[4][0] == "::1"
                       for info in socket.getaddrinfo(self.host.strip("[]"), None))
        except OSError:
            return False


def parse_master(text: str) -> Master:
    """The `--master` value, or one line saying what Spark would accept."""
    if _LOCAL.fullmatch(text):
        return Master(text)
    m = _STANDALONE.fullmatch(text)
    if m and 1 <= int(m.group(2)) <= 65535:
        return Master(text, m.group(1), int(m.group(2)))
    raise UserError(f"--master: expected spark://HOST:PORT (a Standalone master) or local[N], got {text!r}")


def check_reachable(master: Master, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """A spark:// master must accept a connection on its port; otherwise Spark itself would retry
    registering for a minute before giving up."""
    if master.local:
        return
    try:
        with socket.create_connection((master.host.strip("[]"), master.port), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = "no answer" if isinstance(exc, socket.timeout) else (exc.strerror or str(exc))
        raise UserError(f"--master: cannot reach {master.url} ({reason}); is the master up? "
                        f"(sparkdelay cluster start)") from None


# ------------------------------------------------------------------------- shipping the code
def _package_dirs(root: str = "sparkdelay") -> list[tuple[str, Path]]:
    """(package name, folder) of the package and all its subpackages, each folder taken from the
    package's import spec, so folders setuptools maps into the namespace (package-dir) are found
    wherever they live (an editable install, a wheel, the source tree)."""
    import importlib.util

    out, todo = [], [root]
    while todo:
        name = todo.pop()
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        folder = Path(list(spec.submodule_search_locations)[0])
        out.append((name, folder))
        for sub in sorted(folder.iterdir()):
            if sub.is_dir() and (sub / "__init__.py").is_file() and sub.name.isidentifier():
                todo.append(f"{name}.{sub.name}")
    return sorted(out)


def build_code_zip(folder: Path) -> Path:
    """Zip the imported sparkdelay's .py files (package layout, as zipimport wants them) into
    `folder`; the name carries a hash of the contents, so a changed tree is a new file to Spark."""
    entries = []
    for name, pkg_dir in _package_dirs():
        prefix = name.replace(".", "/")
        for f in sorted(pkg_dir.glob("*.py")):
            entries.append((f"{prefix}/{f.name}", f.read_bytes()))
    digest = hashlib.sha256(b"".join(a.encode() + b"\0" + d for a, d in entries)).hexdigest()[:12]
    path = folder / f"sparkdelay-{digest}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in entries:
            zf.writestr(zipfile.ZipInfo(arcname, (1980, 1, 1, 0, 0, 0)), data)
    return path


# ------------------------------------------------------------------------- on the executors
def probe(_partition: Iterable) -> Iterator[dict]:
    """What an executor's Python has: its interpreter, where it imported sparkdelay from, and
    which of the run's modules it lacks (imported here, not at the top, so the probe itself runs
    on a worker that lacks them)."""
    import importlib

    missing = []
    for name in WORKER_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    import sparkdelay
    yield {"python": sys.executable, "version": sys.version.split()[0], "missing": missing,
           "sparkdelay": sparkdelay.__file__}


def run_chunk(partition: Iterable[list]) -> Iterator:
    """One partition = one chunk of sweep tasks, each run by the local engine's `run_point`."""
    from sparkdelay.app.sweep import run_point

    for chunk in partition:
        for task in chunk:
            yield run_point(task)


# ------------------------------------------------------------------------- on the driver
@dataclass(frozen=True)
class SparkSetup:
    """What the engine started: the application, its cores, the shipped code, the executors' Python."""

    master: str
    app_id: str
    executors: int
    cores: int                  # Spark's defaultParallelism: all task slots (at least 2 on a cluster)
    code_zip: str
    worker_python: str
    worker_sparkdelay: str      # the file an executor imported sparkdelay from (inside the zip)
    startup_s: float            # from the connection check to the probe's answer (JVM, executors, imports)


def _portable(base):
    """The run's files read here, on the driver, and handed to the executors as objects (a worker
    on another machine has none of the user's files); the runs are the same (RunSpec.build takes an
    object exactly where it would have loaded the file)."""
    from sparkdelay.app.runspec import _load_cluster, _load_job, _load_model

    changes = {}
    for name, load in (("cluster", _load_cluster), ("job", _load_job), ("model", _load_model)):
        path = getattr(base, f"{name}_path")
        if path:
            changes.update({name: load(path), f"{name}_path": None})
    return base.with_(**changes) if changes else base


# The driver JVM's log: errors only, on stderr (Spark's default profile logs every WARN over the
# progress bar). Two lines of the JVM's start ("Setting default log level") still show.
LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark: %p %c{1}: %m%n%ex
"""


def _spark_conf(master: Master, log_config: Path | None = None) -> dict[str, str]:
    conf = {
        "spark.master": master.url,
        "spark.app.name": "sparkdelay-sweep",
        "spark.ui.enabled": "false",                # no port taken, nothing drawn over the tqdm bar
        "spark.ui.showConsoleProgress": "false",
        "spark.python.worker.reuse": "true",        # a worker's build cache (`sweep._built`) lives on
    }
    if master.on_this_machine:
        # Executors on loopback hosts (127.0.0.x) must reach the driver there too, and run this venv.
        conf.update({"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"})
    if log_config is not None:
        conf["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile={log_config.as_uri()}"
    return conf


def _worker_python(master: Master) -> str | None:
    """The Python the executors should run: this interpreter on this machine (unless PYSPARK_PYTHON
    names another); elsewhere whatever the workers have (None: Spark's own default, `python3`)."""
    if os.environ.get("PYSPARK_PYTHON"):
        return os.environ["PYSPARK_PYTHON"]
    return sys.executable if master.on_this_machine else None


def _executors(sc) -> int:
    """Executors registered so far (the driver's own entry left out)."""
    tracker = sc._jsc.sc().statusTracker()
    infos = tracker.getExecutorInfos()
    driver = sc._jsc.sc().env().blockManager().blockManagerId().hostPort()
    return sum(1 for info in infos if f"{info.host()}:{info.port()}" != driver)


def _job_error(exc: Exception) -> str:
    """The last meaningful line of a failed Spark job (the Python worker's exception, if any)."""
    text = str(getattr(exc, "java_exception", "") or exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    py = [ln for ln in lines if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", ln)]
    return (py[-1] if py else lines[0] if lines else type(exc).__name__)[:300]


class SparkEngine:
    """A SparkContext on `master` with sparkdelay's code shipped; `run_points(todo)` yields rows.

    Use as a context manager: the context, and the temporary zip, end with the block."""

    def __init__(self, master: str = DEFAULT_MASTER, chunk_size: int | None = None,
                 register_timeout_s: float = REGISTER_TIMEOUT_S):
        self.master = parse_master(master)
        if chunk_size is not None and chunk_size < 1:
            raise UserError(f"--chunk-size: must be at least 1, got {chunk_size}")
        self.chunk_size = chunk_size
        self.register_timeout_s = register_timeout_s
        self.sc = None
        self.executors = 0
        self.setup: SparkSetup | None = None
        self._tmp: Path | None = None

    # -- lifetime ----------------------------------------------------------------------------
    def __enter__(self) -> "SparkEngine":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> SparkSetup:
        began = time.monotonic()
        check_reachable(self.master)
        from sparkdelay.real.spark_env import check_java, spark_home
        check_java()
        spark_home()    # pyspark present, with its jars: a UserError (one line) if not
        from pyspark import SparkConf, SparkContext

        self._tmp = Path(tempfile.mkdtemp(prefix="sparkdelay-spark-"))
        code = build_code_zip(self._tmp)
        log_config = self._tmp / "log4j2.properties"
        log_config.write_text(LOG4J2)
        # PySpark sends the executors PYSPARK_PYTHON as the context reads it when it starts
        # (spark.pyspark.python is not consulted for that), so set it for the start only.
        saved = os.environ.get("PYSPARK_PYTHON")
        python = _worker_python(self.master)
        try:
            if python:
                os.environ["PYSPARK_PYTHON"] = python
            self.sc = SparkContext(conf=SparkConf().setAll(list(_spark_conf(self.master, log_config).items())))
        except Exception as exc:   # the JVM's reason, in one line (py4j wraps it in pages of stack)
            raise UserError(f"--master {self.master.url}: Spark did not start: {_job_error(exc)}") from None
        finally:
            if saved is None:
                os.environ.pop("PYSPARK_PYTHON", None)
            else:
                os.environ["PYSPARK_PYTHON"] = saved
        self.sc.setLogLevel("ERROR")
        before = list(sys.path)
        self.sc.addPyFile(str(code))
        # addPyFile also puts the zip on the driver's own sys.path ("for tests in local mode");
        # the driver keeps importing the installed package, so take it off again.
        sys.path[:] = [p for p in sys.path if p in before]
        cores = self._wait_for_executors()
        info = self._probe()
        self.setup = SparkSetup(self.master.url, self.sc.applicationId, self.executors, cores, code.name,
                                info["python"], info["sparkdelay"], time.monotonic() - began)
        return self.setup

    def _wait_for_executors(self) -> int:
        if self.master.local:
            self.executors = 1     # the driver's own, with local[N]'s N task slots
            return self.sc.defaultParallelism
        deadline = time.monotonic() + self.register_timeout_s
        while time.monotonic() < deadline:
            if self.sc._jsc.sc().isStopped():
                raise UserError(f"--master {self.master.url}: the master refused or dropped the "
                                f"application (is it a Spark {self.sc.version} Standalone master?)")
            if _executors(self.sc) > 0:
                break
            time.sleep(0.2)
        else:
            raise UserError(f"--master {self.master.url}: no executor registered within "
                            f"{self.register_timeout_s:g} s (no worker, or no free cores: another application?)")
        # The cluster's other executors register within moments of the first: wait until their
        # number holds still for a second (at most 10 s), so the chunks are cut for all their cores.
        # One registering later still gets tasks (jobs are queued, not pinned to executors).
        seen, still_since, give_up = _executors(self.sc), time.monotonic(), time.monotonic() + 10
        while time.monotonic() - still_since < 1.0 and time.monotonic() < give_up:
            time.sleep(0.2)
            now = _executors(self.sc)
            if now != seen:
                seen, still_since = now, time.monotonic()
        self.executors = seen
        return self.sc.defaultParallelism

    def _probe(self) -> dict:
        try:
            info = self.sc.parallelize([0], 1).mapPartitions(probe).collect()[0]
        except Exception as exc:
            raise UserError(f"--master {self.master.url}: an executor could not run Python: "
                            f"{_job_error(exc)}") from None
        if info["missing"]:
            raise UserError(f"--master {self.master.url}: the executors' Python ({info['python']}) lacks "
                            f"{', '.join(info['missing'])}: install them there, or set PYSPARK_PYTHON "
                            f"(sparkdelay itself is shipped)")
        return info

    def stop(self) -> None:
        if self.sc is not None:
            try:
                self.sc.stop()
            finally:
                self.sc = None
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # -- running -----------------------------------------------------------------------------
    def chunks(self, todo: Sequence) -> list[list]:
        """Consecutive tasks, about 8 chunks per core (load balance, and a kill loses little),
        10..500 runs each (a task's own cost, some tens of ms, stays small against its runs)."""
        cores = self.setup.cores if self.setup else 2
        size = self.chunk_size or max(10, min(500, math.ceil(len(todo) / (8 * cores))))
        return [list(todo[i:i + size]) for i in range(0, len(todo), size)]

    def run_points(self, todo: Sequence) -> Iterator:
        """Rows of `todo` (sweep tasks), chunk by chunk as each chunk's job ends."""
        if self.sc is None:
            raise RuntimeError("SparkEngine.run_points outside its `with` block")
        # One portable base per distinct base (a sweep has one): pickle then sends it once per chunk.
        portable = {}
        todo = [(portable.setdefault(id(base), _portable(base)), point, seed, sweep_id)
                for base, point, seed, sweep_id in todo]
        chunks = self.chunks(todo)
        if not chunks:
            return
        rdd = self.sc.parallelize(chunks, len(chunks))
        inflight = max(8, 2 * self.setup.cores)
        pool = ThreadPoolExecutor(max_workers=min(inflight, len(chunks)), thread_name_prefix="sweep-job")
        futures = [pool.submit(self.sc.runJob, rdd, run_chunk, [i]) for i in range(len(chunks))]
        try:
            for fut in as_completed(futures):
                try:
                    rows = fut.result()
                except Exception as exc:
                    raise UserError(f"--engine spark: a chunk of the sweep failed on {self.master.url}: "
                                    f"{_job_error(exc)} (finished rows are kept; rerun to resume)") from None
                yield from rows
        finally:
            for fut in futures:
                fut.cancel()
            if any(not f.done() for f in futures) and self.sc is not None:
                self.sc.cancelAllJobs()     # an interrupt or a failure: the running jobs end too
            pool.shutdown(wait=True, cancel_futures=True)


def spark_runner(master: str = DEFAULT_MASTER, chunk_size: int | None = None, announce: bool = True):
    """The hook `sweep.run_sweep(run_points=...)` takes: runs the tasks on Spark, yields their rows;
    the context starts only when there is something to run and stops when the rows are in.
    `announce`: one line on stderr saying where the runs go and what the executors run."""
    def run_points(todo: Sequence) -> Iterator:
        with SparkEngine(master, chunk_size) as engine:
            s = engine.setup
            if announce:
                # Said either way: an executor that found an installed sparkdelay first runs that one.
                shipped = f"sparkdelay shipped as {s.code_zip}" if s.code_zip in s.worker_sparkdelay else \
                    f"sparkdelay NOT from the shipped zip but {s.worker_sparkdelay}"
                print(f"spark: {len(todo)} runs in {len(engine.chunks(todo))} tasks on {s.master} "
                      f"({s.app_id}, {s.executors} executors, defaultParallelism {s.cores}, up in "
                      f"{s.startup_s:.1f} s); executors run {s.worker_python}, {shipped}",
                      file=sys.stderr, flush=True)
            began = time.monotonic()
            yield from engine.run_points(todo)
            if announce:
                took = time.monotonic() - began
                print(f"spark: {len(todo)} runs done in {took:.1f} s ({len(todo) / max(took, 1e-9):.0f} runs/s)",
                      file=sys.stderr, flush=True)
    return run_points

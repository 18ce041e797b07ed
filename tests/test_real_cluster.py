"""Integration test: a real 2-worker Spark Standalone cluster runs the study's job.

Starts a cluster in a temporary state dir on free ports (never the defaults, so a
developer's cluster or a background sweep on 7077 is not disturbed), runs the Chainer job
through `sparkdelay run` at P = 1 (zstd event log) and P = 4 (lz4) with wait 3s on a small
subset, and checks the event logs (JSON lines with SparkListenerTaskEnd), that the reduce tasks ran NODE_LOCAL on
the host holding the map output (P <= 8 tasks fit on that host's 8 slots, so with a 3 s
wait none spills), that every item came back, and that `cluster stop` leaves no process.
"""

from __future__ import annotations

import json
import shutil
import socket

import psutil
import pytest

from sparkdelay.eventlog.codecs import decompress_bytes
from sparkdelay.eventlog import run_index as index
from sparkdelay.real import procs
from sparkdelay.real.cluster import Cluster
from sparkdelay.app.cli import main as cli_main

pytestmark = pytest.mark.spark


def _free_ports(n: int) -> list[int]:
    """n distinct currently-free TCP ports (consecutive worker ports are not needed)."""
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


@pytest.fixture
def cluster(tmp_path):
    if shutil.which("java") is None:
        pytest.skip("java not installed (Spark needs Java 17)")
    state = tmp_path / "cluster"
    # worker i uses --worker-port + i - 1: find a base with 2 free consecutive ports
    master_port, base = _free_ports(1)[0], None
    for candidate in _free_ports(8):
        if not any(_used(p) for p in (candidate, candidate + 1)) and master_port not in (candidate, candidate + 1):
            base = candidate
            break
    assert base is not None
    rc = cli_main(["cluster", "start", "--workers", "2", "--state-dir", str(state), "--memory", "2g",
                   "--master-port", str(master_port), "--webui-port", "0", "--worker-port", str(base)])
    assert rc == 0
    c = Cluster(state)
    records = c.records()
    try:
        yield c, f"spark://127.0.0.1:{master_port}"
    finally:
        started = [p for rec in records.values() for p in procs.tree(rec)]
        assert cli_main(["cluster", "stop", "--state-dir", str(state)]) == 0
        # nothing the cluster started is left: daemons, executors, Python workers
        for rec in records.values():
            assert not procs.is_alive(rec), rec
            assert procs.tree(rec) == [], rec
        assert [p.pid for p in started if _still_running(p)] == []
        assert not c.is_running()


def _still_running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _cmdline(proc: psutil.Process) -> str:
    """A process's command line, or "" once it has exited (a zombie not yet reaped, or gone): the
    processes these tests watch end on their own at any moment."""
    try:
        return " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):   # ZombieProcess is a NoSuchProcess
        return ""


def _name(proc: psutil.Process) -> str:
    try:
        return proc.name()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return ""


def _used(port: int) -> bool:
    from sparkdelay.real.cluster import port_in_use
    return port_in_use("127.0.0.1", port) or port_in_use("127.0.0.2", port) or port_in_use("127.0.0.3", port)


def test_job_on_two_workers(cluster, tmp_path, capsys):
    c, master = cluster
    assert cli_main(["cluster", "status", "--state-dir", str(c.dir)]) == 0
    status = capsys.readouterr().out
    assert "127.0.0.2" in status and "127.0.0.3" in status and "8 cores" in status

    out = tmp_path / "runs"
    job = ["run", "--master", master, "--state-dir", str(c.dir), "--nodes", "2", "--wait", "3s",
           "--items", "40", "--test-limit", "200", "--work-repeat", "20", "--out", str(out), "--no-progress"]
    # P = 1 with a zstd event log, P = 4 with Spark's lz4 framing: both readers meet real logs
    assert cli_main(job + ["--partitions", "1", "--eventlog-codec", "zstd"]) == 0, capsys.readouterr()
    assert cli_main(job + ["--partitions", "4", "--eventlog-codec", "lz4"]) == 0, capsys.readouterr()
    rows = [r.fields for r in index.read_index(out / "index.jsonl").rows]
    assert [(r["partitions"], r["status"]) for r in rows] == [(1, "ok"), (4, "ok")]

    for row in rows:
        assert row["items_returned"] == 40 and len(row["item_results"]) == 40
        assert sorted(row["executors"]) == ["127.0.0.2", "127.0.0.3"]
        assert row["job_duration_ms"] > 0 and row["driver_wall_s"] > 0
        path = out / row["event_log"]
        assert path.name.endswith({1: ".zstd", 4: ".lz4"}[row["partitions"]])
        # the event log is JSON lines (checked line by line, not through our reader only)
        lines = decompress_bytes(path).decode().splitlines()
        evs = [json.loads(line) for line in lines]
        task_ends = [e for e in evs if e["Event"] == "SparkListenerTaskEnd"]
        assert task_ends
        map_tasks = [e for e in task_ends if e["Stage ID"] == min(t["Stage ID"] for t in task_ends)]
        reduce_tasks = [e for e in task_ends if e["Stage ID"] == max(t["Stage ID"] for t in task_ends)]
        assert len(map_tasks) == 1  # parallelize(items, 1): all shuffle output on one host
        map_host = map_tasks[0]["Task Info"]["Host"]
        assert len(reduce_tasks) == row["partitions"]
        non_empty = {v[0] for v in row["item_results"].values()}
        for e in reduce_tasks:
            info = e["Task Info"]
            assert e["Task End Reason"]["Reason"] == "Success"
            assert info["Host"] == map_host
            if info["Index"] in non_empty:  # empty partitions have no preference
                assert info["Locality"] == "NODE_LOCAL"
        assert row["reduce_tasks_per_host"] == {map_host: row["partitions"]}

    # rerunning resumes: both runs are in the index, nothing is left to do
    capsys.readouterr()
    assert cli_main(job + ["--partitions", "1,4"]) == 0
    assert "0 to do" in capsys.readouterr().out
    assert len(index.read_index(out / "index.jsonl").rows) == 2

    # The other jobs of `run --job`: the same shape, other work per item, all items back.
    other = tmp_path / "other-jobs"
    for name in ("sleep", "pyloop", "lenet"):
        assert cli_main(["run", "--master", master, "--state-dir", str(c.dir), "--nodes", "2", "--wait", "0s",
                         "--partitions", "3", "--job", name, "--work-repeat", "1", "--test-limit", "200",
                         "--out", str(other), "--no-progress"]) == 0, capsys.readouterr()
    rows = {r.fields["job"]: r.fields for r in index.read_index(other / "index.jsonl").rows}
    assert sorted(rows) == ["lenet", "pyloop", "sleep"]
    for name, row in rows.items():
        assert row["status"] == "ok" and row["items_returned"] == 40, row
        assert row["executor_env"] == {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        assert sum(row["reduce_tasks_per_host"].values()) == 3
    assert rows["lenet"]["item_accuracy"] > 0.5        # a trained network, not random weights
    assert rows["sleep"]["item_accuracy"] is None      # no images: nothing to be accurate about


def test_register_timeout_is_one_line_error(tmp_path, capsys):
    if shutil.which("java") is None:
        pytest.skip("java not installed (Spark needs Java 17)")
    state = tmp_path / "cluster"
    master_port, worker_port = _free_ports(2)
    rc = cli_main(["cluster", "start", "--workers", "1", "--state-dir", str(state),
                   "--master-port", str(master_port), "--webui-port", "0",
                   "--worker-port", str(worker_port), "--register-timeout", "0.5"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0
    assert "within 0.5s" in err and str(state / "logs") in err
    # the half-started cluster was taken down again
    assert not Cluster(state).is_running() and Cluster(state).records() == {}


def test_differential_cases_each_get_their_own_cluster_shape(tmp_path, capsys):
    """`differential record`: each case on a cluster of its hosts and cores, rows as `run` writes."""
    if shutil.which("java") is None:
        pytest.skip("java not installed (Spark needs Java 17)")
    from sparkdelay.eventlog.reader import read_eventlog
    from sparkdelay.real.differential import draw_cases
    master_port, base = _free_ports(1)[0], None
    for candidate in _free_ports(8):
        if not any(_used(p) for p in (candidate, candidate + 1)) and master_port not in (candidate, candidate + 1):
            base = candidate
            break
    state, out = tmp_path / "cluster", tmp_path / "cases"
    # Seed 282's first two cases are small (13 and 11 keys) and differ in hosts and cores.
    cases = draw_cases(2, 282)
    assert (cases[0].nodes, cases[0].cores) != (cases[1].nodes, cases[1].cores)
    argv = ["differential", "record", "--cases", "2", "--seed", "282", "--out", str(out), "--state-dir", str(state),
            "--master-port", str(master_port), "--webui-port", "0", "--worker-port", str(base), "--no-progress"]
    assert cli_main(argv) == 0, capsys.readouterr()
    assert not Cluster(state).is_running()          # started for the cases, stopped after them
    rows = {r.fields["run_id"]: r.fields for r in index.read_index(out / "index.jsonl").rows}
    for case in cases:
        row = rows[case.run_point("sleep").run_id]
        assert row["status"] == "ok" and row["items_returned"] == case.items
        log = read_eventlog(out / row["event_log"])
        executors = [e for e in log.executors if e.executor_id != "driver"]
        assert len(executors) == case.nodes and {e.cores for e in executors} == {case.cores}
        assert log.properties["spark.locality.wait"] == case.wait
        assert log.properties["spark.executorEnv.PYTHONHASHSEED"] == str(case.hash_seed)
    capsys.readouterr()
    assert cli_main(argv) == 0 and "0 to do" in capsys.readouterr().out    # resumes: nothing left


def test_run_stopped_with_sigterm_takes_its_driver_down_and_records_nothing(cluster, tmp_path):
    """SIGTERM to `sparkdelay run` mid-run: its driver and driver JVM end with it, exit 143, and
    the unfinished run is not in the index (a rerun redoes it)."""
    import subprocess
    import sys
    import time
    c, master = cluster
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "sparkdelay.app.cli", "run", "--master", master, "--state-dir", str(c.dir),
           "--nodes", "2", "--partitions", "2", "--job", "sleep", "--work-repeat", "200", "--out", str(out),
           "--no-progress"]
    # --nodes 2: the fixture's 2 workers, so `run` does not restart the cluster (whose daemons it
    # would then leave to the state dir, as it should: they are not the run's).
    err = open(tmp_path / "stderr.txt", "wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 120
    driver = []
    while not any(_name(p).startswith("java") for p in driver):   # the driver and its JVM are up
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it could be stopped"
        time.sleep(0.5)
        try:
            driver = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            driver = []
    proc.terminate()
    assert proc.wait(timeout=60) == 143
    gone, alive = psutil.wait_procs(driver, timeout=30)
    assert alive == [], f"left running after SIGTERM: {alive}: {(tmp_path / 'stderr.txt').read_text()[-2000:]}"
    index_file = out / "index.jsonl"
    assert not index_file.exists() or index.read_index(index_file).rows == []


def _spark_children(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_worker_jvm_killed_mid_run_is_recorded_not_ok_and_leaves_nothing_running(cluster, tmp_path):
    """kill -9 of a Worker's JVM while its executor runs reduce tasks: `sparkdelay run` still ends,
    records the run with a status that is not `ok` (the executor was lost), and after `cluster stop`
    nothing the worker had started (its executor JVM, the executor's Python workers) is left."""
    import subprocess
    import sys
    import time
    c, master = cluster
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "sparkdelay.app.cli", "run", "--master", master, "--state-dir", str(c.dir),
           "--nodes", "2", "--partitions", "4", "--wait", "0s", "--job", "sleep", "--work-repeat", "100",
           "--out", str(out), "--no-progress", "--run-timeout", "300"]
    err = open(tmp_path / "stderr.txt", "wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    workers = {name: rec for name, rec in c.records().items() if name.startswith("worker-")}
    deadline = time.monotonic() + 180
    victim = None
    while victim is None:   # a worker whose executor has Python workers: reduce (or map) tasks running
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before a task ran"
        time.sleep(0.5)
        for name, rec in sorted(workers.items()):
            jvm = psutil.Process(rec.pid)
            if any(_name(p).startswith("python") for p in _spark_children(jvm)):
                victim = (name, jvm)
                break
    name, jvm = victim
    assert "org.apache.spark.deploy.worker.Worker" in _cmdline(jvm)
    left_behind = _spark_children(jvm)          # the executor JVM and its Python daemon and workers
    assert any("CoarseGrainedExecutorBackend" in _cmdline(p) for p in left_behind)
    jvm.kill()
    assert proc.wait(timeout=400) in (0, 1), (tmp_path / "stderr.txt").read_text()[-2000:]
    (row,) = [r.fields for r in index.read_index(out / "index.jsonl").rows]
    assert row["status"] != "ok", row
    assert row["status"] in ("ok-executor-lost", "error", "incomplete", "executors-missing", "timeout"), row
    if row["status"] == "ok-executor-lost":
        assert row["executors_removed"], row

    assert cli_main(["cluster", "stop", "--state-dir", str(c.dir)]) == 0
    gone, alive = psutil.wait_procs([p for p in left_behind if _still_running(p)], timeout=30)
    assert [(p.pid, _cmdline(p)[:200]) for p in alive] == [], f"left running after the killed {name}"


def test_a_restart_in_the_same_state_dir_waits_for_the_new_master(tmp_path):
    # The daemons' logs are appended to: the stopped cluster's "elected leader" line must not
    # make the second start return before the new master listens.
    if shutil.which("java") is None:
        pytest.skip("java not installed (Spark needs Java 17)")
    from sparkdelay.real.cluster import port_in_use
    state = tmp_path / "cluster"
    master_port, worker_port = _free_ports(2)
    argv = ["cluster", "start", "--workers", "1", "--state-dir", str(state), "--memory", "1g",
            "--master-port", str(master_port), "--webui-port", "0", "--worker-port", str(worker_port)]
    try:
        for _ in range(2):
            assert cli_main(argv) == 0
            assert port_in_use("127.0.0.1", master_port)   # listening when start returns
            assert cli_main(["cluster", "stop", "--state-dir", str(state)]) == 0
        log = (state / "logs" / "master.log").read_text(errors="replace")
        assert log.count("I have been elected leader") == 2
    finally:
        cli_main(["cluster", "stop", "--state-dir", str(state)])

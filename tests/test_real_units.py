"""Unit tests of the real-run side: parsing, planning, resume, readers, process handling.

No Spark cluster is started here (see test_real_cluster.py for that); every test uses real
files and real processes, no mocks.
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from sparkdelay.eventlog import run_index as index
from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.eventlog.shuffle_job import measured_job
from sparkdelay.real import items, mnist, procs
from sparkdelay.real.logged_run import find_log, read_logged_run
from sparkdelay.real.cluster import Cluster, StandaloneLayout, port_in_use, worker_host
from sparkdelay.real.spark_env import java_major
from sparkdelay.ground.lists import parse_int_list, parse_wait_list
from sparkdelay.real.plan import JobShape, plan
from sparkdelay.app.cli import main as cli_main
from sparkdelay.ground.errors import UserError


# -- lists and ranges ----------------------------------------------------------------------
@pytest.mark.parametrize("text,expected", [
    ("4", [4]), ("1-3", [1, 2, 3]), ("1,2,4", [1, 2, 4]), ("1-3,8", [1, 2, 3, 8]),
    (" 2 , 2,1 ", [2, 1]), ("5-5", [5]),
])
def test_parse_int_list(text, expected):
    assert parse_int_list(text, "--nodes") == expected


@pytest.mark.parametrize("text", ["", "a", "3-1", "0", "1-", "1,,2", "-2", "1.5"])
def test_parse_int_list_rejects(text):
    with pytest.raises(UserError, match="--partitions"):
        parse_int_list(text, "--partitions")


def test_parse_wait_list():
    assert parse_wait_list("0s,3s") == ["0s", "3s"]
    assert parse_wait_list("3s") == ["3s"]
    assert parse_wait_list("500ms, 1s,500ms") == ["500ms", "1s"]
    for bad in ("3x", "s", "0s,,3s", "-1s"):
        with pytest.raises(UserError, match="--wait"):
            parse_wait_list(bad)


def test_plan_order_and_ids():
    shape = JobShape()
    runs = plan(shape, [1, 2], [1, 4], ["0s", "3s"], reps=2)
    assert len(runs) == 16
    # nodes-major (one cluster restart per node count), then rep, partitions, wait
    assert [(r.nodes, r.rep, r.partitions, r.wait) for r in runs[:5]] == [
        (1, 1, 1, "0s"), (1, 1, 1, "3s"), (1, 1, 4, "0s"), (1, 1, 4, "3s"), (1, 2, 1, "0s")]
    assert len({r.run_id for r in runs}) == 16
    assert runs[1].wait_ms == 3000.0
    # the ids of a 1-rep plan are the first rep of a 2-rep plan: --reps 2 resumes --reps 1
    one = {r.run_id for r in plan(shape, [1, 2], [1, 4], ["0s", "3s"], reps=1)}
    assert one <= {r.run_id for r in runs}
    # anything that shapes the job changes the id, so it is never taken as done
    other = plan(JobShape(work_repeat=10), [1], [1], ["0s"], 1)[0]
    assert other.run_id != runs[0].run_id
    with pytest.raises(UserError, match="--reps"):
        plan(shape, [1], [1], ["0s"], reps=0)


# -- index.jsonl and resume ----------------------------------------------------------------
def test_index_append_and_resume(tmp_path):
    path = tmp_path / "runs" / "index.jsonl"
    index.append_row(path, {"run_id": "a", "status": "ok"})
    index.append_row(path, {"run_id": "b", "status": "timeout"})
    assert index.read_index(path).done_ids() == {"a", "b"}
    assert index.read_index(path).done_ids(retry_failed=True) == {"a"}
    # a crash mid-write leaves half a line: lenient reading drops it and says so ...
    with open(path, "a") as f:
        f.write('{"run_id": "c", "sta')
    torn = index.read_index(path, lenient=True)
    assert torn.done_ids() == {"a", "b"} and torn.torn == 3 and "index.jsonl:3: last line is cut off" in torn.torn_note
    # ... strict reading refuses it, naming the line
    with pytest.raises(UserError, match=r"index\.jsonl:3: not a JSON object .*cut off"):
        index.read_index(path)
    # the next append drops the torn tail, so no torn row is ever left in the middle
    index.append_row(path, {"run_id": "d", "status": "ok"})
    whole = index.read_index(path)
    assert [r.run_id for r in whole.rows] == ["a", "b", "d"] and whole.torn is None
    assert [r.lineno for r in whole.rows] == [1, 2, 3]


def test_index_lenient_reading_tolerates_only_a_torn_last_line(tmp_path):
    path = tmp_path / "index.jsonl"
    # a bad line in the middle is not a crash mid-write: an error in both modes
    path.write_text('{"run_id": "a"}\n{"run_id": \n{"run_id": "b"}\n')
    for lenient in (False, True):
        with pytest.raises(UserError, match=r"index\.jsonl:2: not a JSON object"):
            index.read_index(path, lenient=lenient)
    # so is a whole last line that is not JSON (it ends in a newline: nothing was cut off)
    path.write_text('{"run_id": "a"}\nnot json\n')
    with pytest.raises(UserError, match=r"index\.jsonl:2"):
        index.read_index(path, lenient=True)
    # every row must be an object
    path.write_text('{"run_id": "a"}\n[1, 2]\n')
    with pytest.raises(UserError, match=r"index\.jsonl:2: expected a JSON object"):
        index.read_index(path)
    # a hand-written last row that lacks only its newline is a whole row, and stays one
    path.write_text('{"run_id": "a"}\n\n{"run_id": "b"}')
    assert [r.run_id for r in index.read_index(path).rows] == ["a", "b"]
    index.append_row(path, {"run_id": "c"})
    assert [r.run_id for r in index.read_index(path).rows] == ["a", "b", "c"]


def test_index_rows_keep_the_on_disk_fields(tmp_path):
    path = tmp_path / "runs" / "index.jsonl"
    index.append_row(path, {"run_id": "a", "status": "ok", "event_log": "eventlogs/app-1.zstd", "nodes": 2})
    index.append_row(path, {"run_id": "b", "status": "error", "event_log": None})
    index.append_row(path, {"run_id": "c", "status": "ok", "event_log": 7})
    a, b, c = index.read_index(path).rows
    assert a.fields == {"run_id": "a", "status": "ok", "event_log": "eventlogs/app-1.zstd", "nodes": 2}
    assert a.event_log() == tmp_path / "runs" / "eventlogs" / "app-1.zstd" and b.event_log() is None
    with pytest.raises(UserError, match=r"index\.jsonl:3: event_log: expected a path, got 7"):
        c.event_log()
    # the bundled sweeps read strictly: every line of them is a whole row
    for bundled in (Path(__file__).resolve().parent.parent / "data" / "runs").glob("*/index.jsonl"):
        rows = index.read_index(bundled).rows
        assert rows and all(r.run_id and r.status for r in rows)


def test_cli_bad_input_is_one_line_exit_2(capsys, tmp_path):
    assert cli_main(["run", "--nodes", "3-1", "--partitions", "1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--nodes" in err
    assert cli_main(["run", "--nodes", "1", "--partitions", "1", "--wait", "3q", "--out", str(tmp_path)]) == 2
    assert "--wait" in capsys.readouterr().err
    assert cli_main(["run", "--nodes", "1", "--partitions", "1", "--master", "yarn", "--out", str(tmp_path)]) == 2
    assert "--master" in capsys.readouterr().err
    assert cli_main(["run", "--nodes", "1", "--partitions", "1", "--hash-seed", "x", "--out", str(tmp_path)]) == 2


def test_resume_skips_finished_runs(tmp_path, capsys):
    shape = JobShape()
    runs = plan(shape, [1], [1, 2], ["3s"], 1)
    for r in runs:
        index.append_row(tmp_path / "index.jsonl", {"run_id": r.run_id, "status": "ok"})
    # everything is done, so no cluster is started and nothing runs
    assert cli_main(["run", "--nodes", "1", "--partitions", "1,2", "--out", str(tmp_path),
                     "--state-dir", str(tmp_path / "state")]) == 0
    assert "0 to do" in capsys.readouterr().out
    # a row torn by a crash is reported, and does not count as done
    with open(tmp_path / "index.jsonl", "a") as f:
        f.write('{"run_id": "x", "sta')
    assert cli_main(["run", "--nodes", "1", "--partitions", "1,2", "--out", str(tmp_path),
                     "--state-dir", str(tmp_path / "state")]) == 0
    out, err = capsys.readouterr()
    assert "0 to do" in out and "index.jsonl:3: last line is cut off" in err


# -- items and MNIST -----------------------------------------------------------------------
def test_items_keys_and_shards():
    data = mnist.load()
    assert data.x_test.shape == (1000, 784) and data.x_train.shape == (4000, 784)
    its = items.make_items(data.x_test, data.y_test)
    assert [k for k, _ in its][:2] == ["shard-00", "shard-01"] and len(its) == 40
    assert sum(len(y) for _, (_, y) in its) == 1000
    its = items.make_items(data.x_test, data.y_test, 8, "k{}", limit=80)
    assert [k for k, _ in its][-1] == "k7" and all(len(y) == 10 for _, (_, y) in its)
    with pytest.raises(UserError, match="--key-format"):
        items.keys(3, "same")
    with pytest.raises(UserError, match="--key-format"):
        items.keys(3, "{name}")
    with pytest.raises(UserError, match="--items"):
        items.make_items(data.x_test, data.y_test, 20, limit=10)


def _write_idx(path, array, gz=False):
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_mnist_idx_dir(tmp_path):
    rng = np.random.RandomState(1)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", rng.randint(0, 256, (6, 28, 28)), gz=True)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(6) % 10, gz=True)
    _write_idx(tmp_path / "t10k-images.idx3-ubyte", rng.randint(0, 256, (4, 28, 28)))
    _write_idx(tmp_path / "t10k-labels.idx1-ubyte", np.arange(4))
    data = mnist.load(tmp_path)
    assert data.x_train.shape == (6, 784) and data.y_test.tolist() == [0, 1, 2, 3]
    (tmp_path / "t10k-labels.idx1-ubyte").write_bytes(b"\x00\x00\x09\x01")
    with pytest.raises(UserError, match="magic"):
        mnist.load(tmp_path)
    with pytest.raises(UserError, match="--mnist-dir"):
        mnist.load(tmp_path / "nope")


def test_training_is_deterministic_and_cached(tmp_path):
    from sparkdelay.real import model
    data = mnist.load()
    x, y = data.x_train[:300], data.y_train[:300]
    a = model.train(x, y, hidden=16, epochs=1)
    b = model.train(x, y, hidden=16, epochs=1)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    w1, path, trained = model.load_or_train(x, y, tmp_path, hidden=16, epochs=1)
    w2, path2, trained2 = model.load_or_train(x, y, tmp_path, hidden=16, epochs=1)
    assert trained and not trained2 and path == path2
    assert all(np.array_equal(w1[k], w2[k]) for k in w1)
    pred = model.predict(model.build(w2), data.x_test[:50])
    assert pred.shape == (50,) and set(pred.tolist()) <= set(range(10))


# -- event logs ----------------------------------------------------------------------------
def test_index_fields_come_from_the_runs_own_event_log():
    """The index's duration and placement are what Spark's event log says (a bundled real run)."""
    runs = Path(__file__).resolve().parent.parent / "data" / "runs" / "pinned"
    row = json.loads((runs / "index.jsonl").read_text().splitlines()[-1])
    path = find_log(runs / "eventlogs", row["app_id"])
    assert path is not None and path.name == f"{row['app_id']}.zstd"
    logged = read_logged_run(path)
    assert logged.job_duration_ms == row["job_duration_ms"]
    assert logged.reduce_tasks_per_host == row["reduce_tasks_per_host"]
    assert logged.job_results == ["JobSucceeded"] and logged.executors_removed == []
    # the measured job duration: that job's JobStart "Submission Time" -> JobEnd "Completion Time"
    job = measured_job(read_eventlog(path)).job
    assert logged.job_duration_ms == job.completion_ms - job.submission_ms > 0


# -- processes and the cluster's guard rails ------------------------------------------------
def test_pidfile_and_tree_termination(tmp_path):
    # a leader in a new session forks a child that moves to its own process group (as
    # PySpark's daemon does): the whole tree is ended
    script = ("import subprocess, os, sys, time; subprocess.Popen([sys.executable, '-c', "
              "'import os, time; os.setpgid(0, 0); time.sleep(60)']); time.sleep(60)")
    cmd = [sys.executable, "-c", script]
    proc = subprocess.Popen(cmd, start_new_session=True)
    procs.write_pidfile(tmp_path / "p.json", procs.track(proc.pid, cmd, name="t"))
    rec = procs.read_pidfile(tmp_path / "p.json")
    assert rec.pid == proc.pid and rec.cmdline == tuple(cmd) and rec.info == {"name": "t"}
    deadline = time.time() + 10
    while len(procs.tree(rec)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    child = next(p for p in procs.tree(rec) if p.pid != proc.pid)
    assert len(procs.tree(rec)) == 2 and procs.is_alive(rec)
    assert sorted(procs.end_tree(rec, grace_s=5)) == sorted([proc.pid, child.pid])
    proc.wait(timeout=5)
    assert not procs.is_alive(rec) and procs.tree(rec) == [] and _ended(child)


def _ended(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE  # exited; its new parent has not reaped it yet
    except psutil.NoSuchProcess:
        return True


def test_a_driver_past_its_timeout_is_ended_with_its_children(tmp_path):
    from sparkdelay.real.runner import _drive
    pid_file = tmp_path / "child.pid"
    script = ("import subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
              f"open({str(pid_file)!r}, 'w').write(str(c.pid)); time.sleep(60)")
    ended = _drive([sys.executable, "-c", script], dict(os.environ), tmp_path / "driver.log", timeout_s=3)
    assert ended.timed_out and ended.code == -15   # SIGTERM was enough
    child = int(pid_file.read_text())
    assert not psutil.pid_exists(child) or _ended(psutil.Process(child))


def test_a_stale_pid_file_never_ends_another_process(tmp_path):
    """Identity is pid + create time + command line: a record matching the pid only is not ours."""
    cmd = [sys.executable, "-c", "import time; time.sleep(60)"]
    proc = subprocess.Popen(cmd, start_new_session=True)
    try:
        real = procs.track(proc.pid, cmd)
        assert procs.is_alive(real)
        other_program = procs.Tracked(proc.pid, real.create_time, (sys.executable, "-m", "http.server"))
        started_earlier = procs.Tracked(proc.pid, real.create_time - 3600, real.cmdline)
        old_format = tmp_path / "old.json"
        old_format.write_text(json.dumps({"pid": proc.pid, "start_ticks": 123, "name": "master"}))
        for stale in (other_program, started_earlier, procs.read_pidfile(old_format)):
            assert not procs.is_alive(stale) and procs.tree(stale) == []
            assert procs.end_tree(stale, grace_s=1) == []
        assert proc.poll() is None  # still running: nothing was signalled
    finally:
        proc.kill()
        proc.wait()


def test_worker_hosts():
    assert worker_host(1) == "127.0.0.2" and worker_host(3) == "127.0.0.4"
    with pytest.raises(UserError):
        worker_host(300)


def test_cluster_start_refuses_used_port(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert port_in_use("127.0.0.1", port)
        with pytest.raises(UserError, match=f"--master-port: port {port}"):
            Cluster(tmp_path).start(StandaloneLayout(workers=1, master_port=port, webui_port=0))
    assert not Cluster(tmp_path).is_running()


def test_cluster_pin_needs_cpus(tmp_path):
    cpus = len(os.sched_getaffinity(0))
    with pytest.raises(UserError, match="--pin"):
        Cluster(tmp_path).start(StandaloneLayout(workers=cpus + 1, pin=True, master_port=0, webui_port=0))


def test_status_and_stop_without_cluster(tmp_path, capsys):
    assert cli_main(["cluster", "status", "--state-dir", str(tmp_path)]) == 1
    assert cli_main(["cluster", "stop", "--state-dir", str(tmp_path)]) == 0
    assert "nothing running" in capsys.readouterr().out


def test_java_version_parsing(tmp_path):
    fake = tmp_path / "java"
    fake.write_text('#!/bin/sh\necho \'openjdk version "1.8.0_292"\' >&2\n')
    fake.chmod(0o755)
    assert java_major(str(fake)) == 8
    fake.write_text('#!/bin/sh\necho \'openjdk version "17.0.15" 2025-04-15\' >&2\n')
    assert java_major(str(fake)) == 17


def test_old_java_is_a_user_error(tmp_path, monkeypatch):
    from sparkdelay.real.spark_env import check_java
    bin_dir = tmp_path / "jdk" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "java").write_text('#!/bin/sh\necho \'java version "11.0.2"\' >&2\n')
    (bin_dir / "java").chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "jdk"))
    with pytest.raises(UserError, match="Java 11"):
        check_java()
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "none"))
    with pytest.raises(UserError, match="JAVA_HOME"):
        check_java()


def test_every_run_records_what_the_machine_delivered_in_its_sitting():
    # The probe times a fixed loop (a slower sitting takes longer); steal is a share of CPU time.
    from collections import namedtuple

    from sparkdelay.real.runner import cpu_probe_ms, steal_share
    assert cpu_probe_ms() > 0
    Times = namedtuple("Times", "user system idle steal")
    assert steal_share(Times(10, 5, 80, 5), Times(20, 10, 160, 10)) == 0.05
    assert steal_share(Times(1, 1, 1, 0), Times(1, 1, 1, 0)) == 0.0

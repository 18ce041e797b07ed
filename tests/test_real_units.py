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
import pytest

from sparkdelay.eventlog import run_index as index
from sparkdelay.real import eventlog, items, mnist, procs
from sparkdelay.real.cluster import Cluster, ClusterSpec, port_in_use, worker_host
from sparkdelay.real.spark_env import java_major
from sparkdelay.real.sweep import JobShape, parse_int_list, parse_wait_list, plan
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
    assert index.done_ids(path) == set()
    index.append_row(path, {"run_id": "a", "status": "ok"})
    index.append_row(path, {"run_id": "b", "status": "timeout"})
    assert index.done_ids(path) == {"a", "b"}
    assert index.done_ids(path, retry_failed=True) == {"a"}
    # a crash mid-write leaves half a line: it is ignored, and the next row starts cleanly
    with open(path, "a") as f:
        f.write('{"run_id": "c", "sta')
    assert index.done_ids(path) == {"a", "b"}
    index.append_row(path, {"run_id": "d", "status": "ok"})
    assert [r["run_id"] for r in index.read_rows(path)] == ["a", "b", "d"]


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
    path = eventlog.find_log(runs / "eventlogs", row["app_id"])
    assert path is not None and path.name == f"{row['app_id']}.zstd"
    summary = eventlog.summarize(path)
    assert summary["job_duration_ms"] == row["job_duration_ms"]
    assert summary["reduce_tasks_per_host"] == row["reduce_tasks_per_host"]
    assert summary["job_results"] == ["JobSucceeded"] and summary["executors_removed"] == []


# -- processes and the cluster's guard rails ------------------------------------------------
def test_pidfile_and_group_termination(tmp_path):
    # a leader in a new session forks a child that moves to its own process group (as
    # PySpark's daemon does): the whole session is ended
    script = ("import subprocess, os, sys, time; subprocess.Popen([sys.executable, '-c', "
              "'import os, time; os.setpgid(0, 0); time.sleep(60)']); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    rec = procs.write_pidfile(tmp_path / "p.json", proc.pid, name="t")
    assert procs.read_pidfile(tmp_path / "p.json")["pid"] == proc.pid
    deadline = time.time() + 10
    while len(procs.group_members(rec)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    members = procs.group_members(rec)
    assert len(members) == 2 and procs.is_alive(rec)
    procs.terminate_group(rec, grace_s=5)
    proc.wait(timeout=5)
    assert not procs.is_alive(rec) and procs.group_members(rec) == []
    # a record whose start time does not match (a reused pid) is never treated as ours
    assert not procs.is_alive({"pid": os.getpid(), "start_ticks": -1})


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
            Cluster(tmp_path).start(ClusterSpec(workers=1, master_port=port, webui_port=0))
    assert not Cluster(tmp_path).is_running()


def test_cluster_pin_needs_cpus(tmp_path):
    cpus = len(os.sched_getaffinity(0))
    with pytest.raises(UserError, match="--pin"):
        Cluster(tmp_path).start(ClusterSpec(workers=cpus + 1, pin=True, master_port=0, webui_port=0))


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

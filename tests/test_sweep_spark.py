"""`sweep --engine spark`: the runs of a sweep as a Spark job on local[2], with the local engine's rows.

A sweep on Spark is killed with SIGKILL once rows have reached its CSV (the driver only: its JVM
and Python workers must end with it), the same command resumes it, and the finished file holds,
line for line after sorting, what the local process pool writes for the same grid and seed; the
executors import sparkdelay from the zip the engine shipped, not from an install. Bad input is
refused in one line with exit status 2 before any Spark starts: a malformed `--master`, a master
nobody listens on (at once, not after Spark's minute of retries), options of the other engine.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import zipfile

import psutil
import pytest

from sparkdelay.app.cli import main
from sparkdelay.app.spark_engine import build_code_zip, parse_master
from sparkdelay.ground.errors import UserError

GRID = ["--preset", "study2017", "--nodes", "1-5", "--partitions", "1-40:3", "--wait", "0s,3s", "--reps", "4"]
TOTAL = 5 * 14 * 2 * 4


def _sweep(out, *engine: str) -> list[str]:
    return [sys.executable, "-m", "sparkdelay.app.cli", "sweep", *GRID, "--out", str(out), "--no-progress", *engine]


def _rows_in(path) -> int:
    return path.read_bytes().count(b"\n") - 1 if path.exists() else 0


def _whole_lines(path) -> list[bytes]:
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].splitlines()


@pytest.mark.spark
def test_a_spark_sweep_killed_9_resumes_to_the_local_engines_rows(tmp_path):
    spark = ["--engine", "spark", "--master", "local[2]", "--chunk-size", "10"]   # 56 tasks: rows stream in
    out = tmp_path / "spark.csv"
    log = open(tmp_path / "killed.log", "wb")
    proc = subprocess.Popen(_sweep(out, *spark), stdout=log, stderr=log, cwd=tmp_path)
    deadline = time.monotonic() + 90
    while _rows_in(out) < 20:
        assert proc.poll() is None, (tmp_path / "killed.log").read_text()[-2000:]
        assert time.monotonic() < deadline, "no rows reached the CSV"
        time.sleep(0.05)
    spawned = psutil.Process(proc.pid).children(recursive=True)     # the JVM and its Python workers
    proc.kill()
    proc.wait(timeout=30)
    kept = _whole_lines(out)
    assert 20 <= len(kept) - 1 < TOTAL, "the kill came after the sweep had finished: nothing to resume"
    gone, alive = psutil.wait_procs(spawned, timeout=30)
    assert alive == [], f"Spark outlived its killed driver: pids {[p.pid for p in alive]}"

    resumed = subprocess.run(_sweep(out, *spark), capture_output=True, text=True, cwd=tmp_path, timeout=180)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"spark: {TOTAL - (len(kept) - 1)} runs" in resumed.stderr        # only the runs not yet in the file
    assert "sparkdelay shipped as sparkdelay-" in resumed.stderr             # executors import the shipped zip
    lines = out.read_bytes().splitlines()
    assert lines[: len(kept)] == kept                                      # nothing appended was redone
    keys = [line.split(b",")[2:6] for line in lines[1:]]                   # nodes, partitions, wait, rep
    assert len(set(map(tuple, keys))) == len(keys) == TOTAL                # nothing duplicated, nothing lost

    local = tmp_path / "local.csv"
    done = subprocess.run(_sweep(local, "--processes", "2"), capture_output=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0
    assert sorted(lines) == sorted(local.read_bytes().splitlines())        # the local engine's rows, byte for byte


def test_the_shipped_zip_holds_the_folders_setuptools_maps_into_the_namespace(tmp_path):
    names = set(zipfile.ZipFile(build_code_zip(tmp_path)).namelist())
    for module in ("sparkdelay/__init__.py", "sparkdelay/app/sweep.py", "sparkdelay/sim/model/engine.py",
                   "sparkdelay/sim/policy/scheduler.py", "sparkdelay/ground/errors.py",
                   "sparkdelay/real/spark_env.py", "sparkdelay/calibration/__init__.py"):
        assert module in names
    assert not any(n.startswith(("sim/", "real/", "calibration/")) for n in names)   # no generic top-level names
    assert all(n.endswith(".py") for n in names)


@pytest.mark.parametrize("text", ["foo", "local[0]", "local[two]", "spark://host", "spark://h:0",
                                  "spark://h:99999", "yarn", "local[2]x"])
def test_a_master_spark_would_not_take_is_refused(text):
    with pytest.raises(UserError, match="--master: expected spark://HOST:PORT"):
        parse_master(text)


@pytest.mark.parametrize("text", ["local", "local[*]", "local[4]", "spark://127.0.0.1:7077", "spark://node-1.lan:7077"])
def test_masters_spark_takes(text):
    assert parse_master(text).url == text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("extra, message", [
    (["--engine", "spark", "--master", "foo"], "--master: expected spark://HOST:PORT"),
    (["--engine", "spark", "--master", f"spark://127.0.0.1:{_free_port()}"], "--master: cannot reach spark://127.0.0.1:"),
    (["--engine", "spark", "--processes", "2"], "--processes: only with --engine local"),
    (["--master", "local[2]"], "--master: only with --engine spark"),
    (["--chunk-size", "5"], "--chunk-size: only with --engine spark"),
], ids=["malformed", "unreachable", "processes", "master-without-spark", "chunk-size-without-spark"])
def test_bad_engine_options_are_one_line_exit_2_before_any_work(tmp_path, capsys, extra, message):
    out = tmp_path / "s.csv"
    start = time.monotonic()
    assert main(["sweep", "--preset", "study2017", "--reps", "1", "--out", str(out), "--no-progress", *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert time.monotonic() - start < 10           # a timeout, not Spark's minute of registration retries
    assert not out.exists()                        # refused before the sweep touched its file

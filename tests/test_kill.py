"""Long work killed in the middle: nothing left running, nothing measured lost, resume completes it.

A sweep on two processes is killed with SIGKILL (no clean-up of any kind runs) and with SIGTERM
once rows have reached its CSV; its pool workers must end with it, and the same command then
finishes the sweep with exactly the rows a sweep never killed writes.
"""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time

import psutil
import pytest

GRID = ["--preset", "study2017", "--nodes", "1-5", "--partitions", "1-40:3", "--wait", "0s,3s", "--reps", "4"]


def _sweep(out, processes: int = 2) -> list[str]:
    return [sys.executable, "-m", "sparkdelay.app.cli", "sweep", *GRID, "--out", str(out),
            "--processes", str(processes), "--no-progress"]


def _rows(path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _wait_for_rows(path, n: int, proc, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not (path.exists() and path.read_text().count("\n") > n):
        assert proc.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() < deadline, "no rows reached the CSV"
        time.sleep(0.1)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_sweep_leaves_no_worker_and_resumes_to_the_same_rows(tmp_path, sig):
    out = tmp_path / "sweep.csv"
    proc = subprocess.Popen(_sweep(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_rows(out, 5, proc)
    workers = psutil.Process(proc.pid).children(recursive=True)
    assert len(workers) == 2
    proc.send_signal(sig)
    proc.wait(timeout=30)
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == [], f"pool workers outlived the killed sweep: {[p.pid for p in alive]}"

    before = _rows(out)
    assert subprocess.run(_sweep(out), capture_output=True).returncode == 0
    after = _rows(out)
    fresh = tmp_path / "fresh.csv"
    assert subprocess.run(_sweep(fresh, processes=1), capture_output=True).returncode == 0
    key = lambda r: (r["nodes"], r["partitions"], r["wait"], r["rep"])   # noqa: E731
    assert after[:len(before) - 1] == before[:len(before) - 1]            # nothing measured was redone or lost
    assert sorted(after, key=key) == sorted(_rows(fresh), key=key)          # and the result is the unkilled one

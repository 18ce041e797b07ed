"""Long work killed in the middle: nothing left running, nothing measured lost, resume completes it.

A sweep on two processes is killed with SIGKILL (no clean-up of any kind runs) and with SIGTERM
once rows have reached its CSV; its pool workers must end with it, and the same command then
finishes the sweep with exactly the rows a sweep never killed writes. The same holds after
several kill -9 at seeded random moments and a last line torn by hand (a power cut mid-write).
The real-cluster counterparts (SIGTERM of `run`, a worker JVM killed mid-run) are in
tests/test_real_cluster.py.
"""

from __future__ import annotations

import csv
import random
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


# A longer grid, so that a sweep can be killed several times before it ends (2,800 runs).
LONG_GRID = ["--preset", "study2017", "--nodes", "1-5", "--partitions", "1-40:3", "--wait", "0s,3s", "--reps", "20"]


def _long_sweep(out, processes: int = 2) -> list[str]:
    return [sys.executable, "-m", "sparkdelay.app.cli", "sweep", *LONG_GRID, "--out", str(out),
            "--processes", str(processes), "--no-progress"]


def _whole_lines(path) -> list[bytes]:
    """The complete lines of a CSV a kill may have left with a torn last line."""
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].splitlines()


def _key(r):
    return (r["nodes"], r["partitions"], r["wait"], r["rep"])


def test_kill_9_at_random_moments_and_a_torn_line_lose_nothing_and_duplicate_nothing(tmp_path):
    """SIGKILL a sweep at several seeded random moments, resuming after each; tear its last CSV line
    by hand (a power cut mid-write); the finished sweep holds exactly the rows of one never killed,
    each once, and no process of any killed sweep is left running."""
    rng = random.Random(14)
    out = tmp_path / "sweep.csv"
    total = 5 * 14 * 2 * 20
    moments = sorted(rng.sample(range(20, total // 2), 3))
    kept: list[bytes] = []
    for at in moments:
        proc = subprocess.Popen(_long_sweep(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_rows(out, at, proc)
        time.sleep(rng.uniform(0.0, 0.05))
        workers = psutil.Process(proc.pid).children(recursive=True)
        proc.kill()
        proc.wait(timeout=30)
        gone, alive = psutil.wait_procs(workers, timeout=10)
        assert alive == [], f"pool workers outlived kill -9: {[p.pid for p in alive]}"
        lines = _whole_lines(out)
        assert lines[: len(kept)] == kept, "a resumed sweep rewrote or lost rows an earlier one had written"
        kept = lines
    # Tear the last row by hand: cut it somewhere inside, newline and all.
    data = out.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    cut = rng.randint(last_start + 1, len(data) - 2)
    out.write_bytes(data[:cut])
    kept = _whole_lines(out)

    assert subprocess.run(_long_sweep(out), capture_output=True).returncode == 0
    lines = out.read_bytes().splitlines()
    assert lines[: len(kept)] == kept                      # nothing written before the kills was redone
    after = _rows(out)
    assert len({_key(r) for r in after}) == len(after) == total   # nothing duplicated, nothing missing
    fresh = tmp_path / "fresh.csv"
    assert subprocess.run(_long_sweep(fresh), capture_output=True).returncode == 0
    assert sorted(after, key=_key) == sorted(_rows(fresh), key=_key)   # and the rows are the unkilled ones


def test_a_torn_last_line_is_cut_on_resume_not_glued_to_the_next_row(tmp_path):
    """A sweep CSV whose last row was written without its newline (a kill mid-write): the resumed
    sweep drops that torn row, redoes its run, and every line of the file is a whole row."""
    small = [sys.executable, "-m", "sparkdelay.app.cli", "sweep", "--preset", "study2017", "--nodes", "1-2",
             "--partitions", "2,5", "--wait", "0s", "--reps", "2", "--processes", "1", "--no-progress"]
    fresh, out = tmp_path / "fresh.csv", tmp_path / "torn.csv"
    assert subprocess.run(small + ["--out", str(fresh)], capture_output=True).returncode == 0
    data = fresh.read_bytes()
    # the newline, the \r\n, mid-row, inside the first row, inside the header (killed right at the start)
    for cut in (len(data) - 1, len(data) - 2, len(data) - 20, data.index(b"\n") + 5, 10):
        out.write_bytes(data[:cut])
        assert subprocess.run(small + ["--out", str(out)], capture_output=True).returncode == 0
        assert sorted(_rows(out), key=_key) == sorted(_rows(fresh), key=_key), cut
        assert all(line.count(b",") == data.splitlines()[0].count(b",") for line in out.read_bytes().splitlines())

"""Smoke test of the benchmark (`python -m sparkdelay.app.bench --quick`); run with `pytest -m bench`.

It checks that every benchmark runs and writes the keys `make bench` documents, never how fast
anything was: wall-clock limits depend on the machine and its load. It runs outside the
repository, as a user would: the bundled runs come from the installed package.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.bench
def test_quick_bench_writes_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    prof = tmp_path / "profile.txt"
    proc = subprocess.run([sys.executable, "-m", "sparkdelay.app.bench", "--quick", "--out", str(out),
                           "--profile-out", str(prof)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    for key in ("machine", "simpy_raw_events_per_second", "large_stage", "scaling", "study_grid_seconds",
                "real_vs_model", "trace_replay", "profile", "targets"):
        assert key in data, key
    for key in ("cpu_count", "python", "load_average_at_start"):
        assert key in data["machine"], key
    for spread in (data["large_stage"]["seconds"], data["large_stage"]["tasks_per_second"],
                   data["large_stage"]["peak_rss_mb"], data["study_grid_seconds"]["seconds"],
                   data["simpy_raw_events_per_second"]["process_timeout_loop"],
                   data["trace_replay"]["replays_per_second"], data["trace_replay"]["base_fit_seconds"]):
        assert {"median", "min", "max", "runs"} <= set(spread)
        assert spread["min"] <= spread["median"] <= spread["max"]
    sizes = [k for k in data["scaling"] if not k.startswith("ratio_")]
    assert len(sizes) == 3 and all("seconds" in data["scaling"][k] for k in sizes)
    # The bundled real runs reach the benchmark although it runs outside the repository.
    assert data["real_vs_model"]["available"] is True and data["real_vs_model"]["real_runs"] > 0
    assert "cumulative" in prof.read_text()
    assert "large stage" in proc.stdout


@pytest.mark.bench
def test_only_runs_the_named_benchmark(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "sparkdelay.app.bench", "--quick", "--only", "simpy_raw",
                           "--out", str(out)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    assert "simpy_raw_events_per_second" in data and "large_stage" not in data

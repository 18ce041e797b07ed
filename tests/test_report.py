"""`sparkdelay report` / `sparkdelay.report`: a tiny grid end to end, the findings, real runs, timelines."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from sparkdelay.cli import main
from sparkdelay.report import GridSpec, ReportOptions, build_report
from sparkdelay.report.findings import NOT_TESTABLE, REPRODUCED, evaluate
from sparkdelay.report.grids import even_sizes, hash_sizes, run_grids
from sparkdelay.report.timeline import bars_from_log

REPO = Path(__file__).resolve().parent.parent
TINY = GridSpec(nodes=(1, 2), partitions=(1, 9), waits=("3s", "0s"), reps=1, processes=1)


def test_report_on_a_tiny_grid(tmp_path):
    out = tmp_path / "rep"
    result = build_report(ReportOptions(out, TINY))
    readme = (out / "README.md").read_text()
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert len(pngs) == 8 == len(result.figures)           # no real runs: sections 1, 2 and 4 only
    for name in pngs:
        assert f"]({name})" in readme, name                  # every figure is shown inline
        assert (out / name).stat().st_size < 150_000
    for fid in [f"F{i}" for i in range(1, 14)]:
        assert re.search(rf"^\| {fid} \|", readme, re.M), fid  # the findings table
    assert "No finished real runs" in readme
    section = (out / "README_SECTION.md").read_text()
    assert "fig01_time_vs_partitions.png" in section and len(section.split("\n\n")) >= 4
    data = json.loads((out / "data" / "findings.json").read_text())
    assert [f["id"] for f in data["spark_2.1"]] == [f"F{i}" for i in range(1, 14)]
    assert (out / "data" / "grid_summary.csv").read_text().count("\n") == 1 + 3 * 8
    assert len(result.headlines) == 3


def test_findings_f8_f11_and_what_spark4_changes():
    gs = run_grids(GridSpec(nodes=(1, 2, 3), partitions=(1, 2, 4, 8, 9, 40), waits=("3s", "0s"), reps=2, processes=1))
    old = {f.id: f for f in evaluate(gs.study)}
    new = {f.id: f for f in evaluate(gs.today)}
    assert old["F8"].status == REPRODUCED and old["F11"].status == REPRODUCED
    assert new["F8"].status == REPRODUCED and new["F11"].status != REPRODUCED   # wait 0 no longer spreads
    assert old["F13"].status == NOT_TESTABLE          # no critical-path runs given
    assert old["F10"].status == NOT_TESTABLE          # no 1 s wait in this grid
    assert old["F8"].evidence.startswith("24 of 24 runs")


def test_grids_are_deterministic_and_even_keys_spread_evenly():
    spec = GridSpec(nodes=(2,), partitions=(9,), waits=("3s",), reps=2, seed=7, processes=1)
    a, b = run_grids(spec), run_grids(spec)
    assert a.study.summary_rows() == b.study.summary_rows() and a.even.summary_rows() == b.even.summary_rows()
    for P in range(1, 41):
        sizes = even_sizes(P)
        assert sum(sizes) == 40 and max(sizes) - min(sizes) <= 1
    assert max(hash_sizes(40)) == 3


class _T:
    def __init__(self, tid, launch, finish, index=0, stage=1, ex="0"):
        self.task_id, self.launch_ms, self.finish_ms, self.index, self.stage_id = tid, launch, finish, index, stage
        self.executor_id, self.host = ex, "h"


def test_real_timeline_reuses_threads():
    # Task 2 starts 5 ms before the driver recorded task 0's end: with 2 threads it must reuse thread 0.
    tasks = [_T(0, 1000, 3000), _T(1, 1000, 5000), _T(2, 2995, 4000), _T(3, 4000, 6000)]
    bars = bars_from_log(tasks, 1000, 1, {"0": 2})
    assert [b.slot for b in bars] == [0, 1, 0, 0]
    assert bars[0].start == 0.0 and bars[1].end == 4.0


def _copy_some_runs(dst: Path, count: int) -> int:
    """Copy the first finished real runs of the bundled recording (real data, never made up)."""
    src = REPO / "data" / "runs" / "shared"
    if not (src / "index.jsonl").exists():
        return 0
    rows = []
    for line in (src / "index.jsonl").read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        log = row.get("event_log")
        if row.get("status") == "ok" and log and (src / log).exists() and not log.endswith(".inprogress"):
            rows.append(row)
        if len(rows) == count:
            break
    (dst / "eventlogs").mkdir(parents=True)
    for row in rows:
        shutil.copy2(src / row["event_log"], dst / row["event_log"])
    (dst / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)


def test_report_with_recorded_real_runs(tmp_path):
    if _copy_some_runs(tmp_path / "runs" / "shared", 3) < 3:
        pytest.skip("no recorded real runs in data/runs/shared yet")
    out = tmp_path / "rep"
    result = build_report(ReportOptions(out, TINY, [str(tmp_path / "runs")], validate_reps=2))
    assert len(list(out.glob("*.png"))) == 12
    assert result.validation is not None and len(result.validation.runs) == 3
    lines = (out / "data" / "validation.csv").read_text().splitlines()
    assert len(lines) == 1 + len(result.validation.in_sample)
    readme = (out / "README.md").read_text()
    assert "held-out" in readme and "fig12_timeline_real_vs_sim.png" in readme


def test_cli_report_and_bad_input(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path / "r"), "--nodes", "1", "--partitions", "1,9", "--wait", "3s",
                 "--reps", "1", "--processes", "1", "--no-progress"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["report", "--out", str(tmp_path / "r"), "--reps", "0"]) == 2
    assert main(["report", "--out", str(tmp_path / "r"), "--model", str(tmp_path / "missing.json")]) == 2


@pytest.mark.slow
def test_demo_runs_the_whole_study_grid(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)   # the demo reads data/model.json and data/runs relative to the repository
    assert main(["demo", "--out", str(tmp_path / "reports"), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "18000 simulated runs" in text and text.count("\n  ") >= 3
    assert len(list((tmp_path / "reports").glob("fig*.png"))) >= 8

"""`sparkdelay report` / `sparkdelay.report`: a tiny grid end to end, the findings, real runs, timelines."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from sparkdelay.app.bundled import MODEL, SHARED_RUNS, WORKLOAD, bundled
from sparkdelay.app.cli import main
from sparkdelay.app.report import GridSpec, ReportOptions, build_report
from sparkdelay.app.report.captions import FIGURES
from sparkdelay.app.report.findings import NOT_TESTABLE, REPRODUCED, evaluate
from sparkdelay.app.report.grids import even_job, even_sizes, hash_sizes, run_grids, write_even_job
from sparkdelay.app.report.timeline import bars_from_log
from sparkdelay.app.runspec import RunSpec
from sparkdelay.app.sweep import run_sweep

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
    # Titles, captions and file names come from one table, in its order (section 3's need real runs).
    drawn = {f.file: f for f in result.figures}
    assert list(drawn) == [t.file for t in FIGURES.values()][:8]
    assert drawn[FIGURES["time"].file].title == FIGURES["time"].title
    assert "Each point is the mean of 1 simulated run (seeds)" in drawn[FIGURES["time"].file].caption


def test_the_even_job_is_handed_over_as_an_object_and_runs_like_its_yaml(tmp_path):
    grid = dict(nodes=[2], partitions=[9, 40], waits=["3s"], reps=2, processes=1, progress=False)
    as_object = run_sweep(RunSpec(preset="study2017", job=even_job()), tmp_path / "a.csv", **grid)
    as_file = run_sweep(RunSpec(preset="study2017", job_path=str(write_even_job(tmp_path / "even.yaml"))),
                        tmp_path / "b.csv", **grid)
    strip = lambda rows: [{**vars(r), "sweep_id": None} for r in rows]     # the fingerprints name the source
    assert len(as_object) == 4 and strip(as_object) == strip(as_file)
    with pytest.raises(ValueError, match="job or job_path"):
        RunSpec(job=even_job(), job_path="even.yaml")


def test_commands_find_the_bundled_data_from_any_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                      # no data/ here: the installed package has it
    assert bundled(MODEL).is_file() and bundled(WORKLOAD).is_file() and (bundled(SHARED_RUNS) / "index.jsonl").is_file()
    assert main(["heldout", "--reps", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["test_runs"] > 0 for s in doc["splits"]] == [True, True, True]
    assert list(tmp_path.iterdir()) == []            # and wrote nothing where it ran


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


def _copy_some_runs(dst: Path, count: int, cluster_yaml: str | None = None) -> int:
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
    if cluster_yaml is None:
        shutil.copy2(src / "cluster.yaml", dst / "cluster.yaml")
    else:
        (dst / "cluster.yaml").write_text(cluster_yaml)
    return len(rows)


# The first eight bundled runs (one N, the smallest P at waits 0 s and 3 s): some train the
# interpolation split, the others are held out.
HANDFUL = 8
# Stand-in for a pinned sweep: the same real logs, each loopback host its own one-core machine. It tests
# that the pinned folder reaches the other-hardware split, not what pinning does to the numbers.
ONE_CORE_EACH = "machines:\n" + "".join(f"  - {{name: cpu{i}, cores: 1, hosts: [127.0.0.{i}]}}\n" for i in (2, 3, 4))


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    if _copy_some_runs(root / "shared", HANDFUL) < HANDFUL:
        pytest.skip(f"fewer than {HANDFUL} recorded real runs in data/runs/shared yet")
    _copy_some_runs(root / "pinned", 2, ONE_CORE_EACH)
    return root


def _strict_json(path: Path):
    def no_nan(name):
        raise AssertionError(f"{path.name}: {name} is not JSON")
    return json.loads(path.read_text(), parse_constant=no_nan)


def test_report_with_recorded_real_runs(tmp_path, runs_dir):
    from sparkdelay.calibration.heldout import INTERPOLATION_TRAIN_PARTITIONS, heldout_tests, load_sweep
    from sparkdelay.calibration.twins import TWIN_KEY
    from sparkdelay.eventlog.reader import read_eventlog
    from sparkdelay.sim.model.job import load_workload

    out = tmp_path / "rep"
    workload = str(REPO / "data" / "study-workload.yaml")
    result = build_report(ReportOptions(out, TINY, [str(runs_dir)], validate_reps=2, workload=workload))
    assert len(list(out.glob("*.png"))) == 12
    m = result.measured
    assert m is not None and len(m.runs) == HANDFUL + 2 and len(m.in_sample) == HANDFUL + 2
    assert [s.pinned for s in m.sweeps] == [True, False]        # sorted paths: pinned/, shared/
    lines = (out / "data" / "validation.csv").read_text().splitlines()
    assert len(lines) == 1 + len(m.runs)

    # Section 3's held-out numbers are calibration.heldout's, on the same runs, reps and seed.
    doc = _strict_json(out / "data" / "heldout.json")
    splits = {s["name"]: s for s in doc["splits"]}
    assert list(splits) == ["interpolation", "more_nodes", "other_hardware"]
    wl = load_workload(workload)
    direct = heldout_tests(load_sweep("shared", runs_dir / "shared", wl), load_sweep("pinned", runs_dir / "pinned", wl),
                           reps=2, seed=TINY.seed)
    for split in direct["splits"]:
        mine = splits[split.name]
        assert mine["test_runs"] == split.test_runs
        if split.comparisons:
            assert mine["median_ape"] == pytest.approx(split.summary()["median_ape"])
            assert mine["baseline_median_ape"] == pytest.approx(split.summary()["baseline_median_ape"])
    held_out = sum(1 for r in direct["splits"][0].comparisons)
    assert splits["interpolation"]["test_runs"] == held_out == sum(
        1 for line in (runs_dir / "shared" / "index.jsonl").read_text().splitlines()
        if json.loads(line)["partitions"] not in INTERPOLATION_TRAIN_PARTITIONS)
    assert splits["more_nodes"]["test_runs"] == 0 and splits["more_nodes"]["median_ape"] is None
    assert splits["other_hardware"]["test_runs"] == 2
    assert set(doc["spread"]) == {"shared", "pinned"} and doc["in_sample"]["runs"] == len(m.runs)

    readme = (out / "README.md").read_text()
    section3 = readme[readme.index("## 3."):readme.index("## 4.")]
    for text in ("| held-out: interpolation |", "| held-out: other hardware |", "**Noise floor", "Not run:",
                 "**The same runs, in-sample.**",
                 "baseline", "fitted here", "fig12_timeline_real_vs_sim.png", "data/heldout.json"):
        assert text in section3, text
    assert "leave-one-configuration-out" not in readme

    # Each real run is listed with its simulated twin (written into twins/) and both stage pages.
    # (The pinned stand-in holds copies of two shared logs: one application id, so one twin each.)
    twins = sorted((out / "twins").iterdir())
    assert len(twins) == HANDFUL and len(m.twins) == len(m.runs) and m.twins.count(None) == 2
    command = f"sparkdelay history start --dir {runs_dir} --dir {out / 'twins'}"
    assert m.history_command == command and f"```sh\n{command}\n```" in section3
    assert section3.count("the twin of its other copy") == 2
    for run, twin in zip(m.runs, m.twins):
        if twin is None:
            continue
        real = read_eventlog(run.measured.log)
        log = read_eventlog(twin.path)
        assert twin.app_id == log.app_id == f"{real.app_id}-twin" and log.properties[TWIN_KEY] == real.app_id
        assert len(log.tasks) == len(real.tasks) and len(log.stages) == len(real.stages)
        assert (f"| `{real.app_id}` | `{twin.app_id}` | [real](http://127.0.0.1:18080/history/{real.app_id}/stages/) / "
                f"[twin](http://127.0.0.1:18080/history/{twin.app_id}/stages/) |") in section3
    assert f"`{command}` opens the {HANDFUL} real runs" in (out / "README_SECTION.md").read_text()
    # the same inputs write the same twins; the next report starts from an empty twins/ folder
    from sparkdelay.app.report.measured import clear_twins, write_twins
    before = [t and t.path.read_bytes() for t in m.twins]
    write_twins(m, tmp_path / "again", TINY.seed, [str(runs_dir)], None)
    assert [t and t.path.read_bytes() for t in m.twins] == before
    clear_twins(out / "twins")
    assert not (out / "twins").exists()


def test_section3_without_a_pinned_sweep(runs_dir, tmp_path):
    from sparkdelay.app.report.measured import load_measured
    from sparkdelay.app.report.measured_text import headline, section

    m = load_measured([runs_dir / "shared"], str(REPO / "data" / "study-workload.yaml"), None, reps=2)
    text = "\n".join(section(m))
    assert "No pinned sweep" in text and "**Other hardware.**" in text
    assert "not enough real runs" in text
    assert "held out" in headline(m)
    assert load_measured([tmp_path], None, None) is None      # a folder without any index.jsonl


def test_verdict_says_who_is_closer_and_where():
    from types import SimpleNamespace as NS
    from sparkdelay.calibration.heldout import SplitResult
    from sparkdelay.app.report.measured_text import verdict

    def comp(ape, hosts):
        return NS(ape=ape, placement_match=True, measured=NS(tasks_per_host=dict(enumerate(hosts))))

    split = SplitResult("interpolation", "fit on some P, predict the others", 4, 4, model=None)
    split.comparisons = [comp(0.1, [8, 1]), comp(0.1, [6, 6]), comp(0.5, [4, 0]), comp(0.5, [2, 0])]
    split.baseline_apes = [0.6, 0.6, 0.2, 0.2]
    text = verdict(split)
    assert "the model is the closer of the two on 2 of 4 runs" in text
    assert "largest where the tasks spread over several hosts" in text and "100 %" in text
    assert "Where every task ran on one host the baseline is closer (2 runs: 50 % against 20 %)" in text
    split.baseline_apes = [0.05] * 4
    assert "The baseline is closer on the median in every group" in verdict(split)


def test_cli_report_and_bad_input(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path / "r"), "--nodes", "1", "--partitions", "1,9", "--wait", "3s",
                 "--reps", "1", "--processes", "1", "--no-progress"]) == 0
    assert "wrote" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:     # argparse refuses the value itself, with status 2
        main(["report", "--out", str(tmp_path / "r"), "--reps", "0"])
    assert refused.value.code == 2
    assert main(["report", "--out", str(tmp_path / "r"), "--model", str(tmp_path / "missing.json")]) == 2


@pytest.mark.slow
def test_demo_runs_the_whole_study_grid(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)   # any directory: the bundled model and runs come from the installed package
    assert main(["demo", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "18000 simulated runs" in text and text.count("\n  ") >= 3
    assert len(list((tmp_path / "reports").glob("fig*.png"))) == 12    # written where --out says (default reports/)

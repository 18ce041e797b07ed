"""Held-out tests fit on some real runs and predict the others, next to a naive baseline."""

import json
import shutil
from pathlib import Path

import pytest

from sparkdelay.app.cli import main
from sparkdelay.calibration.heldout import baseline, evaluate, fit, load_sweep, run_to_run_spread
from sparkdelay.ground.errors import UserError
from sparkdelay.sim.model.job import load_workload

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO / "data" / "runs" / "shared"


@pytest.fixture(scope="module")
def runs():
    found = load_sweep("shared", SHARED, load_workload(REPO / "data" / "study-workload.yaml"))
    if len(found) < 6:
        pytest.skip("fewer than 6 bundled real runs")
    return found


def test_the_machine_file_of_the_sweep_is_used(runs):
    # cluster.yaml puts every loopback worker on one 2-core machine.
    assert all(m.cores == 2 for r in runs for m in r.measured.cluster.machines)


def test_a_split_predicts_only_runs_it_did_not_fit(runs):
    train, test = runs[::2], runs[1::2]
    result = evaluate("halves", "every other run", train, test, reps=2, seed=0)
    assert result.train_runs == len(train) and result.test_runs == len(test)
    assert [c.app_id for c in result.comparisons] == [r.measured.app_id for r in test]
    assert len(result.baseline_apes) == len(test)
    summary = result.summary()
    assert 0 <= summary["median_ape"] <= summary["p90_ape"]


def test_an_empty_side_is_reported_not_invented(runs):
    result = evaluate("none", "nothing to test", runs, [], reps=2, seed=0)
    assert result.model is None and "not enough real runs" in result.note


def test_baseline_interpolates_in_log_partitions(runs):
    one = [r for r in runs if r.row["nodes"] == 1 and r.row["wait"] == "0s"]
    if len(one) < 3:
        pytest.skip("not enough N=1 runs")
    lo, mid, hi = one[0], one[1], one[2]
    # Predicting a trained point returns its measurement exactly.
    assert baseline([lo, mid, hi], mid) == pytest.approx(mid.measured.duration_s)


def test_spread_needs_repetitions(runs):
    spread = run_to_run_spread(runs[:1])
    assert spread["configs_with_reps"] == 0
    doubled = run_to_run_spread([runs[0], runs[0]])
    assert doubled["configs_with_reps"] == 1 and doubled["median_abs_dev_from_config_mean"] == 0.0


def test_a_sweep_cut_off_mid_row_is_read_as_far_as_it_goes(tmp_path):
    """A sweep that died writing its last row: with a `skipped` list (the report) the torn row is
    listed there and the whole rows are read; without one (`sparkdelay heldout`) it is an error."""
    first = json.loads((SHARED / "index.jsonl").read_text().splitlines()[0])
    folder = tmp_path / "shared"
    (folder / "eventlogs").mkdir(parents=True)
    shutil.copy2(SHARED / first["event_log"], folder / first["event_log"])
    shutil.copy2(SHARED / "cluster.yaml", folder / "cluster.yaml")
    (folder / "index.jsonl").write_text(json.dumps(first) + "\n" + '{"run_id": "next", "sta')
    workload = load_workload(REPO / "data" / "study-workload.yaml")
    skipped: list[str] = []
    (run,) = load_sweep("shared", folder, workload, skipped)
    assert run.row == first and len(skipped) == 1 and "index.jsonl:2: last line is cut off" in skipped[0]
    with pytest.raises(UserError, match=r"index\.jsonl:2: not a JSON object"):
        load_sweep("shared", folder, workload)


def _small_corpus(tmp_path: Path, job: str, keep) -> Path:
    """A corpus folder with one workload: the bundled corpus's runs of `job` that `keep` accepts."""
    source = REPO / "data" / "corpus" / job / "shared"
    folder = tmp_path / "corpus" / job / "shared"
    (folder / "eventlogs").mkdir(parents=True)
    shutil.copy2(source / "cluster.yaml", folder / "cluster.yaml")
    rows = [json.loads(line) for line in (source / "index.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("status") == "ok" and keep(r)]
    for r in rows:
        shutil.copy2(source / r["event_log"], folder / r["event_log"])
    (folder / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path / "corpus"


def test_the_corpus_splits_report_each_split_and_show_their_progress(tmp_path, capsys):
    """`heldout --corpus`: one table per workload with its splits (a split without runs says so),
    and a progress bar on stderr that counts the splits, since each takes minutes with the trace fit."""
    corpus = _small_corpus(tmp_path, "pyloop", lambda r: r["wait"] == "3s" and r["rep"] == 1)
    assert main(["heldout", "--corpus", str(corpus), "--method", "linear", "--reps", "2", "--json"]) == 0
    out, err = capsys.readouterr()
    (workload,) = json.loads(out)["workloads"]
    splits = {s["name"]: s for s in workload["splits"]}
    assert list(splits) == ["A_interpolation", "B_more_nodes", "C_other_hardware", "D_few_shot"]
    assert splits["C_other_hardware"]["test_runs"] == 0 and "not enough real runs" in splits["C_other_hardware"]["note"]
    assert splits["B_more_nodes"]["test_runs"] == sum(1 for line in (corpus / "pyloop/shared/index.jsonl").open()
                                                      if json.loads(line)["nodes"] == 3)
    assert 0 <= splits["A_interpolation"]["median_ape"] <= splits["A_interpolation"]["p90_ape"]
    assert "heldout" in err and "4/4" in err and "pyloop D_few_shot" in err


def test_split_runs_only_the_splits_asked_for_and_refuses_one_the_fit_cannot_run(tmp_path, capsys):
    """`--split` re-runs some splits (each takes minutes with the trace fit); E, the machine's
    terms from the other workloads, needs the trace fit and another workload, and says so."""
    corpus = _small_corpus(tmp_path, "pyloop", lambda r: r["wait"] == "3s" and r["rep"] == 1)
    assert main(["heldout", "--corpus", str(corpus), "--method", "linear", "--reps", "2", "--json",
                 "--split", "D", "--split", "A"]) == 0
    out, err = capsys.readouterr()
    (workload,) = json.loads(out)["workloads"]
    assert [s["name"] for s in workload["splits"]] == ["A_interpolation", "D_few_shot"] and "2/2" in err
    for method in ("linear", "trace"):
        assert main(["heldout", "--corpus", str(corpus), "--method", method, "--split", "E"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "--split E" in err


def test_the_corpus_splits_refuse_a_workload_the_corpus_does_not_have(tmp_path, capsys):
    corpus = _small_corpus(tmp_path, "pyloop", lambda r: r["nodes"] == 1 and r["rep"] == 1)
    assert main(["heldout", "--corpus", str(corpus), "--job", "lenet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--job" in err and "'lenet'" in err and "pyloop" in err


@pytest.mark.parametrize("folder", ["empty", "missing"])
def test_a_corpus_folder_without_workloads_is_refused_in_one_line(tmp_path, capsys, folder):
    (tmp_path / "empty").mkdir()
    assert main(["heldout", "--corpus", str(tmp_path / folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(tmp_path / folder) in err and "no workloads" in err


def test_a_split_fits_its_runs_as_calibrate_does_and_holds_at_zero_what_they_cannot_identify(runs, tmp_path):
    """A split's training runs are fitted as `sparkdelay calibrate` fits their logs: one run
    with one reduce task cannot tell a per-item cost or a worker start-up from the task's
    overhead, and both fits hold them at 0 instead of splitting the duration at random."""
    (one,) = [r for r in runs if r.row["partitions"] == 1 and r.trace is not None][:1]
    model = fit([one], "trace")
    assert model.cpu_per_item_s == model.worker_startup_s == 0.0 and model.task_overhead_s > 0
    out = tmp_path / "m.json"
    assert main(["calibrate", str(SHARED / one.row["event_log"]), "--workload", str(REPO / "data/study-workload.yaml"),
                 "--cluster", str(SHARED / "cluster.yaml"), "-o", str(out)]) == 0
    params = json.loads(out.read_text())["params"]
    for term in ("task_overhead_s", "map_task_overhead_s", "cpu_per_item_s", "worker_startup_s"):
        assert getattr(model, term) == pytest.approx(params[term], rel=1e-9), term

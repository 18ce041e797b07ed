"""Validation reads each run's configuration from its own event log and compares placement and time."""

import json
from pathlib import Path

import pytest

from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.sim.model.cluster import MachineMap
from sparkdelay.sim.model.job import load_workload
from sparkdelay.calibration.validate import compare, measured_run, percentile, error_summary
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.app.cli import main
from sparkdelay.ground.errors import UserError

REPO = Path(__file__).resolve().parent.parent
RUNS = REPO / "data" / "runs" / "shared"
WORKLOAD = REPO / "data" / "study-workload.yaml"
EVENTLOGS = REPO / "tests" / "data" / "eventlogs"


def real_logs():
    rows = [json.loads(line) for line in (RUNS / "index.jsonl").read_text().splitlines() if line.strip()]
    return [(row, RUNS / row["event_log"]) for row in rows if row.get("status") == "ok"]


@pytest.fixture(scope="module")
def first_runs():
    if not (RUNS / "index.jsonl").exists():
        pytest.skip("no bundled real runs")
    return real_logs()[:6]


def test_configuration_comes_from_the_log_itself(first_runs):
    row, path = first_runs[0]
    run = measured_run(read_eventlog(path), MachineMap(local_cores=2), load_workload(WORKLOAD))
    assert len(run.cluster.hosts) == row["nodes"]
    assert run.job.pyspark.partitions == row["partitions"]
    assert run.cluster.config["spark.locality.wait"] == row["wait"]
    assert run.cluster.spark_version == "4.0"
    # Loopback workers share this machine's cores: one machine holds every host.
    assert [m.hosts for m in run.cluster.machines] == [tuple(run.cluster.hosts)]
    assert run.duration_s == pytest.approx(row["job_duration_ms"] / 1000, abs=0.01)
    # The index lists hosts that ran tasks; validation also counts idle hosts (as zeros).
    assert {h: n for h, n in run.placement.tasks_per_host.items() if n} == row["reduce_tasks_per_host"]
    assert set(run.placement.tasks_per_host) == set(run.cluster.hosts)


def test_prediction_is_compared_run_by_run(first_runs):
    runs = [measured_run(read_eventlog(p), MachineMap(local_cores=2), load_workload(WORKLOAD)) for _, p in first_runs]
    comparisons = [compare(r, CostModel(), reps=3) for r in runs]
    for c in comparisons:
        assert c.ape == pytest.approx(abs(c.predicted_duration_s - c.measured_duration_s) / c.measured_duration_s)
        assert sum(c.measured.tasks_per_host.values()) == c.partitions
        assert sum(c.predicted_sorted_mode) == c.partitions
    summary = error_summary(comparisons)
    assert summary["runs"] == len(runs) and 0.0 <= summary["placement_match"] <= 1.0


def test_validate_command_json(first_runs, tmp_path, capsys):
    model = tmp_path / "model.json"
    model.write_text(CostModel().to_json())
    logs = [str(p) for _, p in first_runs[:2]]
    assert main(["validate", *logs, "--model", str(model), "--workload", str(WORKLOAD), "--reps", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["summary"]) == {"runs", "median_ape", "p90_ape", "placement_match", "outside_calibrated_range",
                                   "under_load"}
    assert out["summary"]["outside_calibrated_range"] == 0   # a model without a calibrated range flags nothing
    assert len(out["runs"]) == 2 and {"measured_sorted", "predicted_sorted_mode", "ape"} <= set(out["runs"][0])


def test_wrong_keys_are_refused_not_mispredicted(first_runs, tmp_path):
    # A workload whose keys hash differently leaves other partitions empty than Spark saw.
    wl = tmp_path / "w.yaml"
    wl.write_text('pyspark: {keys: {format: "item-{}", count: 7}, python_hash_seed: 0, map_slices: 1}\n')
    row, path = next((r, p) for r, p in real_logs() if r["partitions"] >= 12)
    with pytest.raises(UserError, match="keys assumed do not match the log"):
        measured_run(read_eventlog(path), MachineMap(), load_workload(wl))


def test_a_local_mode_log_has_no_executors_to_simulate(capsys, tmp_path):
    model = tmp_path / "model.json"
    model.write_text(CostModel().to_json())
    plain = next(p for p in sorted(EVENTLOGS.iterdir()) if p.is_file() and not p.suffix)
    assert main(["validate", str(plain), "--model", str(model)]) == 2
    assert "no executor was added" in capsys.readouterr().err


def test_percentile_interpolates_like_numpy():
    assert percentile([1.0, 2.0, 3.0, 4.0], 90) == pytest.approx(3.7)
    assert percentile([5.0], 90) == 5.0


def test_a_simulated_run_validated_against_itself_shows_no_error(tmp_path):
    """Round trip: a simulated run written as an event log, read back, and simulated again from
    what the log alone says (executors, config, tasks) with the same model and seed, is the same
    run: 0 % job-time error and the same tasks on every host."""
    from sparkdelay.app.presets import local_cluster, study_job
    from sparkdelay.eventlog.writer import write_eventlog
    from sparkdelay.sim.model.cluster import MachineSpec
    from sparkdelay.sim.model.engine import simulate

    model = CostModel(worker_startup_sd_s=0.0, task_overhead_sd_s=0.0, cpu_per_item_sd_s=0.0)
    cluster, job = local_cluster(nodes=3, wait="3s", cores=2), study_job(partitions=20)
    result = simulate(cluster, job, model, seed=7)
    log = read_eventlog(write_eventlog(result, cluster, tmp_path, item_bytes=1000))
    hosts = tuple(e.host for e in cluster.executors)
    run = measured_run(log, MachineMap({h: MachineSpec("localhost", 2, hosts) for h in hosts}), job.pyspark.workload)
    again = compare(run, model, reps=1, seed=7)
    assert again.measured_duration_s == pytest.approx(result.job_duration_s, abs=1e-3)
    assert again.ape == pytest.approx(0.0, abs=1e-4)
    assert again.predicted.tasks_per_host == again.measured.tasks_per_host == result.metrics()["tasks_per_host"]


def test_validate_writes_each_runs_simulated_twin(first_runs, tmp_path, capsys):
    """`validate --event-log DIR`: the twin of each real run reads back with the tool's reader, has
    the real run's stages and task counts, says whose twin it is, and is the same bytes each time."""
    from sparkdelay.calibration.twins import TWIN_KEY
    from sparkdelay.eventlog.shuffle_job import measured_job
    from sparkdelay.eventlog.writer import SIMULATED_KEY

    model = REPO / "data" / "model.json"
    logs = [str(p) for _, p in first_runs[:3]]
    argv = ["validate", *logs, "--model", str(model), "--workload", str(WORKLOAD), "--reps", "2", "--seed", "4"]
    assert main(argv + ["--json", "--event-log", str(tmp_path / "a")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["twins"]["history_command"] == f"sparkdelay history start --dir {RUNS / 'eventlogs'} --dir {tmp_path / 'a'}"
    for c, (_, path) in zip(doc["runs"], first_runs):
        real, twin = read_eventlog(path), read_eventlog(c["twin_log"])
        assert twin.app_id == c["twin_app_id"] == f"{real.app_id}-twin"
        assert twin.properties[TWIN_KEY] == real.app_id and twin.properties[SIMULATED_KEY] == "true"
        assert twin.properties["spark.sparkdelay.seed"] == "4"
        assert twin.properties["spark.locality.wait"] == real.properties["spark.locality.wait"]
        job = measured_job(real)
        assert sorted((s.stage_id, s.name, s.num_tasks) for s in twin.stages) == \
            sorted((s.stage_id, s.name, s.num_tasks) for s in [job.result] + job.maps)
        assert len(twin.tasks) == len(real.tasks) and twin.start_ms == job.job.submission_ms
        assert {t.host for t in twin.tasks} <= {e.host for e in real.executors}
    assert main(argv + ["--event-log", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert f"open both: sparkdelay history start --dir {RUNS / 'eventlogs'} --dir {tmp_path / 'b'}" in out
    real_id = doc["runs"][0]["app_id"]
    assert f"http://127.0.0.1:18080/history/{real_id}/stages/  http://127.0.0.1:18080/history/{real_id}-twin/stages/" in out
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(p.name for p in (tmp_path / "b").iterdir())
    for p in (tmp_path / "a").iterdir():
        assert p.read_bytes() == (tmp_path / "b" / p.name).read_bytes()


def test_a_run_recorded_under_load_is_flagged_and_left_out_on_request(first_runs, tmp_path, capsys):
    # Two runs of the bundled sweep, one of them recorded (as its row says) with a 1-minute load
    # of 17.5 on the 2-core machine: validate says so; --max-load leaves it out; so does calibrate.
    (row_a, log_a), (row_b, log_b) = first_runs[:2]
    index = tmp_path / "index.jsonl"
    index.write_text(json.dumps(row_a | {"event_log": str(log_a), "loadavg_1m": 17.5}) + "\n" +
                     json.dumps(row_b | {"event_log": str(log_b), "loadavg_1m": 0.4}) + "\n")
    model = tmp_path / "model.json"
    model.write_text(CostModel().to_json())
    argv = ["validate", str(index), "--model", str(model), "--workload", str(WORKLOAD),
            "--cluster", str(RUNS / "cluster.yaml"), "--reps", "1"]
    assert main(argv + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["under_load"] == 1 and out["summary"]["runs"] == 2
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert f"{row_a['app_id']}: recorded under a 1-minute load of 17.5 on 2 core(s)" in err
    assert main(argv + ["--max-load", "4", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["summary"]["runs"] == 1
    assert "1 run(s) recorded under a 1-minute load above 4 left out" in captured.err
    assert main(["calibrate", str(index), "--workload", str(WORKLOAD), "--max-load", "4",
                 "-o", str(tmp_path / "fitted.json")]) == 0
    fitted = json.loads((tmp_path / "fitted.json").read_text())
    assert fitted["fit_report"]["left_out_under_load"] == [str(log_a)]


def test_heldout_leaves_out_runs_recorded_under_load(first_runs, tmp_path):
    from sparkdelay.calibration.heldout import load_sweep

    (row_a, log_a), (row_b, log_b) = first_runs[:2]
    (tmp_path / "index.jsonl").write_text(json.dumps(row_a | {"event_log": str(log_a), "loadavg_1m": 17.5}) + "\n" +
                                          json.dumps(row_b | {"event_log": str(log_b), "loadavg_1m": 0.4}) + "\n")
    (tmp_path / "cluster.yaml").write_text((RUNS / "cluster.yaml").read_text())
    workload = load_workload(str(WORKLOAD))
    assert len(load_sweep("s", tmp_path, workload)) == 2
    left_out: list[str] = []
    runs = load_sweep("s", tmp_path, workload, max_load=4.0, left_out=left_out)
    assert [r.row["run_id"] for r in runs] == [row_b["run_id"]]
    assert left_out == [f"s/{row_a['run_id']}: recorded under a 1-minute load of 17.5 (--max-load 4)"]

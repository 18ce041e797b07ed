"""Differential cases: seeded random configurations, and the model scored on them as a distribution.

The scoring is checked on cases whose truth is known: each case simulated once with a known
cost model, written as a Spark event log with the row `differential record` would write. A model
fitted on a third of them must then put the truth's tasks-per-host vector in its predictive set
and get the times close; a model that never saw the runs' start-up costs must not.
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from sparkdelay.app.cli import main
from sparkdelay.eventlog.run_index import append_row
from sparkdelay.eventlog.writer import write_eventlog
from sparkdelay.real.differential import (CORES, KEYS, MAP_SLICES, NODES, PARTITIONS, WAITS, draw_cases, read_cases,
                                          write_cases)
from sparkdelay.sim.model.cluster import ClusterSpec, ExecutorSpec, MachineSpec
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.engine import simulate
from sparkdelay.sim.model.job import JobSpec, PySparkJob, PySparkWorkload
from sparkdelay.sim.policy.pyspark_partitioning import KeySpec
from sparkdelay.calibration.differential import score
from sparkdelay.calibration.heldout import load_sweep
from sparkdelay.calibration.validate import predictive_set

TRUTH = CostModel(worker_startup_s=1.2, task_overhead_s=0.2, cpu_per_item_s=0.3, map_task_overhead_s=0.4,
                  executor_start_s=0.8, wait_per_item_s=0.2)


def test_a_seed_names_its_cases_forever_and_each_case_lies_in_the_documented_ranges():
    cases = draw_cases(30, seed=7)
    assert cases == draw_cases(30, seed=7)
    assert draw_cases(10, seed=7) == cases[:10]          # case i does not depend on how many were drawn
    assert draw_cases(10, seed=8) != cases[:10]
    for c in cases:
        assert NODES[0] <= c.nodes <= NODES[1] and CORES[0] <= c.cores <= CORES[1]
        assert MAP_SLICES[0] <= c.map_slices <= MAP_SLICES[1] and PARTITIONS[0] <= c.partitions <= PARTITIONS[1]
        assert KEYS[0] <= c.items <= KEYS[1] and c.wait in WAITS and 0 <= c.hash_seed < 2 ** 32
    assert len({c.run_point("sleep").run_id for c in cases}) == len(cases)


def test_the_plan_refuses_a_folder_of_another_draw(tmp_path):
    write_cases(tmp_path, "sleep", 1, draw_cases(5, 1))
    assert len(read_cases(tmp_path / "cases.json")["cases"]) == 5
    with pytest.raises(Exception, match="seed 1"):
        write_cases(tmp_path, "sleep", 2, draw_cases(5, 2))


def test_the_predictive_set_is_the_fewest_likeliest_vectors_covering_the_mass():
    vectors = [([3, 1], 50), ([2, 2], 35), ([4, 0], 10), ([1, 3], 5)]
    assert predictive_set(vectors, 0.9) == [[3, 1], [2, 2], [4, 0]]
    assert predictive_set(vectors, 0.5) == [[3, 1]]


def _record_simulated(folder, cases, model):
    """What `differential record` leaves behind, with the simulator standing in for Spark."""
    write_cases(folder, "sleep", 3, cases)
    (folder / "eventlogs").mkdir(parents=True, exist_ok=True)
    hosts = [f"127.0.0.{i + 2}" for i in range(4)]
    (folder / "cluster.yaml").write_text(f"machines:\n  - {{name: box, cores: 2, hosts: [{', '.join(hosts)}]}}\n")
    for c in cases:
        point = c.run_point("sleep")
        keys = KeySpec.parse({"format": point.shape.key_format, "count": c.items}).keys
        job = JobSpec(pyspark=PySparkJob(PySparkWorkload(keys, c.hash_seed, "3.11", c.map_slices), c.partitions))
        cluster = ClusterSpec.make("4.0", {"spark.locality.wait": c.wait, "spark.executor.cores": str(c.cores)},
                                   [ExecutorSpec(str(i), hosts[i], c.cores, 0.0) for i in range(c.nodes)],
                                   [MachineSpec("box", 2, tuple(hosts[:c.nodes]))], where="test")
        result = simulate(cluster, job, model, seed=1000 + c.case)
        log = write_eventlog(result, cluster, folder / "eventlogs", app_id=f"app-sim-{c.case:04d}", item_bytes=500)
        append_row(folder / "index.jsonl", {
            "run_id": point.run_id, "status": "ok", "nodes": c.nodes, "partitions": c.partitions, "wait": c.wait,
            "cores": c.cores, "items": c.items, "key_format": point.shape.key_format, "map_slices": c.map_slices,
            "python_hash_seed": str(c.hash_seed), "python_version": "3.11", "task_threads": 1,
            "event_log": str(log.relative_to(folder)), "loadavg_1m": 0.0})


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("differential")
    # Cases drawn small so the test stays quick: what matters is that they vary everything.
    cases = [c for c in draw_cases(60, seed=3) if c.nodes * c.cores <= 16 and c.items <= 50][:12]
    _record_simulated(folder, cases, TRUTH)
    return folder


def _score(folder, method: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["differential", "score", str(folder), "--reps", "30", "--method", method, "--json"]) == 0
    return json.loads(out.getvalue())


def test_a_model_fitted_on_a_third_of_the_cases_predicts_the_others(recorded):
    # The linear fit (seconds): the scoring, the split and the sets; the trace fit, the default,
    # gets the times closer (below, slow: its term selection takes minutes).
    doc = _score(recorded, "linear")
    assert doc["train_runs"] >= 3 and doc["train_runs"] + doc["test_runs"] == 12
    assert doc["in_set90"] >= 0.75
    assert doc["median_ape"] < 0.10
    for case in doc["cases"]:
        assert case["measured_vector"] and case["set90"]
    # The same cases against the model's defaults (no fit): its times must be visibly worse than
    # the fitted model's, or the score could not tell a good model from a bad one.
    unfitted = score(CostModel(), load_sweep("sleep", recorded, None), reps=30, seed=0)
    assert unfitted["median_ape"] > 2 * doc["median_ape"]


@pytest.mark.slow
def test_the_default_trace_fit_on_a_third_of_the_cases_gets_the_others_times_within_5_percent(recorded):
    doc = _score(recorded, "trace")
    assert doc["method"] == "trace" and doc["in_set90"] >= 0.75
    assert doc["median_ape"] < 0.05

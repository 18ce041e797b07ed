"""`heldout --one-log`: each event log of a job predicts every other run of it.

Two runs of one job are matched stage by stage by what each stage computes, not by stage id:
the DAGScheduler numbers independent stages in the order it happens to visit them. The
Sparklens-style baseline list-schedules the recorded task times onto the new slots. On the
bundled multi-stage real runs the replay of each log's own configuration stays within 5 %, and
the model beats the baseline.
"""

from __future__ import annotations

import json

import pytest

from sparkdelay.app.cli import main
from sparkdelay.calibration.logged_dag import LoggedApp, LoggedJob, LoggedStage, logged_app
from sparkdelay.calibration.one_log import canonical, config_of, shape, sparklens_time
from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.sim.model.cluster import ClusterSpec, ExecutorSpec, load_machines

from conftest import REPO

SCAN = ("MapPartitionsRDD", "ParallelCollectionRDD", "PythonRDD")
SMALL = ("MapPartitionsRDD", "ParallelCollectionRDD")
JOIN = ("MapPartitionsRDD", "ShuffledRowRDD", "ShuffledRowRDD", "ZippedPartitionsRDD2")


def stage(sid, tasks, parents=(), rdds=()):
    d = tuple([1.0] * tasks)
    return LoggedStage(sid, "collect at job.py:236", 0, tuple(parents), d, tuple([100] * tasks), "bytes",
                       tuple([0] * tasks), tuple([0] * tasks), 0.0, 0.01, 0.0, rdds=rdds)


def app(stages, executors=1):
    cluster = ClusterSpec.make("4.0", {"spark.locality.wait": "0s"},
                               [ExecutorSpec(str(i), f"h{i}", 2) for i in range(executors)])
    return LoggedApp("log", "app", cluster, tuple(stages), (LoggedJob(0, 0, 1000),), (0.0,),
                     {"submit_delay_s": 0.0, "stage_gap_s": 0.0, "collect_s": 0.0})


def test_the_two_sides_of_a_join_are_matched_by_what_they_compute_not_by_their_ids():
    # Run a: the 4-task scan is stage 0; run b: the DAGScheduler gave it id 1.
    a = app([stage(0, 4, rdds=SCAN), stage(1, 1, rdds=SMALL), stage(2, 4, (0, 1), JOIN)])
    b = app([stage(0, 1, rdds=SMALL), stage(1, 4, rdds=SCAN), stage(2, 4, (0, 1), JOIN)])
    assert shape(a) == shape(b)
    assert config_of(a).tasks == config_of(b).tasks
    assert [s.stage_id for s in canonical(a)] == [1, 0, 2] and [s.stage_id for s in canonical(b)] == [0, 1, 2]


def test_a_different_dag_is_not_the_same_job():
    a = app([stage(0, 4, rdds=SCAN), stage(1, 1, rdds=SMALL), stage(2, 4, (0, 1), JOIN)])
    c = app([stage(0, 4, rdds=SCAN), stage(1, 1, rdds=SMALL), stage(2, 4, (0,), JOIN)])
    assert shape(a) != shape(c)


def test_the_baseline_list_schedules_recorded_task_times_onto_the_slots():
    a = app([stage(0, 4), stage(1, 2, (0,))])
    recorded = {0: [1.0, 1.0, 1.0, 1.0], 1: [0.5, 0.5]}
    assert sparklens_time(a, recorded, 2, {0: 4, 1: 2}) == pytest.approx(2.5)
    assert sparklens_time(a, recorded, 4, {0: 4, 1: 2}) == pytest.approx(1.5)
    # 8 partitions: the stage's 4 s of task time spread over 8 tasks of 0.5 s, on 4 slots
    assert sparklens_time(a, recorded, 4, {0: 8, 1: 2}) == pytest.approx(1.5)


def test_one_log_on_the_recorded_dataframe_job_replays_itself_and_beats_the_baseline(capsys):
    folder = REPO / "data" / "dagjobs" / "sqlagg"
    rc = main(["heldout", "--one-log", str(folder), "--cluster", str(folder / "cluster.yaml"), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert doc["logs"] == 12 and doc["pairs"] == 12 * 11
    assert doc["replay_median_ape"] < 0.05
    assert doc["model_median_ape"] < doc["baseline_median_ape"] and doc["model_p90_ape"] < doc["baseline_p90_ape"]


def test_recorded_runs_whose_join_sides_swapped_ids_have_one_configuration():
    # sqlagg N1 P2 at 0 s and at 3 s: the 2-task scan is stage 0 in one log and stage 1 in the other.
    folder = REPO / "data" / "dagjobs" / "sqlagg"
    rows = [json.loads(line) for line in (folder / "index.jsonl").read_text().splitlines()]
    machines = load_machines(folder / "cluster.yaml")
    a, b = (logged_app(read_eventlog(folder / r["event_log"]), machines) for r in rows
            if (r["nodes"], r["partitions"]) == (1, 2))
    assert [s.num_tasks for s in a.stages][:2] != [s.num_tasks for s in b.stages][:2]
    assert shape(a) == shape(b) and config_of(a).tasks == config_of(b).tasks == (1, 2, 2, 2)

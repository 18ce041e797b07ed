"""`sparkdelay whatif`: any job from its event log, replayed, then changed.

The job is read from the log (every stage and its parents, each task's CPU demand with the
log's own contention taken out), so replaying the logged configuration must give the log back;
a changed configuration is predicted side by side with the logged run.
"""

from __future__ import annotations

import json
import statistics

import pytest

from sparkdelay.app.cli import main
from sparkdelay.calibration.logged_dag import _fit, cluster_with, job_spec, logged_app, respread
from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.eventlog.writer import write_eventlog
from sparkdelay.sim.model.cluster import ClusterSpec, ExecutorSpec, MachineMap, MachineSpec, load_machines
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.engine import simulate
from sparkdelay.sim.model.job import JobSpec

from conftest import REPO

RUN = REPO / "data/runs/shared/eventlogs/app-20261129183350-0009.zstd"   # 2 hosts, P = 9, wait 3 s
MACHINES = REPO / "data/runs/shared/cluster.yaml"


def test_respread_keeps_the_total_and_the_profile():
    assert respread((10, 10, 0, 0), 2) == [20, 0]
    assert respread((10, 10, 0, 0), 8) == [5, 5, 5, 5, 0, 0, 0, 0]
    assert sum(respread((7, 3, 9, 1, 4), 3)) == 24
    assert respread((5,), 4) == [2, 1, 1, 1] or sorted(respread((5,), 4)) == [1, 1, 1, 2]
    assert respread((0, 0), 5) == [0] * 5


def test_a_logged_run_is_read_as_its_dag_with_the_drivers_times():
    app = logged_app(read_eventlog(RUN), load_machines(MACHINES))
    assert [s.num_tasks for s in app.stages] == [1, 9]
    assert app.stages[1].parents == (app.stages[0].stage_id,)
    assert app.stages[1].python and app.stages[1].size_unit == "bytes"
    assert [m.cores for m in app.cluster.machines] == [2]   # two loopback hosts on one 2-core box
    assert app.measured_s == pytest.approx(17.498)
    assert 0 <= app.driver["submit_delay_s"] < 0.1


def test_replaying_the_logged_configuration_gives_the_log_back():
    machines = load_machines(MACHINES)
    for name in ("app-20261129183001-0000", "app-20261129183350-0009", "app-20261129184553-0015"):
        log = read_eventlog(REPO / f"data/runs/shared/eventlogs/{name}.zstd")
        app = logged_app(log, machines)
        times = [simulate(app.cluster, job_spec(app), app.cost_model(), seed=s).job_duration_s for s in range(3)]
        assert statistics.mean(times) == pytest.approx(app.measured_s, rel=0.05)


def test_the_replay_places_the_tasks_as_spark_did():
    # P = 9 at wait 3 s on 2 hosts: 8 NODE_LOCAL on the map host, the 9th ANY on the other.
    app = logged_app(read_eventlog(RUN), load_machines(MACHINES))
    r = simulate(app.cluster, job_spec(app), app.cost_model(), seed=0)
    assert r.metrics(1)["locality_counts"] == {"NODE_LOCAL": 8, "ANY": 1}
    assert sorted(r.metrics(1)["tasks_per_host"].values()) == [1, 8]


def test_more_partitions_spread_the_recorded_work_keeping_its_total():
    app = logged_app(read_eventlog(RUN), load_machines(MACHINES))
    before = job_spec(app)
    after = job_spec(app, {1: 27}, noise=False)
    assert after.stages[1].num_tasks == 27
    assert sum(after.stages[1].shuffle_read_bytes) == sum(before.stages[1].shuffle_read_bytes)
    s = app.stages[1]
    fitted = sum(s.fixed_s + s.per_unit_s * x for x in s.sizes)
    assert sum(after.stages[1].cpu_seconds) == pytest.approx(fitted + 18 * s.fixed_s, rel=1e-6)


def test_a_few_tasks_of_unequal_size_are_read_as_data_parallel_work_plus_the_logged_overhead():
    """Two reduce tasks whose sizes differ 2x by chance but took the same CPU (the wordcount
    log's join stage): an intercept through them would call all the work per-task, and a what-if
    at 4 partitions would double the stage. The fixed part is what the log says each task spent
    deserializing and serializing; the rest is work that spreads with the data."""
    fixed, per, startup, _ = _fit([2.0, 2.1], [18_000, 9_400], [False, False], overhead=0.06)
    assert (fixed, startup) == (0.06, 0.0)
    at_four = [fixed + per * x for x in respread((18_000, 9_400), 4)]
    assert sum(at_four) == pytest.approx(4.1 + 2 * 0.06, rel=1e-6)
    assert _fit([0.5, 0.5], [0, 0], [False, False], overhead=0.06)[:2] == (0.5, 0.0)   # no size: even spread


def test_more_executors_on_a_shared_machine_join_it_and_own_machines_get_their_cores():
    shared = ClusterSpec.make("4.0", {}, [ExecutorSpec("0", "127.0.0.2", 8), ExecutorSpec("1", "127.0.0.3", 8)],
                              [MachineSpec("box", 2, ("127.0.0.2", "127.0.0.3"))])
    grown = cluster_with(shared, executors=4)
    assert [m.cores for m in grown.machines] == [2] and len(grown.machines[0].hosts) == 4
    own = ClusterSpec.make("4.0", {}, [ExecutorSpec("0", "a", 4), ExecutorSpec("1", "b", 4)])
    grown = cluster_with(own, executors=3, cores=2)
    assert len(grown.machines) == 3 and {m.cores for m in grown.machines} == {2}
    assert grown.config["spark.executor.cores"] == "2"
    assert len(cluster_with(own, executors=1).executors) == 1


def test_more_executors_go_first_on_the_cluster_files_spare_hosts_sharing_their_machine():
    """A log from 2 executors of a 2-core box whose cluster file lists 4 loopback hosts: a third
    executor goes on 127.0.0.4 of that box (sharing its 2 cores), not on a machine of its own."""
    box = MachineSpec("box", 2, ("127.0.0.2", "127.0.0.3", "127.0.0.4"))
    logged = ClusterSpec.make("4.0", {}, [ExecutorSpec("0", "127.0.0.2", 2), ExecutorSpec("1", "127.0.0.3", 2)],
                              [MachineSpec("box", 2, ("127.0.0.2", "127.0.0.3"))])
    machines = MachineMap(by_host={h: box for h in box.hosts})
    grown = cluster_with(logged, executors=4, machines_map=machines)
    assert [e.host for e in grown.executors][:3] == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    assert [m.cores for m in grown.machines] == [2]
    assert set(grown.machines[0].hosts) == {e.host for e in grown.executors}   # the fourth: a new host, same box


def test_a_stage_whose_every_task_forked_a_worker_reads_its_intercept_as_start_up():
    """Six tasks, each on a fresh Python worker, each paying ~3 s before its data-bound work: the
    intercept is the workers' start-up (charged by the model only to tasks that find no idle
    worker), and only the JVM overhead the log records stays a per-task cost."""
    sizes = [100, 200, 300, 400, 500, 600]
    demands = [3.0 + 0.01 * x for x in sizes]
    fixed, per, startup, sd = _fit(demands, sizes, [True] * 6, overhead=0.05)
    assert fixed == 0.05 and startup == pytest.approx(2.95, abs=1e-6) and per == pytest.approx(0.01, abs=1e-9)
    assert sd == pytest.approx(0.0, abs=1e-9)


def test_a_simulated_multi_job_log_is_replayed_job_by_job(tmp_path):
    # A DAG application simulated, written as an event log, then read back by whatif's reader.
    job = JobSpec.from_dict({"jobs": [
        {"stages": [{"name": "a", "tasks": 4, "cpu_seconds": 1.0, "shuffle_write_bytes": 100},
                    {"name": "b", "tasks": 2, "cpu_seconds": 0.5},
                    {"name": "c", "tasks": 3, "parents": ["a", "b"], "cpu_seconds": [0.5, 1.0, 1.5]}]},
        {"gap_s": 0.7, "stages": [{"name": "d", "tasks": 6, "cpu_seconds": 0.4}]},
    ]})
    cluster = ClusterSpec.make("4.0", {"spark.locality.wait": "0s"},
                               [ExecutorSpec("0", "h1", 2), ExecutorSpec("1", "h2", 2)])
    cm = CostModel(worker_startup_s=0, task_overhead_s=0, submit_delay_s=0.05, stage_gap_s=0.02, collect_s=0.01)
    r = simulate(cluster, job, cm, seed=4)
    log = read_eventlog(write_eventlog(r, cluster, tmp_path))
    app = logged_app(log, MachineMap())
    assert len(app.jobs) == 2 and app.gaps_s[1] == pytest.approx(0.7, abs=0.002)
    assert [s.parents for s in app.stages] == [(), (), (0, 1), ()]
    replay = simulate(app.cluster, job_spec(app), app.cost_model(), seed=4)
    assert replay.job_duration_s == pytest.approx(r.job_duration_s, rel=0.02)
    assert replay.job_durations_s == pytest.approx(r.job_durations_s, rel=0.03)


def test_whatif_prints_the_replay_error_and_the_prediction_side_by_side(capsys):
    rc = main(["whatif", str(RUN), "--cluster", str(MACHINES), "--executors", "3", "--shuffle-partitions", "20",
               "--wait", "0s", "--reps", "3"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "replay of the logged configuration (3 simulations)" in out and "against 17.50 s logged" in out
    assert "executors" in out and "tasks of stage 1:" in out and "job time" in out


def test_whatif_json_has_the_logged_run_the_replay_and_the_answer(capsys):
    assert main(["whatif", str(RUN), "--cluster", str(MACHINES), "--partitions", "1=4", "--reps", "2",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["logged"]["job_time_s"] == pytest.approx(17.498)
    assert abs(doc["replay"]["error"]) < 0.05 and doc["replay"]["trusted"]
    assert list(doc["whatif"]["partitions"].values()) == [4]
    lo, hi = doc["whatif"]["interval_s"]
    assert lo <= doc["whatif"]["job_time_s"] <= hi


@pytest.mark.parametrize("extra, message", [
    (["--partitions", "7=4"], "--partitions: no stage '7'"),
    (["--partitions", "1=zero"], "--partitions: expected STAGE=P"),
    (["--executors", "0"], "--executors"),
    (["--wait", "soon"], "--wait: expected a duration"),
    (["--conf", "spark.locality.wiat=1s"], "spark.locality.wiat"),
])
def test_bad_whatif_options_are_one_line_exit_2(extra, message, capsys):
    try:
        code = main(["whatif", str(RUN), "--reps", "1"] + extra)
    except SystemExit as exc:   # argparse's own refusals
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1

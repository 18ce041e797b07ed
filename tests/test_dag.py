"""The DAG form of a job file: stages with parents, several jobs per application.

A stage is submitted when all its parents have finished, stages whose parents are done run at
the same time, a one-parent stage prefers the hosts holding its input, and the jobs of one
application run one after another with the driver's gap between them.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.eventlog.writer import write_eventlog
from sparkdelay.ground.errors import UserError
from sparkdelay.sim.model.cluster import ClusterSpec, ExecutorSpec, MachineSpec
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.engine import simulate
from sparkdelay.sim.model.job import JobSpec

from test_sim_properties import _busy_profile, clusters

EPS = 1e-6
FREE = CostModel(worker_startup_s=0.0, task_overhead_s=0.0, submit_delay_s=0.0, stage_gap_s=0.0, collect_s=0.0)


def two_hosts(cores_per_machine: int = 8, wait: str = "3s") -> ClusterSpec:
    executors = [ExecutorSpec("0", "hA", 4), ExecutorSpec("1", "hB", 4)]
    machines = [MachineSpec("mA", cores_per_machine, ("hA",)), MachineSpec("mB", cores_per_machine, ("hB",))]
    return ClusterSpec.make("4.0", {"spark.locality.wait": wait}, executors, machines)


def job(doc) -> JobSpec:
    return JobSpec.from_dict(doc, where="job.yaml")


def test_independent_stages_run_concurrently_and_their_child_waits_for_both():
    spec = job({"stages": [
        {"name": "left", "tasks": 2, "cpu_seconds": 1.0},
        {"name": "right", "tasks": 2, "cpu_seconds": 3.0},
        {"name": "join", "tasks": 2, "parents": ["left", "right"], "cpu_seconds": 1.0},
    ]})
    r = simulate(two_hosts(), spec, FREE)
    submit = dict(zip(r.stage_names, r.stage_submit_s))
    finish = dict(zip(r.stage_names, r.stage_finish_s))
    assert submit["left"] == submit["right"] == 0.0          # both ready at once
    assert finish["left"] == pytest.approx(1.0) and finish["right"] == pytest.approx(3.0)
    assert submit["join"] == pytest.approx(3.0)              # after the slower parent
    assert r.job_duration_s == pytest.approx(4.0)
    assert r.stage_parents == [[], [], [0, 1]]


def test_without_parents_the_stages_stay_a_chain():
    spec = job({"stages": [{"tasks": 2, "cpu_seconds": 1.0}, {"tasks": 2, "cpu_seconds": 1.0}]})
    r = simulate(two_hosts(), spec, FREE)
    assert r.stage_submit_s[1] == pytest.approx(r.stage_finish_s[0])
    assert r.stage_parents == [[], [0]]


def test_jobs_run_in_order_with_the_drivers_gap_between_them():
    spec = job({"jobs": [
        {"stages": [{"name": "a", "tasks": 2, "cpu_seconds": 1.0}]},
        {"gap_s": 0.5, "stages": [{"name": "b", "tasks": 2, "cpu_seconds": 2.0}]},
    ]})
    cm = CostModel(worker_startup_s=0.0, task_overhead_s=0.0, submit_delay_s=0.1, stage_gap_s=0.0, collect_s=0.05)
    r = simulate(two_hosts(), spec, cm)
    # job 0: 0.1 submit + 1.0 + 0.05 collect; job 1 comes 0.5 later: 0.1 + 2.0 + 0.05
    assert r.job_end_s[0] == pytest.approx(1.15)
    assert r.job_submit_s[1] == pytest.approx(1.65)
    assert r.job_durations_s == pytest.approx([1.15, 2.15])
    assert r.job_duration_s == pytest.approx(3.8)
    assert r.summary()["job_durations_s"] == pytest.approx([1.15, 2.15])


def test_wait_seconds_are_off_the_cpu_and_share_no_core():
    # One core on the machine, two tasks that each sleep 2 s after 1 s of CPU: the sleeps overlap.
    cluster = ClusterSpec.make("4.0", {}, [ExecutorSpec("0", "h", 2)], [MachineSpec("m", 1, ("h",))])
    spec = job({"stages": [{"name": "s", "tasks": 2, "cpu_seconds": 1.0, "wait_seconds": 2.0}]})
    r = simulate(cluster, spec, FREE)
    # both CPU parts share the core: done at 2.0, then 2 s off the CPU each
    assert r.job_duration_s == pytest.approx(4.0)


def test_a_one_parent_stage_prefers_the_host_holding_its_input():
    # The map stage runs only on hA (its tasks prefer it); the reduce stage then prefers hA as well,
    # so at wait 3s every reduce task is NODE_LOCAL there although hB has free slots.
    spec = job({"stages": [
        {"name": "map", "tasks": 2, "prefs": ["hA"], "cpu_seconds": 0.5, "shuffle_write_bytes": 1000},
        {"name": "reduce", "tasks": 4, "parents": ["map"], "cpu_seconds": 0.5},
    ]})
    r = simulate(two_hosts(), spec, FREE, seed=3)
    reduce = r.stage_tasks(1)
    assert {t.host for t in reduce} == {"hA"}
    assert {t.locality for t in reduce} == {"NODE_LOCAL"}


def test_a_two_parent_stage_has_no_preference_as_cogroup():
    # Spark reports a task without preferences as PROCESS_LOCAL (TaskSetManager.dequeueTask).
    spec = job({"stages": [
        {"name": "m1", "tasks": 2, "prefs": ["hA"], "cpu_seconds": 0.5},
        {"name": "m2", "tasks": 2, "prefs": ["hA"], "cpu_seconds": 0.5},
        {"name": "join", "tasks": 8, "parents": ["m1", "m2"], "cpu_seconds": 0.5},
    ]})
    r = simulate(two_hosts(), spec, FREE, seed=1)
    assert {t.locality for t in r.stage_tasks(2)} == {"PROCESS_LOCAL"}
    assert {t.host for t in r.stage_tasks(2)} == {"hA", "hB"}


def test_reduce_preferences_follow_the_read_sizes():
    # Partition 0 reads almost everything; the map tasks ran one on each host, the big one on hA.
    spec = job({"stages": [
        {"name": "map", "tasks": 2, "prefs": [["hA"], ["hB"]], "cpu_seconds": 0.5,
         "shuffle_write_bytes": [9000, 100]},
        {"name": "reduce", "tasks": 2, "parents": ["map"], "cpu_seconds": 0.5, "shuffle_read_bytes": [9000, 100]},
    ]})
    r = simulate(two_hosts(), spec, FREE, seed=0)
    # both partitions get 99 % of their input from hA's map task: both prefer hA only
    assert {t.host for t in r.stage_tasks(1)} == {"hA"}


@pytest.mark.parametrize("doc, message", [
    ({"stages": [{"name": "a", "tasks": 1, "cpu_seconds": 1, "parents": ["b"]},
                 {"name": "b", "tasks": 1, "cpu_seconds": 1}]}, "stages[0].parents[0]: 'b' is listed after it"),
    ({"stages": [{"name": "a", "tasks": 1, "cpu_seconds": 1, "parents": ["zz"]}]},
     "stages[0].parents[0]: 'zz' is not a stage of this job"),
    ({"stages": [{"name": "a", "tasks": 1, "cpu_seconds": 1}, {"name": "b", "tasks": 1, "cpu_seconds": 1},
                 {"name": "c", "tasks": 1, "cpu_seconds": 1, "parents": ["b"]}]},
     "stages[0]: stage 'a' does not lead to the job's result stage 'c'"),
    ({"stages": [{"name": "a", "tasks": 1, "cpu_seconds": 1}, {"name": "a", "tasks": 1, "cpu_seconds": 1,
                                                                "parents": ["a"]}]}, "'a' is used twice"),
    ({"stages": [{"name": "a", "tasks": 2, "cpu_seconds": 1, "wait_seconds": [1, 2, 3]}]},
     "stages[0].wait_seconds: 3 values for 2 tasks"),
    ({"stages": [{"name": "a", "tasks": 2, "cpu_seconds": 1, "shuffle_write_bytes": -1}]},
     "stages[0].shuffle_write_bytes"),
    ({"jobs": []}, "jobs: at least one job"),
    ({"jobs": [{"gap_s": 1}]}, "jobs[0]"),
    ({"jobs": [{"stages": [{"name": "a", "tasks": 1, "cpu_seconds": 1}]},
               {"stages": [{"name": "b", "tasks": 1, "cpu_seconds": 1, "parents": ["a"]}]}]},
     "jobs[1].stages[0].parents[0]: 'a' is not a stage of this job"),
    ({"stages": [], "jobs": []}, "give exactly one of"),
])
def test_bad_dag_files_are_refused_with_one_line(doc, message):
    with pytest.raises(UserError) as err:
        job(doc)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_simulated_event_log_has_one_job_per_action_and_the_dag_parents(tmp_path):
    spec = job({"jobs": [
        {"stages": [{"name": "l", "tasks": 2, "cpu_seconds": 0.5}, {"name": "r", "tasks": 1, "cpu_seconds": 0.5},
                    {"name": "j", "tasks": 2, "parents": ["l", "r"], "cpu_seconds": 0.5}]},
        {"gap_s": 0.2, "stages": [{"name": "x", "tasks": 3, "cpu_seconds": 0.2}]},
    ]})
    cluster = two_hosts()
    r = simulate(cluster, spec, FREE)
    log = read_eventlog(write_eventlog(r, cluster, tmp_path))
    assert [(j.job_id, j.stage_ids) for j in log.jobs] == [(0, [0, 1, 2]), (1, [3])]
    assert log.stage(2).parent_ids == [0, 1]
    assert (log.jobs[1].submission_ms - log.jobs[0].completion_ms) == 200
    types = {(t.stage_id, t.task_type) for t in log.tasks}
    assert types == {(0, "ShuffleMapTask"), (1, "ShuffleMapTask"), (2, "ResultTask"), (3, "ResultTask")}


# ------------------------------------------------------------------------------------ invariants
@st.composite
def dag_jobs(draw, cluster):
    """Random applications: 1-3 jobs of 1-5 stages, each stage reading 0-2 earlier stages of its
    job, the last stage reading every stage that nothing else reads (so all lead to it)."""
    locations = list(cluster.hosts)
    docs, k = [], 0
    for j in range(draw(st.integers(1, 3))):
        stages = []
        for s in range(draw(st.integers(1, 5))):
            name = f"s{k}"
            k += 1
            earlier = [x["name"] for x in stages]
            stage = {"name": name, "tasks": draw(st.integers(1, 12)),
                     "cpu_seconds": draw(st.sampled_from([0.0, 0.3, 1.0, 2.5])),
                     "python": draw(st.booleans()), "parents": draw(st.lists(st.sampled_from(earlier), max_size=2,
                                                                             unique=True)) if earlier else []}
            if draw(st.booleans()):
                stage["wait_seconds"] = draw(st.sampled_from([0.0, 0.2, 1.0]))
            if not stage["parents"] and draw(st.booleans()):
                stage["prefs"] = draw(st.lists(st.sampled_from(locations), max_size=2))
            stages.append(stage)
        read = {p for x in stages[:-1] for p in x["parents"]} | set(stages[-1]["parents"])
        sinks = [x["name"] for x in stages[:-1] if x["name"] not in read]
        stages[-1]["parents"] = sorted(set(stages[-1]["parents"]) | set(sinks))
        docs.append({"gap_s": draw(st.sampled_from([0.0, 0.4])), "stages": stages})
    return job({"jobs": docs})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_dag_runs_each_task_once_after_its_parents_and_never_overuses_a_slot(data):
    cluster = data.draw(clusters())
    spec = data.draw(dag_jobs(cluster))
    cm = CostModel(submit_delay_s=0.1, stage_gap_s=0.05, collect_s=0.02)
    r = simulate(cluster, spec, cm, seed=data.draw(st.integers(0, 2**32)))
    # every task of every stage exactly once
    ran = defaultdict(list)
    for t in r.tasks:
        ran[t.stage_id].append(t.index)
    for sid, stage in enumerate(spec.stages):
        assert sorted(ran[sid]) == list(range(stage.num_tasks))
    # a stage starts after all its parents finished, and no task before its stage was submitted
    for sid, parents in enumerate(r.stage_parents):
        for p in parents:
            assert r.stage_submit_s[sid] >= r.stage_finish_s[p] - EPS
    for t in r.tasks:
        assert t.launch_time >= r.stage_submit_s[t.stage_id] - EPS
        assert t.finish_time <= r.stage_finish_s[t.stage_id] + EPS
    # jobs one after another
    for j in range(1, len(r.job_end_s)):
        assert r.job_submit_s[j] >= r.job_end_s[j - 1] - EPS
    # an executor never runs more tasks at once than it has cores
    cores = {e.id: e.cores for e in cluster.executors}
    by_executor = defaultdict(list)
    for t in r.tasks:
        by_executor[t.executor_id].append((t.launch_time, t.finish_time))
    for eid, intervals in by_executor.items():
        busy = 0
        for _, delta in _busy_profile(intervals):
            busy += delta
            assert busy <= cores[eid]

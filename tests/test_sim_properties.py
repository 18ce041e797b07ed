"""Invariants of the model over random clusters and jobs (hypothesis)."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkdelay.sim.model.cluster import ClusterSpec, ExecutorSpec, MachineSpec
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.engine import simulate
from sparkdelay.sim.model.job import JobSpec, PySparkJob, PySparkWorkload, StageSpec
from sparkdelay.sim.policy.locality import TaskLocation

EPS = 1e-6
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def clusters(draw, waits=("0s", "500ms", "3s")):
    n_machines = draw(st.integers(1, 3))
    machines, executors = [], []
    eid = 0
    for m in range(n_machines):
        hosts = [f"m{m}h{h}" for h in range(draw(st.integers(1, 3)))]
        machines.append(MachineSpec(f"m{m}", draw(st.integers(1, 6)), tuple(hosts)))
        for h in hosts:
            for _ in range(draw(st.integers(1, 2))):
                executors.append(ExecutorSpec(str(eid), h, draw(st.integers(1, 4)),
                                              draw(st.sampled_from([0.0, 0.0, 0.5, 2.0, 7.0]))))
                eid += 1
    version = draw(st.sampled_from(["2.1", "2.4", "3.5", "4.0"]))
    config = {"spark.locality.wait": draw(st.sampled_from(waits))}
    if draw(st.booleans()):
        config["spark.scheduler.revive.interval"] = draw(st.sampled_from(["250ms", "1s", "2s"]))
    return ClusterSpec.make(version, config, executors, machines)


@st.composite
def jobs(draw, cluster, with_prefs=True):
    if with_prefs and draw(st.integers(0, 3)) == 0:
        n_keys = draw(st.integers(1, 40))
        workload = PySparkWorkload(tuple(f"k{i}" for i in range(n_keys)), draw(st.integers(0, 5)), "3.11",
                                   draw(st.integers(1, 3)), 1000)
        return JobSpec(pyspark=PySparkJob(workload, draw(st.integers(1, 20))))
    locations = [TaskLocation(h) for h in cluster.hosts] + [
        TaskLocation(e.host, "executor", e.id) for e in cluster.executors]
    stages = []
    for s in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 25))
        prefs = []
        for _ in range(n):
            if with_prefs:
                prefs.append(tuple(draw(st.lists(st.sampled_from(locations), max_size=2))))
            else:
                prefs.append(())
        cpu = tuple(draw(st.floats(0.0, 6.0)) for _ in range(n))
        stages.append(StageSpec(f"s{s}", tuple(prefs), cpu, draw(st.sampled_from([0.0, 0.3])), draw(st.booleans())))
    return JobSpec(stages=tuple(stages))


costs = st.builds(CostModel, worker_startup_s=st.floats(0, 3), worker_startup_sd_s=st.floats(0, 0.5),
                  task_overhead_s=st.floats(0, 0.5), cpu_per_item_s=st.floats(0, 2),
                  submit_delay_s=st.floats(0, 2), stage_gap_s=st.floats(0, 0.5), collect_s=st.floats(0, 1))


def _cluster_job(draw, with_prefs=True, waits=("0s", "500ms", "3s")):
    cluster = draw(clusters(waits))
    return cluster, draw(jobs(cluster, with_prefs))


def _busy_profile(intervals):
    """Sorted (time, +1/-1) events, finishes before launches at the same instant."""
    events = []
    for a, b in intervals:
        events.append((a, 1))
        events.append((b, -1))
    events.sort(key=lambda e: (e[0], e[1]))
    return events


@settings(max_examples=50, **SETTINGS)
@given(st.data(), costs, st.integers(0, 2**32))
def test_invariants(data, cost_model, seed):
    cluster, job = _cluster_job(data.draw)
    r = simulate(cluster, job, cost_model, seed)
    slots = {e.id: e.cores for e in cluster.executors}

    # Every task runs to completion exactly once.
    by_stage = defaultdict(list)
    for t in r.tasks:
        by_stage[t.stage_id].append(t)
        assert t.attempt == 0
        assert t.finish_time >= t.launch_time
        assert t.launch_time >= r.stage_submit_s[t.stage_id] - EPS
        assert t.finish_time <= r.stage_finish_s[t.stage_id] + EPS
    sizes = [len(s.prefs) for s in job.stages] if job.pyspark is None else [job.pyspark.map_slices,
                                                                             job.pyspark.partitions]
    for sid, n in enumerate(sizes):
        assert sorted(t.index for t in by_stage[sid]) == list(range(n))

    # No executor runs more tasks than its slots; none before it registered.
    per_exec = defaultdict(list)
    for t in r.tasks:
        per_exec[t.executor_id].append((t.launch_time, t.finish_time))
    reg = {e.id: e.registers_at for e in cluster.executors}
    for eid, intervals in per_exec.items():
        assert min(a for a, _ in intervals) >= reg[eid] - EPS
        running = 0
        for _, d in _busy_profile(intervals):
            running += d
            assert running <= slots[eid]

    # A machine hands out exactly min(running, cores) cores: work done == CPU demanded,
    # and no task runs faster than one core.
    machine_of = cluster.machine_of_host()
    per_machine = defaultdict(list)
    for t in r.tasks:
        per_machine[machine_of[t.host].name].append(t)
        assert t.finish_time - t.launch_time >= t.cpu_s - EPS * (1 + t.cpu_s)
    cores = {m.name: m.cores for m in cluster.machines}
    for name, tasks in per_machine.items():
        supplied, running, last = 0.0, 0, None
        for time, d in _busy_profile([(t.launch_time, t.finish_time) for t in tasks]):
            if last is not None:
                supplied += min(running, cores[name]) * (time - last)
            running += d
            last = time
        demanded = sum(t.cpu_s for t in tasks)
        assert abs(supplied - demanded) <= 1e-6 * (1 + demanded)

    # The job takes at least total CPU / cores and the longest task.
    total_cpu = sum(t.cpu_s for t in r.tasks)
    longest = max(t.cpu_s for t in r.tasks)
    assert r.job_duration_s >= max(total_cpu / cluster.effective_cores(), longest) - EPS

    # Jain's index over k hosts lies in [1/k, 1].
    k = len(cluster.hosts)
    for sid in range(len(sizes)):
        f = r.metrics(sid)["fairness_index"]
        assert 1.0 / k - 1e-12 <= f <= 1.0 + 1e-12


@settings(max_examples=50, **SETTINGS)
@given(st.data(), costs, st.integers(0, 2**32))
def test_no_slot_idles_while_a_task_is_pending_when_waits_are_zero(data, cost_model, seed):
    cluster, job = _cluster_job(data.draw, with_prefs=False, waits=("0s",))
    r = simulate(cluster, job, cost_model, seed)
    slots = {e.id: e.cores for e in cluster.executors}
    reg = {e.id: e.registers_at for e in cluster.executors}
    for sid in range(len(job.stages)):
        tasks = r.stage_tasks(sid)
        submit = r.stage_submit_s[sid]
        launches = sorted(t.launch_time for t in tasks)
        times = sorted({submit, *launches, *(t.finish_time for t in r.tasks), *reg.values()})
        for time in times:
            if time < submit or time >= launches[-1]:
                continue  # nothing of this stage pending at the end of this instant
            # At the end of instant `time` some task of the stage is still pending, so
            # every registered executor must be full.
            for eid, n in slots.items():
                if reg[eid] > time:
                    continue
                busy = sum(1 for t in r.tasks if t.executor_id == eid and t.launch_time <= time < t.finish_time)
                assert busy == n, (sid, time, eid, busy, n)


@settings(max_examples=30, **SETTINGS)
@given(st.data(), costs, st.integers(0, 2**32))
def test_same_seed_same_trace(data, cost_model, seed):
    cluster, job = _cluster_job(data.draw)
    a = simulate(cluster, job, cost_model, seed)
    b = simulate(cluster, job, cost_model, seed)
    assert [t.to_dict() for t in a.tasks] == [t.to_dict() for t in b.tasks]
    assert a.job_duration_s == b.job_duration_s

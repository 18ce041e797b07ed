"""Unit tests of the model's parts: costs, processor sharing, the DAG side, records, metrics."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
import simpy

from sparkdelay.app.presets import preset
from sparkdelay.ground.errors import UserError
from sparkdelay.sim.model import engine as engine_mod
from sparkdelay.sim.model.backend import SchedulerBackend
from sparkdelay.sim.model.cluster import ClusterSpec
from sparkdelay.sim.model.costs import MODEL_FORMAT, CostModel, CostSampler, NormalStream, positive_noise
from sparkdelay.sim.model.driver import DAGScheduler, Stage
from sparkdelay.sim.model.machine import Machine
from sparkdelay.sim.model.metrics import jain_index, mean_interval, placement_metrics
from sparkdelay.sim.model.records import TaskRecord, read_csv, to_json, write_csv
from sparkdelay.sim.policy.scheduler import TaskScheduler


# ------------------------------------------------------------------------------ costs
def test_cost_model_fields_and_defaults():
    assert CostModel.field_names() == [
        "worker_startup_s", "worker_startup_sd_s", "task_overhead_s", "task_overhead_sd_s", "cpu_per_item_s",
        "cpu_per_item_sd_s", "cpu_per_byte_s", "map_task_overhead_s", "map_cpu_per_item_s", "submit_delay_s",
        "stage_gap_s", "collect_s", "executor_start_s", "worker_fork_s", "wait_per_task_s", "wait_per_item_s",
        "thread_parallel_fraction", "oversubscription_penalty", "executor_background_cores", "executor_warmup_s",
        "executor_first_task_s", "executor_jit_s"]
    m = CostModel()
    assert m.worker_startup_s == 3.0 and m.cpu_per_item_s == 1.0
    # The terms a calibration adds are off by default.
    assert (m.executor_start_s, m.worker_fork_s, m.wait_per_task_s, m.wait_per_item_s, m.oversubscription_penalty,
            m.executor_background_cores, m.executor_warmup_s, m.executor_first_task_s, m.executor_jit_s,
            m.thread_parallel_fraction) == (0, 0, 0, 0, 0, 0, 0, 0, 0, 1)


def test_cost_model_load(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(json.dumps({"format": MODEL_FORMAT, "params": {"worker_startup_s": 1.5, "collect_s": 0},
                                "fit": {"rmse": 0.1}}))
    m = CostModel.load(path)
    assert m.worker_startup_s == 1.5 and m.collect_s == 0.0 and m.cpu_per_item_s == 1.0
    round_trip = tmp_path / "again.json"
    round_trip.write_text(m.to_json())
    assert CostModel.load(round_trip) == m


@pytest.mark.parametrize("doc, field", [
    ({"format": "other/1", "params": {}}, "format"),
    ({"format": MODEL_FORMAT}, "params"),
    ({"format": MODEL_FORMAT, "params": {"cpu_per_itme_s": 1}}, "cpu_per_itme_s"),
    ({"format": MODEL_FORMAT, "params": {"collect_s": -1}}, "collect_s"),
    ({"format": MODEL_FORMAT, "params": {"collect_s": "1s"}}, "collect_s"),
])
def test_cost_model_load_errors(tmp_path, doc, field):
    path = tmp_path / "model.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError) as exc:
        CostModel.load(path)
    assert str(path) in str(exc.value) and field in str(exc.value)


def test_noise_is_positive_seeded_and_keeps_mean_and_spread():
    # A spread larger than the mean: a normal truncated at 0 would raise the mean to ~0.8.
    rng = np.random.default_rng(1)
    xs = np.array([positive_noise(rng, 0.1, 1.0) for _ in range(200_000)])
    assert xs.min() > 0.0
    assert xs.mean() == pytest.approx(0.1, rel=0.05)
    moderate = np.array([positive_noise(rng, 2.0, 0.5) for _ in range(50_000)])
    assert moderate.mean() == pytest.approx(2.0, rel=0.01) and moderate.std() == pytest.approx(0.5, rel=0.03)
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    assert [positive_noise(rng_a, 1.0, 0.3) for _ in range(100)] == [positive_noise(rng_b, 1.0, 0.3) for _ in range(100)]
    assert positive_noise(rng, 2.5, 0.0) == 2.5


def test_normal_stream_draws_what_numpy_draws_one_call_at_a_time():
    stream, numpy = NormalStream(np.random.default_rng(3)), np.random.default_rng(3)
    for i in range(100):   # across block boundaries (16, 32, 64, ...)
        assert stream.normal(0.5 * i, 2.0) == numpy.normal(0.5 * i, 2.0)


def test_sampler_worker_startup_only_when_needed():
    s = CostSampler(CostModel().without_noise(), np.random.default_rng(0))
    assert s.result_task(3, 0, needs_worker=False) == pytest.approx(0.3 + 3.0)
    assert s.result_task(3, 0, needs_worker=True) == pytest.approx(3.0 + 0.3 + 3.0)
    assert s.map_task(40) == pytest.approx(0.3 + 0.4)  # no Chainer start-up on the map side
    assert s.explicit_task(5.0, 0.0, python=False, needs_worker=True) == 5.0


# ------------------------------------------------------------------------------ machine
def _run_machine(cores, arrivals, dedicated_hint=None):
    env = simpy.Environment()
    done = {}
    m = Machine(env, "m", cores, lambda task: done.__setitem__(task, env.now), dedicated_hint)

    def arrive(at, name, work):
        yield env.timeout(at)
        m.start(name, work)

    for at, name, work in arrivals:
        env.process(arrive(at, name, work))
    env.run()
    return done, m


def test_processor_sharing_two_tasks_on_one_core():
    done, _ = _run_machine(1, [(0, "a", 1.0), (0, "b", 1.0)])
    assert done == {"a": pytest.approx(2.0), "b": pytest.approx(2.0)}


def test_processor_sharing_staggered():
    # a alone for 1 s (1 of 2 done), then shares one core with b: both at rate 1/2.
    # a needs 1 more -> 2 s more (t=3); b then has 1.0 - 1.0 = 1 ... b got 1 s of work by t=3,
    # so it needs 2 more at rate 1: t=5.
    done, _ = _run_machine(1, [(0, "a", 2.0), (1, "b", 3.0)])
    assert done["a"] == pytest.approx(3.0)
    assert done["b"] == pytest.approx(5.0)


def test_no_slowdown_until_cores_are_oversubscribed():
    done, _ = _run_machine(2, [(0, "a", 1.0), (0, "b", 2.0)])
    assert done == {"a": pytest.approx(1.0), "b": pytest.approx(2.0)}
    done, _ = _run_machine(2, [(0, "a", 3.0), (0, "b", 3.0), (0, "c", 3.0)])
    assert all(t == pytest.approx(4.5) for t in done.values())


def test_dedicated_machine_matches_shared_path():
    arrivals = [(0, "a", 1.5), (0.2, "b", 0.7), (0.4, "c", 2.0), (3.0, "d", 0.0)]
    shared, _ = _run_machine(4, arrivals)
    dedicated, m = _run_machine(4, arrivals, dedicated_hint=4)
    assert m.dedicated
    assert shared == pytest.approx(dedicated)


def test_engine_dedicated_fast_path_gives_the_same_trace(monkeypatch):
    cluster, job = preset("study2017", nodes=3, partitions=40)
    fast = engine_mod.simulate(cluster, job, CostModel(), 5)
    original = Machine.__init__

    def never_dedicated(self, env, name, cores, on_complete, max_running=None, oversubscription_penalty=0.0):
        original(self, env, name, cores, on_complete, None, oversubscription_penalty)

    monkeypatch.setattr(Machine, "__init__", never_dedicated)
    slow = engine_mod.simulate(cluster, job, CostModel(), 5)
    assert [(t.index, t.executor_id, t.slot) for t in fast.tasks] == [(t.index, t.executor_id, t.slot) for t in slow.tasks]
    assert [t.finish_time for t in fast.tasks] == pytest.approx([t.finish_time for t in slow.tasks])


# ------------------------------------------------------------------------------ the DAG side
def test_a_stage_is_submitted_when_all_its_parents_have_finished():
    # Two independent map stages feed one result stage (the job builders only make chains).
    cluster = ClusterSpec.from_dict({"spark_version": "4.0", "executors": {"count": 2, "cores": 1, "host": "h{i}"}})
    conf = cluster.scheduler_conf()
    env = simpy.Environment()
    backend = SchedulerBackend(env, TaskScheduler(conf, seed=0), cluster, conf)

    def stage(stage_id, cpu, parents=()):
        return Stage(stage_id, f"s{stage_id}", 1, False, lambda: [()], lambda index, needs_worker: (cpu, 0), parents)

    a, b = stage(0, 2.0), stage(1, 5.0)
    c = stage(2, 1.0, (a, b))
    dag = DAGScheduler(env, backend, [a, b, c], CostModel(submit_delay_s=1.0, stage_gap_s=0.1, collect_s=0.2))
    backend.start()
    env.run(until=dag.start())
    assert a.submit_s == b.submit_s == 1.0
    assert (a.finish_s, b.finish_s) == (3.0, 6.0)
    assert c.submit_s == pytest.approx(6.1)   # after the later parent, plus the gap
    assert dag.job_end_s == pytest.approx(c.finish_s + 0.2) and c.finish_s == pytest.approx(7.1)
    assert (a.is_shuffle_map, b.is_shuffle_map, c.is_shuffle_map) == (True, True, False)
    assert sorted(r.stage_id for r in backend.records) == [0, 1, 2]


# ------------------------------------------------------------------------------ records / metrics
def test_records_csv_and_json_round_trip():
    recs = [TaskRecord(1, 7, 3, 0, "2", "node1", "NODE_LOCAL", 1.25, 4.5, 2, 3, 3.25, "result")]
    buf = io.StringIO()
    write_csv(recs, buf)
    buf.seek(0)
    assert read_csv(buf) == recs
    row = json.loads(to_json(recs, event_log_names=True))[0]
    assert row["Stage ID"] == 1 and row["Task ID"] == 7 and row["Executor ID"] == "2"
    assert row["Launch Time"] == 1.25 and row["Locality"] == "NODE_LOCAL"


def test_jain_index():
    assert jain_index([1, 1, 1]) == pytest.approx(1.0)
    assert jain_index([9, 0, 0]) == pytest.approx(1 / 3)
    assert jain_index([8, 1, 0]) == pytest.approx(81 / (3 * 65))
    assert jain_index([0, 0]) == 1.0


def test_placement_metrics_count_idle_hosts():
    recs = [TaskRecord(1, i, i, 0, "0", "a", "NODE_LOCAL", 0, 1, items=2) for i in range(3)]
    m = placement_metrics(recs, ["a", "b"])
    assert m["tasks_per_host"] == {"a": 3, "b": 0}
    assert m["fairness_index"] == pytest.approx(0.5)
    assert m["max_tasks_per_host"] == 3 and m["items_per_host"] == {"a": 6, "b": 0}
    assert m["locality_counts"] == {"NODE_LOCAL": 3}


def test_mean_interval():
    mean, lo, hi = mean_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and lo < 2.0 < hi
    assert mean_interval([4.0]) == (4.0, 4.0, 4.0)
    assert all(math.isnan(x) for x in mean_interval([]))

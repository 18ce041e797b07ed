"""A large stage: the engine's cost per task stays flat (run with `make test-slow`)."""

from __future__ import annotations

import time

import pytest

from sparkdelay.sim.model.cluster import ClusterSpec
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.engine import simulate
from sparkdelay.sim.model.job import JobSpec, explicit_stage


@pytest.mark.slow
def test_hundred_thousand_tasks_on_a_thousand_executors():
    cluster = ClusterSpec.from_dict({"spark_version": "4.0", "executors": {"count": 1000, "cores": 1,
                                                                          "host": "host{i}"}})
    job = JobSpec(stages=(explicit_stage("s0", 100_000, cpu_seconds=5.0, cpu_seconds_sd=0.5),))
    start = time.process_time()
    r = simulate(cluster, job, CostModel(), seed=1)
    cpu = time.process_time() - start
    assert len(r.tasks) == 100_000
    assert r.metrics()["max_tasks_per_host"] - min(r.metrics()["tasks_per_host"].values()) < 20
    print(f"\n{len(r.tasks) / cpu:.0f} simulated tasks per CPU second")

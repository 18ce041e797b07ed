"""The discrete-event model: SimPy supplies time and events, the policy decides placement.

`simulate()` builds one run along Spark's own seam and runs it: the scheduling policy
(`sparkdelay.sim.policy.scheduler.TaskScheduler`, no clock), the scheduler backend around it
(`backend.SchedulerBackend`: executors' free cores, offer rounds, launches onto machines, task
ends) and the driver's DAG side (`driver.DAGScheduler`: stages, their submission, task costs,
job end). Tasks run on their machine's cores under processor sharing (`machine.Machine`),
with costs from `costs.CostSampler`.

Everything random comes from one seed: numpy's SeedSequence spawns one stream for the policy's
offer shuffles and one for task costs, so a seed always gives the same trace. The cost stream
is a `NormalStream` (numpy's standard normals drawn in blocks, bit-identical to per-call draws).
`tests/test_sim_golden.py` holds traces recorded before the performance work; they must not
move by one bit.
"""

from __future__ import annotations

import gc

import numpy as np
import simpy

from sparkdelay.sim.model.backend import SchedulerBackend
from sparkdelay.sim.model.cluster import ClusterSpec
from sparkdelay.sim.model.costs import CostModel, CostSampler, NormalStream
from sparkdelay.sim.model.driver import DAGScheduler, stages_of
from sparkdelay.sim.model.job import JobSpec
from sparkdelay.sim.model.result import SimResult
from sparkdelay.sim.policy.config import SchedulerConf
from sparkdelay.sim.policy.scheduler import TaskScheduler


def simulate(cluster: ClusterSpec, job: JobSpec, cost_model: CostModel | None = None, seed: int = 0,
             conf: SchedulerConf | None = None) -> SimResult:
    """Run one simulation; the plain-function API for reports, sweeps and benchmarks.

    `conf` overrides the cluster's scheduler configuration (`cluster.scheduler_conf()`)."""
    cost_model = cost_model or CostModel()
    seed = int(seed)
    conf = conf if conf is not None else cluster.scheduler_conf()
    job.check_against(cluster)

    sched_seq, cost_seq = np.random.SeedSequence(seed).spawn(2)
    scheduler = TaskScheduler(conf, seed=int(sched_seq.generate_state(1, np.uint64)[0]), racks=cluster.racks or None)
    costs = CostSampler(cost_model, NormalStream(np.random.default_rng(cost_seq)))
    env = simpy.Environment()
    stages = stages_of(job, costs, conf)
    backend = SchedulerBackend(env, scheduler, cluster, conf, cost_model, max(s.threads for s in stages))
    dag = DAGScheduler(env, backend, stages, cost_model, job.gaps_s)
    # Process order fixes the order of same-time events: revive tick, registrations, the job.
    backend.start()
    job_done = dag.start()
    # The run allocates a few objects per task (record, launch, running tuple) and frees
    # none in cycles, so the cyclic collector would only rescan the growing trace again
    # and again (about a sixth of a large run). It is paused for the run and resumes
    # after; the run's own cycles (processes, closures) are collected then.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        env.run(until=job_done)
    finally:
        if gc_was_enabled:
            gc.enable()
    return SimResult(
        tasks=backend.records,
        job_duration_s=dag.job_end_s,
        stage_names=[s.name for s in dag.stages],
        stage_submit_s=[s.submit_s for s in dag.stages],
        stage_finish_s=[s.finish_s for s in dag.stages],
        hosts=cluster.hosts,
        seed=seed,
        spark_version=str(conf.spark_version),
        stage_jobs=[s.job for s in dag.stages],
        job_submit_s=dag.job_submit_s,
        job_end_s=dag.job_end_s_each,
        stage_parents=[[p.stage_id for p in s.parents] for s in dag.stages],
    )

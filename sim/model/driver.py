"""The driver's DAG side (Spark's DAGScheduler): stages, when they are submitted, what their
tasks cost, and when the job ends.

A job is a list of `Stage`s, each naming its parent stages (the stages whose shuffle output
it reads; a stage with children is a shuffle map stage). The first stages are submitted
`submit_delay_s` after the action is called (t=0); a stage whose parents have all finished
is submitted `stage_gap_s` after the last of them finished; the job ends `collect_s` after
the result (last) stage finishes. The jobs built here are chains (stage i+1 reads stage i):
explicit stages in order, or the PySpark job's map stage and result stage. A stage's
preferred locations are computed when it is submitted, so a reduce stage's come from its
map stage's outputs (`MapStatus` per map task -> `preferred_hosts_for_shuffle`, SPEC §c.1),
and stay fixed for its taskset's life.

The cost of a task (CPU seconds and items) comes from the stage, given whether the task needs
a fresh Python worker; whether it does is the backend's knowledge (its executors keep the
idle workers). Submission goes through the backend (`SchedulerBackend.submit_tasks`), which
hands the taskset to the policy and makes an offer round, as Spark's submitTasks ends with
reviveOffers. The backend reports a finished stage once (`stage_finished`); per task it only
counts the stage's finished tasks and calls the stage's `on_task_end` hook where there is one
(the map stage's, recording map statuses), so the DAG side adds no call to the per-task path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import simpy

from sparkdelay.sim.model.costs import CostModel, CostSampler
from sparkdelay.sim.model.job import JobSpec, PySparkJob, StageSpec
from sparkdelay.sim.policy.config import SchedulerConf
from sparkdelay.sim.policy.locality import TaskLocation
from sparkdelay.sim.policy.map_output import MapStatus, preferred_hosts_for_shuffle

if TYPE_CHECKING:   # the backend imports this module for `Stage`
    from sparkdelay.sim.model.backend import SchedulerBackend

_NAN = float("nan")


@dataclass(slots=True, eq=False)
class Stage:
    """A stage of the job: its tasks, how to cost them, its parents, and its progress.

    `prefs()` gives the tasks' preferred locations at submission; `cost(index, needs_worker)`
    gives (CPU seconds, items) of task `index`; `on_task_end(index, executor)`, when set, runs
    as each task finishes. `finished` counts finished tasks (the backend keeps it)."""

    stage_id: int
    name: str
    num_tasks: int
    python: bool
    prefs: Callable[[], list]
    cost: Callable[[int, bool], tuple[float, int]]
    parents: tuple["Stage", ...] = ()
    on_task_end: Callable[[int, Any], None] | None = None
    is_shuffle_map: bool = False   # some stage reads its output; set by the DAGScheduler
    threads: int = 1               # threads each task runs (OPENBLAS_NUM_THREADS of the workers)
    # Whether its tasks run the job's own function, whose time off the CPU (sleep, I/O) the cost
    # model's wait terms are: not the map side of partitionBy, which only hashes and pickles.
    runs_job_function: bool = True
    taskset_id: str = field(init=False)
    finished: int = 0
    submit_s: float = _NAN
    finish_s: float = _NAN

    def __post_init__(self) -> None:
        self.taskset_id = f"{self.stage_id}.0"   # attempt 0: stages are not retried

    @property
    def done(self) -> bool:
        return self.finished == self.num_tasks


class DAGScheduler:
    """Submits the job's stages through the backend as their parents finish (a SimPy process)."""

    def __init__(self, env: simpy.Environment, backend: SchedulerBackend, stages: list[Stage],
                 cost_model: CostModel):
        self.env = env
        self.backend = backend
        self.stages = stages
        self.cost_model = cost_model
        for stage in stages:
            for parent in stage.parents:
                parent.is_shuffle_map = True
        self.job_end_s = _NAN
        self._waiting = list(stages)   # not submitted yet, in submission order
        self._wake: simpy.Event | None = None
        backend.set_dag_scheduler(self)   # as Spark's DAGScheduler registers with its TaskScheduler

    def start(self) -> simpy.Process:
        return self.env.process(self._job())

    def _job(self):
        env, cm = self.env, self.cost_model
        result = self.stages[-1]
        yield env.timeout(cm.submit_delay_s)
        self._submit_ready()
        while not result.done:
            self._wake = env.event()
            yield self._wake
            if result.done:
                break
            # A stage finished: its children follow after the driver's gap. (A stage that
            # finishes during the gap has its children submitted with the others at its end.)
            yield env.timeout(cm.stage_gap_s)
            self._submit_ready()
        yield env.timeout(cm.collect_s)
        self.job_end_s = env.now

    def _submit_ready(self) -> None:
        """Submit, in order, every waiting stage whose parents have all finished."""
        ready = [s for s in self._waiting if all(p.done for p in s.parents)]
        now = self.env.now
        for stage in ready:
            self._waiting.remove(stage)
            stage.submit_s = now
            self.backend.submit_tasks(stage, stage.prefs())

    def stage_finished(self, stage: Stage) -> None:
        """The backend's report that the last task of `stage` finished (once per stage)."""
        stage.finish_s = self.env.now
        if not self._wake.triggered:
            self._wake.succeed()


# ---------------------------------------------------------------------------------- the job's stages
def stages_of(job: JobSpec, costs: CostSampler, conf: SchedulerConf) -> list[Stage]:
    """The job's stages, each the parent of the next."""
    if job.pyspark is not None:
        return _pyspark_stages(job.pyspark, costs, conf)
    stages: list[Stage] = []
    for i, spec in enumerate(job.stages):
        stages.append(_explicit_stage(i, spec, costs, tuple(stages[-1:])))
    return stages


def _explicit_stage(stage_id: int, spec: StageSpec, costs: CostSampler, parents: tuple[Stage, ...]) -> Stage:
    def cost(index: int, needs_worker: bool) -> tuple[float, int]:
        return costs.explicit_task(spec.cpu_seconds[index], spec.cpu_seconds_sd, spec.python, needs_worker), 0

    return Stage(stage_id, spec.name, spec.num_tasks, spec.python, lambda: list(spec.prefs), cost, parents,
                 threads=spec.threads)


def _pyspark_stages(job: PySparkJob, costs: CostSampler, conf: SchedulerConf) -> list[Stage]:
    slices = job.map_slice_members
    members = job.reduce_members
    statuses: list[MapStatus | None] = [None] * job.map_slices

    def map_cost(index: int, needs_worker: bool) -> tuple[float, int]:
        n = len(slices[index])
        return costs.map_task(n), n

    def map_done(index: int, executor) -> None:
        statuses[index] = MapStatus(executor.id, executor.host, tuple(job.map_output_sizes(index)))

    def reduce_prefs() -> list:
        hosts = preferred_hosts_for_shuffle(statuses, job.partitions,
                                            reduce_locality_enabled=conf.reduce_locality_enabled)
        # Tasks with the same hosts share one tuple, which the TaskSetManager de-duplicates once.
        shared: dict[tuple, tuple] = {}
        return [shared.setdefault(tuple(h), tuple(TaskLocation(x) for x in h)) for h in hosts]

    def reduce_cost(index: int, needs_worker: bool) -> tuple[float, int]:
        n = len(members[index])
        return costs.result_task(n, n * job.item_bytes, needs_worker), n

    map_stage = Stage(0, "map", job.map_slices, True, lambda: [()] * job.map_slices, map_cost,
                      on_task_end=map_done, runs_job_function=False)
    return [map_stage, Stage(1, "result", job.partitions, True, reduce_prefs, reduce_cost, (map_stage,),
                             threads=job.workload.threads)]

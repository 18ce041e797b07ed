"""The driver's DAG side (Spark's DAGScheduler): stages, when they are submitted, what their
tasks cost, and when the job ends.

An application is one or more jobs (actions) run one after another; a job is a list of
`Stage`s, each naming its parent stages (the stages whose shuffle output it reads; a stage with
children is a shuffle map stage), its last stage the result stage. The first job's first stages
are submitted `submit_delay_s` after the action is called (t=0); a stage whose parents have all
finished is submitted `stage_gap_s` after the last of them finished (stages ready together run
concurrently, as DAGScheduler.submitWaitingChildStages submits them); a job ends `collect_s`
after its result stage finishes, and the next job's action comes its `gap_s` later (the
driver's time between actions), its stages `submit_delay_s` after that. Explicit stages form a
chain (stage i+1 reads stage i) unless the job file's DAG form names parents; the PySpark job is
a map stage and a result stage. A stage's preferred locations are computed when it is
submitted, so a reduce stage's come from its map stage's outputs (`MapStatus` per map task ->
`preferred_hosts_for_shuffle`, SPEC §c.1), and stay fixed for its taskset's life.

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
    # Seconds task `index` spends off the CPU after its CPU work (the DAG form's `wait_seconds`);
    # None: the cost model's per-task and per-item wait terms apply instead.
    off_cpu: Callable[[int], float] | None = None
    job: int = 0                   # which job (action) of the application it belongs to
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
    """Submits the jobs' stages through the backend as their parents finish (a SimPy process).

    `gaps_s[j]` is the driver's time between the end of job j-1 and the action of job j (job 0:
    0); stages belong to jobs by `Stage.job`, in job order."""

    def __init__(self, env: simpy.Environment, backend: SchedulerBackend, stages: list[Stage],
                 cost_model: CostModel, gaps_s: tuple[float, ...] = ()):
        self.env = env
        self.backend = backend
        self.stages = stages
        self.cost_model = cost_model
        for stage in stages:
            for parent in stage.parents:
                parent.is_shuffle_map = True
        njobs = stages[-1].job + 1
        self.gaps_s = tuple(gaps_s) + (0.0,) * (njobs - len(gaps_s))
        self.jobs = [[s for s in stages if s.job == j] for j in range(njobs)]
        self.job_submit_s = [_NAN] * njobs
        self.job_end_s_each = [_NAN] * njobs
        self.job_end_s = _NAN          # the last job's end: the application's measured span
        self._waiting: list[Stage] = []   # the running job's stages not submitted yet, in order
        self._wake: simpy.Event | None = None
        backend.set_dag_scheduler(self)   # as Spark's DAGScheduler registers with its TaskScheduler

    def start(self) -> simpy.Process:
        return self.env.process(self._application())

    def _application(self):
        env = self.env
        for j, stages in enumerate(self.jobs):
            if j and self.gaps_s[j]:
                yield env.timeout(self.gaps_s[j])
            self.job_submit_s[j] = env.now
            yield from self._job(stages)
            self.job_end_s_each[j] = env.now
        self.job_end_s = env.now

    def _job(self, stages: list[Stage]):
        env, cm = self.env, self.cost_model
        result = stages[-1]
        self._waiting = list(stages)
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
    """The application's stages, in job order: a chain per job unless the job file names parents."""
    if job.pyspark is not None:
        return _pyspark_stages(job.pyspark, costs, conf)
    stages: list[Stage] = []
    by_name: dict[str, Stage] = {}
    # Map stage id -> (executor id, host, bytes written) per map task, for its children's prefs.
    outputs: dict[int, list] = {}
    for i, spec in enumerate(job.stages):
        if spec.parents is None:   # the chain form: the previous stage of the same job
            parents = tuple(s for s in stages[-1:] if s.job == spec.job)
        else:
            parents = tuple(by_name[p] for p in spec.parents)
        stage = _explicit_stage(i, spec, costs, parents, conf, outputs)
        stages.append(stage)
        by_name[spec.name] = stage
    for stage, spec in zip(stages, job.stages):
        if stage.stage_id in outputs:
            stage.on_task_end = _map_output_recorder(outputs[stage.stage_id], spec.shuffle_write_bytes)
    return stages


def _explicit_stage(stage_id: int, spec: StageSpec, costs: CostSampler, parents: tuple[Stage, ...],
                    conf: SchedulerConf, outputs: dict[int, list]) -> Stage:
    startup = spec.startup_seconds

    def cost(index: int, needs_worker: bool) -> tuple[float, int]:
        cpu = costs.explicit_task(spec.cpu_seconds[index], spec.cpu_seconds_sd, spec.python, needs_worker)
        return (cpu + startup if needs_worker and startup else cpu), 0

    def fixed_prefs() -> list:
        return list(spec.prefs)

    prefs = fixed_prefs
    if spec.prefs_from_shuffle:
        parent = parents[0]
        slots = outputs.setdefault(parent.stage_id, [None] * parent.num_tasks)

        def prefs() -> list:
            return _shuffle_prefs(slots, spec, conf)

    wait = spec.wait_seconds
    return Stage(stage_id, spec.name, spec.num_tasks, spec.python, prefs, cost, parents,
                 threads=spec.threads, off_cpu=wait.__getitem__ if wait else None, job=spec.job)


# Map output bytes assumed for a map task whose size the job file does not give: every map task
# then weighs the same, so the reduce preferences follow where the map tasks ran.
_DEFAULT_MAP_OUTPUT = 1 << 20


def _map_output_recorder(slots: list, written: tuple[int, ...]) -> Callable[[int, Any], None]:
    def done(index: int, executor) -> None:
        slots[index] = (executor.id, executor.host, written[index] if written else _DEFAULT_MAP_OUTPUT)
    return done


def _shuffle_prefs(slots: list, spec: StageSpec, conf: SchedulerConf) -> list:
    """Reduce preferences of a one-parent stage from its parent's simulated map outputs: map task
    m's block for partition r is written[m] x read[r] / sum(read) (equal shares if not given)."""
    n = spec.num_tasks
    read = spec.shuffle_read_bytes
    total = sum(read) if read else 0
    statuses = []
    for eid, host, written in slots:   # all set: a stage is submitted after its parents finished
        sizes = tuple(written * r // total for r in read) if total else (written // n,) * n
        statuses.append(MapStatus(eid, host, sizes))
    hosts = preferred_hosts_for_shuffle(statuses, n, reduce_locality_enabled=conf.reduce_locality_enabled)
    shared: dict[tuple, tuple] = {}
    return [shared.setdefault(tuple(h), tuple(TaskLocation(x) for x in h)) for h in hosts]


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

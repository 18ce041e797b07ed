"""The discrete-event model: SimPy supplies time and events, the policy decides placement.

`Engine` plays Spark's CoarseGrainedSchedulerBackend and DAGScheduler around the scheduling
policy (`sim.scheduler.TaskScheduler`, which has no clock). The backend owns each executor's
free cores (subtracted at launch, returned at task end) and makes offer rounds when Spark does
(SPEC §a.1): a periodic revive tick (first at t=0, every `spark.scheduler.revive.interval`)
offering every registered executor, even with 0 free cores, as a full round; a partial round
for one executor after a task of its finishes and its cores are back; a full round when a stage
is submitted; executor registration as the Spark version does it (2.x: all cores and a full
round; 3.x/4.x: 0 cores until LaunchedExecutor, then a partial round with all cores). The
driver side submits stage i+1 when stage i finishes (plus the stage gap), the first stage
after the submit delay, and the job ends after result collection. Tasks run on their
machine's cores under processor sharing (`sim.machine`), with costs from `sim.costs`; a task
pays the Python worker start-up unless its executor has an idle worker that already ran the
same stage's function (start-up is mostly importing what the function needs, such as Chainer,
which a reused worker does once; the map side of partitionBy imports nothing of the sort).

Rounds that cannot change anything are skipped to keep large runs fast: a full round when no
task is pending or no core is free (Spark would offer, but every offer would be skipped or
every taskset would have nothing to give), except that executors the policy has not seen yet
are still offered, because the executors the policy knows decide a taskset's locality levels.
Skipping only changes how often the policy's offer shuffle draws random numbers.

Everything random comes from one seed: numpy's SeedSequence spawns one stream for the policy's
offer shuffles and one for task costs, so a seed always gives the same trace.

Performance (about 1 SimPy event per task on a machine with a core per slot, two on a shared
one): a running task is a plain tuple, a full round reuses each executor's cached WorkerOffer,
and cost noise comes from `_NormalStream`, which draws the same standard normals as numpy's
per-call `Generator.normal` but in blocks (a scalar numpy call costs more than the rest of a
launch). `tests/test_sim_golden.py` holds traces recorded before these changes; they must not
move by one bit.
"""

from __future__ import annotations

import gc
import heapq
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import simpy

from sparkdelay.ground.errors import UserError

from sparkdelay.sim.model.cluster import ClusterSpec
from sparkdelay.sim.model.costs import CostModel, CostSampler
from sparkdelay.sim.model.job import JobSpec, PySparkJob, StageSpec
from sparkdelay.sim.policy.locality import TaskLocality, TaskLocation
from sparkdelay.sim.model.machine import Machine
from sparkdelay.sim.policy.map_output import MapStatus, preferred_hosts_for_shuffle
from sparkdelay.sim.model.metrics import placement_metrics
from sparkdelay.sim.model.records import TaskRecord


_LOCALITY_NAME = {level: level.name for level in TaskLocality}   # Enum.name is slow in a hot loop
_NAN = float("nan")


# ---------------------------------------------------------------------------------- result
@dataclass
class SimResult:
    """What one simulated run produced. Times are seconds since the application started."""

    tasks: list[TaskRecord]
    job_duration_s: float
    stage_names: list[str]
    stage_submit_s: list[float]
    stage_finish_s: list[float]
    hosts: list[str]
    seed: int
    spark_version: str
    job_start_s: float = 0.0
    events: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def stage_durations_s(self) -> list[float]:
        return [f - s for s, f in zip(self.stage_submit_s, self.stage_finish_s)]

    @property
    def result_stage_id(self) -> int:
        return len(self.stage_names) - 1

    def stage_tasks(self, stage_id: int | None = None) -> list[TaskRecord]:
        """Tasks of one stage; None means the result (last) stage, which the study counted."""
        sid = self.result_stage_id if stage_id is None else stage_id
        return [t for t in self.tasks if t.stage_id == sid]

    def metrics(self, stage_id: int | None = None) -> dict:
        return placement_metrics(self.stage_tasks(stage_id), self.hosts)

    def summary(self) -> dict:
        """The `--json` object: durations, placement of the result stage, seed."""
        m = self.metrics()
        return {
            "job_duration_s": self.job_duration_s,
            "stage_durations_s": self.stage_durations_s,
            "stage_names": self.stage_names,
            "tasks_per_host": m["tasks_per_host"],
            "fairness_index": m["fairness_index"],
            "max_tasks_per_host": m["max_tasks_per_host"],
            "hosts_used": m["hosts_used"],
            "items_per_host": m["items_per_host"],
            "locality_counts": m["locality_counts"],
            "num_tasks": len(self.tasks),
            "seed": self.seed,
            "spark_version": self.spark_version,
            **self.extra,
        }


# ---------------------------------------------------------------------------------- noise
class _NormalStream:
    """Stands in for a numpy Generator where `CostSampler` draws `rng.normal(loc, scale)`.

    numpy's `Generator.normal(loc, scale)` computes `loc + scale * z` with z the generator's
    next standard normal (`random_normal` in numpy's distributions.c), and `standard_normal(n)`
    fills an array with the next n of those same z, one after another. So serving z from
    blocks gives bit-identical draws in the same order (checked by the golden traces), at a
    fraction of the cost of a numpy call per draw. Blocks grow from 16 to 65,536 so small
    runs draw little ahead; the generator is used for nothing else.
    """

    __slots__ = ("_rng", "_block", "_buf", "_pos")

    def __init__(self, rng: np.random.Generator):
        self._rng = rng
        self._block = 16
        self._buf: list[float] = []
        self._pos = 0

    def normal(self, loc: float, scale: float) -> float:
        pos = self._pos
        buf = self._buf
        if pos == len(buf):
            self._block = min(self._block * 2, 65536)
            buf = self._buf = self._rng.standard_normal(self._block).tolist()
            pos = 0
        self._pos = pos + 1
        return loc + scale * buf[pos]


# ---------------------------------------------------------------------------------- state
class _Executor:
    __slots__ = ("id", "host", "machine", "cores", "free", "idle_workers", "free_slots",
                 "active", "seen", "offers", "running")

    def __init__(self, spec, machine: Machine, task_cpus: int):
        self.id = spec.id
        self.host = spec.host
        self.machine = machine
        self.cores = spec.cores
        self.free = 0
        self.idle_workers: dict[int, int] = {}   # stage id -> idle Python workers warm for it
        self.free_slots = list(range(max(1, spec.cores // task_cpus)))
        self.active = False   # registered with the driver
        self.seen = False     # appeared in an offer (so the policy counts it alive)
        self.offers: dict[int, Any] = {}   # free cores -> cached WorkerOffer
        self.running = 0


class _Stage:
    """A submitted stage: its taskset, how to cost its tasks, and its progress."""

    __slots__ = ("stage_id", "name", "num_tasks", "python", "is_shuffle_map", "taskset_id",
                 "pending", "finished", "done", "submit_s", "finish_s", "cost", "prefs", "on_task_end")

    def __init__(self, stage_id: int, name: str, num_tasks: int, python: bool, is_shuffle_map: bool,
                 prefs: Callable[[], list], cost: Callable[[int, bool], tuple[float, int]],
                 on_task_end: Callable[[int, "_Executor"], None] | None = None):
        self.stage_id = stage_id
        self.name = name
        self.num_tasks = num_tasks
        self.python = python
        self.is_shuffle_map = is_shuffle_map
        self.taskset_id = f"{stage_id}.0"
        self.pending = 0
        self.finished = 0
        self.done = None
        self.submit_s = float("nan")
        self.finish_s = float("nan")
        self.prefs = prefs
        self.cost = cost
        self.on_task_end = on_task_end


# A running task, as handed to its machine and back: (record, executor, stage, cpus). A plain
# tuple, because one is made per task.
_Running = tuple


# ---------------------------------------------------------------------------------- engine
class Engine:
    def __init__(self, cluster: ClusterSpec, job: JobSpec, cost_model: CostModel | None = None,
                 seed: int = 0, conf=None, skip_idle_rounds: bool = True):
        from sparkdelay.sim.policy.scheduler import TaskScheduler, WorkerOffer  # the policy core

        self._WorkerOffer = WorkerOffer
        self.cluster = cluster
        self.job = job
        self.cost_model = cost_model or CostModel()
        self.seed = int(seed)
        self.conf = conf if conf is not None else cluster.scheduler_conf()
        self.skip_idle_rounds = skip_idle_rounds
        job.check_against(cluster)
        if self.conf.revive_interval_ms <= 0:
            raise UserError("config: spark.scheduler.revive.interval: must be greater than 0")
        self.task_cpus = self.conf.task_cpus
        if all(e.cores < self.task_cpus for e in cluster.executors):
            raise UserError(f"config: spark.task.cpus={self.task_cpus} exceeds the cores of every executor: "
                            f"no task could ever run")

        seq = np.random.SeedSequence(self.seed)
        sched_seq, cost_seq = seq.spawn(2)
        self.scheduler = TaskScheduler(self.conf, seed=int(sched_seq.generate_state(1, np.uint64)[0]),
                                       racks=cluster.racks or None)
        self.costs = CostSampler(self.cost_model, _NormalStream(np.random.default_rng(cost_seq)))

        self.env = simpy.Environment()
        machine_of_host = cluster.machine_of_host()
        max_running: dict[str, int] = {}
        for e in cluster.executors:
            name = machine_of_host[e.host].name
            max_running[name] = max_running.get(name, 0) + e.cores // self.task_cpus
        self.machines = {m.name: Machine(self.env, m.name, m.cores, self._on_task_end, max_running.get(m.name, 0))
                         for m in cluster.machines}
        self.executors = {e.id: _Executor(e, self.machines[machine_of_host[e.host].name], self.task_cpus)
                          for e in cluster.executors}
        self.active: list[_Executor] = []     # registration order, as the backend's map
        self.unseen = 0                       # active executors the policy has not been offered
        self.total_free = 0
        self.pending_total = 0
        self.running_total = 0
        self.records: list[TaskRecord] = []
        self.stages: list[_Stage] = []
        self._by_taskset: dict[str, _Stage] = {}
        self._next_task_id = 0
        self._last_progress = 0.0
        self.map_statuses: list[MapStatus | None] = []
        self.job_end_s = float("nan")
        self._stall_limit_s = self._stall_limit()
        self._reuse = self.conf.python_worker_reuse

    # ------------------------------------------------------------------ building stages
    def _build_stages(self) -> list[_Stage]:
        if self.job.pyspark is not None:
            return self._pyspark_stages(self.job.pyspark)
        return [self._explicit_stage(i, s) for i, s in enumerate(self.job.stages)]

    def _explicit_stage(self, stage_id: int, spec: StageSpec) -> _Stage:
        costs = self.costs

        def cost(index: int, needs_worker: bool) -> tuple[float, int]:
            return costs.explicit_task(spec.cpu_seconds[index], spec.cpu_seconds_sd, spec.python, needs_worker), 0

        return _Stage(stage_id, spec.name, spec.num_tasks, spec.python, stage_id < len(self.job.stages) - 1,
                      lambda: list(spec.prefs), cost)

    def _pyspark_stages(self, job: PySparkJob) -> list[_Stage]:
        costs = self.costs
        slices = job.map_slice_members
        members = job.reduce_members
        self.map_statuses = [None] * job.map_slices

        def map_cost(index: int, needs_worker: bool) -> tuple[float, int]:
            n = len(slices[index])
            return costs.map_task(n), n

        def map_done(index: int, ex: _Executor) -> None:
            self.map_statuses[index] = MapStatus(ex.id, ex.host, tuple(job.map_output_sizes(index)))

        def reduce_prefs() -> list:
            # Computed at submission from the map outputs, fixed for the taskset's life (SPEC §c.1).
            hosts = preferred_hosts_for_shuffle(self.map_statuses, job.partitions,
                                                reduce_locality_enabled=self.conf.reduce_locality_enabled)
            cache: dict[tuple, tuple] = {}
            return [cache.setdefault(tuple(h), tuple(TaskLocation(x) for x in h)) for h in hosts]

        def reduce_cost(index: int, needs_worker: bool) -> tuple[float, int]:
            n = len(members[index])
            return costs.result_task(n, n * job.item_bytes, needs_worker), n

        return [
            _Stage(0, "map", job.map_slices, True, True, lambda: [()] * job.map_slices, map_cost, map_done),
            _Stage(1, "result", job.partitions, True, False, reduce_prefs, reduce_cost),
        ]

    def _stall_limit(self) -> float:
        c = self.conf
        waits = c.wait_process_ms + c.wait_node_ms + c.wait_rack_ms
        return (waits + 20 * c.revive_interval_ms) / 1000.0 + 60.0

    # ------------------------------------------------------------------ offer rounds
    def _offer(self, ex: _Executor):
        offer = ex.offers.get(ex.free)
        if offer is None:
            offer = ex.offers[ex.free] = self._WorkerOffer(ex.id, ex.host, ex.free)
        return offer

    def _mark_seen(self, executors) -> None:
        for ex in executors:
            if not ex.seen:
                ex.seen = True
                self.unseen -= 1

    def full_round(self) -> None:
        """Spark's makeOffers(): every registered executor, isAllFreeResources = true."""
        if self.skip_idle_rounds and (self.pending_total == 0 or self.total_free < self.task_cpus):
            if not self.unseen:
                return
            offered = [ex for ex in self.active if not ex.seen]   # only registration can change
        else:
            offered = self.active
        if self.unseen:
            self._mark_seen(offered)
        # _offer(ex) inlined: the cached WorkerOffer for the executor's current free cores.
        offers = []
        for ex in offered:
            offer = ex.offers.get(ex.free)
            if offer is None:
                offer = ex.offers[ex.free] = self._WorkerOffer(ex.id, ex.host, ex.free)
            offers.append(offer)
        launches = self.scheduler.resource_offers(offers, True, self.env.now * 1000.0)
        if launches:
            self._launch(launches)

    def partial_round(self, ex: _Executor) -> None:
        """Spark's makeOffers(executorId): one executor, isAllFreeResources = false."""
        if ex.seen:
            if self.skip_idle_rounds and (self.pending_total == 0 or ex.free < self.task_cpus):
                return
        else:
            ex.seen = True   # _mark_seen((ex,))
            self.unseen -= 1
        offer = ex.offers.get(ex.free)   # _offer(ex), inlined: one partial round per finished task
        if offer is None:
            offer = ex.offers[ex.free] = self._WorkerOffer(ex.id, ex.host, ex.free)
        launches = self.scheduler.resource_offers([offer], False, self.env.now * 1000.0)
        if launches:
            self._launch(launches)

    # ------------------------------------------------------------------ launch / finish
    def _launch(self, launches) -> None:
        now = self.env.now
        reuse = self._reuse
        executors, by_taskset, records = self.executors, self._by_taskset, self.records
        heappop = heapq.heappop
        task_id = self._next_task_id
        taken = 0
        for launch in launches:
            ex = executors[launch.executor_id]
            stage = by_taskset[launch.taskset_id]
            cpus = launch.cpus
            taken += cpus
            ex.free -= cpus
            if ex.free < 0:
                raise AssertionError(f"executor {ex.id} over-committed by the policy")
            stage.pending -= 1
            needs_worker = False
            if stage.python:
                # A worker is warm only for the function it already ran: the start-up cost is
                # mostly importing what that function needs (Chainer), once per process.
                idle = ex.idle_workers.get(stage.stage_id, 0)
                if reuse and idle > 0:
                    ex.idle_workers[stage.stage_id] = idle - 1
                else:
                    needs_worker = True
            cpu, items = stage.cost(launch.index, needs_worker)
            slot = heappop(ex.free_slots) if ex.free_slots else -1
            record = TaskRecord(stage.stage_id, task_id, launch.index, launch.attempt, ex.id, ex.host,
                                _LOCALITY_NAME[launch.locality], now, _NAN, slot, items, cpu, stage.name)
            task_id += 1
            records.append(record)
            ex.running += 1
            ex.machine.start((record, ex, stage, cpus), cpu)
        # Totals once per round: nothing reads them while the launches are handed out.
        n = len(launches)
        self._next_task_id = task_id
        self.total_free -= taken
        self.pending_total -= n
        self.running_total += n
        self._last_progress = now

    def _on_task_end(self, run: _Running) -> None:
        now = self.env.now
        record, ex, stage, cpus = run
        record.finish_time = now
        ex.free += cpus
        self.total_free += cpus
        ex.running -= 1
        self.running_total -= 1
        if record.slot >= 0:
            heapq.heappush(ex.free_slots, record.slot)
        if stage.python and self._reuse:
            ex.idle_workers[stage.stage_id] = ex.idle_workers.get(stage.stage_id, 0) + 1
        self._last_progress = now
        self.scheduler.task_finished(stage.taskset_id, record.index, now * 1000.0)
        if stage.on_task_end is not None:
            stage.on_task_end(record.index, ex)
        stage.finished += 1
        # StatusUpdate: cores back, then a partial round for this executor.
        self.partial_round(ex)
        if stage.finished == stage.num_tasks:
            stage.finish_s = now
            stage.done.succeed()

    # ------------------------------------------------------------------ processes
    def _submit_stage(self, stage: _Stage) -> None:
        now = self.env.now
        stage.submit_s = now
        stage.done = self.env.event()
        prefs = stage.prefs()
        self._by_taskset[stage.taskset_id] = stage
        self.scheduler.submit_taskset(stage.taskset_id, stage.stage_id, prefs, now * 1000.0, priority=0,
                                      is_shuffle_map=stage.is_shuffle_map)
        stage.pending = stage.num_tasks
        self.pending_total += stage.num_tasks
        self._last_progress = now
        self.full_round()   # submitTasks ends with backend.reviveOffers()

    def _driver(self):
        cm = self.cost_model
        yield self.env.timeout(cm.submit_delay_s)
        for i, stage in enumerate(self.stages):
            if i:
                yield self.env.timeout(cm.stage_gap_s)
            self._submit_stage(stage)
            yield stage.done
        yield self.env.timeout(cm.collect_s)
        self.job_end_s = self.env.now

    def _revive(self):
        interval = self.conf.revive_interval_ms / 1000.0
        while True:
            self.full_round()
            if (self.pending_total and not self.running_total and len(self.active) == len(self.executors)
                    and self.env.now - self._last_progress > self._stall_limit_s):
                raise UserError(f"the simulation stalled at t={self.env.now:.1f}s: {self.pending_total} tasks "
                                f"pending, none running, no executor takes them (check prefs and task cpus)")
            yield self.env.timeout(interval)

    def _register(self, ex: _Executor) -> None:
        self.active.append(ex)
        self._last_progress = self.env.now
        self.unseen += 1
        if self.conf.offers_on_registration:
            # 2.x RegisterExecutor: all cores free, then an immediate full round.
            ex.free = ex.cores
            self.total_free += ex.cores
            self.full_round()
        else:
            # 3.x/4.x: registered with 0 free cores; LaunchedExecutor gives all cores and a
            # partial round (modelled as following at once).
            ex.free = ex.cores
            self.total_free += ex.cores
            self.partial_round(ex)

    def _registrations(self):
        order = sorted(self.executors.values(), key=lambda e: self._reg_time[e.id])
        for ex in order:
            delay = self._reg_time[ex.id] - self.env.now
            if delay > 0:
                yield self.env.timeout(delay)
            self._register(ex)

    # ------------------------------------------------------------------ run
    def run(self) -> SimResult:
        self.stages = self._build_stages()
        self._reg_time = {e.id: e.registers_at for e in self.cluster.executors}
        env = self.env
        env.process(self._revive())
        env.process(self._registrations())
        driver = env.process(self._driver())
        # The run allocates a few objects per task (record, launch, running tuple) and frees
        # none in cycles, so the cyclic collector would only rescan the growing trace again
        # and again (about a sixth of a large run). It is paused for the run and resumes
        # after; the engine's own cycles (processes, closures) are collected then.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            env.run(until=driver)
        finally:
            if gc_was_enabled:
                gc.enable()
        return SimResult(
            tasks=self.records,
            job_duration_s=self.job_end_s,
            stage_names=[s.name for s in self.stages],
            stage_submit_s=[s.submit_s for s in self.stages],
            stage_finish_s=[s.finish_s for s in self.stages],
            hosts=self.cluster.hosts,
            seed=self.seed,
            spark_version=str(self.conf.spark_version),
        )


def simulate(cluster: ClusterSpec, job: JobSpec, cost_model: CostModel | None = None, seed: int = 0,
             **kwargs) -> SimResult:
    """Run one simulation; the plain-function API for reports, sweeps and benchmarks."""
    return Engine(cluster, job, cost_model, seed, **kwargs).run()

"""The scheduler backend (Spark's CoarseGrainedSchedulerBackend): executors' free cores and
the offer rounds that hand them to the policy.

The backend owns each executor's free cores (subtracted at launch, returned at task end) and
makes offer rounds when Spark does (SPEC §a.1): a periodic revive tick (first at t=0, every
`spark.scheduler.revive.interval`) offering every registered executor, even with 0 free cores,
as a full round; a partial round for one executor after a task of its finishes and its cores
are back; a full round when a stage is submitted; executor registration as the Spark version
does it (2.x: all cores and a full round; 3.x/4.x: 0 cores until LaunchedExecutor, then a
partial round with all cores). A launched task runs on its executor's machine (`Machine`:
processor sharing) and, when it ends, the backend reports it to the policy
(`TaskScheduler.task_finished`), counts it for its stage and tells the DAG side once the
stage's last task is done (`DAGScheduler.stage_finished`).

Each executor keeps its idle Python workers as PySpark's PythonWorkerFactory does: one queue,
oldest first, shared by every stage of the application (`idleWorkers.dequeue()`), so a reduce
task may well get the worker that ran the map side. A Python task pays the worker start-up
(`worker_startup_s`: mostly importing what its function needs, such as Chainer) unless its
worker already ran the same stage's function, plus `worker_fork_s` when no worker was idle and
one is forked from the executor's Python daemon. The executor's first Python task starts that
daemon (`executor_start_s` of CPU on its machine, PythonWorkerFactory.startDaemon); tasks
launched on it meanwhile wait for it, as `create()` blocks on the factory's lock. Before that,
an executor JVM's first task of any kind does its class loading and JIT (`executor_first_task_s`
of CPU on its machine), and every task launched on it meanwhile waits; from that launch its
JVM also burns `executor_jit_s` of CPU beside its tasks, which none waits for. Time a task
spends off the CPU (`wait_per_task_s`, `wait_per_item_s`: sleep, I/O) follows its CPU work
and does not share the cores. The stage prices the task; each term is 0 unless a calibrated
cost model sets it, and a term at 0 adds no event.

Rounds that cannot change anything are skipped to keep large runs fast: a full round when no
task is pending or no core is free (Spark would offer, but every offer would be skipped or
every taskset would have nothing to give), except that executors the policy has not seen yet
are still offered, because the executors the policy knows decide a taskset's locality levels.
Skipping only changes how often the policy's offer shuffle draws random numbers.

Performance (the launch and the task end run once per task; about 1 SimPy event per task on
a machine with a core per slot, two on a shared one): a running task is a plain tuple, a round
reuses each executor's cached WorkerOffer, and round totals are updated once per round.
"""

from __future__ import annotations

import heapq
from collections import deque

import simpy

from sparkdelay.ground.errors import UserError
from sparkdelay.sim.model.cluster import ClusterSpec
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.driver import DAGScheduler, Stage
from sparkdelay.sim.model.machine import Machine
from sparkdelay.sim.model.records import TaskRecord
from sparkdelay.sim.policy.config import SchedulerConf
from sparkdelay.sim.policy.locality import TaskLocality
from sparkdelay.sim.policy.scheduler import TaskScheduler, WorkerOffer

_LOCALITY_NAME = {level: level.name for level in TaskLocality}   # Enum.name is slow in a hot loop
_NAN = float("nan")


_DAEMON_DOWN, _DAEMON_UP = 0, 2   # starting: the executor's gate is _DAEMON_GATE
_NO_GATE, _JVM_GATE, _DAEMON_GATE = 0, 1, 2   # what an executor's tasks wait for, if anything
_WARMUP = (None, None, None, 0, None, 0.0)   # an executor JVM's warm-up on its machine: no task, no executor


class Executor:
    """An executor as the backend sees it: free cores, task threads, Python daemon and idle workers."""

    __slots__ = ("id", "host", "machine", "cores", "free", "idle", "free_slots", "seen", "offers",
                 "daemon", "waiting", "registered_before_s", "gate", "jvm_warm", "active")

    def __init__(self, spec, machine: Machine, task_cpus: int):
        self.id = spec.id
        self.host = spec.host
        self.machine = machine
        self.cores = spec.cores
        self.free = 0
        # Idle Python workers, oldest first; each is the set of stage ids whose function it ran.
        self.idle: deque[set[int]] = deque()
        self.free_slots = list(range(max(1, spec.cores // task_cpus)))   # thread numbers, a heap
        self.seen = False     # appeared in an offer (so the policy counts it alive)
        self.offers: dict[int, WorkerOffer] = {}   # free cores -> cached WorkerOffer
        self.daemon = _DAEMON_DOWN
        self.waiting: list[tuple] = []   # tasks waiting for a gate: (run, cpu, threads)
        self.gate = _NO_GATE             # the JVM's first-task work or the daemon's start, while it runs
        self.jvm_warm = False            # its first task's JVM work is done (or under way)
        self.active = False              # has launched a task (its JIT burst is under way)
        self.registered_before_s = spec.registered_before_s


# A running task, as handed to its machine and back: (record, executor, stage, cpus, worker,
# seconds off the CPU still to go). A plain tuple, because one is made per task. A daemon's
# start is served by the machine as (None, executor, None, 0, None, 0.0).
_Running = tuple


class SchedulerBackend:
    """Executors' cores, offer rounds and task launches for one run (see the module docstring)."""

    def __init__(self, env: simpy.Environment, scheduler: TaskScheduler, cluster: ClusterSpec,
                 conf: SchedulerConf, cost_model: CostModel | None = None, max_threads: int = 1):
        if conf.revive_interval_ms <= 0:
            raise UserError("config: spark.scheduler.revive.interval: must be greater than 0")
        self.task_cpus = conf.task_cpus
        if all(e.cores < self.task_cpus for e in cluster.executors):
            raise UserError(f"config: spark.task.cpus={self.task_cpus} exceeds the cores of every executor: "
                            f"no task could ever run")
        self.env = env
        self.scheduler = scheduler
        self.conf = conf
        cm = cost_model or CostModel()
        self.cost_model = cm
        self._daemon_s = cm.executor_start_s
        self._first_task_s = cm.executor_first_task_s
        self._fork_s = cm.worker_fork_s
        self._has_wait = bool(cm.wait_per_task_s or cm.wait_per_item_s)
        self._background = cm.executor_background_cores
        self._warmup_s = cm.executor_warmup_s
        self._jit_s = cm.executor_jit_s
        machine_of_host = cluster.machine_of_host()
        self._machine_of_host = machine_of_host
        max_running: dict[str, int] = {}
        for e in cluster.executors:
            name = machine_of_host[e.host].name
            max_running[name] = max_running.get(name, 0) + (e.cores // self.task_cpus) * max_threads
        # A background load or a daemon's start makes any machine shareable: both take cores
        # beside the task slots.
        shareable = bool(self._background or self._daemon_s or self._warmup_s or self._first_task_s or self._jit_s)
        machines = {m.name: Machine(env, m.name, m.cores, self._on_task_end,
                                    None if shareable else max_running.get(m.name, 0), cm.oversubscription_penalty)
                    for m in cluster.machines}
        self._machines = machines
        self._registered_on: dict[str, int] = {}   # machine -> executors registered there
        self.executors = {e.id: Executor(e, machines[machine_of_host[e.host].name], self.task_cpus)
                          for e in cluster.executors}
        self._registers_at = {e.id: e.registers_at for e in cluster.executors}
        self.active: list[Executor] = []     # registration order, as the backend's map
        self.unseen = 0                      # active executors the policy has not been offered
        self.total_free = 0
        self.pending_total = 0
        self.running_total = 0
        self.records: list[TaskRecord] = []
        self._by_taskset: dict[str, Stage] = {}
        self._next_task_id = 0
        self._last_progress = 0.0
        self._stall_limit_s = self._stall_limit()
        self._reuse = conf.python_worker_reuse
        self._stage_finished = None   # the DAGScheduler's, once it registers

    def set_dag_scheduler(self, dag: DAGScheduler) -> None:
        """Spark's TaskSchedulerImpl.setDAGScheduler: where finished stages are reported."""
        self._stage_finished = dag.stage_finished

    def start(self) -> None:
        """The revive tick and the executors' registrations (SimPy processes)."""
        self.env.process(self._revive())
        self.env.process(self._registrations())

    def _stall_limit(self) -> float:
        c = self.conf
        waits = c.wait_process_ms + c.wait_node_ms + c.wait_rack_ms
        return (waits + 20 * c.revive_interval_ms) / 1000.0 + 60.0

    # ------------------------------------------------------------------ tasksets
    def submit_tasks(self, stage: Stage, prefs: list) -> None:
        """TaskSchedulerImpl.submitTasks: the stage's taskset goes to the policy, then a full round."""
        now = self.env.now
        self._by_taskset[stage.taskset_id] = stage
        self.scheduler.submit_taskset(stage.taskset_id, stage.stage_id, prefs, now * 1000.0, priority=0,
                                      is_shuffle_map=stage.is_shuffle_map)
        self.pending_total += stage.num_tasks
        self._last_progress = now
        self.full_round()   # submitTasks ends with backend.reviveOffers()

    # ------------------------------------------------------------------ offer rounds
    def _mark_seen(self, executors) -> None:
        for ex in executors:
            if not ex.seen:
                ex.seen = True
                self.unseen -= 1

    def full_round(self) -> None:
        """Spark's makeOffers(): every registered executor, isAllFreeResources = true."""
        if self.pending_total == 0 or self.total_free < self.task_cpus:
            if not self.unseen:
                return
            offered = [ex for ex in self.active if not ex.seen]   # only registration can change
        else:
            offered = self.active
        if self.unseen:
            self._mark_seen(offered)
        offers = []
        for ex in offered:
            # inlined: the executor's WorkerOffer for its free cores, cached per count (hot path)
            offer = ex.offers.get(ex.free)
            if offer is None:
                offer = ex.offers[ex.free] = WorkerOffer(ex.id, ex.host, ex.free)
            offers.append(offer)
        launches = self.scheduler.resource_offers(offers, True, self.env.now * 1000.0)
        if launches:
            self._launch(launches)

    def partial_round(self, ex: Executor) -> None:
        """Spark's makeOffers(executorId): one executor, isAllFreeResources = false."""
        if ex.seen:
            if self.pending_total == 0 or ex.free < self.task_cpus:
                return
        else:
            ex.seen = True   # inlined: SchedulerBackend._mark_seen (hot path)
            self.unseen -= 1
        # inlined: the executor's WorkerOffer for its free cores, cached per count (hot path)
        offer = ex.offers.get(ex.free)
        if offer is None:
            offer = ex.offers[ex.free] = WorkerOffer(ex.id, ex.host, ex.free)
        launches = self.scheduler.resource_offers([offer], False, self.env.now * 1000.0)
        if launches:
            self._launch(launches)

    # ------------------------------------------------------------------ launch / task end
    def _launch(self, launches) -> None:
        now = self.env.now
        reuse = self._reuse
        executors, by_taskset, records = self.executors, self._by_taskset, self.records
        heappop = heapq.heappop
        task_id = self._next_task_id
        taken = 0
        fork_s, has_wait, daemon_s, first_s = self._fork_s, self._has_wait, self._daemon_s, self._first_task_s
        jit_s = self._jit_s
        for launch in launches:
            ex = executors[launch.executor_id]
            stage = by_taskset[launch.taskset_id]
            cpus = launch.cpus
            taken += cpus
            ex.free -= cpus
            if ex.free < 0:
                raise AssertionError(f"executor {ex.id} over-committed by the policy")
            if stage.python:
                # PythonWorkerFactory.create(): the oldest idle worker, else a fork. A worker pays
                # the start-up (mostly importing what the function needs, such as Chainer) the
                # first time it runs a stage's function, once per process.
                if reuse and ex.idle:
                    worker = ex.idle.popleft()
                    needs_worker = stage.stage_id not in worker
                    if needs_worker:
                        worker.add(stage.stage_id)
                    cpu, items = stage.cost(launch.index, needs_worker)
                else:
                    worker = {stage.stage_id}
                    cpu, items = stage.cost(launch.index, True)
                    if fork_s:
                        cpu += fork_s
                if stage.off_cpu is not None:   # the job file's own per-task time off the CPU
                    wait = stage.off_cpu(launch.index)
                else:
                    wait = self.cost_model.task_wait(items) if has_wait and stage.runs_job_function else 0.0
            else:
                worker = None
                wait = 0.0 if stage.off_cpu is None else stage.off_cpu(launch.index)
                cpu, items = stage.cost(launch.index, False)
            if jit_s and not ex.active:
                # A JVM that starts running tasks JIT-compiles their path on compiler threads
                # beside them: one more runnable thread on its machine until that CPU is served.
                # The corpus's job times grow with the executors that take tasks, not with the
                # workers forked (README, "Other jobs").
                ex.active = True
                ex.machine.start(_WARMUP, jit_s)
            slot = heappop(ex.free_slots) if ex.free_slots else -1
            record = TaskRecord(stage.stage_id, task_id, launch.index, launch.attempt, ex.id, ex.host,
                                _LOCALITY_NAME[launch.locality], now, _NAN, slot, items, cpu, stage.name)
            task_id += 1
            records.append(record)
            run = (record, ex, stage, cpus, worker, wait)
            # The tests of _through_gates, inlined so a run with neither term pays one check.
            if (first_s or daemon_s) and (ex.gate or (first_s and not ex.jvm_warm)
                                          or (daemon_s and stage.python and ex.daemon != _DAEMON_UP)):
                self._through_gates(ex, run, cpu, stage.threads)
            elif stage.threads == 1:
                ex.machine.start(run, cpu)
            else:
                ex.machine.start_threads(run, cpu, self.cost_model.useful_threads(stage.threads))
        # Totals once per round: nothing reads them while the launches are handed out.
        n = len(launches)
        self._next_task_id = task_id
        self.total_free -= taken
        self.pending_total -= n
        self.running_total += n
        self._last_progress = now

    def _through_gates(self, ex: Executor, run: _Running, cpu: float, threads: int) -> None:
        """A task's start on an executor that is not warm yet. Its JVM's first task opens the
        first gate: `executor_first_task_s` of CPU on its machine (class loading and JIT of the
        task path, which the log shows as slow deserialization of the first tasks), and every task
        launched meanwhile waits. Then PythonWorkerFactory.startDaemon: the first Python task
        starts the executor's daemon (`executor_start_s`), and the Python tasks launched meanwhile
        wait for it, as `create()` blocks on the factory's lock."""
        python = run[2].python
        if ex.gate == _JVM_GATE or (ex.gate == _DAEMON_GATE and python):
            ex.waiting.append((run, cpu, threads))
        elif self._first_task_s and not ex.jvm_warm:
            ex.jvm_warm = True
            self._open_gate(ex, _JVM_GATE, self._first_task_s)
            ex.waiting.append((run, cpu, threads))
        elif self._daemon_s and python and ex.daemon != _DAEMON_UP:
            self._open_gate(ex, _DAEMON_GATE, self._daemon_s)
            ex.waiting.append((run, cpu, threads))
        elif threads == 1:
            ex.machine.start(run, cpu)
        else:
            ex.machine.start_threads(run, cpu, self.cost_model.useful_threads(threads))

    @staticmethod
    def _open_gate(ex: Executor, gate: int, cpu: float) -> None:
        ex.gate = gate
        ex.machine.start((None, ex, None, 0, None, 0.0), cpu)

    def _gate_done(self, ex: Executor) -> None:
        if ex.gate == _DAEMON_GATE:
            ex.daemon = _DAEMON_UP
        ex.gate = _NO_GATE
        waiting, ex.waiting = ex.waiting, []
        for run, cpu, threads in waiting:
            self._through_gates(ex, run, cpu, threads)

    def _on_task_end(self, run: _Running) -> None:
        now = self.env.now
        record, ex, stage, cpus, worker, wait = run
        if record is None:
            if ex is not None:      # else an executor's warm-up ended: nothing waits for it
                self._gate_done(ex)
            return
        if wait:
            # Its CPU work is done; the rest of the task is off the CPU (sleep, I/O).
            self.env.timeout(wait).callbacks.append(
                lambda _ev: self._on_task_end((record, ex, stage, cpus, worker, 0.0)))
            return
        record.finish_time = now
        ex.free += cpus
        self.total_free += cpus
        self.running_total -= 1
        if record.slot >= 0:
            heapq.heappush(ex.free_slots, record.slot)
        if stage.python and self._reuse:
            ex.idle.append(worker)   # PythonWorkerFactory.releaseWorker: back of the idle queue
        self._last_progress = now
        self.scheduler.task_finished(stage.taskset_id, record.index, now * 1000.0)
        # The DAG side's CompletionEvent without a call per task: the stage's hook (map
        # statuses), its count of finished tasks, and one report when the stage is done.
        if stage.on_task_end is not None:
            stage.on_task_end(record.index, ex)
        stage.finished += 1
        # StatusUpdate: cores back, then a partial round for this executor.
        self.partial_round(ex)
        if stage.finished == stage.num_tasks:   # inlined: Stage.done (hot path)
            self._stage_finished(stage)

    # ------------------------------------------------------------------ processes
    def _revive(self):
        interval = self.conf.revive_interval_ms / 1000.0
        while True:
            self.full_round()
            if (self.pending_total and not self.running_total and len(self.active) == len(self.executors)
                    and self.env.now - self._last_progress > self._stall_limit_s):
                raise UserError(f"the simulation stalled at t={self.env.now:.1f}s: {self.pending_total} tasks "
                                f"pending, none running, no executor takes them (check prefs and task cpus)")
            yield self.env.timeout(interval)

    def _register(self, ex: Executor) -> None:
        self.active.append(ex)
        self._last_progress = self.env.now
        self.unseen += 1
        ex.free = ex.cores
        self.total_free += ex.cores
        if self._background:
            # The executor's JVM takes its share of its machine's cores from then on.
            machine = self._machines[self._machine_of_host[ex.host].name]
            n = self._registered_on[machine.name] = self._registered_on.get(machine.name, 0) + 1
            machine.set_capacity(machine.cores - self._background * n)
        if self._warmup_s:
            # A just-registered executor JVM is not idle: it still loads classes and JIT-compiles
            # its RPC and task paths (measured on the loopback cluster: an executor left idle after
            # registering burned about 1.5 CPU seconds more in its next 2 s, then ~0.01 core). That
            # work is one more runnable thread on the machine, sharing its cores with the tasks.
            # An executor registered before the action has that much of it behind it (as if
            # it had run alone then: what else ran before the job is not in the model).
            left = self._warmup_s - ex.registered_before_s
            if left > 0:
                self._machines[self._machine_of_host[ex.host].name].start(_WARMUP, left)
        if self.conf.offers_on_registration:
            self.full_round()   # 2.x RegisterExecutor: all cores free, then an immediate full round
        else:
            # 3.x/4.x: registered with 0 free cores; LaunchedExecutor gives all cores and a
            # partial round (modelled as following at once).
            self.partial_round(ex)

    def _registrations(self):
        registers_at = self._registers_at
        for ex in sorted(self.executors.values(), key=lambda e: registers_at[e.id]):
            delay = registers_at[ex.id] - self.env.now
            if delay > 0:
                yield self.env.timeout(delay)
            self._register(ex)

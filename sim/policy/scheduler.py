"""Spark's TaskSchedulerImpl: the offer round that turns free cores into task launches.

`resource_offers` is one call of Spark's `resourceOffers(offers, isAllFreeResources)`: it
registers executors it has not seen (which can make new locality levels valid), shuffles the
offers once with the seeded generator, then for each schedulable taskset in FIFO order
(priority = job id, then stage id) and each of its valid levels, ascending, repeats passes over
the offers, at most one task per offer per pass, until a pass launches nothing. After a
taskset's passes it applies the 3.1+ timer rule (SPARK-18886): reset only after a reject-free
round that launched something, and after any reject only a full round can reset. The caller
(a backend, the SimPy model or a scenario replay) owns free cores and time; this class holds
no clock. Times are milliseconds.

Performance notes: a round costs in proportion to its offers and the tasks it launches. The
version checks are made once, a pass visits only the offers that still have enough free CPUs
(an offer skipped in one pass is skipped in every later pass of the round: free CPUs only go
down within a round, and a skipped offer is neither asked nor counted as a reject), and a
taskset for which no offer has enough CPUs is passed over as a whole (every pass would skip
every offer: nothing launched, no reject, so the reset rule would not act either).
`TaskLaunch` is a named tuple because one is built per launched task.

Public hooks for what Spark's own suites do to a TaskSchedulerImpl besides offering:
`add_executor` (an executor becomes alive outside a round), `taskset` (look one up),
`tasksets` (the live ones, in scheduling order), `executor_lost`, `task_finished`, `task_failed`.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sparkdelay.sim.policy.config import SchedulerConf, SparkVersion
from sparkdelay.sim.policy.executors import ExecutorRegistry
from sparkdelay.sim.policy.locality import TaskLocality, TaskLocation
from sparkdelay.sim.policy.taskset_manager import TaskSetManager


@dataclass(frozen=True)
class WorkerOffer:
    """Spark's WorkerOffer: an executor and the cores it has free now."""

    executor_id: str
    host: str
    cores: int  # free cores now


class TaskLaunch(NamedTuple):
    """A task handed to an offer (Spark's TaskDescription, with the locality it launched at)."""

    taskset_id: str
    index: int
    attempt: int
    executor_id: str
    locality: TaskLocality
    cpus: int
    max_locality: TaskLocality = TaskLocality.ANY  # the pass's cap; NO_PREF passes skip the timer


class TaskScheduler:
    """The tasksets of an application and the offer rounds over them (no clock, no cores)."""

    def __init__(self, conf: SchedulerConf, seed: int = 0, racks: Mapping[str, str] | None = None):
        self.conf = conf
        self.rng = random.Random(seed)
        self.registry = ExecutorRegistry(racks)
        self._tasksets: dict[str, TaskSetManager] = {}   # not yet finished, in scheduling (FIFO) order
        self._all_tasksets: dict[str, TaskSetManager] = {}
        self._order: dict[str, int] = {}
        self._no_rejects_since_last_reset: dict[str, bool] = {}
        # Fixed for the scheduler's life; compared once instead of on every round.
        self._filter_schedulable = conf.spark_version >= SparkVersion(3, 0)
        self._legacy_reset = conf.legacy_reset

    # ------------------------------------------------------------------ tasksets
    def submit_taskset(self, taskset_id: str, stage_id: int, prefs: Sequence[Sequence[TaskLocation]],
                       now_ms: float, priority: int = 0, cpus_per_task: int | None = None,
                       is_shuffle_map: bool = False) -> TaskSetManager:
        if taskset_id in self._all_tasksets:
            raise ValueError(f"taskset {taskset_id!r} was already submitted")
        # A new attempt of a stage makes the earlier attempts zombies (TSI.submitTasks).
        for other in self._tasksets.values():
            if other.stage_id == stage_id:
                other.mark_zombie()
        tsm = TaskSetManager(taskset_id, stage_id, prefs, self.conf, self.registry, now_ms,
                             priority=priority, cpus_per_task=cpus_per_task, is_shuffle_map=is_shuffle_map)
        self._order[taskset_id] = len(self._order)
        self._all_tasksets[taskset_id] = tsm
        # Keep the live tasksets in FIFO order (priority = job id, then stage id, then
        # submission) so that a round only filters, never sorts.
        live = list(self._tasksets.values()) + [tsm]
        live.sort(key=lambda t: (t.priority, t.stage_id, self._order[t.taskset_id]))
        self._tasksets = {t.taskset_id: t for t in live}
        self._drop_finished()
        return tsm

    def taskset(self, taskset_id: str) -> TaskSetManager | None:
        """The manager of a submitted taskset, finished or not; None if never submitted."""
        return self._all_tasksets.get(taskset_id)

    def tasksets(self) -> list[TaskSetManager]:
        """The live tasksets (submitted, not finished), in scheduling order."""
        return list(self._tasksets.values())

    def add_executor(self, executor_id: str, host: str) -> None:
        """An executor becomes alive outside an offer round (Spark's suites: addExecutor, then
        executorAdded): it is registered and every schedulable taskset recomputes its levels."""
        self.registry.add(executor_id, host)
        for tsm in self._schedulable_tasksets():
            tsm.executor_added()

    def _drop_finished(self, tsm: TaskSetManager | None = None) -> None:
        """Remove finished tasksets (Spark's taskSetFinished); only `tsm` when given."""
        if tsm is not None:
            if tsm.is_zombie and not tsm.running:   # inlined: TaskSetManager.is_finished (hot path)
                self._drop(tsm)
            return
        for t in list(self._tasksets.values()):
            if t.is_finished():
                self._drop(t)

    def _drop(self, tsm: TaskSetManager) -> None:
        if tsm.taskset_id in self._tasksets:
            del self._tasksets[tsm.taskset_id]
            self._no_rejects_since_last_reset.pop(tsm.taskset_id, None)

    def _schedulable_tasksets(self) -> list[TaskSetManager]:
        """Spark's rootPool.getSortedTaskSetQueue: 3.0+ leaves out zombies and tasksets with
        nothing pending (Schedulable.isSchedulable), 2.x offers every live taskset."""
        if self._filter_schedulable:
            return [t for t in self._tasksets.values() if not t.is_zombie and t.pending.all]
        return list(self._tasksets.values())

    # ------------------------------------------------------------------ the round
    def resource_offers(self, offers: Sequence[WorkerOffer], all_free: bool, now_ms: float,
                        shuffle: bool = True) -> list[TaskLaunch]:
        new_executor = False
        registry = self.registry
        known = registry.executor_host
        for offer in offers:
            # Seen in an offer = alive, even with 0 free cores.
            if offer.executor_id not in known:
                new_executor |= registry.add(offer.executor_id, offer.host)
        shuffled = list(offers)
        if len(shuffled) > 1:
            if shuffle:
                self.rng.shuffle(shuffled)
            available = [offer.cores for offer in shuffled]
            most_free = max(available)
        else:   # a partial round (one executor): the common case, one task per finished task
            available = [offer.cores for offer in shuffled]
            most_free = available[0] if available else 0
        launches: list[TaskLaunch] = []
        # inlined: TaskScheduler._schedulable_tasksets (hot path)
        if self._filter_schedulable:
            tasksets = [t for t in self._tasksets.values() if not t.is_zombie and t.pending.all]
        else:
            tasksets = list(self._tasksets.values())
        if new_executor:
            for tsm in tasksets:
                tsm.executor_added()
        for tsm in tasksets:
            cpus = tsm.cpus_per_task
            if most_free < cpus:
                continue  # every pass would skip every offer: nothing launched, nothing rejected
            # Offers this taskset may ask, in shuffled order (positions into `shuffled`).
            candidates = [i for i, free in enumerate(available) if free >= cpus]
            launched_any = False
            no_rejects = True
            global_min: TaskLocality | None = None
            for max_locality in tsm.levels:   # passes never change the levels (only executors do)
                while candidates:
                    pass_no_rejects, pass_min = self._offer_single_taskset(
                        tsm, max_locality, shuffled, available, candidates, now_ms, launches)
                    no_rejects &= pass_no_rejects
                    if pass_min is None:
                        break
                    launched_any = True
                    if global_min is None or pass_min < global_min:
                        global_min = pass_min
            if not self._legacy_reset:
                self._apply_reset_rule(tsm, all_free, launched_any, no_rejects, global_min, now_ms)
            if launched_any:
                most_free = max(available)
        return launches

    def _offer_single_taskset(self, tsm: TaskSetManager, max_locality: TaskLocality,
                              shuffled: Sequence[WorkerOffer], available: list[int], candidates: list[int],
                              now_ms: float, launches: list[TaskLaunch]):
        """One pass: each offer with enough free CPUs is asked for at most one task.

        `candidates` (positions of offers with enough free CPUs, in shuffled order) is updated
        in place: an offer that falls below `cpus` is dropped for the passes that follow."""
        cpus = tsm.cpus_per_task
        no_rejects = True
        min_locality: TaskLocality | None = None
        resource_offer = tsm.resource_offer
        attempts = tsm.attempts_launched
        taskset_id = tsm.taskset_id
        dropped = False
        for i in candidates:
            offer = shuffled[i]
            index, locality, reject = resource_offer(offer.executor_id, offer.host, max_locality, now_ms)
            if reject:
                no_rejects = False
            if index is None:
                continue
            free = available[i] = available[i] - cpus
            if free < cpus:
                dropped = True
            # attempts[index] - 1: the attempt number of the launch the manager just counted
            launches.append(TaskLaunch(taskset_id, index, attempts[index] - 1, offer.executor_id, locality, cpus,
                                       max_locality))
            if min_locality is None or locality < min_locality:
                min_locality = locality
        if dropped:
            candidates[:] = [i for i in candidates if available[i] >= cpus]
        return no_rejects, min_locality

    def _apply_reset_rule(self, tsm: TaskSetManager, all_free: bool, launched_any: bool,
                          no_rejects: bool, global_min: TaskLocality | None, now_ms: float) -> None:
        """SPARK-18886 (3.1+): reset only after reject-free rounds."""
        key = tsm.taskset_id
        if no_rejects:
            if launched_any and (all_free or self._no_rejects_since_last_reset.get(key, True)):
                tsm.reset_delay_timer(now_ms, global_min)
                self._no_rejects_since_last_reset[key] = True
        else:
            self._no_rejects_since_last_reset[key] = False

    # ------------------------------------------------------------------ status updates
    def task_finished(self, taskset_id: str, index: int, now_ms: float) -> None:
        tsm = self._all_tasksets[taskset_id]
        tsm.handle_successful_task(index)
        self._drop_finished(tsm)

    def task_failed(self, taskset_id: str, index: int, now_ms: float,
                    counts_toward_failures: bool = True) -> None:
        """A running copy failed; it is re-queued. Spark follows this with a full round (revive)."""
        tsm = self._all_tasksets[taskset_id]
        tsm.handle_failed_task(index, counts_toward_failures)
        self._drop_finished(tsm)

    def executor_lost(self, executor_id: str, now_ms: float, counts_toward_failures: bool = True) -> dict[str, list[int]]:
        """Forget the executor and re-queue its tasks; returns taskset id -> re-queued indices."""
        self.registry.remove(executor_id)
        requeued = {}
        for tsm in list(self._tasksets.values()):
            indices = tsm.executor_lost(executor_id, counts_toward_failures)
            if indices:
                requeued[tsm.taskset_id] = indices
        self._drop_finished()
        return requeued

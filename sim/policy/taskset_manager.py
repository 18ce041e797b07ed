"""Spark's TaskSetManager: which pending task an offer gets, and the delay-scheduling timer.

One manager per stage attempt. Pending task indices sit in stacks per executor, host, rack,
"no preference" and "all", built in reverse index order so the lowest index pops first, and
cleaned lazily (a launched task stays in every stack but the one it was popped from). The
valid locality levels depend on which executors the scheduler has seen alive; the allowed
level climbs one level per expired wait (`spark.locality.wait.*`) and skips levels with no
pending task at once (SPARK-4939). Who resets the timer depends on the mode: in legacy mode
(Spark < 3.1, or `spark.locality.wait.legacyResetOnTaskLaunch`) every launch outside a
NO_PREF pass does; otherwise only the scheduler round does (`TaskScheduler`). Follows
SPEC.md §b; times are milliseconds.

Performance notes (the offer path runs a few times per simulated task): the hot methods
(`resource_offer`, `allowed_locality`, `_dequeue_task`/`_dequeue_from`, `_more_tasks_in`)
inline Spark's small helpers (`isTaskNeedScheduled`, `tasksNeedToBeScheduledFrom`) and keep
attributes in locals; each does exactly the checks and the lazy clean-up of the helper it
replaces, in the same order, so the stacks and the timer evolve as before. Every such site is
marked `# inlined: <source> (hot path)`.

What Spark's suites set on a manager directly has a hook here (`mark_zombie`,
`ensure_excludelist` with the `TaskSetExcludelist.exclude_*` methods), so scenario replays and
tests never write the manager's fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sparkdelay.sim.policy.config import SchedulerConf
from sparkdelay.sim.policy.exclusion import TaskSetExcludelist
from sparkdelay.sim.policy.executors import ExecutorRegistry
from sparkdelay.sim.policy.locality import TaskLocality, TaskLocation

PROCESS_LOCAL, NODE_LOCAL, NO_PREF, RACK_LOCAL, ANY = (
    TaskLocality.PROCESS_LOCAL, TaskLocality.NODE_LOCAL, TaskLocality.NO_PREF,
    TaskLocality.RACK_LOCAL, TaskLocality.ANY)


@dataclass
class PendingTasks:
    """Spark's PendingTasksByLocality: stacks of task indices, popped from the end."""

    for_executor: dict[str, list[int]] = field(default_factory=dict)
    for_host: dict[str, list[int]] = field(default_factory=dict)
    for_rack: dict[str, list[int]] = field(default_factory=dict)
    no_prefs: list[int] = field(default_factory=list)
    all: list[int] = field(default_factory=list)


class TaskSetManager:
    """Schedules the tasks of one TaskSet (one attempt of a stage), as Spark's TaskSetManager.

    It keeps track of each task (pending, running, successful), queues a failed task again (up
    to `spark.task.maxFailures` failures of one task; then the manager becomes a zombie, where
    Spark aborts the job) and places tasks by locality with delay scheduling. Its interfaces
    are `resource_offer`, which asks whether it wants to run a task on one executor, and
    `handle_successful_task`, `handle_failed_task` and `executor_lost`, which tell it that
    tasks changed state. A zombie launches nothing more; it is finished once nothing runs.

    Locality levels, most local first: PROCESS_LOCAL (the task's data is in that executor),
    NODE_LOCAL (on that host), NO_PREF (the task prefers nothing), RACK_LOCAL (on that rack),
    ANY. The valid levels (`levels`) are those at which some pending task prefers an executor,
    host or rack that is alive, NO_PREF when a task prefers nothing, and always ANY; they are
    recomputed when executors come and go.

    Delay scheduling: an offer gets a task only at the allowed level or a more local one. The
    allowed level starts at the most local valid level and widens by one level each time that
    level's wait (`spark.locality.wait.process/node/rack`) passes without the timer being reset;
    a level with nothing left to launch is skipped at once. A reset brings the allowed level
    back to the level of the launch that caused it: every launch in legacy mode, a round that
    launched without rejecting an offer in 3.1+ (`TaskScheduler`).
    """

    def __init__(self, taskset_id: str, stage_id: int, prefs: Sequence[Sequence[TaskLocation]],
                 conf: SchedulerConf, registry: ExecutorRegistry, now_ms: float, *,
                 priority: int = 0, cpus_per_task: int | None = None, is_shuffle_map: bool = False):
        self.taskset_id = taskset_id
        self.stage_id = stage_id
        self.priority = priority
        self.cpus_per_task = conf.task_cpus if cpus_per_task is None else cpus_per_task
        self.is_shuffle_map = is_shuffle_map
        self.conf = conf
        self.legacy_reset = conf.legacy_reset   # read on every launch
        self.registry = registry
        # ShuffleMapTask/ResultTask de-duplicate their locations (`distinct`). Tasks usually
        # share one preference tuple object, so each distinct object is de-duplicated once
        # (keyed by identity: `prefs` keeps every tuple alive while this runs).
        distinct: dict[int, tuple[TaskLocation, ...]] = {}
        self.prefs: list[tuple[TaskLocation, ...]] = []
        for p in prefs:
            d = distinct.get(id(p))
            if d is None:
                d = distinct[id(p)] = tuple(dict.fromkeys(p))
            self.prefs.append(d)
        n = self.num_tasks = len(self.prefs)
        self.successful = [False] * n
        self.copies_running = [0] * n
        self.num_failures = [0] * n
        self.attempts_launched = [0] * n
        self.tasks_successful = 0
        self.running: dict[int, str] = {}            # index -> executor of its running copy
        self.succeeded_on: dict[int, str] = {}        # index -> executor that produced its output
        self.is_zombie = False
        self.excludelist = TaskSetExcludelist() if conf.exclude_on_failure else None

        self.pending = PendingTasks()
        for index in reversed(range(n)):
            self._add_pending_task(index, resolve_racks=False)
        # Spark resolves racks once per distinct host after building the host stacks.
        for host, indices in self.pending.for_host.items():
            rack = registry.rack_of(host)
            if rack is not None:
                self.pending.for_rack.setdefault(rack, []).extend(indices)

        self.levels: list[TaskLocality] = []
        self.waits: list[float] = []
        self._compute_levels()
        self.current_index = 0
        self.last_reset_ms = now_ms

    # ------------------------------------------------------------------ pending stacks
    def _add_pending_task(self, index: int, resolve_racks: bool = True) -> None:
        pending = self.pending
        locations = self.prefs[index]
        for loc in locations:
            if loc.kind == "executor":
                pending.for_executor.setdefault(loc.executor_id, []).append(index)
            elif loc.kind == "hdfs_cache":
                # Resolved to the executors alive on the host *now*, never re-resolved later.
                for executor_id in self.registry.executors_on_host(loc.host):
                    pending.for_executor.setdefault(executor_id, []).append(index)
            pending.for_host.setdefault(loc.host, []).append(index)
            if resolve_racks:
                rack = self.registry.rack_of(loc.host)
                if rack is not None:
                    pending.for_rack.setdefault(rack, []).append(index)
        if not locations:
            pending.no_prefs.append(index)
        pending.all.append(index)

    def _more_tasks_in(self, stacks: dict[str, list[int]]) -> bool:
        # Spark's moreTasksToRunIn: no liveness check, keys with nothing left are dropped, and
        # stale entries (launched or finished tasks) are popped off each stack's end on the way.
        copies, successful = self.copies_running, self.successful
        empty = None
        found = False
        for key, stack in stacks.items():
            while stack:
                index = stack[-1]
                if copies[index] == 0 and not successful[index]:   # inlined: Spark's isTaskNeedScheduled (hot path)
                    found = True
                    break
                stack.pop()
            if found:
                break
            if empty is None:
                empty = [key]
            else:
                empty.append(key)
        if empty is not None:
            for key in empty:
                del stacks[key]
        return found

    def _dequeue_from(self, stack: list[int] | None, executor_id: str, host: str) -> int | None:
        """Pop from the end until a task needs scheduling; excluded tasks stay in place."""
        if not stack:
            return None
        excl = self.excludelist
        copies, successful = self.copies_running, self.successful
        if excl is None:
            # Nothing is ever skipped: pop stale entries until a pending task comes up.
            while stack:
                index = stack.pop()
                if copies[index] == 0 and not successful[index]:   # inlined: Spark's isTaskNeedScheduled (hot path)
                    return index
            return None
        position = len(stack)
        while position > 0:
            position -= 1
            index = stack[position]
            if excl.is_task_excluded(index, executor_id, host):
                continue  # left in place: another executor may still take it
            del stack[position]
            if copies[index] == 0 and not successful[index]:   # inlined: Spark's isTaskNeedScheduled (hot path)
                return index
        return None

    def _dequeue_task(self, executor_id: str, host: str, allowed: TaskLocality):
        """Spark's dequeueTask: executor, host, no-pref, rack, then any stack, as allowed."""
        pending = self.pending
        dequeue = self._dequeue_from
        index = dequeue(pending.for_executor.get(executor_id), executor_id, host)
        if index is not None:
            return index, PROCESS_LOCAL
        if allowed >= NODE_LOCAL:
            index = dequeue(pending.for_host.get(host), executor_id, host)
            if index is not None:
                return index, NODE_LOCAL
        if allowed >= NO_PREF:
            # No-preference tasks come after node-local ones and are reported PROCESS_LOCAL.
            index = dequeue(pending.no_prefs, executor_id, host)
            if index is not None:
                return index, PROCESS_LOCAL
        # With no rack stacks at all (standalone: no racks) the rack lookup cannot find one.
        if allowed >= RACK_LOCAL and pending.for_rack:
            rack = self.registry.rack_of(host)
            if rack is not None:
                index = dequeue(pending.for_rack.get(rack), executor_id, host)
                if index is not None:
                    return index, RACK_LOCAL
        if allowed >= ANY:
            index = dequeue(pending.all, executor_id, host)
            if index is not None:
                return index, ANY
        return None

    # ------------------------------------------------------------------ locality levels
    def _compute_levels(self) -> None:
        pending, reg, conf = self.pending, self.registry, self.conf
        drop_zero = conf.drop_zero_wait_levels
        levels = []
        if pending.for_executor and not (drop_zero and conf.wait_process_ms == 0) and any(
                reg.is_executor_alive(e) for e in pending.for_executor):
            levels.append(PROCESS_LOCAL)
        if pending.for_host and not (drop_zero and conf.wait_node_ms == 0) and any(
                reg.has_executors_alive_on_host(h) for h in pending.for_host):
            levels.append(NODE_LOCAL)
        if pending.no_prefs:
            levels.append(NO_PREF)
        if pending.for_rack and not (drop_zero and conf.wait_rack_ms == 0) and any(
                reg.has_host_alive_on_rack(r) for r in pending.for_rack):
            levels.append(RACK_LOCAL)
        levels.append(ANY)
        self.levels = levels
        self.last_level_index = len(levels) - 1   # read on every offer
        self.waits = [conf.wait_ms(level) for level in levels]

    def locality_index(self, level: TaskLocality) -> int:
        """Spark's getLocalityIndex: the first valid level at least as wide as `level`."""
        index = 0
        while level > self.levels[index]:
            index += 1
        return index

    def recompute_locality(self) -> None:
        if self.is_zombie:
            return
        old_index, old_levels = self.current_index, self.levels
        old_level = old_levels[old_index]
        self._compute_levels()
        self.current_index = self.locality_index(old_level)
        if self.conf.shift_on_executor_added and self.current_index > old_index:
            # SPARK-31837: more local levels appeared; move to the first newly valid one.
            new_levels = [level for level in self.levels if level not in old_levels]
            if new_levels:
                self.current_index = self.locality_index(new_levels[0])

    def allowed_locality(self, now_ms: float) -> TaskLocality:
        """Spark's getAllowedLocalityLevel (advances the timer state as a side effect)."""
        levels = self.levels
        last = self.last_level_index
        if self.current_index == last:
            return levels[last]   # at the widest level: the loop below would not run
        pending = self.pending
        while self.current_index < last:
            level = levels[self.current_index]
            if level == PROCESS_LOCAL:
                more = self._more_tasks_in(pending.for_executor)
            elif level == NODE_LOCAL:
                more = self._more_tasks_in(pending.for_host)
            elif level == NO_PREF:
                more = bool(pending.no_prefs)  # not cleaned lazily, as in Spark
            else:
                more = self._more_tasks_in(pending.for_rack)
            if not more:
                self.last_reset_ms = now_ms  # SPARK-4939: nothing to wait for here
                self.current_index += 1
            elif now_ms - self.last_reset_ms >= self.waits[self.current_index]:
                # Add the wait rather than setting `now`: k waits skip k levels at once.
                self.last_reset_ms += self.waits[self.current_index]
                self.current_index += 1
            else:
                return level
        return levels[self.current_index]

    def reset_delay_timer(self, now_ms: float, min_locality: TaskLocality | None) -> None:
        self.last_reset_ms = now_ms
        if min_locality is not None:
            self.current_index = self.locality_index(min_locality)

    # ------------------------------------------------------------------ offers
    def resource_offer(self, executor_id: str, host: str, max_locality: TaskLocality, now_ms: float):
        """Offer one executor; returns (index or None, launch locality or None, reject flag)."""
        excl = self.excludelist
        if self.is_zombie or (excl is not None and excl.is_offer_excluded(executor_id, host)):
            return None, None, False
        if max_locality != NO_PREF:
            if self.current_index == self.last_level_index:
                allowed = ANY   # inlined: TaskSetManager.allowed_locality at the widest level (hot path)
            else:
                allowed = self.allowed_locality(now_ms)
            if max_locality < allowed:
                allowed = max_locality   # min(allowed, max_locality)
        else:
            allowed = NO_PREF  # a NO_PREF pass does not consult the timer at all
        found = self._dequeue_task(executor_id, host, allowed)
        if found is None:
            reject = max_locality == ANY and bool(self.pending.all)
            return None, None, reject
        index, locality = found
        if self.legacy_reset and max_locality != NO_PREF:
            self.reset_delay_timer(now_ms, locality)
        self.copies_running[index] += 1
        self.attempts_launched[index] += 1
        self.running[index] = executor_id
        return index, locality, False

    # ------------------------------------------------------------------ task outcomes
    def handle_successful_task(self, index: int) -> None:
        executor_id = self._stop_running(index)
        if not self.successful[index]:
            self.successful[index] = True
            self.succeeded_on[index] = executor_id
            self.tasks_successful += 1
            if self.tasks_successful == self.num_tasks:
                self.mark_zombie()   # all done: Spark's successful-taskset zombie

    def handle_failed_task(self, index: int, counts_toward_failures: bool = True) -> None:
        executor_id = self._stop_running(index)
        if not self.is_zombie and counts_toward_failures:
            if self.excludelist is not None and executor_id is not None:
                self.excludelist.update_for_failed_task(
                    self.registry.executor_host.get(executor_id, ""), executor_id, index)
            self.num_failures[index] += 1
            if self.num_failures[index] >= self.conf.max_task_failures:
                self.mark_zombie()  # spark.task.maxFailures reached: Spark aborts the job
                return
        if not self.successful[index]:
            self._add_pending_task(index)  # to the end of the stacks: retried first

    def _stop_running(self, index: int) -> str | None:
        if self.copies_running[index] <= 0:
            raise ValueError(f"taskset {self.taskset_id}: task {index} is not running")
        self.copies_running[index] -= 1
        return self.running.pop(index, None)

    def is_finished(self) -> bool:
        """A zombie with nothing running: Spark removes it from the pool."""
        return self.is_zombie and not self.running

    # ------------------------------------------------------------------ what Spark's suites set directly
    def mark_zombie(self) -> None:
        """No more launches (Spark's isZombie = true): a new attempt of the stage, an abort, or
        a suite's direct setting."""
        self.is_zombie = True

    def ensure_excludelist(self) -> TaskSetExcludelist:
        """The taskset's exclude list, created when `spark.excludeOnFailure.enabled` is off (Spark's
        suites give a manager a mocked one to exclude executors and hosts directly)."""
        if self.excludelist is None:
            self.excludelist = TaskSetExcludelist()
        return self.excludelist

    # ------------------------------------------------------------------ executors
    def executor_added(self) -> None:
        self.recompute_locality()

    def executor_lost(self, executor_id: str, counts_toward_failures: bool = True) -> list[int]:
        """Re-queue what ran on the lost executor; returns the indices that went back to pending."""
        requeued = []
        if self.is_shuffle_map and not self.is_zombie:
            # Without an external shuffle service the map outputs on that executor are gone.
            for index, ran_on in list(self.succeeded_on.items()):
                if ran_on == executor_id and self.successful[index]:
                    self.successful[index] = False
                    del self.succeeded_on[index]
                    self.tasks_successful -= 1
                    self._add_pending_task(index)
                    requeued.append(index)
        for index, ran_on in list(self.running.items()):
            if ran_on == executor_id:
                self.handle_failed_task(index, counts_toward_failures)
                requeued.append(index)
        self.recompute_locality()
        return requeued

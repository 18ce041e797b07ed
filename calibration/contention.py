"""Recover each task's CPU demand from its wall-clock interval, and which tasks started a worker.

Tasks on one machine share its C cores by processor sharing: while n tasks run there, each
progresses at min(1, C/n). A task observed from launch to finish therefore received
`integral of min(1, C/n(t)) dt` CPU seconds over its lifetime, with n(t) counted from every
task of the log on the same machine; that is the demand the cost model must reproduce.
PySpark keeps finished Python workers for reuse (`spark.python.worker.reuse`): a task takes an
idle worker of its executor if one exists and otherwise forks a fresh one. The start-up the
model charges is mostly importing what the stage's function needs (Chainer for the reduce side),
which a worker reused from another stage has not done either, so, like `sim.engine`, a worker
counts as warm only for the stage it already ran: pools are per (executor, stage). Replaying
launches and finishes in time order then says which tasks paid the start-up. An executor JVM's
first tasks deserialize slowly, once per executor; that cost is told apart the same way, from
the first wave of each executor against the log's later tasks.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Callable, Iterable, Mapping

from sparkdelay.eventlog.log import Task


def cpu_demands(tasks: Iterable[Task], machine_of: Callable[[Task], tuple[str, int]]) -> dict[int, float]:
    """task_id -> CPU seconds received; `machine_of(task)` gives (machine name, cores)."""
    by_machine: dict[str, list[Task]] = defaultdict(list)
    cores: dict[str, int] = {}
    for t in tasks:
        if t.finish_ms is None:
            continue
        name, c = machine_of(t)
        by_machine[name].append(t)
        cores[name] = c
    out: dict[int, float] = {}
    for name, group in by_machine.items():
        out.update(_shared_progress(group, cores[name]))
    return out


def _shared_progress(tasks: list[Task], cores: int) -> dict[int, float]:
    # Sweep the machine's timeline; between two consecutive launch/finish instants n is
    # constant, so every running task gains (dt * min(1, C/n)) in that segment.
    events = sorted({t.launch_ms for t in tasks} | {t.finish_ms for t in tasks})
    rate_cum = [0.0]  # cumulative per-task progress (ms of CPU) at each event instant
    for a, b in zip(events, events[1:]):
        n = sum(1 for t in tasks if t.launch_ms <= a and t.finish_ms >= b)
        rate_cum.append(rate_cum[-1] + (b - a) * (min(1.0, cores / n) if n else 1.0))
    at = {ms: i for i, ms in enumerate(events)}
    return {t.task_id: (rate_cum[at[t.finish_ms]] - rate_cum[at[t.launch_ms]]) / 1000.0 for t in tasks}


def fresh_worker_tasks(tasks: Iterable[Task], slots: Mapping[str, int] | None = None) -> set[int]:
    """Task ids that found no idle Python worker warm for their stage on their executor.

    `slots` (executor id -> task slots) corrects for when the log records a finish: Spark frees
    the slot when the executor reports the task done, but the driver stamps "Finish Time" only
    after fetching the result, so a next task can launch a few ms before the previous one
    "finishes". A launch onto a full executor therefore means the running task with the earliest
    finish had already ended, and its worker (PySpark releases it even earlier) is idle.
    """
    fresh: set[int] = set()
    by_exec: dict[str, list[Task]] = defaultdict(list)
    for t in tasks:
        by_exec[t.executor_id].append(t)
    for executor_id, group in by_exec.items():
        cap = (slots or {}).get(executor_id)
        timeline = sorted(
            [(t.launch_ms, 1, t) for t in group]
            + [(t.finish_ms, 0, t) for t in group if t.finish_ms is not None],
            key=lambda e: (e[0], e[1], e[2].task_id),
        )
        idle: dict[int, int] = defaultdict(int)  # stage id -> idle workers warm for it
        running: dict[int, Task] = {}

        def release(t: Task) -> None:
            if running.pop(t.task_id, None) is not None:
                idle[t.stage_id] += 1

        for _, is_launch, t in timeline:
            if not is_launch:
                release(t)
                continue
            while cap and len(running) >= cap:
                release(min(running.values(), key=lambda r: (r.finish_ms is None, r.finish_ms or 0, r.task_id)))
            if idle[t.stage_id]:
                idle[t.stage_id] -= 1
            else:
                fresh.add(t.task_id)
            running[t.task_id] = t
    return fresh


def executor_cold_start(tasks: Iterable[Task], demands: Mapping[int, float]) -> tuple[dict[int, float], float]:
    """What an executor's JVM pays once, on its first tasks: (the CPU seconds of each task's
    demand that were that cost, the cost per executor: `executor_first_task_s`).

    A JVM's first tasks deserialize slowly (class loading, JIT of the task path): on the 2-core
    loopback cluster, `sqlagg`'s first tasks spent 0.6 s deserializing with one executor and
    1.3-2.1 s with three, against 0.1 s for later tasks. The cost is paid per executor, not
    per task: a what-if with three executors pays it three times, one with one executor once,
    so it must not stay in the tasks' demands. An executor's first wave is the tasks launched on
    it before its first task finished; a task's excess is its deserialization time above the
    log's warm one (the median over tasks of no first wave), at the CPU rate processor sharing
    gave the task (its demand over its duration). That CPU leaves the task's demand; an
    executor's cost is the sum over its wave, and the cost per executor is the median over the
    log's executors. Without any task outside a first wave there is no warm time to compare
    with, and nothing is taken out."""
    tasks = [t for t in tasks if t.finish_ms is not None and t.task_id in demands]
    by_exec: dict[str, list[Task]] = defaultdict(list)
    for t in tasks:
        by_exec[t.executor_id].append(t)
    waves = []
    for group in by_exec.values():
        first_end = min(t.finish_ms for t in group)
        waves.append([t for t in group if t.launch_ms < first_end])
    in_wave = {t.task_id for w in waves for t in w}
    later = [t.executor_deserialize_time_ms or 0 for t in tasks if t.task_id not in in_wave]
    if not later:
        return {}, 0.0
    warm_ms = statistics.median_high(later)
    taken: dict[int, float] = {}
    per_executor = []
    for w in waves:
        for t in w:
            excess_s = max(0, (t.executor_deserialize_time_ms or 0) - warm_ms) / 1000.0
            rate = demands[t.task_id] / max(0.001, (t.finish_ms - t.launch_ms) / 1000.0)
            taken[t.task_id] = min(excess_s * rate, demands[t.task_id])
        per_executor.append(sum(taken[t.task_id] for t in w))
    return taken, statistics.median_high(per_executor)

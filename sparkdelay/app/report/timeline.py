"""Per-task timelines of real runs, next to simulated ones (the report's figures 4, 7 and 12).

The timeline itself (`Bar`, `bars_from_sim`, `draw`) is the Gantt chart's (`sparkdelay.app.gantt`);
this module adds bars from a real run's event log (`bars_from_eventlog`): its tasks carry no
thread number, so each executor's tasks are given the lowest free thread in launch order, which
is how an executor's pool reuses threads.
"""

from __future__ import annotations

import heapq
from typing import Sequence

from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.eventlog.shuffle_job import measured_job

from sparkdelay.app.gantt import Bar, bars_from_sim, draw

__all__ = ["Bar", "bars_from_eventlog", "bars_from_log", "bars_from_sim", "draw"]


def bars_from_log(tasks: Sequence, t0_ms: float, result_stage_id: int, cores: dict | None = None) -> list[Bar]:
    """Bars of real tasks (`sparkdelay.eventlog.log.Task`), times relative to `t0_ms`. `cores` (executor
    id -> task threads) caps the threads: the driver records a task's finish when it has the result,
    which can be a few milliseconds after the executor already started the next task on that thread."""
    bars = []
    by_exec: dict[str, list] = {}
    for t in sorted(tasks, key=lambda t: (t.launch_ms, t.task_id)):
        by_exec.setdefault(t.executor_id, []).append(t)
    for ex, ts in by_exec.items():
        busy: list[tuple[int, int]] = []     # (finish_ms, slot)
        free: list[int] = []
        next_slot = 0
        for t in ts:
            while busy and busy[0][0] <= t.launch_ms:
                heapq.heappush(free, heapq.heappop(busy)[1])
            if free:
                slot = heapq.heappop(free)
            elif busy and next_slot >= (cores or {}).get(ex, 1 << 30):
                slot = heapq.heappop(busy)[1]
            else:
                slot, next_slot = next_slot, next_slot + 1
            heapq.heappush(busy, (t.finish_ms, slot))
            bars.append(Bar(t.host, ex, slot, (t.launch_ms - t0_ms) / 1000.0, (t.finish_ms - t0_ms) / 1000.0,
                            t.index, t.stage_id == result_stage_id))
    return bars


def bars_from_eventlog(path: str) -> list[Bar]:
    """Bars of the shuffle job in a real run's event log (the job `calibration.validate` compares)."""
    log = read_eventlog(path)
    measured = measured_job(log)
    job, result = measured.job, measured.result
    tasks = [t for t in log.tasks if t.stage_id in job.stage_ids and t.succeeded and t.finish_ms is not None]
    return bars_from_log(tasks, job.submission_ms, result.stage_id, {e.executor_id: e.cores for e in log.executors})


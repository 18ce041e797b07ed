"""Per-task timelines as the study drew them: one row per executor thread, one bar per task.

A timeline is a list of `Bar`s, made from the model's `TaskRecord`s (which carry the thread
slot) or from a real run's event log (`bars_from_eventlog`: its tasks carry no thread number,
so each executor's tasks are given the lowest free thread in launch order, which is how an
executor's pool reuses threads). `draw` puts one on a matplotlib axis, so real and simulated
runs can sit side by side with the same time axis. Result-stage bars are coloured by partition
(task index); earlier stages (the map side of partitionBy) are hatched white.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Sequence


@dataclass
class Bar:
    host: str
    executor: str
    slot: int
    start: float          # seconds since the job (the action) started
    end: float
    index: int            # partition
    result: bool          # result stage (coloured) or an earlier stage (hatched)


def bars_from_sim(tasks: Sequence, result_stage_id: int | None = None) -> list[Bar]:
    if result_stage_id is None:
        result_stage_id = max((t.stage_id for t in tasks), default=0)
    return [Bar(t.host, t.executor_id, t.slot, t.launch_time, t.finish_time, t.index, t.stage_id == result_stage_id)
            for t in tasks]


def bars_from_log(tasks: Sequence, t0_ms: float, result_stage_id: int, cores: dict | None = None) -> list[Bar]:
    """Bars of real tasks (`calibration.records.Task`), times relative to `t0_ms`. `cores` (executor
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
    from sparkdelay.eventlog.reader import read_eventlog
    from sparkdelay.calibration.samples import shuffle_job_stages
    log = read_eventlog(path)
    job = next(j for j in log.jobs if j.result == "JobSucceeded" and shuffle_job_stages(log, j))
    result, _ = shuffle_job_stages(log, job)
    tasks = [t for t in log.tasks if t.stage_id in job.stage_ids and t.succeeded and t.finish_ms is not None]
    return bars_from_log(tasks, job.submission_ms, result.stage_id, {e.executor_id: e.cores for e in log.executors})


def _num(text: str):
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def draw(ax, bars: Sequence[Bar], title: str, xmax: float | None = None, host_names: dict | None = None) -> None:
    import matplotlib.pyplot as plt

    cmap = plt.get_cmap("tab20")
    rows = sorted({(b.host, b.executor, b.slot) for b in bars}, key=lambda r: (r[0], _num(r[1]), r[2]))
    row_of = {r: i for i, r in enumerate(rows)}
    end = xmax or max((b.end for b in bars), default=1.0)
    for b in bars:
        y = row_of[(b.host, b.executor, b.slot)]
        color, hatch = (cmap(b.index % 20), None) if b.result else ("white", "////")
        ax.barh(y, b.end - b.start, left=b.start, height=0.8, color=color, edgecolor="0.25", linewidth=0.4,
                hatch=hatch)
        if b.result and (b.end - b.start) > end / 25:
            ax.text((b.start + b.end) / 2, y, str(b.index), ha="center", va="center", fontsize=6)
    names = host_names or {}
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{names.get(h, h)} t{s}" for h, _, s in rows], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlim(0, end * 1.02)
    ax.set_xlabel("time since the job started (s)")
    ax.set_ylabel("executor thread")
    ax.set_title(title, fontsize=9)
    ax.grid(axis="x", linewidth=0.3)

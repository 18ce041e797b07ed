"""The documented limits on every size and duration the tool reads (README, "Limits").

Each is far past anything the study or a real Spark cluster uses, and low enough that the model
finishes in minutes at the limit: a value beyond it is far more likely a typo (1e30, an extra
zero run) than a wish, and would otherwise hang the simulator or exhaust memory. A value beyond
its limit is a `UserError` naming the field and the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sparkdelay.ground.errors import UserError


@dataclass(frozen=True)
class Limit:
    name: str
    maximum: float
    meaning: str


LIMITS: dict[str, Limit] = {lim.name: lim for lim in (
    Limit("hosts", 10_000, "worker hosts (--nodes)"),
    Limit("executors", 100_000, "executors of a cluster or an event log"),
    Limit("cores", 4_096, "cores of one executor or machine, Total Cores in an event log, spark.task.cpus"),
    Limit("tasks", 1_000_000, "tasks of one stage: partitions, map slices, a stage's tasks"),
    Limit("keys", 1_000_000, "keys (items) of a PySpark-form job"),
    Limit("reps", 10_000, "repetitions (seeds) per point or run (--reps)"),
    # Spark retries a stage 4 times and a task 4 times by default; speculation adds a few more.
    Limit("attempts", 10_000, "Stage Attempt ID and a task's Attempt in an event log"),
    Limit("seconds", 1_000_000.0, "any duration in seconds (about 11.6 days): registers_at, cpu_seconds, "
                                  "model parameters"),
    Limit("milliseconds", 1_000_000_000.0, "any duration in milliseconds (the same 11.6 days): "
                                           "Spark durations (locality waits), scenario advance"),
    Limit("bytes", 2.0 ** 40, "bytes of one item (item_bytes, 1 TiB)"),
    # A sweep derives 63-bit seeds, and `simulate --seed` must take any of them back.
    Limit("seed", 2 ** 63 - 1, "random seeds (--seed; 0 .. 2^63-1)"),
    Limit("hash_seed", 2 ** 32 - 1, "PYTHONHASHSEED (CPython takes 0 .. 2^32-1)"),
)}


def check_limit(value, limit: str, where: str):
    """`value` unchanged if it is within the named limit; otherwise a UserError naming both."""
    lim = LIMITS[limit]
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{where}: expected a finite number, got {value!r}")
    if value > lim.maximum:
        raise UserError(f"{where}: {value!r} is beyond the limit of {shown(lim)} ({lim.meaning}; README, Limits)")
    return value


def shown(lim: Limit) -> str:
    return f"{lim.maximum:,}" if isinstance(lim.maximum, int) else f"{lim.maximum:,.0f}"


def limits_table() -> str:
    """The table as the README shows it (a test keeps the two equal)."""
    rows = ["| limit | maximum | applies to |", "|---|---|---|"]
    for lim in LIMITS.values():
        rows.append(f"| {lim.name} | {shown(lim)} | {lim.meaning} |")
    return "\n".join(rows)

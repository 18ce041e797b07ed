"""The study's placement metrics over a trace: tasks per host, Jain's fairness index, the
largest share of one host, counts per locality level, and a mean with its 95% interval.

Jain's index over k hosts with x_i tasks each is (sum x)^2 / (k * sum x^2), in [1/k, 1]
(1 = perfectly even). The hosts counted are all hosts that run executors, including those that
got no task: an idle node is exactly the unfairness the study measured.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable, Sequence

from sparkdelay.sim.policy.locality import TaskLocality
from sparkdelay.sim.model.records import TaskRecord


def jain_index(values: Iterable[float]) -> float:
    xs = [float(x) for x in values]
    if not xs:
        return float("nan")
    total = sum(xs)
    squares = sum(x * x for x in xs)
    if squares == 0.0:
        return 1.0  # nothing placed anywhere: trivially even
    return total * total / (len(xs) * squares)


def tasks_per_host(records: Iterable[TaskRecord], hosts: Sequence[str]) -> dict[str, int]:
    counts = {h: 0 for h in hosts}
    for r in records:
        counts[r.host] = counts.get(r.host, 0) + 1
    return counts


def items_per_host(records: Iterable[TaskRecord], hosts: Sequence[str]) -> dict[str, int]:
    counts = {h: 0 for h in hosts}
    for r in records:
        counts[r.host] = counts.get(r.host, 0) + r.items
    return counts


def locality_counts(records: Iterable[TaskRecord]) -> dict[str, int]:
    counts = Counter(r.locality for r in records)
    return {level.name: counts[level.name] for level in TaskLocality if counts[level.name]}


def placement_metrics(records: Sequence[TaskRecord], hosts: Sequence[str]) -> dict:
    per_host = tasks_per_host(records, hosts)
    return {
        "tasks_per_host": per_host,
        "fairness_index": jain_index(per_host[h] for h in hosts),
        "max_tasks_per_host": max(per_host.values()) if per_host else 0,
        "hosts_used": sum(1 for v in per_host.values() if v),
        "items_per_host": items_per_host(records, hosts),
        "locality_counts": locality_counts(records),
    }


def mean_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval of the mean; a single value gives (x, x, x)."""
    xs = [float(v) for v in values if v == v]
    n = len(xs)
    if n == 0:
        return (float("nan"),) * 3
    mean = sum(xs) / n
    if n == 1:
        return mean, mean, mean
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    # Imported here: scipy.stats takes about 1 s to import (measured: 1.0-1.4 s, against
    # 0.25-0.35 s for the whole engine), and every simulation imports this module.
    from scipy.stats import t
    half = float(t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


"""The simulated grids behind the report: the study's N x P x wait grid, run by `sparkdelay.app.sweep`.

Three sweeps share one base seed (so a point gets the same seed in each, and differences
between them are not seed noise): the study under Spark 2.1 rules (`study`), the same grid
under today's rules (`today`, Spark 4.0), and the study's future work (`even`): the same job
with the 40 items spread evenly over the P partitions. The even job keeps the study's keys and
PySpark shape (one map task, the 20 % preference rule) but runs `partitioner: even`, what
`sparkdelay run --partitioner even` runs: `partitionBy(P, partitionFunc)` with the key's
position in the key list as partitionFunc, so item i lands in partition i % P and every
partition holds ceil(40/P) or floor(40/P) of them. Only the assignment of items changes.

`Grid` groups the sweep rows (`SweepRow`) per point and keeps every repetition's values, so
findings can ask "in every run" as well as "on average". The even job is handed to the sweep as
a `JobSpec` object; `write_even_job` writes the same job as YAML for the report's readers.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import yaml

from sparkdelay.ground.sparkconf import parse_duration_ms
from sparkdelay.sim.model.job import JobSpec
from sparkdelay.sim.model.metrics import mean_interval
from sparkdelay.sim.model.study import STUDY_ITEM_BYTES, STUDY_ITEMS, STUDY_KEY_FORMAT
from sparkdelay.sim.policy.pyspark_partitioning import DEFAULT_PYTHON_VERSION

from sparkdelay.app.presets import study_job
from sparkdelay.app.runspec import RunSpec
from sparkdelay.app.sweep import SweepRow, run_sweep

STUDY_NODES = (1, 2, 3, 4, 5)
STUDY_PARTITIONS = tuple(range(1, 41))
STUDY_WAITS = ("3s", "1s", "0s")
STUDY_VERSION = "2.1"
TODAY_VERSION = "4.0"


@dataclass(frozen=True)
class GridSpec:
    """What to simulate: the study grid by default. `model_path` None = CostModel defaults."""

    nodes: tuple[int, ...] = STUDY_NODES
    partitions: tuple[int, ...] = STUDY_PARTITIONS
    waits: tuple[str, ...] = STUDY_WAITS
    reps: int = 10
    seed: int = 0
    model_path: str | None = None
    processes: int | None = None

    @property
    def runs_per_sweep(self) -> int:
        return len(self.nodes) * len(self.partitions) * len(self.waits) * self.reps


def wait_s(wait: str) -> float:
    return parse_duration_ms(wait, "wait") / 1000.0


def wait_label(seconds: float) -> str:
    return f"{seconds:g} s"


# ------------------------------------------------------------------------------ points
@dataclass
class Point:
    """All repetitions of one (nodes, partitions, wait) point of one sweep."""

    nodes: int
    partitions: int
    wait_s: float
    durations: list[float] = field(default_factory=list)
    fairness: list[float] = field(default_factory=list)
    max_tasks: list[int] = field(default_factory=list)
    hosts_used: list[int] = field(default_factory=list)
    tasks_per_host: list[list[int]] = field(default_factory=list)   # per rep, hosts in order
    seeds: list[int] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return len(self.durations)

    @staticmethod
    def _interval(values: Sequence[float]) -> tuple[float, float, float]:
        return mean_interval(values)

    @property
    def duration(self) -> tuple[float, float, float]:
        return self._interval(self.durations)

    @property
    def fairness_ci(self) -> tuple[float, float, float]:
        return self._interval(self.fairness)

    @property
    def max_tasks_ci(self) -> tuple[float, float, float]:
        return self._interval(self.max_tasks)

    @property
    def mean_duration(self) -> float:
        return sum(self.durations) / len(self.durations)

    @property
    def mean_fairness(self) -> float:
        return sum(self.fairness) / len(self.fairness)

    @property
    def mean_max_tasks(self) -> float:
        return sum(self.max_tasks) / len(self.max_tasks)

    @property
    def mean_hosts_used(self) -> float:
        return sum(self.hosts_used) / len(self.hosts_used)


class Grid:
    """Points of one sweep, looked up by (nodes, partitions, wait in seconds)."""

    def __init__(self, name: str, version: str, rows: Iterable[SweepRow], description: str = ""):
        self.name = name
        self.version = version
        self.description = description
        self.points: dict[tuple[int, int, float], Point] = {}
        for row in rows:
            key = (row.nodes, row.partitions, wait_s(row.wait))
            p = self.points.get(key)
            if p is None:
                p = self.points[key] = Point(*key)
            p.durations.append(row.job_duration_s)
            p.fairness.append(row.fairness_index)
            p.max_tasks.append(row.max_tasks_per_host)
            p.hosts_used.append(row.hosts_used)
            per_host = row.tasks_per_host
            p.tasks_per_host.append([per_host[h] for h in sorted(per_host, key=_host_order)])
            p.seeds.append(row.seed)

    def get(self, nodes: int, partitions: int, wait: float) -> Point | None:
        return self.points.get((int(nodes), int(partitions), float(wait)))

    @property
    def nodes(self) -> list[int]:
        return sorted({k[0] for k in self.points})

    @property
    def partitions(self) -> list[int]:
        return sorted({k[1] for k in self.points})

    @property
    def waits(self) -> list[float]:
        return sorted({k[2] for k in self.points}, reverse=True)

    @property
    def reps(self) -> int:
        return min((p.runs for p in self.points.values()), default=0)

    @property
    def runs(self) -> int:
        return sum(p.runs for p in self.points.values())

    def series(self, nodes: int, wait: float, parts: Iterable[int] | None = None) -> list[Point]:
        """Points of one (nodes, wait) curve, in increasing P, only those that exist."""
        parts = self.partitions if parts is None else parts
        return [p for P in parts if (p := self.get(nodes, P, wait)) is not None]

    def summary_rows(self) -> list[dict]:
        out = []
        for (n, P, w), p in sorted(self.points.items(), key=lambda kv: (kv[0][0], kv[0][1], -kv[0][2])):
            d, f, m = p.duration, p.fairness_ci, p.max_tasks_ci
            out.append({"sweep": self.name, "spark_version": self.version, "nodes": n, "partitions": P,
                        "wait_s": w, "runs": p.runs,
                        "duration_mean_s": round(d[0], 4), "duration_low_s": round(d[1], 4),
                        "duration_high_s": round(d[2], 4),
                        "fairness_mean": round(f[0], 4), "max_tasks_mean": round(m[0], 3),
                        "hosts_used_mean": round(p.mean_hosts_used, 3)})
        return out


def _host_order(host: str):
    digits = "".join(ch for ch in host if ch.isdigit())
    return (int(digits) if digits else math.inf, host)


# ------------------------------------------------------------------------------ running
def _even_job_doc(count: int) -> dict:
    """The even job in job.yaml's PySpark form: the study's job (its keys) with the even partitioner."""
    return {"pyspark": {"keys": {"format": STUDY_KEY_FORMAT, "count": count}, "python_hash_seed": 0,
                        "python_version": DEFAULT_PYTHON_VERSION, "map_slices": 1, "partitions": 1,
                        "item_bytes": STUDY_ITEM_BYTES, "partitioner": "even"}}


def even_job(count: int = STUDY_ITEMS) -> JobSpec:
    return JobSpec.from_dict(_even_job_doc(count), where="even job")


def write_even_job(path: Path, count: int = STUDY_ITEMS) -> Path:
    path.write_text("# The study's job with its 40 items spread evenly over the partitions\n"
                    "# (partitioner: even: partitionBy(P, position of the key), item i -> partition i % P).\n"
                    + yaml.safe_dump(_even_job_doc(count), default_flow_style=None, sort_keys=False))
    return path


def even_sizes(partitions: int, count: int = STUDY_ITEMS) -> list[int]:
    return even_job(count).with_partitions(partitions).pyspark.workload.reduce_items(partitions)


def hash_sizes(partitions: int) -> list[int]:
    return [len(m) for m in study_job(partitions).pyspark.reduce_members]


@dataclass
class GridSet:
    study: Grid
    today: Grid
    even: Grid
    seconds: float
    spec: GridSpec


def run_grids(spec: GridSpec, work_dir: str | Path | None = None, progress: bool = False) -> GridSet:
    """Run the three sweeps (study, today, even) with `sparkdelay.app.sweep.run_sweep`; the sweeps'
    CSVs go to `work_dir` (a temporary folder if None: the grid takes seconds, so nothing is cached)."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sparkdelay-report-") as tmp:
        wd = Path(work_dir) if work_dir is not None else Path(tmp)
        wd.mkdir(parents=True, exist_ok=True)
        for old in ("study.csv", "today.csv", "even.csv"):   # a fresh grid every time
            (wd / old).unlink(missing_ok=True)
        base = RunSpec(preset="study2017", model_path=spec.model_path)
        common = dict(nodes=list(spec.nodes), partitions=list(spec.partitions), waits=list(spec.waits),
                      reps=spec.reps, base_seed=spec.seed, processes=spec.processes, progress=progress)
        study = run_sweep(base, wd / "study.csv", versions=[STUDY_VERSION], **common)
        today = run_sweep(base, wd / "today.csv", versions=[TODAY_VERSION], **common)
        even = run_sweep(base.with_(job=even_job()), wd / "even.csv", versions=[STUDY_VERSION], **common)
    seconds = time.perf_counter() - start
    return GridSet(
        Grid("study", STUDY_VERSION, study, "the study's job (keys hash-partitioned)"),
        Grid("today", TODAY_VERSION, today, "the study's job (keys hash-partitioned)"),
        Grid("even", STUDY_VERSION, even, "40 items spread evenly over the P partitions"),
        seconds, spec)

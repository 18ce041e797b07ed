"""The job to simulate (job.yaml): explicit stages, or the study's PySpark-shaped job.

Explicit form: stages run one after another (stage i+1 is submitted when stage i finishes,
plus the driver's stage gap); each has a task count, Spark TaskLocation strings as preferred
locations (one list for every task, or one list per task) and a cost in CPU seconds (one
number, or one per task)::

    stages:
      - {name: s0, tasks: 500, prefs: ["executor_host0_0"], cpu_seconds: 5.0}
      - {name: s1, tasks: 2, prefs: [[hostA], []], cpu_seconds: [1.0, 2.5],
         cpu_seconds_sd: 0.1, python: true}     # python: pay worker start-up + task overhead

PySpark form: `sc.parallelize(items, map_slices).partitionBy(partitions).mapPartitions(f)`,
one map stage and one result stage. Keys are hashed exactly as PySpark does (`portable_hash(k)
% partitions`, for the given PYTHONHASHSEED and worker CPython version); every item weighs
`item_bytes` bytes in the shuffle, and the map outputs decide the reduce tasks' preferred hosts
(the 20% rule, computed when the result stage is submitted)::

    pyspark: {keys: {format: "shard-{:02d}", count: 40}, python_hash_seed: 0,
              python_version: "3.11", map_slices: 1, partitions: 9, item_bytes: 800000}
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

from sparkdelay.ground.errors import UserError

from sparkdelay.sim.policy.locality import TaskLocation, parse_task_location
from sparkdelay.sim.policy.pyspark_partitioning import KeySpec, parallelize_slice_sizes, partition_members
from sparkdelay.ground.strict import (check_keys, get_bool, get_float, get_int, get_str, load_yaml, require_list,
                     require_mapping)


@dataclass(frozen=True)
class StageSpec:
    """An explicit stage: per-task preferred locations and CPU seconds."""

    name: str
    prefs: tuple[tuple[TaskLocation, ...], ...]
    cpu_seconds: tuple[float, ...]
    cpu_seconds_sd: float = 0.0
    python: bool = False

    @property
    def num_tasks(self) -> int:
        return len(self.prefs)


@dataclass(frozen=True)
class PySparkJob:
    """parallelize(items, map_slices) -> partitionBy(partitions) -> mapPartitions(f)."""

    keys: tuple[Any, ...]
    python_hash_seed: int = 0
    python_version: str = "3.11"
    map_slices: int = 1
    partitions: int = 1
    item_bytes: int = 800_000

    @cached_property
    def map_slice_members(self) -> list[list[int]]:
        """Item indices of each map task (PySpark's batch-based parallelize slicing)."""
        sizes = parallelize_slice_sizes(len(self.keys), self.map_slices)
        out, start = [], 0
        for s in sizes:
            out.append(list(range(start, start + s)))
            start += s
        return out

    @cached_property
    def reduce_members(self) -> list[list[int]]:
        """Item indices of each reduce partition (portable_hash(key) % partitions)."""
        return partition_members(self.keys, self.partitions, self.python_hash_seed, self.python_version)

    @cached_property
    def partition_of_item(self) -> list[int]:
        part = [0] * len(self.keys)
        for p, members in enumerate(self.reduce_members):
            for i in members:
                part[i] = p
        return part

    def map_output_sizes(self, map_index: int) -> list[int]:
        """Bytes map task `map_index` writes for each reduce partition."""
        sizes = [0] * self.partitions
        part = self.partition_of_item
        for i in self.map_slice_members[map_index]:
            sizes[part[i]] += self.item_bytes
        return sizes


@dataclass(frozen=True)
class JobSpec:
    """Either `stages` (explicit) or `pyspark` is set. `where` names the source in errors."""

    stages: tuple[StageSpec, ...] = ()
    pyspark: PySparkJob | None = None
    where: str = field(default="job", compare=False)

    @classmethod
    def load(cls, path: str | Path) -> "JobSpec":
        return cls.from_dict(load_yaml(path), where=str(path))

    @classmethod
    def from_dict(cls, doc: Any, where: str = "job") -> "JobSpec":
        doc = require_mapping(doc, where)
        check_keys(doc, ("stages", "pyspark"), where)
        if ("stages" in doc) == ("pyspark" in doc):
            raise UserError(f"{where}: give exactly one of 'stages' (explicit form) or 'pyspark'")
        if "pyspark" in doc:
            return cls(pyspark=_parse_pyspark(doc["pyspark"], f"{where}: pyspark"), where=where)
        stages = require_list(doc["stages"], f"{where}: stages")
        if not stages:
            raise UserError(f"{where}: stages: at least one stage is needed")
        return cls(stages=tuple(_parse_stage(s, i, f"{where}: stages[{i}]") for i, s in enumerate(stages)),
                   where=where)

    @property
    def num_stages(self) -> int:
        return 2 if self.pyspark is not None else len(self.stages)

    @property
    def stage_names(self) -> list[str]:
        return ["map", "result"] if self.pyspark is not None else [s.name for s in self.stages]

    def with_partitions(self, partitions: int, where: str = "--partitions") -> "JobSpec":
        if self.pyspark is None:
            raise UserError(f"{where}: only a PySpark-form job has partitions to change")
        if partitions < 1:
            raise UserError(f"{where}: must be at least 1, got {partitions}")
        return replace(self, pyspark=replace(self.pyspark, partitions=partitions))

    def check_against(self, cluster) -> None:
        """Every preferred host must exist in the cluster (a typo would silently mean ANY)."""
        hosts = set(cluster.hosts)
        for i, stage in enumerate(self.stages):
            seen: set[TaskLocation] = set()
            for t, prefs in enumerate(stage.prefs):
                for loc in prefs:
                    if loc in seen:
                        continue
                    seen.add(loc)
                    if loc.host not in hosts:
                        raise UserError(f"{self.where}: stages[{i}].prefs: host {loc.host!r} (in {str(loc)!r}, "
                                        f"task {t}) has no executor in the cluster")


def _parse_prefs(value: Any, tasks: int, where: str) -> tuple[tuple[TaskLocation, ...], ...]:
    items = require_list(value, where)
    if items and all(isinstance(x, list) for x in items):
        if len(items) != tasks:
            raise UserError(f"{where}: {len(items)} per-task lists for {tasks} tasks")
        cache: dict[tuple, tuple[TaskLocation, ...]] = {}
        out = []
        for t, lst in enumerate(items):
            key = tuple(lst)
            if key not in cache:
                cache[key] = tuple(parse_task_location(x, f"{where}[{t}]") for x in lst)
            out.append(cache[key])
        return tuple(out)
    if any(isinstance(x, list) for x in items):
        raise UserError(f"{where}: mix of strings and lists; give one list for every task or one list per task")
    shared = tuple(parse_task_location(x, f"{where}[{j}]") for j, x in enumerate(items))
    return (shared,) * tasks


def _parse_stage(doc: Any, i: int, where: str) -> StageSpec:
    doc = require_mapping(doc, where)
    check_keys(doc, ("name", "tasks", "prefs", "cpu_seconds", "cpu_seconds_sd", "python"), where,
               required=("tasks", "cpu_seconds"))
    tasks = get_int(doc["tasks"], f"{where}.tasks", minimum=1)
    cpu = doc["cpu_seconds"]
    if isinstance(cpu, list):
        if len(cpu) != tasks:
            raise UserError(f"{where}.cpu_seconds: {len(cpu)} values for {tasks} tasks")
        costs = tuple(get_float(c, f"{where}.cpu_seconds[{t}]") for t, c in enumerate(cpu))
    else:
        costs = (get_float(cpu, f"{where}.cpu_seconds"),) * tasks
    return StageSpec(
        name=get_str(doc.get("name", f"s{i}"), f"{where}.name"),
        prefs=_parse_prefs(doc.get("prefs", []), tasks, f"{where}.prefs"),
        cpu_seconds=costs,
        cpu_seconds_sd=get_float(doc.get("cpu_seconds_sd", 0.0), f"{where}.cpu_seconds_sd"),
        python=get_bool(doc.get("python", False), f"{where}.python"),
    )


def _parse_pyspark(doc: Any, where: str) -> PySparkJob:
    doc = require_mapping(doc, where)
    check_keys(doc, ("keys", "python_hash_seed", "python_version", "map_slices", "partitions", "item_bytes"),
               where, required=("keys",))
    keys = KeySpec.parse(doc["keys"], f"{where}.keys").keys
    if not keys:
        raise UserError(f"{where}.keys: at least one key is needed")
    map_slices = get_int(doc.get("map_slices", 1), f"{where}.map_slices", minimum=1)
    job = PySparkJob(
        keys=keys,
        python_hash_seed=get_int(doc.get("python_hash_seed", 0), f"{where}.python_hash_seed", minimum=0),
        python_version=get_str(doc.get("python_version", "3.11"), f"{where}.python_version"),
        map_slices=map_slices,
        # PySpark's default shuffle width is the parent's partition count (SPEC §d.3).
        partitions=get_int(doc.get("partitions", map_slices), f"{where}.partitions", minimum=1),
        item_bytes=get_int(doc.get("item_bytes", 800_000), f"{where}.item_bytes", minimum=0),
    )
    try:
        job.reduce_members  # hash every key now: an unsupported key or version fails here
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None
    return job


def explicit_stage(name: str, tasks: int, prefs: Sequence[str] = (), cpu_seconds: float = 1.0,
                   cpu_seconds_sd: float = 0.0, python: bool = False) -> StageSpec:
    """Convenience constructor for code and tests: one preference list for every task."""
    shared = tuple(parse_task_location(p) for p in prefs)
    return StageSpec(name, (shared,) * tasks, (float(cpu_seconds),) * tasks, cpu_seconds_sd, python)

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
% partitions`, for the given PYTHONHASHSEED and worker CPython version, 3.11 unless given);
every item weighs `item_bytes` bytes in the shuffle (the study's 800 kB unless given), and the
map outputs decide the reduce tasks' preferred hosts (the 20% rule, computed when the result
stage is submitted)::

    pyspark: {keys: {format: "shard-{:02d}", count: 40}, python_hash_seed: 0,
              python_version: "3.11", map_slices: 1, partitions: 9, item_bytes: 800000,
              threads: 1}     # threads per reduce task (OPENBLAS_NUM_THREADS; 1 unless given)

A task's threads share its machine's cores with every other runnable thread (`Machine`); a
stage of the explicit form takes `threads` too.

Everything in that mapping but `partitions` is the workload (`PySparkWorkload`), which
calibration and validation read from the same file (`load_workload`) and combine with the
partition count of each recorded run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.limits import check_limit
from sparkdelay.ground.strict import (check_keys, get_bool, get_float, get_int, get_str, load_yaml, require_list,
                                      require_mapping)
from sparkdelay.sim.model.study import STUDY_ITEM_BYTES
from sparkdelay.sim.policy.locality import TaskLocation, parse_task_location
from sparkdelay.sim.policy.pyspark_partitioning import (DEFAULT_PYTHON_VERSION, KeySpec, parallelize_slice_sizes,
                                                        partition_members, partition_sizes)

_PYSPARK_FIELDS = ("keys", "python_hash_seed", "python_version", "map_slices", "partitions", "item_bytes",
                   "threads")
# Threads a task may run (numpy's OpenBLAS starts one per visible core unless OPENBLAS_NUM_THREADS
# says otherwise); far past any machine this tool models.
MAX_THREADS = 1024


@dataclass(frozen=True)
class StageSpec:
    """An explicit stage: per-task preferred locations and CPU seconds."""

    name: str
    prefs: tuple[tuple[TaskLocation, ...], ...]
    cpu_seconds: tuple[float, ...]
    cpu_seconds_sd: float = 0.0
    python: bool = False
    threads: int = 1   # threads each task runs (its work shares the machine per thread)

    @property
    def num_tasks(self) -> int:
        return len(self.prefs)


@dataclass(frozen=True)
class PySparkWorkload:
    """A PySpark job's data: keys in parallelize order, PYTHONHASHSEED, map slices, worker CPython, item size.

    The simulated job adds a partition count (`PySparkJob`); calibration and validation take
    it from each recorded run. `item_bytes` None means the file does not say: the simulated job
    then assumes the study's pickled shard, validation measures it from the log's shuffle bytes.
    """

    keys: tuple[Any, ...]
    python_hash_seed: int = 0
    python_version: str = DEFAULT_PYTHON_VERSION
    map_slices: int = 1
    item_bytes: int | None = None
    threads: int = 1   # threads of a reduce task: OPENBLAS_NUM_THREADS of the workers (1 = one per task)
    source: str | None = field(default=None, compare=False)  # the file it was read from, for errors

    def reduce_items(self, partitions: int) -> list[int]:
        """Items in each reduce partition of `partitionBy(partitions)`."""
        return partition_sizes(self.keys, partitions, self.python_hash_seed, self.python_version,
                               where=f"{self.source or 'workload'}: pyspark.keys")

    def map_items(self, num_slices: int) -> list[int]:
        """Items in each map task of `parallelize(items, num_slices)`."""
        return parallelize_slice_sizes(len(self.keys), num_slices,
                                       where=f"{self.source or 'workload'}: pyspark.map_slices")


@dataclass(frozen=True)
class PySparkJob:
    """parallelize(workload's items, map_slices) -> partitionBy(partitions) -> mapPartitions(f)."""

    workload: PySparkWorkload
    partitions: int = 1

    @property
    def map_slices(self) -> int:
        return self.workload.map_slices

    @cached_property
    def item_bytes(self) -> int:
        """Shuffle bytes of one item: the workload's, else the study's pickled shard."""
        stated = self.workload.item_bytes
        return STUDY_ITEM_BYTES if stated is None else stated

    @cached_property
    def map_slice_members(self) -> list[list[int]]:
        """Item indices of each map task (PySpark's batch-based parallelize slicing)."""
        sizes = parallelize_slice_sizes(len(self.workload.keys), self.map_slices)
        out, start = [], 0
        for s in sizes:
            out.append(list(range(start, start + s)))
            start += s
        return out

    @cached_property
    def reduce_members(self) -> list[list[int]]:
        """Item indices of each reduce partition (portable_hash(key) % partitions)."""
        w = self.workload
        return partition_members(w.keys, self.partitions, w.python_hash_seed, w.python_version)

    @cached_property
    def partition_of_item(self) -> list[int]:
        part = [0] * len(self.workload.keys)
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
            return cls(pyspark=_parse_pyspark(doc["pyspark"], f"{where}: pyspark", source=where), where=where)
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
        check_limit(partitions, "tasks", where)
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
            if not all(isinstance(x, str) for x in lst):   # a location is a string; say which is not
                tuple(parse_task_location(x, f"{where}[{t}]") for x in lst)
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
    check_keys(doc, ("name", "tasks", "prefs", "cpu_seconds", "cpu_seconds_sd", "python", "threads"), where,
               required=("tasks", "cpu_seconds"))
    tasks = get_int(doc["tasks"], f"{where}.tasks", minimum=1, limit="tasks")
    cpu = doc["cpu_seconds"]
    if isinstance(cpu, list):
        if len(cpu) != tasks:
            raise UserError(f"{where}.cpu_seconds: {len(cpu)} values for {tasks} tasks")
        costs = tuple(get_float(c, f"{where}.cpu_seconds[{t}]", limit="seconds") for t, c in enumerate(cpu))
    else:
        costs = (get_float(cpu, f"{where}.cpu_seconds", limit="seconds"),) * tasks
    return StageSpec(
        name=get_str(doc.get("name", f"s{i}"), f"{where}.name"),
        prefs=_parse_prefs(doc.get("prefs", []), tasks, f"{where}.prefs"),
        cpu_seconds=costs,
        cpu_seconds_sd=get_float(doc.get("cpu_seconds_sd", 0.0), f"{where}.cpu_seconds_sd", limit="seconds"),
        python=get_bool(doc.get("python", False), f"{where}.python"),
        threads=_threads(doc.get("threads", 1), f"{where}.threads"),
    )


def _threads(value: Any, where: str) -> int:
    threads = get_int(value, where, minimum=1)
    if threads > MAX_THREADS:
        raise UserError(f"{where}: at most {MAX_THREADS} threads per task, got {threads}")
    return threads


def _parse_pyspark(doc: Any, where: str, source: str) -> PySparkJob:
    doc = require_mapping(doc, where)
    check_keys(doc, _PYSPARK_FIELDS, where, required=("keys",))
    keys = KeySpec.parse(doc["keys"], f"{where}.keys").keys
    check_limit(len(keys), "keys", f"{where}.keys: the number of keys")
    if not keys:
        raise UserError(f"{where}.keys: at least one key is needed")
    map_slices = get_int(doc.get("map_slices", 1), f"{where}.map_slices", minimum=1, limit="tasks")
    item_bytes = doc.get("item_bytes")
    workload = PySparkWorkload(
        keys=keys,
        python_hash_seed=get_int(doc.get("python_hash_seed", 0), f"{where}.python_hash_seed", minimum=0, limit="hash_seed"),
        python_version=get_str(doc.get("python_version", DEFAULT_PYTHON_VERSION), f"{where}.python_version"),
        map_slices=map_slices,
        item_bytes=None if item_bytes is None else get_int(item_bytes, f"{where}.item_bytes", minimum=0, limit="bytes"),
        threads=_threads(doc.get("threads", 1), f"{where}.threads"),
        source=source,
    )
    # PySpark's default shuffle width is the parent's partition count (SPEC §d.3).
    job = PySparkJob(workload, get_int(doc.get("partitions", map_slices), f"{where}.partitions", minimum=1, limit="tasks"))
    try:
        job.reduce_members  # hash every key now: an unsupported key or version fails here
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None
    return job


def load_workload(path: str | Path | None) -> PySparkWorkload | None:
    """The workload of a PySpark-form job file, for calibration and validation (None: no file).

    The file is read as `JobSpec.load` reads it, with the same checks; its `partitions`, if
    any, is ignored, since each recorded run says how many reduce partitions it had."""
    if path is None:
        return None
    job = JobSpec.load(path)
    if job.pyspark is None:
        raise UserError(f"{path}: pyspark: missing (calibration and validation need the PySpark job's keys)")
    return job.pyspark.workload


def explicit_stage(name: str, tasks: int, prefs: Sequence[str] = (), cpu_seconds: float = 1.0,
                   cpu_seconds_sd: float = 0.0, python: bool = False) -> StageSpec:
    """Convenience constructor for code and tests: one preference list for every task."""
    shared = tuple(parse_task_location(p) for p in prefs)
    return StageSpec(name, (shared,) * tasks, (float(cpu_seconds),) * tasks, cpu_seconds_sd, python)

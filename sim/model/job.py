"""The job to simulate (job.yaml): explicit stages, or the study's PySpark-shaped job.

Explicit form: stages run one after another (stage i+1 is submitted when stage i finishes,
plus the driver's stage gap); each has a task count, Spark TaskLocation strings as preferred
locations (one list for every task, or one list per task) and a cost in CPU seconds (one
number, or one per task)::

    stages:
      - {name: s0, tasks: 500, prefs: ["executor_host0_0"], cpu_seconds: 5.0}
      - {name: s1, tasks: 2, prefs: [[hostA], []], cpu_seconds: [1.0, 2.5],
         cpu_seconds_sd: 0.1, python: true}     # python: pay worker start-up + task overhead

DAG form: as soon as one stage of a job names its `parents` (stages of the same job whose
shuffle output it reads, listed before it), the job is a DAG as Spark's DAGScheduler runs it:
a stage is submitted when all its parents have finished, stages whose parents are done run
concurrently, a stage without `parents` has none, and the job's last stage is its result stage,
which every other stage of the job must lead to (Spark builds a job's stages as the ancestors
of its result stage). A stage with exactly one parent and no `prefs` of its own prefers the
hosts that hold at least 20 % of its input in the simulated map outputs (SPEC §c.1; as
ShuffledRDD, which reads one shuffle dependency; with two or more parents, as CoGroupedRDD, it
has none). The split of the map outputs over the reduce partitions comes from the stages'
`shuffle_write_bytes` (per map task) and `shuffle_read_bytes` (per reduce task): map task m
writes write[m] x read[r] / sum(read) bytes for partition r (equal shares where not given).
`wait_seconds` (one number or one per task) is time off the CPU after the task's CPU work
(sleep, I/O, shuffle fetch wait), which shares no core; `startup_seconds` (a Python stage's)
is CPU a task pays on top when its Python worker has not run this stage yet (the stage's
imports), on top of the cost model's `worker_startup_s`. Several jobs (actions) of one
application run one after another, each submitted `gap_s` after the previous one ended (the
driver's own time between actions)::

    jobs:
      - stages:
          - {name: count, tasks: 8, cpu_seconds: 0.5, shuffle_write_bytes: 4000}
          - {name: reduce, tasks: 4, parents: [count], cpu_seconds: 1.0, wait_seconds: 0.1}
      - gap_s: 0.3
        stages:
          - {name: scan, tasks: 4, cpu_seconds: 0.2}
          - {name: join, tasks: 2, parents: [scan], cpu_seconds: [0.4, 0.9]}

PySpark form: `sc.parallelize(items, map_slices).partitionBy(partitions).mapPartitions(f)`,
one map stage and one result stage. Keys are hashed exactly as PySpark does (`portable_hash(k)
% partitions`, for the given PYTHONHASHSEED and worker CPython version, 3.11 unless given);
every item weighs `item_bytes` bytes in the shuffle (the study's 800 kB unless given), and the
map outputs decide the reduce tasks' preferred hosts (the 20% rule, computed when the result
stage is submitted)::

    pyspark: {keys: {format: "shard-{:02d}", count: 40}, python_hash_seed: 0,
              python_version: "3.11", map_slices: 1, partitions: 9, item_bytes: 800000,
              threads: 1,     # threads per reduce task (OPENBLAS_NUM_THREADS; 1 unless given)
              partitioner: hash}   # or even: partitionBy(P, position of the key), item i -> i % P

`partitioner: even` is what `sparkdelay run --partitioner even` runs: partitionBy gets a
partitionFunc returning the key's position in the key list, so the P partitions hold
ceil/floor(n/P) items each instead of the hash's uneven split (`hash`, the default).

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
from sparkdelay.sim.policy.pyspark_partitioning import (DEFAULT_PARTITIONER, DEFAULT_PYTHON_VERSION, KeySpec,
                                                        check_partitioner, members_by_partitioner,
                                                        parallelize_slice_sizes)

_PYSPARK_FIELDS = ("keys", "python_hash_seed", "python_version", "map_slices", "partitions", "item_bytes",
                   "threads", "partitioner")
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
    # The DAG form (all empty / None in the chain form, which keeps its old meaning):
    parents: tuple[str, ...] | None = None   # names of the stages whose shuffle output it reads
    job: int = 0                             # which job (action) of the application it belongs to
    wait_seconds: tuple[float, ...] = ()     # per task, off the CPU after its CPU work
    shuffle_write_bytes: tuple[int, ...] = ()  # per task: what a map task writes
    shuffle_read_bytes: tuple[int, ...] = ()   # per task: what a reduce task reads
    prefs_from_shuffle: bool = False         # prefs computed from the parent's map outputs
    startup_seconds: float = 0.0             # CPU on a Python worker that has not run this stage yet

    @property
    def num_tasks(self) -> int:
        return len(self.prefs)


@dataclass(frozen=True)
class PySparkWorkload:
    """A PySpark job's data: keys in parallelize order, PYTHONHASHSEED, map slices, worker CPython, item
    size, and how partitionBy splits the keys (`partitioner`: hash, the default, or even).

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
    # partitionBy's partitionFunc: "hash" (portable_hash) or "even" (the key's position in `keys`).
    partitioner: str = DEFAULT_PARTITIONER

    def __post_init__(self) -> None:
        check_partitioner(self.partitioner, f"{self.source or 'workload'}: pyspark.partitioner")

    def reduce_members(self, partitions: int) -> list[list[int]]:
        """Item indices in each reduce partition of `partitionBy(partitions[, partitionFunc])`."""
        return members_by_partitioner(self.partitioner, self.keys, partitions, self.python_hash_seed,
                                      self.python_version, where=f"{self.source or 'workload'}: pyspark.keys")

    def reduce_items(self, partitions: int) -> list[int]:
        """Items in each reduce partition of `partitionBy(partitions[, partitionFunc])`."""
        return [len(m) for m in self.reduce_members(partitions)]

    def map_items(self, num_slices: int) -> list[int]:
        """Items in each map task of `parallelize(items, num_slices)`."""
        return parallelize_slice_sizes(len(self.keys), num_slices,
                                       where=f"{self.source or 'workload'}: pyspark.map_slices")


@dataclass(frozen=True)
class PySparkJob:
    """parallelize(workload's items, map_slices) -> partitionBy(partitions[, partitionFunc]) -> mapPartitions(f)."""

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

    @property
    def partitioner(self) -> str:
        return self.workload.partitioner

    def with_partitioner(self, partitioner: str, where: str = "--partitioner") -> "PySparkJob":
        """The same job with partitionBy's function changed (hash or even)."""
        check_partitioner(partitioner, where)
        return replace(self, workload=replace(self.workload, partitioner=partitioner))

    @cached_property
    def reduce_members(self) -> list[list[int]]:
        """Item indices of each reduce partition: portable_hash(key) % partitions, or with the even
        partitioner the key's position % partitions."""
        w = self.workload
        return members_by_partitioner(w.partitioner, w.keys, self.partitions, w.python_hash_seed, w.python_version)

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

    stages: tuple[StageSpec, ...] = ()   # every job's stages, in job order (`StageSpec.job`)
    pyspark: PySparkJob | None = None
    gaps_s: tuple[float, ...] = ()       # per job: driver time after the previous job ended (job 0: 0)
    where: str = field(default="job", compare=False)

    @classmethod
    def load(cls, path: str | Path) -> "JobSpec":
        return cls.from_dict(load_yaml(path), where=str(path))

    @classmethod
    def from_dict(cls, doc: Any, where: str = "job") -> "JobSpec":
        doc = require_mapping(doc, where)
        check_keys(doc, ("stages", "pyspark", "jobs"), where)
        if sum(k in doc for k in ("stages", "pyspark", "jobs")) != 1:
            raise UserError(f"{where}: give exactly one of 'stages' (explicit form), 'jobs' (several jobs) or 'pyspark'")
        if "pyspark" in doc:
            return cls(pyspark=_parse_pyspark(doc["pyspark"], f"{where}: pyspark", source=where), where=where)
        if "stages" in doc:
            stages = _parse_job_stages(doc["stages"], 0, f"{where}: stages")
            return cls(stages=stages, gaps_s=(0.0,), where=where)
        jobs = require_list(doc["jobs"], f"{where}: jobs")
        if not jobs:
            raise UserError(f"{where}: jobs: at least one job is needed")
        check_limit(len(jobs), "tasks", f"{where}: jobs: the number of jobs")
        all_stages: list[StageSpec] = []
        gaps: list[float] = []
        for j, jdoc in enumerate(jobs):
            jwhere = f"{where}: jobs[{j}]"
            jdoc = require_mapping(jdoc, jwhere)
            check_keys(jdoc, ("stages", "gap_s", "name"), jwhere, required=("stages",))
            gaps.append(get_float(jdoc.get("gap_s", 0.0), f"{jwhere}.gap_s", limit="seconds"))
            all_stages.extend(_parse_job_stages(jdoc["stages"], j, f"{jwhere}.stages"))
        check_limit(len(all_stages), "tasks", f"{where}: jobs: the number of stages")
        names = [s.name for s in all_stages]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise UserError(f"{where}: jobs: stage name {dup!r} is used twice (parents name stages)")
        return cls(stages=tuple(all_stages), gaps_s=tuple(gaps), where=where)

    @property
    def num_jobs(self) -> int:
        return 1 if self.pyspark is not None else max(1, len(self.gaps_s))

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


_STAGE_FIELDS = ("name", "tasks", "prefs", "cpu_seconds", "cpu_seconds_sd", "python", "threads",
                 "parents", "wait_seconds", "shuffle_write_bytes", "shuffle_read_bytes", "startup_seconds")


def _per_task(value: Any, tasks: int, where: str, parse) -> tuple:
    """One value for every task, or a list of one per task."""
    if isinstance(value, list):
        if len(value) != tasks:
            raise UserError(f"{where}: {len(value)} values for {tasks} tasks")
        return tuple(parse(v, f"{where}[{t}]") for t, v in enumerate(value))
    return (parse(value, where),) * tasks


def _seconds(v: Any, where: str) -> float:
    return get_float(v, where, limit="seconds")


def _bytes(v: Any, where: str) -> int:
    return get_int(v, where, minimum=0, limit="bytes")


def _parse_stage(doc: Any, i: int, where: str, job: int = 0) -> StageSpec:
    doc = require_mapping(doc, where)
    check_keys(doc, _STAGE_FIELDS, where, required=("tasks", "cpu_seconds"))
    tasks = get_int(doc["tasks"], f"{where}.tasks", minimum=1, limit="tasks")
    parents = None
    if "parents" in doc:
        parents = tuple(get_str(p, f"{where}.parents[{k}]")
                        for k, p in enumerate(require_list(doc["parents"], f"{where}.parents")))
    optional = {k: _per_task(doc[k], tasks, f"{where}.{k}", parse) if k in doc else ()
                for k, parse in (("wait_seconds", _seconds), ("shuffle_write_bytes", _bytes),
                                 ("shuffle_read_bytes", _bytes))}
    python = get_bool(doc.get("python", False), f"{where}.python")
    if "startup_seconds" in doc and not python:
        raise UserError(f"{where}.startup_seconds: only a Python stage (python: true) starts Python workers")
    return StageSpec(
        name=get_str(doc.get("name", f"s{i}"), f"{where}.name"),
        prefs=_parse_prefs(doc.get("prefs", []), tasks, f"{where}.prefs"),
        cpu_seconds=_per_task(doc["cpu_seconds"], tasks, f"{where}.cpu_seconds", _seconds),
        cpu_seconds_sd=get_float(doc.get("cpu_seconds_sd", 0.0), f"{where}.cpu_seconds_sd", limit="seconds"),
        python=python,
        threads=_threads(doc.get("threads", 1), f"{where}.threads"),
        startup_seconds=get_float(doc.get("startup_seconds", 0.0), f"{where}.startup_seconds", limit="seconds"),
        parents=parents,
        job=job,
        # A one-parent stage of the DAG form with no prefs of its own reads them off the map outputs.
        prefs_from_shuffle=parents is not None and len(parents) == 1 and "prefs" not in doc,
        **optional,
    )


def _parse_job_stages(value: Any, job: int, where: str) -> tuple[StageSpec, ...]:
    """One job's stages; in the DAG form, checked as Spark builds a job (parents first, one result stage)."""
    docs = require_list(value, where)
    if not docs:
        raise UserError(f"{where}: at least one stage is needed")
    stages = [_parse_stage(s, i, f"{where}[{i}]", job) for i, s in enumerate(docs)]
    if all(s.parents is None for s in stages):
        return tuple(stages)   # the chain form
    # The DAG form: a stage without `parents` has none.
    stages = [s if s.parents is not None else replace(s, parents=()) for s in stages]
    index = {}
    for i, s in enumerate(stages):
        if s.name in index:
            raise UserError(f"{where}[{i}].name: stage name {s.name!r} is used twice (parents name stages)")
        for k, p in enumerate(s.parents):
            if p not in index:
                later = any(t.name == p for t in stages[i:])
                raise UserError(f"{where}[{i}].parents[{k}]: {p!r} is " + (
                    "listed after it (list a stage's parents before it)" if later else "not a stage of this job"))
        if len(set(s.parents)) != len(s.parents):
            raise UserError(f"{where}[{i}].parents: a parent is named twice")
        index[s.name] = i
    # Every stage leads to the result stage (the last): walk the parents back from it.
    reached, todo = set(), [len(stages) - 1]
    while todo:
        i = todo.pop()
        if i not in reached:
            reached.add(i)
            todo.extend(index[p] for p in stages[i].parents)
    for i, s in enumerate(stages):
        if i not in reached:
            raise UserError(f"{where}[{i}]: stage {s.name!r} does not lead to the job's result stage "
                            f"{stages[-1].name!r} (the last stage): a Spark job's stages are its result stage's ancestors")
    return tuple(stages)


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
        partitioner=check_partitioner(doc.get("partitioner", DEFAULT_PARTITIONER), f"{where}.partitioner"),
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

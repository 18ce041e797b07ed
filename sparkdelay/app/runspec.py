"""What one run is made of, as the command line states it: files or a preset, plus shortcuts.

`RunSpec` is a small picklable description (paths, preset name, `--nodes`, `--partitions`,
`--partitioner`, `--wait`, `--spark-version`, `--conf`) that `build()` turns into a validated cluster, job and
cost model. `simulate` builds one; `sweep` sends RunSpecs to worker processes, which build
their own (files are parsed once per process). In-process callers (the report) hand over a
cluster, job or cost model object instead of a file (`cluster=`, `job=`, `model=`): in-process
data stays in objects. Precedence: a cluster (file or object) replaces the preset's cluster
(then `--nodes N` keeps its first N hosts), a job replaces the preset's job, and the shortcuts
apply last. `--wait` sets `spark.locality.wait`; level-specific keys a cluster file sets
(`spark.locality.wait.node`, ...) still win, as they do in Spark.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.limits import check_limit
from sparkdelay.ground.sparkconf import parse_duration_ms

from sparkdelay.sim.model.cluster import ClusterSpec
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.job import JobSpec
from sparkdelay.sim.policy.config import SparkVersion
from sparkdelay.sim.policy.pyspark_partitioning import check_partitioner
from sparkdelay.app.presets import PRESETS, preset as make_preset


@lru_cache(maxsize=16)
def _load_cluster(path: str) -> ClusterSpec:
    return ClusterSpec.load(path)


@lru_cache(maxsize=16)
def _load_job(path: str) -> JobSpec:
    return JobSpec.load(path)


@lru_cache(maxsize=16)
def _load_model(path: str) -> CostModel:
    return CostModel.load(path)


def _given(obj, path: str | None, load):
    """The object handed over in-process, else the file's contents, else None (the preset's)."""
    if obj is not None:
        return obj
    return load(path) if path else None


def parse_conf_pairs(pairs) -> tuple[tuple[str, str], ...]:
    out = []
    for text in pairs or ():
        key, sep, value = str(text).partition("=")
        if not sep or not key.strip():
            raise UserError(f"--conf: expected KEY=VALUE, got {text!r}")
        out.append((key.strip(), value.strip()))
    return tuple(out)


IN_PROCESS_INPUTS = ("cluster", "job", "model")   # objects that stand in for the `<name>_path` files


@dataclass(frozen=True)
class RunSpec:
    preset: str | None = None
    cluster_path: str | None = None
    job_path: str | None = None
    model_path: str | None = None
    nodes: int | None = None
    partitions: int | None = None
    wait: str | None = None
    spark_version: str | None = None
    conf: tuple[tuple[str, str], ...] = ()
    partitioner: str | None = None   # hash | even: overrides the PySpark-form job's (None: the job's own)
    # In-process inputs, instead of the files above. A ClusterSpec holds dicts, so it is left out
    # of the hash (equal specs still compare equal, which is all the build cache needs).
    cluster: ClusterSpec | None = field(default=None, hash=False)
    job: JobSpec | None = None
    model: CostModel | None = None

    def __post_init__(self) -> None:
        for name in IN_PROCESS_INPUTS:
            if getattr(self, name) is not None and getattr(self, f"{name}_path") is not None:
                raise ValueError(f"RunSpec: give {name} or {name}_path, not both")

    def with_(self, **changes) -> "RunSpec":
        return replace(self, **changes)

    def build(self) -> tuple[ClusterSpec, JobSpec, CostModel]:
        if self.preset is not None and self.preset not in PRESETS:
            raise UserError(f"--preset: unknown preset {self.preset!r} (known: {', '.join(PRESETS)})")
        if self.nodes is not None and self.nodes < 1:
            raise UserError(f"--nodes: must be at least 1, got {self.nodes}")
        if self.nodes is not None:
            check_limit(self.nodes, "hosts", "--nodes")
        if self.partitions is not None:
            check_limit(self.partitions, "tasks", "--partitions")
        if self.partitions is not None and self.partitions < 1:
            raise UserError(f"--partitions: must be at least 1, got {self.partitions}")
        if self.wait is not None:
            parse_duration_ms(self.wait, "--wait")
        if self.partitioner is not None:
            check_partitioner(self.partitioner, "--partitioner")
        if self.spark_version is not None:
            SparkVersion.parse(self.spark_version, "--spark-version")
        name = self.preset or "study2017"
        given = _given(self.cluster, self.cluster_path, _load_cluster)
        preset_cluster, preset_job = make_preset(
            name, nodes=None if given is not None else self.nodes, partitions=None,
            wait=self.wait, spark_version=self.spark_version)
        if given is not None:
            cluster = given if self.nodes is None else given.first_hosts(self.nodes)
        else:
            cluster = preset_cluster
        job = _given(self.job, self.job_path, _load_job)
        if job is None:
            job = preset_job
        if self.partitions is not None:
            job = job.with_partitions(self.partitions)
        if self.partitioner is not None:
            if job.pyspark is None:
                raise UserError("--partitioner: only a PySpark-form job has a partitionBy to choose the function of")
            job = replace(job, pyspark=job.pyspark.with_partitioner(self.partitioner))
        if self.wait is not None:
            cluster = cluster.with_config(**{"spark.locality.wait": self.wait})
        if self.spark_version is not None:
            cluster = cluster.with_version(self.spark_version)
        if self.conf:
            try:
                cluster = cluster.with_spark_conf(dict(self.conf))
            except UserError as exc:
                raise UserError(f"--conf: {exc}") from None
        source = self.cluster_path or ("cluster" if self.cluster is not None else f"preset {name}")
        cluster.scheduler_conf(where=f"{source}: config")  # validate now
        job.check_against(cluster)
        model = _given(self.model, self.model_path, _load_model)
        return cluster, job, CostModel() if model is None else model

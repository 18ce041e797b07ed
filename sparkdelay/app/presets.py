"""Ready-made clusters and jobs: the 2017 study's setting and a local test cluster.

`study2017`: N worker hosts node1..nodeN (5 in the study), each its own machine, one
executor of 8 task threads per worker (ids "0".."N-1"), Spark 2.1 semantics (locality timer
reset on every launch, zero-wait levels dropped, an immediate full round when an executor
registers), and the study's job: 40 keyed MNIST shards `parallelize`d into one slice (so the
map side runs on one executor and all shuffle output sits on one host), `partitionBy(P)`, then
Chainer evaluation per partition. Keys are "shard-00".."shard-39" hashed by CPython 3.11 with
PYTHONHASHSEED=0 unless other values are given (the study's interpreter and keys are unknown;
`sim.model.study` spells them once).

`local`: worker hosts 127.0.0.2, 127.0.0.3, ... on this one machine, sharing its cores
(`os.cpu_count()`), Spark 4.0 semantics: the shape of a test cluster started on one box.
"""

from __future__ import annotations

import os

from sparkdelay.ground.errors import UserError

from sparkdelay.sim.model.cluster import ClusterSpec, ExecutorSpec, MachineSpec
from sparkdelay.sim.model.job import JobSpec, PySparkJob, PySparkWorkload
from sparkdelay.sim.model.study import STUDY_ITEM_BYTES, STUDY_KEYS
from sparkdelay.sim.policy.pyspark_partitioning import DEFAULT_PARTITIONER, DEFAULT_PYTHON_VERSION, KeySpec

PRESETS = ("study2017", "local")


def study_job(partitions: int = 40, python_hash_seed: int = 0, python_version: str = DEFAULT_PYTHON_VERSION,
              map_slices: int = 1, item_bytes: int = STUDY_ITEM_BYTES, keys=None,
              partitioner: str = DEFAULT_PARTITIONER) -> JobSpec:
    """The study's job; `partitioner="even"` is its future work, partitionBy(P, position of the key)."""
    if partitions < 1:
        raise UserError(f"--partitions: must be at least 1, got {partitions}")
    spec = KeySpec.parse(keys if keys is not None else STUDY_KEYS)
    workload = PySparkWorkload(spec.keys, python_hash_seed, python_version, map_slices, item_bytes,
                               source="preset job", partitioner=partitioner)
    return JobSpec(pyspark=PySparkJob(workload, partitions), where="preset job")


def study2017_cluster(nodes: int = 5, wait: str = "3s", spark_version: str = "2.1",
                      executor_cores: int = 8) -> ClusterSpec:
    if nodes < 1:
        raise UserError(f"--nodes: must be at least 1, got {nodes}")
    executors = [ExecutorSpec(str(i), f"node{i + 1}", executor_cores, 0.0) for i in range(nodes)]
    return ClusterSpec.make(spark_version, {"spark.locality.wait": wait, "spark.executor.cores": str(executor_cores)},
                            executors, where="preset study2017")


def local_cluster(nodes: int = 2, wait: str = "3s", spark_version: str = "4.0", executor_cores: int = 8,
                  cores: int | None = None) -> ClusterSpec:
    if nodes < 1:
        raise UserError(f"--nodes: must be at least 1, got {nodes}")
    if nodes > 250:
        raise UserError(f"--nodes: the local preset has loopback hosts for at most 250 workers, got {nodes}")
    cores = cores or os.cpu_count() or 1
    hosts = [f"127.0.0.{i + 2}" for i in range(nodes)]
    executors = [ExecutorSpec(str(i), h, executor_cores, 0.0) for i, h in enumerate(hosts)]
    machines = [MachineSpec("localhost", cores, tuple(hosts))]
    return ClusterSpec.make(spark_version, {"spark.locality.wait": wait, "spark.executor.cores": str(executor_cores)},
                            executors, machines, where="preset local")


def preset(name: str, nodes: int | None = None, partitions: int | None = None, wait: str | None = None,
           spark_version: str | None = None) -> tuple[ClusterSpec, JobSpec]:
    """(cluster, job) of a named preset; None keeps the preset's default."""
    if name == "study2017":
        cluster = study2017_cluster(5 if nodes is None else nodes, wait or "3s", spark_version or "2.1")
    elif name == "local":
        cluster = local_cluster(2 if nodes is None else nodes, wait or "3s", spark_version or "4.0")
    else:
        raise UserError(f"--preset: unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return cluster, study_job(40 if partitions is None else partitions)

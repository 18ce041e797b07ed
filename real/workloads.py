"""The real jobs of `sparkdelay run --job NAME`: one Spark shape, different work per item.

Every job has the study's shape, `sc.parallelize(items, M).partitionBy(P).mapPartitions(f)
.collect()`, with the same keys (so the same partition sizes for a given P and hash seed);
what `f` does with an item, and what the Python workers' environment is, differ. Together
they cover the effects a cost model must carry to a job it was not fitted on:

| job | per item | what it exercises |
|---|---|---|
| `mlp` | Chainer MLP inference on a 25-image shard, `repeat` times; one BLAS thread per worker | the bundled corpus (CPU-bound, one core per task) |
| `mlp-blas` | the same with OpenBLAS's default threading (a thread per core) | threads inside a task |
| `lenet` | a LeNet-style Chainer CNN, built inside every task from broadcast weights, `repeat` evaluations | per-task set-up, heavier imports |
| `sleep` | `time.sleep(repeat x 10 ms)` | time that is not CPU (does not share cores) |
| `pyloop` | `repeat x 100,000` iterations of a pure-Python loop | CPU-bound without numpy or Chainer imports |

Two more jobs are not that shape: `wordcount` (RDD: reduceByKey, join, groupByKey: 3 shuffles) and
`sqlagg` (DataFrame groupBy/agg, join, groupBy with Python UDFs: 3 shuffles) are one action over
several shuffles of P partitions each, run by their own driver, `real.dag_jobs` (`Job.driver`);
their `repeat` is work units per record (see there), and `--items`/`--key-format` do not apply.

A job's `repeat` default makes one item cost roughly half a second on this project's 2-core
machine. The partition function runs inside PySpark's Python workers, so it imports Chainer
there, lazily: the driver-side module imports nothing heavy.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable

from sparkdelay.ground.errors import UserError

# Executor environment that keeps numerical libraries to one thread per Python worker, so a
# task slot is one thread, as on the study's nodes.
ONE_BLAS_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

PYLOOP_ITERATIONS = 100_000   # one unit of `pyloop` work
SLEEP_UNIT_S = 0.010          # one unit of `sleep` work


@dataclass(frozen=True)
class Job:
    """A real job: what its items carry, what its tasks do, which environment its workers get."""

    name: str
    summary: str
    default_repeat: int
    executor_env: dict = field(default_factory=dict)
    uses_mnist: bool = True        # items are MNIST shards (else: small integer payloads)
    uses_weights: str | None = None   # "mlp" or "lenet": the driver trains/caches these weights
    driver: str = "job"            # the driver module under sparkdelay.real: "job" (the study's shape) or "dag_jobs"


JOBS: dict[str, Job] = {j.name: j for j in (
    Job("mlp", "Chainer MLP inference, one BLAS thread per worker", 2000, ONE_BLAS_THREAD, True, "mlp"),
    Job("mlp-blas", "Chainer MLP inference, OpenBLAS's default threads", 2000, {}, True, "mlp"),
    Job("lenet", "LeNet-style Chainer CNN built inside each task", 30, ONE_BLAS_THREAD, True, "lenet"),
    Job("sleep", "sleeps 10 ms per work unit (no CPU)", 45, ONE_BLAS_THREAD, False, None),
    Job("pyloop", "pure-Python loop, 100,000 iterations per work unit", 35, ONE_BLAS_THREAD, False, None),
    Job("wordcount", "word count, join, groupByKey: 3 shuffles in one RDD action", 10, ONE_BLAS_THREAD, False, None,
        "dag_jobs"),
    Job("sqlagg", "DataFrame groupBy/agg, join, groupBy with Python UDFs: 3 shuffles", 10, ONE_BLAS_THREAD, False,
        None, "dag_jobs"),
)}
DEFAULT_JOB = "mlp"


def job_named(name: str) -> Job:
    if name not in JOBS:
        raise UserError(f"--job: unknown job {name!r} (known: {', '.join(JOBS)})")
    return JOBS[name]


def small_items(keys: list[str]) -> list[tuple]:
    """Items of the jobs that need no data: (key, item number)."""
    return [(k, i) for i, k in enumerate(keys)]


def _pyloop(units: int) -> int:
    acc = 0
    for i in range(units * PYLOOP_ITERATIONS):
        acc = (acc * 31 + i) % 1_000_003
    return acc


def partition_function(job: Job, repeat: int, weights_bc=None, model_key: str = "") -> Callable:
    """The `mapPartitions` function of `job`: one result row per item of the partition."""
    if repeat < 1:
        raise UserError(f"--work-repeat: must be at least 1, got {repeat}")
    if job.driver != "job":
        raise UserError(f"--job: {job.name} is not the parallelize -> partitionBy shape; "
                        f"its driver is sparkdelay.real.{job.driver}")
    if job.name in ("mlp", "mlp-blas"):
        from sparkdelay.real.evaluate import partition_evaluator
        return partition_evaluator(weights_bc, model_key, repeat)
    name = job.name

    def run(items):
        from pyspark import TaskContext   # inside the Python worker

        ctx = TaskContext.get()
        host = os.environ.get("SPARK_LOCAL_IP", "?")
        net = None
        if name == "lenet":
            from sparkdelay.real import lenet
            net = lenet.build(weights_bc.value)   # every task builds its own network
        for key, payload in items:
            start, cpu = time.time(), time.process_time()
            correct = n = 0
            if name == "lenet":
                images, labels = payload
                for _ in range(repeat):
                    pred = lenet.predict(net, images)
                correct, n = int((pred == labels).sum()), int(len(labels))
            elif name == "sleep":
                time.sleep(repeat * SLEEP_UNIT_S)
            else:
                _pyloop(repeat)
            yield {"key": key, "correct": correct, "n": n, "partition": ctx.partitionId(),
                   "stage": ctx.stageId(), "host": host, "start": start,
                   "seconds": time.time() - start, "cpu_seconds": time.process_time() - cpu}

    return run

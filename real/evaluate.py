"""The function each reduce task runs: evaluate its items with Chainer, K times each.

It runs inside PySpark's Python workers. Chainer is imported and the model built there, on
first use, and kept in a module-level cache keyed by the broadcast id: Spark reuses Python
workers (`spark.python.worker.reuse=true`), so later tasks of the same application skip
the build. The cache key is the weights' digest (a worker may serve several applications). `repeat` evaluates a shard K times so that a task lasts long enough (seconds) to
be comparable with `spark.locality.wait`; the answer is the same every time.
"""

from __future__ import annotations

import os
import time

_MODELS: dict = {}


def _model(weights_bc, model_key: str):
    model = _MODELS.get(model_key)
    if model is None:
        from sparkdelay.real import model as mlp
        model = _MODELS[model_key] = mlp.build(weights_bc.value)
    return model


def partition_evaluator(weights_bc, model_key: str, repeat: int):
    """A `mapPartitions` function yielding one result row per item of the partition."""
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")

    def evaluate(items):
        from pyspark import TaskContext

        from sparkdelay.real import model as mlp

        ctx = TaskContext.get()
        net = _model(weights_bc, model_key)
        host = os.environ.get("SPARK_LOCAL_IP", "?")
        for key, (images, labels) in items:
            start, cpu = time.time(), time.process_time()
            for _ in range(repeat):
                pred = mlp.predict(net, images)
            yield {
                "key": key, "correct": int((pred == labels).sum()), "n": int(len(labels)),
                "partition": ctx.partitionId(), "stage": ctx.stageId(), "host": host,
                "start": start, "seconds": time.time() - start, "cpu_seconds": time.process_time() - cpu,
            }

    return evaluate

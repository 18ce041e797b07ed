"""The real jobs' driver program, run as its own process: `python -m sparkdelay.real.job ...`.

One run = one fresh SparkContext: build the keyed items (MNIST shards, with the job's cached
weights, or small payloads; `real.workloads`), `sc.parallelize(items, map_slices)` (1 slice by
default, as in the study, so all shuffle output sits on one executor), `.partitionBy(P)` (with
`--partitioner even`, `.partitionBy(P, position of the key in the key list)`: item i goes to
partition i % P), run the job's function on every partition in `mapPartitions` (Chainer inference by default),
collect one row per item and check that every item came back once. Before the job, it waits until all N executors have registered, so that N nodes
means N. The result (timings, app id, accuracy, per-item rows) is written as JSON to
`--result`; the exit status says what went wrong (see `EXIT_*`). Started by `real.runner`
with `PYSPARK_PYTHON` and `PYTHONHASHSEED` set, so a crash cannot take down a sweep.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from sparkdelay.real import items as itemsmod
from sparkdelay.real import mnist
from sparkdelay.real import lenet
from sparkdelay.real import model as mlp
from sparkdelay.real.workloads import DEFAULT_JOB, JOBS, job_named, partition_function, small_items
from sparkdelay.sim.model.study import STUDY_ITEMS, STUDY_KEY_FORMAT
from sparkdelay.sim.policy.pyspark_partitioning import PARTITIONERS, even_partition_func

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_EXECUTORS = 3   # not all N executors registered in time
EXIT_INCOMPLETE = 4  # an item is missing or came back twice

# Trained weights are cached per user, not in the current folder or the installed package.
WEIGHTS_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sparkdelay" / "weights"


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sparkdelay.real.job", description=__doc__.split("\n\n")[0])
    p.add_argument("--master", required=True, help="spark://host:port")
    p.add_argument("--job", default=DEFAULT_JOB, choices=list(JOBS), help="what each task does with an item")
    p.add_argument("--nodes", type=int, required=True, help="executors to wait for (one per worker)")
    p.add_argument("--cores", type=int, default=8, help="spark.executor.cores")
    p.add_argument("--executor-memory", default="1g", help="spark.executor.memory")
    p.add_argument("--partitions", type=int, required=True, help="P of partitionBy(P)")
    p.add_argument("--partitioner", default="hash", choices=list(PARTITIONERS),
                   help="partitionBy's function: hash (portable_hash) or even (the key's position)")
    p.add_argument("--wait", default="3s", help="spark.locality.wait")
    p.add_argument("--items", type=int, default=STUDY_ITEMS)
    p.add_argument("--key-format", default=STUDY_KEY_FORMAT)
    p.add_argument("--test-limit", type=int, default=None, help="use only the first N test images")
    p.add_argument("--map-slices", type=int, default=1, help="numSlices of parallelize")
    p.add_argument("--work-repeat", type=int, default=1, help="evaluate each shard K times")
    p.add_argument("--mnist-dir", default=None)
    p.add_argument("--weights-cache", default=str(WEIGHTS_CACHE))
    p.add_argument("--eventlog-dir", required=True)
    p.add_argument("--eventlog-codec", default="none", choices=["none", "zstd", "lz4"])
    p.add_argument("--register-wait", default="120s", help="spark.scheduler.maxRegisteredResourcesWaitingTime")
    p.add_argument("--app-name", default="sparkdelay-chainer-mnist")
    p.add_argument("--result", required=True, help="write the result JSON here")
    return p.parse_args(argv)


def spark_conf(args) -> dict[str, str]:
    """Every setting that shapes placement, spelled as Spark spells it."""
    seed = os.environ.get("PYTHONHASHSEED", "0")
    conf = {
        "spark.master": args.master,
        "spark.app.name": args.app_name,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.executor.cores": str(args.cores),
        "spark.executor.memory": args.executor_memory,
        # N executors of `cores` slots each, and no job before all of them registered.
        "spark.cores.max": str(args.nodes * args.cores),
        "spark.scheduler.minRegisteredResourcesRatio": "1.0",
        "spark.scheduler.maxRegisteredResourcesWaitingTime": args.register_wait,
        "spark.default.parallelism": str(args.partitions),
        "spark.locality.wait": args.wait,
        "spark.python.worker.reuse": "true",
        "spark.eventLog.enabled": "true",
        # One plain file per application (Spark 4 defaults to rolling event-log dirs).
        "spark.eventLog.rolling.enabled": "false",
        "spark.eventLog.dir": Path(args.eventlog_dir).resolve().as_uri(),
        "spark.executorEnv.PYTHONHASHSEED": seed,
    }
    # The job's worker environment, e.g. one BLAS thread per task (a task slot is one thread, as
    # on the study's nodes); `mlp-blas` sets none, so OpenBLAS uses a thread per visible core.
    for name, value in job_named(args.job).executor_env.items():
        conf[f"spark.executorEnv.{name}"] = value
    if args.eventlog_codec != "none":
        conf["spark.eventLog.compress"] = "true"
        conf["spark.eventLog.compression.codec"] = args.eventlog_codec
    return conf


def registered_executors(sc) -> list[str]:
    """Hosts of the registered executors (the driver's own entry left out)."""
    infos = sc._jsc.sc().statusTracker().getExecutorInfos()
    driver = sc._jsc.sc().env().blockManager().blockManagerId().hostPort()
    hosts = []
    for info in infos:
        hp = f"{info.host()}:{info.port()}"
        if hp != driver:
            hosts.append(info.host())
    return sorted(hosts)


def main(argv=None) -> int:
    return run_driver(parse_args, _run, argv)


def run_driver(parse, run, argv=None) -> int:
    """One driver program's frame, shared by every real job: `run(args, result, program_start)`
    fills `result`; whatever happens (an exception included: the sweep goes on), the result JSON
    is written atomically to `args.result`, so the runner never reads half a file."""
    program_start = time.time()
    args = parse(argv)
    result: dict = {"status": "error", "program_start": program_start}
    try:
        return run(args, result, program_start)
    except Exception as exc:  # recorded in the result; the sweep goes on
        result.setdefault("error", f"{type(exc).__name__}: {exc}"[:2000])
        return EXIT_ERROR
    finally:
        result["driver_end"] = time.time()
        tmp = Path(args.result).with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=1))
        os.replace(tmp, args.result)


def await_executors(sc, nodes: int, result: dict) -> int | None:
    """Wait (30 s at most) until `nodes` executors have registered; record their hosts in
    `result`. None when they all came, else the EXIT_EXECUTORS code with the status set.
    minRegisteredResourcesRatio makes the SparkContext constructor wait, but only up to the
    waiting time, so the count is checked here."""
    deadline = time.time() + 30
    hosts = registered_executors(sc)
    while len(hosts) < nodes and time.time() < deadline:
        time.sleep(0.5)
        hosts = registered_executors(sc)
    result.update(context_ready=time.time(), executors=hosts)
    if len(hosts) < nodes:
        result.update(status="executors-missing", error=f"only {len(hosts)} of {nodes} executors registered: {hosts}")
        return EXIT_EXECUTORS
    return None


def _run(args, result: dict, program_start: float) -> int:
    job = job_named(args.job)
    result["job"] = job.name
    weights = wpath = None
    if job.uses_mnist:
        data = mnist.load(args.mnist_dir)
        net_module = lenet if job.uses_weights == "lenet" else mlp
        weights, wpath, trained = net_module.load_or_train(data.x_train, data.y_train, Path(args.weights_cache))
        result["accuracy"] = float((net_module.predict(net_module.build(weights), data.x_test) == data.y_test).mean())
        result.update(mnist_source=data.source, weights=str(wpath), trained_now=trained,
                      train_images=int(len(data.x_train)), test_images=int(len(data.x_test)))
        items = itemsmod.make_items(data.x_test, data.y_test, args.items, args.key_format, args.test_limit)
    else:
        items = small_items(itemsmod.keys(args.items, args.key_format))
    expected = [k for k, _ in items]

    # pyspark (py4j, about 0.3 s) is imported only by the driver process itself: the sweep's own
    # process imports this module for EXIT_* and WEIGHTS_CACHE (real.runner, commands/run.py).
    from pyspark import SparkConf, SparkContext

    Path(args.eventlog_dir).mkdir(parents=True, exist_ok=True)
    conf = SparkConf().setAll(list(spark_conf(args).items()))
    sc = SparkContext(conf=conf)
    try:
        sc.setLogLevel("WARN")
        result.update(app_id=sc.applicationId, spark_version=sc.version)
        missing = await_executors(sc, args.nodes, result)
        if missing is not None:
            return missing
        weights_bc = sc.broadcast(weights) if weights is not None else None
        partitioned = sc.parallelize(items, args.map_slices)
        if args.partitioner == "even":
            # The key's position in parallelize order, from a dict built here and shipped in the
            # function's closure; PySpark buckets by partitionFunc(key) % P, so item i -> i % P.
            partitioned = partitioned.partitionBy(args.partitions, even_partition_func(expected))
        else:
            partitioned = partitioned.partitionBy(args.partitions)
        rdd = (partitioned
                 .mapPartitions(partition_function(job, args.work_repeat, weights_bc,
                                                   wpath.stem if wpath is not None else "")))
        result["collect_start"] = time.time()
        rows = rdd.collect()
        result["collect_end"] = time.time()
    finally:
        sc.stop()
    result["rows"] = rows
    got = [r["key"] for r in rows]
    missing = sorted(set(expected) - set(got))
    dupes = sorted({k for k in got if got.count(k) > 1})
    correct, total = sum(r["correct"] for r in rows), sum(r["n"] for r in rows)
    result.update(
        items_expected=len(expected), items_returned=len(got),
        item_accuracy=correct / total if total else None,
        driver_wall_s=result["collect_end"] - program_start,
        collect_s=result["collect_end"] - result["collect_start"],
    )
    if missing or dupes or len(got) != len(expected):
        result.update(status="incomplete", error=f"missing items {missing}, duplicated {dupes}")
        return EXIT_INCOMPLETE
    result["status"] = "ok"
    accuracy = (f"accuracy {result['item_accuracy']:.4f} on {total} test images"
                if result["item_accuracy"] is not None else f"job {job.name}")
    print(f"{result['app_id']}: {len(got)} items, {accuracy}, "
          f"{result['driver_wall_s']:.1f}s from program start", flush=True)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

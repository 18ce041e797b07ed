"""`sparkdelay run`: real Chainer-on-Spark runs (the study's job), one row each in index.jsonl.

Nodes, partitions and waits may each be a list or range, which makes a sweep; every run is
a separate driver process (`python -m sparkdelay.real.job`). With `--master local-cluster` (default),
or a spark:// URL of the cluster recorded in `--state-dir`, the tool manages that local
cluster and (re)starts it with exactly N workers for each node count; with any other
spark:// master it takes N executors through `spark.cores.max`. Each row is appended to
`<out>/index.jsonl` as soon as its run ends, and rerunning the same command skips finished
runs. A failed run is recorded with its status and the sweep goes on.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sparkdelay.ground.errors import UserError

from sparkdelay.app.commands.cluster import add_cluster_options, add_state_dir, spec_from_args

NAME = "run"
HELP = "run the study's Chainer-on-MNIST job on Spark Standalone (a sweep if given lists)"
LOCAL = "local-cluster"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--master", default=LOCAL,
                   help="spark://host:port, or 'local-cluster' to start the tool's own cluster (default)")
    p.add_argument("--nodes", required=True, help="workers/executors to use: N, list 1,2,4 or range 1-3")
    p.add_argument("--partitions", required=True, help="P of partitionBy(P): number, list or range")
    p.add_argument("--wait", default="3s", help="spark.locality.wait: one duration or a list such as 0s,3s (default 3s)")
    p.add_argument("--reps", type=int, default=1, help="repetitions of every configuration (default 1)")
    p.add_argument("--out", default="runs", help="output dir: index.jsonl, eventlogs/, logs/ (default runs/)")
    job = p.add_argument_group("job")
    job.add_argument("--items", type=int, default=40, help="keyed items (test-set shards) (default 40)")
    job.add_argument("--key-format", default="shard-{:02d}", help="key of item i (default %(default)r)")
    job.add_argument("--map-slices", type=int, default=1, help="numSlices of parallelize (default 1, as in the study)")
    job.add_argument("--work-repeat", type=int, default=2000,
                     help="evaluate each shard K times, so an item takes ~0.5 s of CPU with the bundled data (default 2000)")
    job.add_argument("--hash-seed", default="0", help="PYTHONHASHSEED of driver and Python workers (default 0)")
    job.add_argument("--test-limit", type=int, default=None, help="use only the first N test images")
    job.add_argument("--mnist-dir", default=None, help="read MNIST IDX files from DIR instead of the bundled 5k subset")
    job.add_argument("--eventlog-codec", default="zstd", choices=["none", "zstd", "lz4"],
                     help="spark.eventLog.compression.codec; none = uncompressed (default zstd)")
    job.add_argument("--run-timeout", type=float, default=600.0, help="seconds before a run is killed (default 600)")
    job.add_argument("--register-wait", default="120s",
                     help="spark.scheduler.maxRegisteredResourcesWaitingTime (default 120s)")
    sweep = p.add_argument_group("sweep")
    sweep.add_argument("--retry-failed", action="store_true", help="redo runs whose recorded status is not ok")
    sweep.add_argument("--keep-logs", action="store_true", help="keep driver logs of successful runs too")
    sweep.add_argument("--keep-cluster", action="store_true", help="leave a cluster this command started running")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")
    local = p.add_argument_group("local cluster (--master local-cluster)")
    add_cluster_options(local, workers_required=False)
    add_state_dir(local)


def _shape(args):
    from sparkdelay.real.sweep import JobShape
    for option, value in (("--items", args.items), ("--map-slices", args.map_slices),
                          ("--work-repeat", args.work_repeat)):
        if value < 1:
            raise UserError(f"{option}: must be at least 1, got {value}")
    if args.test_limit is not None and args.test_limit < args.items:
        raise UserError(f"--test-limit: {args.test_limit} images cannot fill {args.items} items")
    if not args.hash_seed.isdigit() or int(args.hash_seed) > 4294967295:
        raise UserError(f"--hash-seed: PYTHONHASHSEED must be a number 0..4294967295, got {args.hash_seed!r}")
    mnist_dir = str(Path(args.mnist_dir).resolve()) if args.mnist_dir else None
    return JobShape(items=args.items, key_format=args.key_format, map_slices=args.map_slices,
                    work_repeat=args.work_repeat, cores=args.cores, memory=args.memory, pin=args.pin,
                    python_hash_seed=args.hash_seed, test_limit=args.test_limit, mnist_dir=mnist_dir)


def _prepare_model(shape) -> str:
    """Load MNIST and train (or load cached) weights now, so no run's time includes training."""
    from sparkdelay.real import items, mnist, model
    from sparkdelay.real.job import WEIGHTS_CACHE
    data = mnist.load(shape.mnist_dir)
    items.make_items(data.x_test, data.y_test, shape.items, shape.key_format, shape.test_limit)
    t0 = time.time()
    weights, path, trained = model.load_or_train(data.x_train, data.y_train, WEIGHTS_CACHE)
    acc = float((model.predict(model.build(weights), data.x_test) == data.y_test).mean())
    how = f"trained in {time.time() - t0:.1f}s" if trained else "cached"
    return f"MNIST: {data.source} ({len(data.x_train)} train / {len(data.x_test)} test); MLP {how}, test accuracy {acc:.4f}"


def run(args) -> int:
    from sparkdelay.eventlog import run_index as index
    from sparkdelay.real.cluster import Cluster
    from sparkdelay.real.runner import run_one
    from sparkdelay.real.sweep import parse_int_list, parse_wait_list, plan

    nodes = parse_int_list(args.nodes, "--nodes")
    partitions = parse_int_list(args.partitions, "--partitions")
    waits = parse_wait_list(args.wait)
    shape = _shape(args)
    runs = plan(shape, nodes, partitions, waits, args.reps)
    out = Path(args.out)
    index_path = out / "index.jsonl"
    done = index.done_ids(index_path, retry_failed=args.retry_failed)
    todo = [r for r in runs if r.run_id not in done]
    print(f"{len(runs)} runs planned, {len(runs) - len(todo)} already in {index_path}, {len(todo)} to do", flush=True)
    if not todo:
        return 0

    cluster = Cluster(args.state_dir)
    state = cluster.load()
    if args.master == LOCAL:
        managed, master = True, None
    elif args.master.startswith("spark://"):
        managed = state is not None and state.master_url == args.master and cluster.is_running()
        master = args.master
    else:
        raise UserError(f"--master: expected spark://host:port or {LOCAL}, got {args.master!r}")
    started_here = managed and not cluster.is_running()
    from sparkdelay.real.spark_env import check_java
    check_java()  # every driver starts a JVM, whoever runs the cluster
    if managed:
        base = spec_from_args(args, max(nodes))
        if args.master != LOCAL:  # keep the recorded cluster's layout, only the worker count changes
            from dataclasses import replace
            base = replace(state.spec)
        if base.pin and max(nodes) > len(__import__("os").sched_getaffinity(0)):
            raise UserError(f"--pin: {max(nodes)} nodes need {max(nodes)} CPUs")
    print(_prepare_model(shape), flush=True)

    from tqdm import tqdm
    counts: dict[str, int] = {}
    bar = tqdm(total=len(todo), unit="run", disable=args.no_progress, file=sys.stderr, dynamic_ncols=True)
    try:
        for spec in todo:
            if managed:
                from dataclasses import replace
                if not cluster.healthy(workers=spec.nodes):
                    bar.set_description(f"starting {spec.nodes} workers")
                    cluster.stop()
                    state = cluster.start(replace(base, workers=spec.nodes))
                master = cluster.load().master_url
            bar.set_description(f"N={spec.nodes} P={spec.partitions} wait={spec.wait} rep={spec.rep}")
            row = run_one(spec, master, out, codec=args.eventlog_codec, timeout_s=args.run_timeout,
                          keep_logs=args.keep_logs)
            row["cluster"] = "local" if managed else "external"
            index.append_row(index_path, row)
            counts[row["status"]] = counts.get(row["status"], 0) + 1
            if row["status"] != "ok":
                why = row.get("error") or f"executors removed during the run: {row.get('executors_removed')}"
                tqdm.write(f"{spec.run_id}: {row['status']}: {str(why)[:300]}", file=sys.stderr)
            bar.set_postfix(last=f"{row['job_duration_ms'] or 0:.0f}ms", **counts)
            bar.update(1)
    finally:
        bar.close()
        if started_here and not args.keep_cluster:
            cluster.stop()
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    print(f"done: {summary}; rows in {index_path}")
    return 0 if set(counts) <= {"ok"} else 1

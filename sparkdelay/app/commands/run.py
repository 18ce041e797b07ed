"""`sparkdelay run`: real jobs on Spark (`--job`, the study's Chainer-on-MNIST by default), one row each in index.jsonl.

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
import contextlib
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from sparkdelay.eventlog.run_index import INDEX_NAME, append_row, read_index
from sparkdelay.ground.errors import UserError
from sparkdelay.ground.limits import LIMITS
from sparkdelay.ground.sparkconf import parse_duration_ms
from sparkdelay.ground.lists import parse_int_list, parse_wait_list
from sparkdelay.real.cluster import Cluster, StandaloneLayout
from sparkdelay.real.plan import JobShape, RunPoint, plan
from sparkdelay.real.spark_env import check_java
from sparkdelay.real.workloads import DEFAULT_JOB, JOBS, job_named
from sparkdelay.sim.model.study import STUDY_ITEMS, STUDY_KEY_FORMAT
from sparkdelay.sim.policy.pyspark_partitioning import PARTITIONERS

from sparkdelay.app.argtypes import bounded, input_path, positive_int, reps, seconds
from sparkdelay.app.commands.cluster import add_cluster_options, add_state_dir, check_memory, spec_from_args

NAME = "run"
HELP = "run a real job (the study's Chainer-on-MNIST by default) on Spark Standalone (a sweep if given lists)"
LOCAL = "local-cluster"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--master", default=LOCAL,
                   help="spark://host:port, or 'local-cluster' to start the tool's own cluster (default)")
    p.add_argument("--nodes", required=True, help="workers/executors to use: N, list 1,2,4 or range 1-3 (1-5:2 steps by 2)")
    p.add_argument("--partitions", required=True, help="P of partitionBy(P): number, list or range (1-40:5 steps by 5)")
    p.add_argument("--wait", default="3s", help="spark.locality.wait: one duration or a list such as 0s,3s (default 3s)")
    p.add_argument("--reps", type=reps, default=1, help="repetitions of every configuration (default 1)")
    p.add_argument("--out", default="runs", help="output dir: index.jsonl, eventlogs/, logs/ (default runs/)")
    job = p.add_argument_group("job")
    job.add_argument("--job", default=DEFAULT_JOB, choices=list(JOBS), metavar="NAME",
                     help="what each task does with an item: " + "; ".join(f"{j.name}: {j.summary}" for j in JOBS.values())
                          + " (default %(default)s)")
    # None when not given, so that a multi-stage job (real.dag_jobs), which has no items, can refuse them.
    job.add_argument("--items", type=bounded("keys"), default=None, help=f"keyed items (test-set shards) (default {STUDY_ITEMS})")
    job.add_argument("--key-format", default=None, help=f"key of item i (default {STUDY_KEY_FORMAT!r})")
    job.add_argument("--map-slices", type=bounded("tasks"), default=1, help="numSlices of parallelize (default 1, as in the study)")
    job.add_argument("--partitioner", default="hash", choices=list(PARTITIONERS),
                     help="partitionBy's function: hash (portable_hash, PySpark's default) or even (the key's "
                          "position in the key list, so item i goes to partition i %% P) (default %(default)s)")
    job.add_argument("--work-repeat", type=work_repeat, default=None,
                     help="work units per item, so an item takes ~0.5 s on the project's machine; default per job: "
                          + ", ".join(f"{j.name} {j.default_repeat}" for j in JOBS.values()))
    job.add_argument("--hash-seed", default="0", help="PYTHONHASHSEED of driver and Python workers (default 0)")
    job.add_argument("--test-limit", type=positive_int, default=None, help="use only the first N test images")
    job.add_argument("--mnist-dir", type=input_path, default=None, help="read MNIST IDX files from DIR instead of the bundled 5k subset")
    job.add_argument("--eventlog-codec", default="zstd", choices=["none", "zstd", "lz4"],
                     help="spark.eventLog.compression.codec; none = uncompressed (default zstd)")
    job.add_argument("--run-timeout", type=seconds, default=600.0, help="seconds before a run is killed (default 600)")
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


# Work units per item: 10^8 is a day per item for the lightest job, beyond any measurement.
MAX_WORK_REPEAT = 100_000_000


def work_repeat(text: str) -> int:
    value = positive_int(text)
    if value > MAX_WORK_REPEAT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_WORK_REPEAT:,}, got {value}")
    return value


def _shape(args):
    job = job_named(args.job)
    if args.work_repeat is None:
        args.work_repeat = job.default_repeat
    if job.driver != "job":   # wordcount, sqlagg: their data is their own (real.dag_jobs)
        for option, value in (("--items", args.items), ("--key-format", args.key_format),
                              ("--test-limit", args.test_limit), ("--mnist-dir", args.mnist_dir),
                              ("--partitioner", None if args.partitioner == "hash" else args.partitioner)):
            if value is not None:
                raise UserError(f"{option}: does not apply to --job {job.name} (a multi-stage job with its own data)")
    args.items = STUDY_ITEMS if args.items is None else args.items
    args.key_format = STUDY_KEY_FORMAT if args.key_format is None else args.key_format
    for option, value in (("--items", args.items), ("--map-slices", args.map_slices),
                          ("--work-repeat", args.work_repeat)):
        if value < 1:
            raise UserError(f"{option}: must be at least 1, got {value}")
    if args.test_limit is not None and args.test_limit < args.items:
        raise UserError(f"--test-limit: {args.test_limit} images cannot fill {args.items} items")
    if not args.hash_seed.isdigit() or int(args.hash_seed) > 4294967295:
        raise UserError(f"--hash-seed: PYTHONHASHSEED must be a number 0..4294967295, got {args.hash_seed!r}")
    if args.partitioner != "hash" and getattr(job, "driver", "job") != "job":
        raise UserError(f"--partitioner: {args.partitioner} is partitionBy's function in the one-shuffle jobs; "
                        f"job {job.name} has no partitionBy of keyed items")
    check_memory(args.memory)
    _check_key_format(args.key_format, args.items)
    mnist_dir = str(Path(args.mnist_dir).resolve()) if args.mnist_dir else None
    return JobShape(job=job.name, items=args.items, key_format=args.key_format, map_slices=args.map_slices,
                    work_repeat=args.work_repeat, cores=args.cores, memory=args.memory, pin=args.pin,
                    python_hash_seed=args.hash_seed, test_limit=args.test_limit, mnist_dir=mnist_dir,
                    partitioner=args.partitioner)


def _check_key_format(fmt: str, items: int) -> None:
    """The keys the job will hash, checked now: a format that cannot take an item index, or gives
    two items one key, would otherwise fail (or silently merge items) inside every driver."""
    try:
        keys = {fmt.format(i) for i in range(items)}
    except (ValueError, IndexError, KeyError, AttributeError, TypeError) as exc:
        raise UserError(f"--key-format: {fmt!r} cannot format an item index: {exc}") from None
    if len(keys) != items:
        raise UserError(f"--key-format: {fmt!r} gives {items} items only {len(keys)} distinct keys")


def prepare_job(shape) -> str:
    """Load MNIST and train (or load cached) weights now, so no run's time includes training."""
    # Imported here, as `run_one` is: the driver's modules pull in numpy, ~150 ms more for every
    # `sparkdelay` start (the command line imports each command module to build its parser).
    from sparkdelay.real import items, lenet, mnist, model
    from sparkdelay.real.job import WEIGHTS_CACHE
    job = job_named(shape.job)
    if job.driver != "job":
        from sparkdelay.real.dag_jobs import describe
        return describe(job.name, shape.work_repeat)
    if not job.uses_mnist:
        items.keys(shape.items, shape.key_format)
        return f"job {job.name}: {job.summary}; {shape.items} items of {shape.work_repeat} work units"
    data = mnist.load(shape.mnist_dir)
    items.make_items(data.x_test, data.y_test, shape.items, shape.key_format, shape.test_limit)
    net = lenet if job.uses_weights == "lenet" else model
    t0 = time.time()
    weights, path, trained = net.load_or_train(data.x_train, data.y_train, WEIGHTS_CACHE)
    acc = float((net.predict(net.build(weights), data.x_test) == data.y_test).mean())
    how = f"trained in {time.time() - t0:.1f}s" if trained else "cached"
    return (f"job {job.name}: {job.summary}; MNIST: {data.source} ({len(data.x_train)} train / "
            f"{len(data.x_test)} test); {job.uses_weights} weights {how}, test accuracy {acc:.4f}")


def check_driver_options(args) -> None:
    """Options every driver gets, checked before the first run rather than by each failing run."""
    limit = LIMITS["seconds"].maximum
    if not (isinstance(args.run_timeout, float) and math.isfinite(args.run_timeout) and 0 < args.run_timeout <= limit):
        raise UserError(f"--run-timeout: expected seconds > 0 and at most {limit:,.0f}, got {args.run_timeout!r}")
    parse_duration_ms(args.register_wait, "--register-wait")


@contextlib.contextmanager
def exit_on_sigterm():
    """While inside: SIGTERM ends the command as Ctrl-C does: the running driver's tree (its JVM, the Spark
    application) is ended by `runner`'s clean-up, a cluster this command started is stopped, and
    the unfinished run is not recorded, so a rerun redoes it. Python's default for SIGTERM is to
    die on the spot, which left the driver and its JVM running."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    before = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def run(args) -> int:
    check_driver_options(args)
    with exit_on_sigterm():
        return _run(args)


def _run(args) -> int:
    runs, nodes = _plan(args)
    index_path = Path(args.out) / INDEX_NAME
    todo = todo_runs(runs, index_path, args.retry_failed)
    if not todo:
        return 0
    target = start_target(args, max(nodes))
    print(prepare_job(runs[0].shape), flush=True)
    counts = record_runs(todo, target, args, index_path)
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    print(f"done: {summary}; rows in {index_path}")
    return 0 if set(counts) <= {"ok"} else 1


def _plan(args) -> tuple[list[RunPoint], list[int]]:
    """Every run the options ask for, and the node counts."""
    nodes = parse_int_list(args.nodes, "--nodes", maximum=int(LIMITS["hosts"].maximum))
    partitions = parse_int_list(args.partitions, "--partitions", maximum=int(LIMITS["tasks"].maximum))
    waits = parse_wait_list(args.wait)
    return plan(_shape(args), nodes, partitions, waits, args.reps), nodes


def todo_runs(runs: list[RunPoint], index_path: Path, retry_failed: bool) -> list[RunPoint]:
    """The runs not yet in the index (a row cut off by a crash does not count: that run is redone)."""
    done: set[str] = set()
    if index_path.exists():
        index = read_index(index_path, lenient=True)
        if index.torn_note:
            print(index.torn_note, file=sys.stderr)
        done = index.done_ids(retry_failed=retry_failed)
    todo = [r for r in runs if r.run_id not in done]
    print(f"{len(runs)} runs planned, {len(runs) - len(todo)} already in {index_path}, {len(todo)} to do", flush=True)
    return todo


@dataclass
class _Target:
    """Where the runs go: an external spark:// master, or the local cluster this command manages."""

    cluster: Cluster
    managed: bool
    master: str | None                 # an external master's URL (None: managed)
    base: StandaloneLayout | None = None    # the managed cluster's layout; its worker count follows each run
    started_here: bool = False         # stop it at the end (unless --keep-cluster)
    follow_cores: bool = False         # restart when a run's cores per worker differ (not for a recorded layout)

    def master_for(self, spec: RunPoint, on_restart) -> str:
        """The master URL for a run, (re)starting a managed cluster to the run's worker count and
        cores per worker (a sweep's runs share the cores; differential cases do not)."""
        if not self.managed:
            return self.master
        cores = spec.shape.cores if self.follow_cores else self.base.cores
        if not self.cluster.healthy(workers=spec.nodes) or self.cluster.load().spec.cores != cores:
            on_restart()
            self.cluster.stop()
            self.cluster.start(replace(self.base, workers=spec.nodes, cores=cores))
        return self.cluster.load().master_url


def start_target(args, max_nodes: int) -> _Target:
    cluster = Cluster(args.state_dir)
    state = cluster.load()
    if args.master == LOCAL:
        target = _Target(cluster, managed=True, master=None)
    elif args.master.startswith("spark://"):
        managed = state is not None and state.master_url == args.master and cluster.is_running()
        target = _Target(cluster, managed=managed, master=args.master)
    else:
        raise UserError(f"--master: expected spark://host:port or {LOCAL}, got {args.master!r}")
    target.started_here = target.managed and not cluster.is_running()
    check_java()  # every driver starts a JVM, whoever runs the cluster
    if target.managed:
        target.base = spec_from_args(args, max_nodes)
        target.follow_cores = args.master == LOCAL
        if args.master != LOCAL:  # keep the recorded cluster's layout, only the worker count changes
            target.base = replace(state.spec)
        if target.base.pin and max_nodes > len(os.sched_getaffinity(0)):
            raise UserError(f"--pin: {max_nodes} nodes need {max_nodes} CPUs")
    return target


def record_runs(todo: list[RunPoint], target: _Target, args, index_path: Path) -> dict[str, int]:
    """Run each configuration, append its row as soon as it ends; runs per status."""
    from sparkdelay.real.runner import run_one   # lazy: see prepare_job
    counts: dict[str, int] = {}
    bar = tqdm(total=len(todo), unit="run", disable=args.no_progress, file=sys.stderr, dynamic_ncols=True)
    try:
        for spec in todo:
            master = target.master_for(spec, lambda: bar.set_description(f"starting {spec.nodes} workers"))
            bar.set_description(f"N={spec.nodes} P={spec.partitions} wait={spec.wait} rep={spec.rep}")
            row = run_one(spec, master, index_path.parent, codec=args.eventlog_codec, timeout_s=args.run_timeout,
                          keep_logs=args.keep_logs, register_wait=args.register_wait)
            row["cluster"] = "local" if target.managed else "external"
            append_row(index_path, row)
            counts[row["status"]] = counts.get(row["status"], 0) + 1
            if row["status"] != "ok":
                why = row.get("error") or f"executors removed during the run: {row.get('executors_removed')}"
                tqdm.write(f"{spec.run_id}: {row['status']}: {str(why)[:300]}", file=sys.stderr)
            bar.set_postfix(last=f"{row['job_duration_ms'] or row.get('app_job_time_ms') or 0:.0f}ms", **counts)
            bar.update(1)
    finally:
        bar.close()
        if target.started_here and not args.keep_cluster:
            target.cluster.stop()
    return counts

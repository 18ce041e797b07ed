"""`sparkdelay sweep`: run the model over a grid of nodes, partitions, waits and versions.

Every swept option takes a list or a range (`--nodes 1-5 --partitions 1-40 --wait 0s,1s,3s`),
each point runs `--reps` times with seeds derived from `--seed` and the point, on all local
cores. Rows are appended to `--out` as runs finish, so an interrupted sweep resumes without
redoing finished runs; at the end a table gives, per point, the mean and 95% interval.
"""

from __future__ import annotations

import sys

from sparkdelay.app.argtypes import names_required, positive_int, reps, seed
from sparkdelay.app.commands.simulate import add_run_arguments
from sparkdelay.ground.errors import UserError
from sparkdelay.ground.lists import parse_int_list, parse_text_list, parse_wait_list

NAME = "sweep"
HELP = "simulate a grid of nodes x partitions x waits, several seeds each, into a CSV"


def add_arguments(parser) -> None:
    add_run_arguments(parser, sweep=True)
    parser.add_argument("--reps", type=reps, default=10, help="runs per point (default 10)")
    parser.add_argument("--seed", type=seed, default=0, help="base seed (default 0)")
    parser.add_argument("--out", default="sweep.csv", help="CSV to append rows to (default sweep.csv)")
    parser.add_argument("--processes", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--engine", choices=["local", "spark"], default="local",
                        help="where runs happen: a local process pool, or a Spark job on --master (default local)")
    parser.add_argument("--master", metavar="URL", default=None,
                        help="with --engine spark: spark://HOST:PORT or local[N] (default local[2])")
    parser.add_argument("--chunk-size", type=positive_int, default=None, metavar="N",
                        help="with --engine spark: runs per Spark task (default: about 8 tasks per core, 10-500 runs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    from sparkdelay.app.simlog import add_event_log_arguments
    add_event_log_arguments(parser, sweep=True)
    names_required(parser, "--event-log")


def run(args) -> int:
    # Imported here, not at the top: the CLI imports every command module to build its parser,
    # and the sweep's model would add about 0.3 s to `sparkdelay --help` (python -X importtime).
    from sparkdelay.app.runspec import RunSpec, parse_conf_pairs
    from sparkdelay.app.sweep import format_summary, point_summaries, run_sweep

    if args.processes is not None and args.processes < 1:
        raise UserError(f"--processes: must be at least 1, got {args.processes}")
    run_points = _engine_runner(args)
    # --partitioner is one value, part of the sweep's fingerprint: a hash and an even sweep are two sweeps.
    base = RunSpec(preset=args.preset, cluster_path=args.cluster, job_path=args.job, model_path=args.model,
                   conf=parse_conf_pairs(args.conf), partitioner=args.partitioner)
    if args.keep is not None and not args.event_log:
        raise UserError("--keep: only with --event-log DIR (it says how many runs get an event log)")
    if args.event_log:
        from sparkdelay.app.simlog import check_folder, check_keep
        check_keep(1 if args.keep is None else args.keep)
        check_folder(args.event_log, args.event_log_codec)
    rows = run_sweep(
        base, args.out,
        nodes=parse_int_list(args.nodes, "--nodes"),
        partitions=parse_int_list(args.partitions, "--partitions"),
        waits=parse_wait_list(args.wait, "--wait"),
        versions=parse_text_list(args.spark_version, "--spark-version"),
        reps=args.reps, base_seed=args.seed, processes=args.processes,
        progress=not args.no_progress and sys.stderr.isatty(), run_points=run_points)
    print(format_summary(point_summaries(rows)))
    print(f"{len(rows)} runs in {args.out}")
    if args.event_log:
        from sparkdelay.app.simlog import write_sweep_logs
        paths = write_sweep_logs(base, rows, args.event_log, 1 if args.keep is None else args.keep,
                                 args.event_log_codec)
        print(f"event logs of the first {len(paths)} runs in {args.event_log}: {', '.join(p.name for p in paths)}")
    return 0


def _engine_runner(args):
    """None for the local pool; for --engine spark the runner that sends the runs to --master.
    Options of the other engine are refused, not ignored: a user who gave them expects an effect."""
    if args.engine == "local":
        for name, value in (("--master", args.master), ("--chunk-size", args.chunk_size)):
            if value is not None:
                raise UserError(f"{name}: only with --engine spark")
        return None
    if args.processes is not None:
        raise UserError("--processes: only with --engine local (with --engine spark the master's cores "
                        "run the sweep: --master local[N], or the cluster's workers)")
    from sparkdelay.app.spark_engine import DEFAULT_MASTER, check_reachable, parse_master, spark_runner

    master = parse_master(args.master or DEFAULT_MASTER)
    check_reachable(master)     # before any work: an unreachable master is one line, not a minute's retries
    return spark_runner(master.url, args.chunk_size)

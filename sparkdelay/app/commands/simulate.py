"""`sparkdelay simulate`: run the model once and report placement and timing.

Inputs are a cluster and a job (YAML files, or a preset: `study2017`, the default, or
`local`), shortcuts that override them (`--nodes`, `--partitions`, `--partitioner hash|even`,
`--wait`, `--spark-version`, `--conf KEY=VALUE`), an optional cost model file from calibration and a
seed. Prints a short summary, or one JSON object with `--json`; `--trace` writes one CSV row
per task and `--gantt` a PNG of executor threads against time.
"""

from __future__ import annotations

import json
import sys

from sparkdelay.app.argtypes import input_path, names_required, output_file, seed
from sparkdelay.app.presets import PRESETS
from sparkdelay.ground.errors import UserError
from sparkdelay.sim.policy.pyspark_partitioning import PARTITIONERS

NAME = "simulate"
HELP = "simulate one job on a cluster and report task placement and times"


def add_run_arguments(parser, sweep: bool = False, partitioner_list: bool = False) -> None:
    """Arguments shared with `sweep` (there --nodes/--partitions/--wait take lists) and `recommend`
    (`partitioner_list`: --partitioner takes a list, hash,even, of partitioners to search)."""
    parser.add_argument("--cluster", type=input_path, metavar="C", help="cluster YAML (default: the preset's cluster)")
    parser.add_argument("--job", type=input_path, metavar="J", help="job YAML (default: the preset's job, the study's 40 shards)")
    parser.add_argument("--preset", choices=PRESETS, help="ready-made cluster + job (default study2017)")
    parser.add_argument("--model", type=input_path, metavar="M", help="cost model JSON (sparkdelay-model/1) from calibration")
    many = " (a list or range: 1-5, 1,3,5, 1-40:5)" if sweep else ""
    parser.add_argument("--nodes", metavar="N", help="number of worker hosts (with --cluster: its first N hosts)" + many)
    parser.add_argument("--partitions", metavar="P", help="partitionBy(P) of a PySpark-form job" + many)
    partitioner = ("partitionBy's function for a PySpark-form job: hash (portable_hash, PySpark's default) "
                   "or even (the key's position in the key list: item i -> partition i %% P)")
    if partitioner_list:
        parser.add_argument("--partitioner", metavar="LIST", default=None,
                            help=partitioner + "; a list (hash,even) to search both (default: the job's own)")
    else:
        parser.add_argument("--partitioner", choices=PARTITIONERS, default=None,
                            help=partitioner + "; default: the job's own (hash unless its file says)")
    parser.add_argument("--wait", metavar="W", help="spark.locality.wait, e.g. 3s, 0s" +
                        (" (a list: 0s,1s,3s)" if sweep else ""))
    parser.add_argument("--spark-version", metavar="V", help="Spark version whose rules apply (4.0, 3.5, 2.4, 2.1)" +
                        (" (a list)" if sweep else ""))
    parser.add_argument("--conf", metavar="KEY=VALUE", action="append", default=[],
                        help="extra Spark setting, repeatable (e.g. spark.locality.wait.legacyResetOnTaskLaunch=true)")


def add_arguments(parser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    parser.add_argument("--trace", type=output_file, metavar="CSV", help="write one row per task")
    parser.add_argument("--gantt", type=output_file, metavar="PNG", help="draw executor threads against time")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    from sparkdelay.app.simlog import add_event_log_arguments
    add_event_log_arguments(parser)
    names_required(parser, "--event-log")


def _int_option(value, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        raise UserError(f"{name}: expected a whole number, got {value!r}") from None


# The model (and plotting) is imported inside the functions that use it, not at the top: the CLI
# imports every command module to build its parser, and the engine and run specs would add about
# 0.3 s each to `sparkdelay --help` (measured with `python -X importtime`).
def run_spec_from_args(args, **overrides):
    from sparkdelay.app.runspec import RunSpec, parse_conf_pairs

    fields = dict(
        preset=args.preset, cluster_path=args.cluster, job_path=args.job, model_path=args.model,
        nodes=_int_option(args.nodes, "--nodes"), partitions=_int_option(args.partitions, "--partitions"),
        wait=args.wait, spark_version=args.spark_version, conf=parse_conf_pairs(args.conf),
        partitioner=args.partitioner)
    fields.update(overrides)
    return RunSpec(**fields)


def run(args) -> int:
    from sparkdelay.sim.model.engine import simulate
    from sparkdelay.sim.model.records import write_csv

    spec = run_spec_from_args(args)
    cluster, job, model = spec.build()
    if args.gantt:
        from sparkdelay.app.gantt import check_image_path
        check_image_path(args.gantt)
    if args.event_log:
        from sparkdelay.app.simlog import check_folder, write_run_log
        check_folder(args.event_log, args.event_log_codec)
    result = simulate(cluster, job, model, seed=args.seed)
    summary = result.summary()
    if args.event_log:
        summary["event_log"] = str(write_run_log(spec, args.seed, args.event_log, args.event_log_codec,
                                                 result=result, cluster=cluster))
    if args.trace:
        try:
            write_csv(result.tasks, args.trace)
        except OSError as exc:
            raise UserError(f"--trace: cannot write {args.trace}: {exc.strerror or exc}") from None
    if args.gantt:
        from sparkdelay.app.gantt import plot_gantt
        try:
            plot_gantt(result.tasks, args.gantt,
                       title=f"Spark {result.spark_version}, {len(cluster.hosts)} hosts, "
                             f"wait {cluster.config.get('spark.locality.wait', '3s')}, seed {args.seed}")
        except OSError as exc:
            raise UserError(f"--gantt: cannot write {args.gantt}: {exc.strerror or exc}") from None
    if args.json:
        json.dump(summary, sys.stdout)
        print()
        return 0
    out = sys.stdout
    print(f"Spark {summary['spark_version']}, {len(cluster.hosts)} hosts, {cluster.total_slots} slots, "
          f"{summary['num_tasks']} tasks, seed {summary['seed']}", file=out)
    print(f"job duration      {summary['job_duration_s']:.2f} s", file=out)
    if "job_durations_s" in summary:   # several jobs (actions): each one's span
        jobs = ", ".join(f"{j}: {d:.2f} s" for j, d in enumerate(summary["job_durations_s"]))
        print(f"jobs              {jobs}", file=out)
    stages = ", ".join(f"{n} {d:.2f} s" for n, d in zip(summary["stage_names"], summary["stage_durations_s"]))
    print(f"stages            {stages}", file=out)
    per_host = ", ".join(f"{h}: {c}" for h, c in summary["tasks_per_host"].items())
    print(f"tasks per host    {per_host}  (result stage)", file=out)
    print(f"fairness (Jain)   {summary['fairness_index']:.3f}   max tasks on a host: "
          f"{summary['max_tasks_per_host']}", file=out)
    loc = ", ".join(f"{k} {v}" for k, v in summary["locality_counts"].items())
    print(f"locality          {loc}", file=out)
    if args.event_log:
        print(f"event log         {summary['event_log']}", file=out)
    return 0

"""`sparkdelay recommend`: the best configuration of a job on a cluster, with the model.

Searches nodes (executors), partitions, executor cores and `spark.locality.wait` (the ranges
given, or: nodes 1 .. the cluster's hosts, partitions 1 .. twice the most task slots, waits
0s,1s,3s, the cluster's cores), and for a PySpark-form job partitionBy's function
(`--partitioner hash,even`; default: the job's own, hash unless its file says) by successive halving on seeds (`sparkdelay.app.recommend`) and
prints the best configurations for `--objective time | cost` (cost: executor-seconds, or
core-seconds with `--cost-unit core`), each with its 95 % interval, placement and the reason it
wins next to Spark's defaults and "most partitions, most nodes"; the best per node count (what
fewer nodes give up); and the Pareto front of time vs cost, also as a PNG with `--png`.

The job is the PySpark form (a preset, `--job`, `--cluster`, `--model`, as `simulate` takes them),
or any job from its event log (`--log LOG`, as `whatif` reads it; partitions are then the shuffle
partition count, as `whatif --shuffle-partitions` changes it). `--json` prints one object.
"""

from __future__ import annotations

import json
import sys

from sparkdelay.app.argtypes import bounded, input_path, output_file, positive_int, reps, seconds, seed
from sparkdelay.app.commands.simulate import add_run_arguments
from sparkdelay.ground.errors import UserError

NAME = "recommend"
HELP = "search partitions, nodes, executor cores and locality wait for the best configuration of a job"


def add_arguments(parser) -> None:
    add_run_arguments(parser, sweep=True, partitioner_list=True)
    parser.add_argument("--log", type=input_path, metavar="LOG",
                        help="any job from its Spark event log (as `whatif` reads it) instead of --job/--preset")
    parser.add_argument("--executor-cores", metavar="C", help="task slots per executor to try (a list: 4,8)")
    parser.add_argument("--objective", choices=("time", "cost"), default="time",
                        help="minimise the mean job time (default) or its cost")
    parser.add_argument("--cost-unit", choices=("executor", "core"), default="executor",
                        help="cost in executor-seconds (default) or core-seconds")
    parser.add_argument("--max-nodes", type=bounded("hosts"), metavar="N", help="at most N nodes")
    parser.add_argument("--deadline", type=seconds, metavar="S", help="only configurations whose mean time is <= S")
    parser.add_argument("--reps", type=reps, default=20,
                        help="simulations of each finalist, for its 95%% interval (default 20)")
    parser.add_argument("--top", type=positive_int, default=3, help="configurations to recommend (default 3)")
    parser.add_argument("--seed", type=seed, default=0, help="base seed (default 0)")
    parser.add_argument("--png", type=output_file, metavar="PNG", help="draw time vs cost with the Pareto front")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    proof = parser.add_argument_group("the proof on real runs")
    proof.add_argument("--corpus", type=input_path, metavar="DIR",
                       help="instead: per workload of a recorded corpus (data/corpus), calibrate on 3 real runs, "
                            "recommend among the recorded configurations and report the measured regret")
    proof.add_argument("--only", action="append", metavar="NAME", help="with --corpus: only this workload (repeatable)")
    # The defaults are the pair with the least regret on the recorded corpus (README, "Recommend,
    # and its regret on real runs"): the fixed design cannot recommend below its P = 8, and the
    # linear fit has no threads term for the span design's P = 1 run.
    proof.add_argument("--method", choices=("linear", "trace"), default="trace",
                       help="with --corpus: the few-shot fit (default trace)")
    proof.add_argument("--design", choices=("fixed", "span"), default="span",
                       help="with --corpus: the three calibration runs: fixed = N1 P8, N2 P20, N3 P40; "
                            "span = fewest P on fewest nodes, the middle P, most P on most nodes (default; all wait 3 s)")
    proof.add_argument("--confirm", type=input_path, metavar="DIR",
                       help="with --corpus: also the regret against a confirmation sitting, DIR/<job>/index.jsonl: "
                            "repetitions of the grid's fastest and the chosen configurations (data/regret)")


def _pyspark_builder(args):
    from sparkdelay.app.runspec import RunSpec, parse_conf_pairs
    from sparkdelay.calibration.logged_dag import cluster_with

    base = RunSpec(preset=args.preset, cluster_path=args.cluster, job_path=args.job, model_path=args.model,
                   spark_version=args.spark_version, conf=parse_conf_pairs(args.conf))
    cluster, job, _ = base.build()
    if job.pyspark is None:
        raise UserError("--job: recommend searches partitions of a PySpark-form job (or give --log LOG)")
    if args.partitioner is None:   # no --partitioner: the job's own (hash unless its file says even)
        args.partitioner = job.pyspark.partitioner
    cache = {}

    def build(c):
        key = (c.nodes, c.partitions, c.wait, c.partitioner)
        if key not in cache:
            cache[key] = base.with_(nodes=c.nodes, partitions=c.partitions, wait=c.wait,
                                    partitioner=c.partitioner).build()
        cl, jb, m = cache[key]
        if any(e.cores != c.cores for e in cl.executors):
            cl = cluster_with(cl, cores=c.cores)
        return cl, jb, m
    return build, cluster


def _log_builder(args):
    from sparkdelay.calibration.logged_dag import cluster_with, job_spec, logged_app, shuffle_widths
    from sparkdelay.eventlog.reader import read_eventlog
    from sparkdelay.sim.model.cluster import load_machines

    for name in ("job", "preset", "model", "partitioner"):
        if getattr(args, name):
            raise UserError(f"--{name}: not with --log (the job and its costs come from the log)")
    app = logged_app(read_eventlog(args.log), load_machines(args.cluster))
    if not any(s.parents for s in app.stages):
        raise UserError(f"--log: no stage of {app.path} reads a shuffle: there are no partitions to search")

    def build(c):
        cl = cluster_with(app.cluster, c.nodes, c.cores, {"spark.locality.wait": c.wait}, app.machines)
        return cl, job_spec(app, shuffle_widths(app, c.partitions)), app.cost_model()
    return build, app.cluster


def _space(args, cluster):
    from sparkdelay.app.recommend import Space
    from sparkdelay.ground.lists import parse_int_list, parse_text_list, parse_wait_list
    from sparkdelay.sim.policy.pyspark_partitioning import check_partitioner

    hosts = len(cluster.hosts)
    cores = sorted({e.cores for e in cluster.executors})
    nodes = parse_int_list(args.nodes, "--nodes") or list(range(1, (hosts if args.log is None else hosts) + 1))
    if args.log is None and max(nodes) > hosts:
        raise UserError(f"--nodes: the cluster has only {hosts} hosts with executors, asked for {max(nodes)}")
    ccs = parse_int_list(args.executor_cores, "--executor-cores") or cores
    partitions = parse_int_list(args.partitions, "--partitions") or list(range(1, 2 * max(nodes) * max(ccs) + 1))
    waits = parse_wait_list(args.wait, "--wait") or ["0s", "1s", "3s"]
    partitioners = [check_partitioner(q, "--partitioner")
                    for q in parse_text_list(args.partitioner, "--partitioner") or ["hash"]]
    return Space(tuple(nodes), tuple(partitions), tuple(waits), tuple(ccs), tuple(partitioners))


def run(args) -> int:
    from tqdm import tqdm

    from sparkdelay.app import recommend as R

    if args.corpus:
        return _corpus(args)
    build, cluster = _log_builder(args) if args.log else _pyspark_builder(args)
    space = _space(args, cluster)
    n_configs = len(space.configs(args.max_nodes))
    with tqdm(desc="recommend", unit="sim", disable=args.no_progress or args.json or not sys.stderr.isatty(),
              file=sys.stderr) as bar:
        result = R.search(space, build, args.objective, args.cost_unit, args.reps, args.seed, args.max_nodes,
                          args.deadline, args.top, progress=bar.update)
    doc = _document(result, R)
    if args.png:
        _draw(result, args.png, R)
        doc["png"] = args.png
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    unit = "executor-s" if args.cost_unit == "executor" else "core-s"
    print(f"searched {n_configs} configurations with {result['simulations']} simulations "
          f"(successive halving; finalists {args.reps} seeds each); objective: {args.objective}")
    for i, e in enumerate(result["best"], 1):
        lo, hi = e.interval_s()
        p = e.placement()
        print(f"{i}. {e.config.label()}: {e.mean_s:.2f} s ({lo:.2f}-{hi:.2f}), cost {e.cost(args.cost_unit):.1f} {unit}")
        print(f"   tasks per host {'/'.join(map(str, p['tasks_per_host']))}, locality "
              f"{', '.join(f'{k} {v:g}' for k, v in p['locality_counts'].items())}")
        print(f"   why: {R.reason(e, result)}")
    print("best per node count (what fewer nodes give up):")
    for n, e in result["per_nodes"].items():
        print(f"   N={n}: {e.config.label()}: {e.mean_s:.2f} s, cost {e.cost(args.cost_unit):.1f} {unit}")
    print("Pareto front (time vs cost):")
    for e in result["pareto"]:
        print(f"   {e.mean_s:8.2f} s  {e.cost(args.cost_unit):9.1f} {unit}  {e.config.label()}")
    for name, e in result["references"].items():
        print(f"reference, {name}: {e.config.label()}: {e.mean_s:.2f} s, cost {e.cost(args.cost_unit):.1f} {unit}")
    if args.png:
        print(f"figure: {args.png}")
    return 0


def _row(e, unit: str) -> dict:
    lo, hi = e.interval_s()
    return {"config": e.config.__dict__, "mean_s": e.mean_s, "interval_s": [lo, hi], "cost": e.cost(unit),
            "simulations": len(e.times), **e.placement()}


def _document(result: dict, R) -> dict:
    unit = result["cost_unit"]
    return {"objective": result["objective"], "cost_unit": unit, "configs": result["configs"],
            "simulations": result["simulations"],
            "best": [dict(_row(e, unit), reason=R.reason(e, result)) for e in result["best"]],
            "per_nodes": {str(n): _row(e, unit) for n, e in result["per_nodes"].items()},
            "pareto": [_row(e, unit) for e in result["pareto"]],
            "references": {k: _row(e, unit) for k, e in result["references"].items()}}


def _draw(result: dict, path: str, R) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    unit = result["cost_unit"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    everything = result["all"]
    ax.scatter([e.mean_s for e in everything], [e.cost(unit) for e in everything], s=8, c="#bbbbbb",
               label="evaluated configurations")
    front = result["pareto"]
    ax.plot([e.mean_s for e in front], [e.cost(unit) for e in front], "o-", c="#c0392b", ms=4, label="Pareto front")
    best = result["best"][0]
    ax.scatter([best.mean_s], [best.cost(unit)], marker="*", s=180, c="#1f77b4", zorder=3,
               label=f"recommended: {best.config.label()}")
    for name, e in result["references"].items():
        ax.scatter([e.mean_s], [e.cost(unit)], marker="x", s=60, zorder=3, label=f"{name}: {e.config.label()}")
    ax.set_xlabel("mean job time (s)")
    ax.set_ylabel("cost (executor-seconds)" if unit == "executor" else "cost (core-seconds)")
    ax.set_title(f"recommend: objective {result['objective']}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=110)
    except OSError as exc:
        raise UserError(f"--png: cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


def _corpus(args) -> int:
    from pathlib import Path

    from sparkdelay.calibration.corpus import workloads
    from sparkdelay.calibration.regret import corpus_regret

    if not Path(args.corpus).is_dir() or not workloads(Path(args.corpus)):
        raise UserError(f"--corpus: {args.corpus}: no workloads (<job>/shared/index.jsonl) in this folder")
    skipped: list[str] = []
    if args.confirm and not Path(args.confirm).is_dir():
        raise UserError(f"--confirm: {args.confirm}: not a folder")
    rows = corpus_regret(Path(args.corpus), args.reps, args.seed, args.method, args.only, skipped,
                         design=args.design, confirm=Path(args.confirm) if args.confirm else None)
    doc = {"corpus": args.corpus, "method": args.method, "design": args.design, "reps": args.reps,
           "confirm": args.confirm,
           "workloads": rows, "skipped": skipped}
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print_corpus(doc)
    return 0


def print_corpus(doc: dict) -> None:
    """The text form of `recommend --corpus`'s document: one line per workload, and its notes."""
    rows, skipped = doc["workloads"], doc["skipped"]
    print(f"few-shot design {doc['design']}: " + "; ".join(
        f"{w['workload']} " + ", ".join(f"N{n} P{p}" for n, p, _ in w.get("few_shot", ())) for w in rows))
    print(f"{'workload':<10} {'recommended (few-shot ' + doc['method'] + ')':<32} {'regret':>7}   "
          f"{'best measured':<22} {'defaults regret':>15} {'most P, N regret':>16}")
    for w in rows:
        if "note" in w:
            print(f"{w['workload']:<10} {w['note']}")
            continue
        def cfg(r):
            c = r["config"]
            return f"N{c['nodes']} P{c['partitions']} w{c['wait']} {r['measured_s']:.1f} s"
        defaults = w["references"]["Spark's defaults"]
        most = w["references"]["most partitions, most nodes"]
        print(f"{w['workload']:<10} {cfg(w['recommended']):<32} {w['recommended']['regret']:>7.1%}   "
              f"{cfg(w['best_measured']):<22} {defaults['regret']:>15.1%} {most['regret']:>16.1%}")
        note = defaults.get("note")
        if note:
            print(f"{'':<10} note: {note}")
        confirmed = (w.get("confirmed") or {}).get("recommended")
        if confirmed and "note" in confirmed:
            print(f"{'':<10} confirmation sitting: {confirmed['note']}")
        elif confirmed:
            b = confirmed["best"]
            lo, hi = confirmed["regret_95"]
            print(f"{'':<10} confirmation sitting ({confirmed['configs']} configurations, {confirmed['runs']} runs): "
                  f"recommended {confirmed['measured_s']:.2f} s over {confirmed['reps']} runs, best "
                  f"N{b['nodes']} P{b['partitions']} w{b['wait']} {confirmed['best_s']:.2f} s: "
                  f"regret {confirmed['regret']:.1%} (95 % {lo:.1%} to {hi:.1%})")
    for note in skipped:
        print(f"skipped: {note}")

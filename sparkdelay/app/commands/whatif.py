"""`sparkdelay whatif LOG [--executors N] [--executor-cores C] [--wait W] [--conf K=V]
[--shuffle-partitions P | --partitions STAGE=P]`: any Spark job, from its event log, re-run
in another configuration.

The job and cluster are built from the log (`calibration.logged_dag`: every successful job and
stage, each task's CPU demand with the contention the log itself shows taken out, Python worker
start-ups, shuffle sizes, the driver's times). The command first replays the logged
configuration and prints its own error against the log; if it cannot reproduce its own log
within 10 % it says so before answering. Then it simulates the asked configuration `--reps`
times and prints it side by side with the logged run: job time with the central 95 % of the
simulated times, each job's time, the tasks of the stages that changed, tasks per host and per
locality level. `--json` prints one object instead.
"""

from __future__ import annotations

import json

from sparkdelay.app.argtypes import bounded, cores, input_path, positive_int, reps, seed
from sparkdelay.ground.errors import UserError

NAME = "whatif"
HELP = "replay any job from its event log, then predict it with other executors, cores, waits or partitions"

SELF_ERROR_LIMIT = 0.10   # above this the replay of the log itself is too far off to trust blindly


def add_arguments(parser) -> None:
    parser.add_argument("log", type=input_path, metavar="LOG", help="one Spark event log (file or eventlog_v2_* folder)")
    parser.add_argument("--cluster", type=input_path, metavar="C",
                        help="cluster YAML whose machines say which hosts share cores (default: loopback hosts "
                             "share this machine, any other host is a machine of its own)")
    parser.add_argument("--executors", type=bounded("executors"), metavar="N",
                        help="executors (the first N logged ones; more go on new hosts placed like the logged ones)")
    parser.add_argument("--executor-cores", type=cores, metavar="C", help="task slots per executor (spark.executor.cores)")
    parser.add_argument("--wait", metavar="W", help="spark.locality.wait, e.g. 0s, 3s")
    parser.add_argument("--conf", metavar="KEY=VALUE", action="append", default=[], help="any Spark setting, repeatable")
    parser.add_argument("--shuffle-partitions", type=bounded("tasks"), metavar="P",
                        help="the shuffle partition count (spark.sql.shuffle.partitions, numPartitions): every stage "
                             "that reads a shuffle changes by the difference to the logged count")
    parser.add_argument("--partitions", metavar="STAGE=P", action="append", default=[],
                        help="tasks of one stage, by id or name (repeatable)")
    parser.add_argument("--reps", type=reps, default=20, help="simulations per configuration (default 20)")
    parser.add_argument("--seed", type=seed, default=0, help="base seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


def _partitions(app, args) -> dict[int, int]:
    out: dict[int, int] = {}
    if args.shuffle_partitions is not None:
        from sparkdelay.calibration.logged_dag import shuffle_widths
        out.update(shuffle_widths(app, args.shuffle_partitions))
        if not out:
            raise UserError(f"--shuffle-partitions: no stage of {app.path} reads a shuffle")
    for text in args.partitions:
        key, sep, value = text.partition("=")
        if not sep or not value.strip().isdigit() or int(value) < 1:
            raise UserError(f"--partitions: expected STAGE=P with P a whole number >= 1, got {text!r}")
        out[app.stage_named(key.strip(), "--partitions").stage_id] = bounded("tasks")(value.strip())
    return out


def _fmt_interval(p) -> str:
    lo, hi = p.interval_s()
    return f"{p.mean_s:.2f} s ({lo:.2f}-{hi:.2f})"


def _counts(d: dict) -> str:
    return ", ".join(f"{k} {v:g}" for k, v in sorted(d.items()) if v) or "-"


def _hosts(d: dict) -> str:
    return "/".join(f"{v:.3g}" for v in d.values())


def run(args) -> int:
    from sparkdelay.app.runspec import parse_conf_pairs
    from sparkdelay.calibration.logged_dag import cluster_with, job_spec, logged_app, logged_placement, predict
    from sparkdelay.eventlog.reader import read_eventlog
    from sparkdelay.ground.sparkconf import SPARK_KEYS, check_spelling
    from sparkdelay.sim.model.cluster import load_machines

    log = read_eventlog(args.log)
    app = logged_app(log, load_machines(args.cluster))
    conf = dict(parse_conf_pairs(args.conf))
    if args.wait is not None:
        conf["spark.locality.wait"] = args.wait
    for key, value in conf.items():
        where = "--wait" if key == "spark.locality.wait" and args.wait is not None else f"--conf {key}"
        check_spelling(key, where)
        if key in SPARK_KEYS:   # a negative wait, a bad unit, 0 cores: refused before any simulation
            SPARK_KEYS[key].parse(value, where)
    partitions = _partitions(app, args)
    asked = cluster_with(app.cluster, args.executors, args.executor_cores, conf, app.machines)
    logged_job = job_spec(app)
    new_job = job_spec(app, partitions)
    replay = predict(app, app.cluster, logged_job, args.reps, args.seed)
    answer = predict(app, asked, new_job, args.reps, args.seed)
    measured = app.measured_s
    self_error = (replay.mean_s - measured) / measured
    hosts, locality = logged_placement(log, app)
    changed = {s.label: (s.num_tasks, partitions[s.stage_id]) for s in app.stages if s.stage_id in partitions}
    doc = {
        "log": app.path, "app_id": app.app_id,
        "logged": {"job_time_s": measured, "job_times_s": [j.duration_s for j in app.jobs],
                   "executors": len(app.cluster.executors), "hosts": len(app.cluster.hosts),
                   "machines": {m.name: m.cores for m in app.cluster.machines},
                   "tasks_per_host": hosts, "locality_counts": locality},
        "replay": {"job_time_s": replay.mean_s, "interval_s": replay.interval_s(), "error": self_error,
                   "trusted": abs(self_error) <= SELF_ERROR_LIMIT},
        "whatif": {"executors": len(asked.executors), "hosts": len(asked.hosts),
                   "machines": {m.name: m.cores for m in asked.machines},
                   "executor_cores": sorted({e.cores for e in asked.executors}), "conf": conf,
                   "partitions": {k: new for k, (_, new) in changed.items()},
                   "job_time_s": answer.mean_s, "interval_s": answer.interval_s(),
                   "job_times_s": [sum(t[j] for t in answer.job_times_s) / len(answer.job_times_s)
                                   for j in range(len(app.jobs))],
                   "tasks_per_host": answer.tasks_per_host, "locality_counts": answer.locality_counts},
        "reps": args.reps, "seed": args.seed,
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{app.app_id}: {len(app.jobs)} job(s), {len(app.stages)} stage(s), "
          f"{len(app.cluster.executors)} executor(s) on {len(app.cluster.hosts)} host(s), "
          f"machines {', '.join(f'{m.name} ({m.cores} cores)' for m in app.cluster.machines)}")
    print(f"replay of the logged configuration ({args.reps} simulations): {_fmt_interval(replay)} "
          f"against {measured:.2f} s logged: error {100 * self_error:+.1f} %")
    if abs(self_error) > SELF_ERROR_LIMIT:
        print(f"warning: the model does not reproduce this log within {100 * SELF_ERROR_LIMIT:.0f} % "
              f"({100 * self_error:+.1f} %); the prediction below carries at least that error")
    rows = [("", "logged", "what if"),
            ("executors", str(len(app.cluster.executors)), str(len(asked.executors))),
            ("executor cores", "/".join(str(e.cores) for e in app.cluster.executors[:8]),
             "/".join(str(e.cores) for e in asked.executors[:8])),
            ("spark.locality.wait", app.cluster.config.get("spark.locality.wait", "3s"),
             asked.config.get("spark.locality.wait", "3s"))]
    rows += [(f"tasks of stage {label}", str(old), str(new)) for label, (old, new) in changed.items()]
    rows += [("job time", f"{measured:.2f} s", _fmt_interval(answer))]
    if len(app.jobs) > 1:
        for j, job in enumerate(app.jobs):
            rows.append((f"  job {job.job_id}", f"{job.duration_s:.2f} s", f"{doc['whatif']['job_times_s'][j]:.2f} s"))
    rows += [("tasks per host", _hosts(hosts), _hosts(answer.tasks_per_host)),
             ("locality", _counts(locality), _counts(answer.locality_counts))]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    for r in rows:
        print(f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]}")
    return 0

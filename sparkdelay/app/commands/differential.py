"""`sparkdelay differential record|score`: the model against real Spark on random seeded cases.

`record` draws `--cases` configurations from `--seed` (`real.differential`: hosts, cores per
executor, map slices, partitions, keys, hash seed, locality wait all at once), writes the plan
to `<out>/cases.json` and runs each case as its own application on the tool's local cluster
(restarted to each case's hosts and cores), one row per case in `<out>/index.jsonl`, exactly as
`sparkdelay run` records. Rerunning resumes: finished cases are skipped. Record on a quiet
machine: the rows carry the 1-minute load at each start.

`score` fits the cost model on every third case (cases 2, 5, 8, ...) and scores the others as
distributions (`calibration.differential`): Spark's tasks-per-host vector inside the model's
90 % predictive set, equal to its most likely vector, locality counts equal, job-time error.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from sparkdelay.app.argtypes import input_path, output_file, positive_int, reps, seconds, seed
from sparkdelay.app.commands.cluster import add_cluster_options, add_state_dir
from sparkdelay.app.commands.heldout import emit
from sparkdelay.ground.errors import UserError
from sparkdelay.real.workloads import JOBS

NAME = "differential"
HELP = "random seeded real cases on the local cluster, and the model scored against them"
CALIBRATE_EVERY = 3   # case i calibrates when i % 3 == 2: a third of the cases, spread over the draw


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    rec = sub.add_parser("record", help="draw the cases and run each on the local cluster (resumes)")
    rec.add_argument("--cases", type=positive_int, default=40, help="cases to draw (default 40)")
    rec.add_argument("--seed", type=seed, default=1, help="seed of the draw (default 1)")
    rec.add_argument("--job", default="sleep", choices=list(JOBS), metavar="NAME",
                     help="the real job every case runs (default sleep)")
    rec.add_argument("--out", required=True, help="folder: cases.json, index.jsonl, eventlogs/")
    rec.add_argument("--run-timeout", type=seconds, default=600.0, help="seconds before a run is killed (default 600)")
    rec.add_argument("--retry-failed", action="store_true", help="redo cases whose recorded status is not ok")
    rec.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_cluster_options(rec, workers_required=False)
    add_state_dir(rec)
    sc = sub.add_parser("score", help="fit on a third of the recorded cases, score the rest")
    sc.add_argument("folder", type=input_path, help="a folder `differential record` wrote")
    sc.add_argument("--method", choices=("linear", "trace"), default="trace", help="the fit (default trace)")
    sc.add_argument("--reps", type=reps, default=100, help="simulations per case (default 100)")
    sc.add_argument("--seed", type=seed, default=0)
    sc.add_argument("--json", action="store_true", help="print one JSON object")
    sc.add_argument("-o", "--output", type=output_file, metavar="FILE", help="also write the JSON here")


def run(args) -> int:
    return _record(args) if args.action == "record" else _score(args)


def _record(args) -> int:
    from sparkdelay.app.commands import run as run_command

    args.register_wait = "120s"
    run_command.check_driver_options(args)
    with run_command.exit_on_sigterm():
        return _record_cases(args)


def _record_cases(args) -> int:
    from sparkdelay.app.commands import run as run_command
    from sparkdelay.eventlog.run_index import INDEX_NAME
    from sparkdelay.real.cluster import worker_host
    from sparkdelay.real.differential import NODES, draw_cases, write_cases

    out = Path(args.out)
    cases = draw_cases(args.cases, args.seed)
    write_cases(out, args.job, args.seed, cases)
    cluster_file = out / "cluster.yaml"
    if not cluster_file.exists():
        # The workers are loopback hosts of this machine: their tasks share its cores.
        hosts = ", ".join(worker_host(i) for i in range(1, NODES[1] + 1))
        cluster_file.write_text("# The machine the cases were recorded on: every worker host shares its cores.\n"
                                f"machines:\n  - {{name: box, cores: {os.cpu_count() or 1}, hosts: [{hosts}]}}\n")
    # Grouped by hosts and cores, so the cluster restarts once per group, not once per case.
    runs = sorted((c.run_point(args.job) for c in cases), key=lambda r: (r.nodes, r.shape.cores))
    index_path = out / INDEX_NAME
    todo = run_command.todo_runs(runs, index_path, args.retry_failed)
    if not todo:
        return 0
    args.master, args.keep_logs, args.keep_cluster, args.eventlog_codec = run_command.LOCAL, False, False, "zstd"
    target = run_command.start_target(args, max(r.nodes for r in runs))
    print(run_command.prepare_job(runs[0].shape), flush=True)
    counts = run_command.record_runs(todo, target, args, index_path)
    print("done: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + f"; rows in {index_path}")
    return 0 if set(counts) <= {"ok"} else 1


def _score(args) -> int:
    from sparkdelay.calibration.differential import score
    from sparkdelay.calibration.heldout import fit, load_sweep
    from sparkdelay.real.differential import CASES_NAME, read_cases

    folder = Path(args.folder)
    _check_plan(folder / CASES_NAME)
    plan = read_cases(folder / CASES_NAME)
    case_of = {c["run_id"]: c["case"] for c in plan["cases"]}
    skipped: list[str] = []
    runs = [r for r in load_sweep(plan["job"], folder, None, skipped) if r.row.get("run_id") in case_of]
    train = [r for r in runs if case_of[r.row["run_id"]] % CALIBRATE_EVERY == CALIBRATE_EVERY - 1]
    test = [r for r in runs if r not in train]
    if len(train) < 3 or not test:
        why = f"; the first case left out: {skipped[0]}" if skipped else ""
        raise UserError(f"{folder}: {len(runs)} usable cases recorded; scoring needs at least 3 calibrating "
                        f"and 1 held-out case{why}")
    model = fit(train, args.method)
    doc = {"job": plan["job"], "draw_seed": plan["seed"], "method": args.method, "train_runs": len(train)}
    doc.update(score(model, test, args.reps, args.seed))
    doc.update(model=model.__dict__, skipped=skipped)
    return emit(doc, args, _print, indent=1)


_CASE_FIELDS = {"case": 0, "nodes": 1, "cores": 1, "map_slices": 1, "partitions": 1, "items": 1, "hash_seed": 0}


def _check_plan(path: Path) -> None:
    """The plan `record` wrote, read strictly before it is used: UTF-8, finite, not absurdly deep,
    and each case's fields of the types `record` writes, each named when it is not."""
    from sparkdelay.ground.sparkconf import parse_duration_ms
    from sparkdelay.ground.strict import load_json
    if not path.exists():
        raise UserError(f"{path}: missing (not a folder `differential record` wrote)")
    doc = load_json(path, " differential plan")
    if not isinstance(doc, dict) or doc.get("format") != "sparkdelay-differential/1":
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise UserError(f"{path}: format: expected 'sparkdelay-differential/1', got {got!r}")
    for key, kind in (("job", str), ("seed", int), ("cases", list)):
        if isinstance(doc.get(key), bool) or not isinstance(doc.get(key), kind):
            raise UserError(f"{path}: {key}: expected {kind.__name__}, got {doc.get(key)!r}")
    seen = set()
    for i, case in enumerate(doc["cases"]):
        where = f"{path}: cases[{i}]"
        if not isinstance(case, dict):
            raise UserError(f"{where}: expected an object, got {case!r}")
        for key, least in _CASE_FIELDS.items():
            value = case.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise UserError(f"{where}.{key}: expected a whole number >= {least}, got {value!r}")
        if not isinstance(case.get("wait"), str):
            raise UserError(f"{where}.wait: expected a Spark duration, got {case.get('wait')!r}")
        parse_duration_ms(case["wait"], f"{where}.wait")
        if not isinstance(case.get("run_id"), str) or case["run_id"] in seen:
            raise UserError(f"{where}.run_id: expected a run id of its own, got {case.get('run_id')!r}")
        seen.add(case["run_id"])


def _pct(x: float) -> str:
    return "  n/a" if x is None or math.isnan(x) else f"{x:5.1%}"


def _print(doc: dict) -> None:
    print(f"{doc['job']}: fit ({doc['method']}) on {doc['train_runs']} cases, {doc['test_runs']} held out, "
          f"{doc['reps']} simulations each")
    print(f"{'case':>22} {'N':>2} {'C':>2} {'M':>2} {'P':>3} {'keys':>4} {'wait':>4} {'meas s':>7} {'pred s':>7} "
          f"{'APE':>6}  {'Spark':<14} {'model mode':<14} set90 loc")
    for c in doc["cases"]:
        print(f"{c['run_id']:>22} {c['nodes']:>2} {c['cores']:>2} {c['map_slices']:>2} {c['partitions']:>3} "
              f"{c['items']:>4} {c['wait']:>4} {c['measured_s']:7.2f} {c['predicted_s']:7.2f} {_pct(c['ape'])}  "
              f"{str(c['measured_vector']):<14} {str(c['mode_vector']):<14} {'yes' if c['in_set90'] else 'no':>5} "
              f"{'yes' if c['locality_match'] else 'no':>3}")
    print(f"Spark's vector in the 90 % set: {_pct(doc['in_set90'])}; most likely vector equal: "
          f"{_pct(doc['mode_match'])}; locality counts equal: {_pct(doc['locality_match'])}; "
          f"job time error median {_pct(doc['median_ape'])}, p90 {_pct(doc['p90_ape'])}")
    for s in doc["skipped"]:
        print(f"skipped: {s}")

"""`sparkdelay validate LOGS... --model M`: predicted vs measured, run by run.

Each measured run's configuration is read from its own event log (executors and hosts,
reduce partitions, locality waits, Spark version); the model simulates it `--reps` times and
the table puts job duration (with the absolute percentage error), sorted tasks per host,
Jain's index, most tasks on one host and tasks per locality level side by side. The summary
gives the median and 90th-percentile error and how often the sorted tasks-per-host vectors
match. `--json` prints `{"runs": [...], "summary": {...}}` instead.

`--event-log DIR` also writes each run's simulated twin into DIR (`calibration.twins`: the
simulation with `--seed`, the first of the `--reps`, as a Spark event log marked
`spark.sparkdelay.twinOf=<real app id>`), and prints per run the History Server links of the
real run and its twin and the one command that opens both.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from tqdm import tqdm

from sparkdelay.app.argtypes import input_path, load, reps, seed
from sparkdelay.app.commands.history import log_folders, start_command
from sparkdelay.app.simlog import CODECS, DEFAULT_CODEC, check_folder
from sparkdelay.ground.errors import UserError

NAME = "validate"
HELP = "simulate each measured run (config read from its event log) and compare with what Spark did"


def add_arguments(parser) -> None:
    parser.add_argument("logs", nargs="+", type=input_path, metavar="LOGS",
                        help="event logs, rolling eventlog_v2_* folders, folders of logs, or index.jsonl files")
    parser.add_argument("--model", type=input_path, required=True, metavar="M", help="fitted model (sparkdelay calibrate -o M)")
    parser.add_argument("--workload", type=input_path, metavar="W", help="PySpark-form job YAML with the job's keys (default: the study's 40 shards)")
    parser.add_argument("--cluster", type=input_path, metavar="C", help="cluster YAML saying which hosts share a machine's cores")
    parser.add_argument("--reps", type=reps, default=20, help="simulations per measured run (default 20)")
    parser.add_argument("--seed", type=seed, default=0, help="base seed of the simulations (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--max-load", type=load, metavar="L",
                        help="leave out runs whose index row recorded a 1-minute load above L at their start")
    parser.add_argument("--event-log", type=input_path, metavar="DIR",
                        help="write each run's simulated twin (the model's simulation of it, seed --seed) as a "
                             "Spark event log into DIR, to open next to the real run in the History Server")
    parser.add_argument("--event-log-codec", choices=CODECS, default=DEFAULT_CODEC,
                        help=f"compression of the twins, as spark.eventLog.compression.codec (default {DEFAULT_CODEC})")


def _vector(values) -> str:
    return "/".join(str(round(v)) for v in values)


def run(args) -> int:
    # Imported here, not at the top: the CLI imports every command module to build its parser,
    # and validation (model, event-log reader) would add about 0.4 s to `sparkdelay --help`.
    from sparkdelay.eventlog.discover import find_logs, recorded_loads
    from sparkdelay.eventlog.run_index import recorded_partitioners
    from sparkdelay.calibration.twins import write_twin
    from sparkdelay.calibration.validate import compare, error_summary, load_runs, outside_range
    from sparkdelay.real.history import stages_url
    from sparkdelay.sim.model.cluster import load_machines
    from sparkdelay.sim.model.costs import CostModel
    from sparkdelay.sim.model.job import load_workload

    model = CostModel.load(args.model)
    calibrated = CostModel.document(args.model).get("calibrated_range") or {}
    if not (isinstance(calibrated, dict) and all(
            isinstance(v, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
            and (k not in ("executors", "partitions") or len(v) == 2) for k, v in calibrated.items())):
        raise UserError(f"{args.model}: calibrated_range: expected lists of whole numbers "
                        f"(machine_cores, threads; executors and partitions as [min, max])")
    twin_dir = check_folder(args.event_log, args.event_log_codec) if args.event_log else None
    logs = find_logs(args.logs)
    loads = recorded_loads(args.logs)
    if args.max_load is not None:
        kept = [p for p in logs if loads.get(p.resolve(), 0.0) <= args.max_load]
        if len(kept) < len(logs):
            print(f"note: {len(logs) - len(kept)} run(s) recorded under a 1-minute load above {args.max_load:g} "
                  f"left out (--max-load)", file=sys.stderr)
        logs = kept
    # Each run's partitioner (hash or even) is its index row's, whatever --workload says.
    runs = load_runs(logs, load_machines(args.cluster), load_workload(args.workload), recorded_partitioners(args.logs))
    if not runs:   # an empty index: "0 runs" with exit 0 would read as a validation that passed
        raise UserError(f"{' '.join(args.logs)}: no measured runs to validate (empty index or no event logs)")
    comparisons = []
    for r in tqdm(runs, desc="validate", unit="run", disable=args.json or not sys.stderr.isatty()):
        c = compare(r, model, args.reps, args.seed)
        c.extra["outside_calibrated_range"] = outside_range(r, calibrated)
        load = loads.get(Path(r.log).resolve())
        if load is not None:
            c.extra["loadavg_1m"] = load
            # More runnable processes than the machine has cores before the run even started:
            # its timing measures the machine's other work too.
            c.extra["machine_cores"] = sum(m.cores for m in r.cluster.machines)
            c.extra["under_load"] = load > c.extra["machine_cores"]
        if twin_dir is not None:
            twin = write_twin(r, model, twin_dir, args.seed, args.event_log_codec, model_label=args.model)
            c.extra.update(twin_app_id=twin.app_id, twin_log=str(twin.path))
        comparisons.append(c)
    summary = error_summary(comparisons)
    summary["outside_calibrated_range"] = sum(1 for c in comparisons if c.extra["outside_calibrated_range"])
    summary["under_load"] = sum(1 for c in comparisons if c.extra.get("under_load"))
    command = start_command(log_folders(args.logs) + [str(twin_dir)]) if twin_dir is not None else None
    if args.json:
        # The twin beside the run's own app id, not only under "extra", where a reader of the pair looks.
        doc = {"runs": [{**c.to_dict(), **{k: c.extra[k] for k in ("twin_app_id", "twin_log") if k in c.extra}}
                        for c in comparisons], "summary": summary}
        if command:
            doc["twins"] = {"folder": str(twin_dir), "history_command": command}
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{'app':<26} {'N':>2} {'P':>3} {'wait':>5} {'measured s':>10} {'predicted s':>11} {'APE':>6}  "
          f"{'tasks/host measured':<20} {'predicted':<20} {'match':<5} {'Jain m/p':<11} {'max m/p'}")
    for c in sorted(comparisons, key=lambda c: (c.nodes, c.partitions, c.wait, c.app_id)):
        print(f"{c.app_id:<26} {c.nodes:>2} {c.partitions:>3} {c.wait:>5} {c.measured_duration_s:>10.2f} "
              f"{c.predicted_duration_s:>11.2f} {c.ape:>6.1%}  {_vector(c.measured.sorted_counts):<20} "
              f"{_vector(c.predicted_sorted_mode):<20} {'yes' if c.placement_match else 'no':<5} "
              f"{c.measured.fairness_index:.2f}/{c.predicted.fairness_index:.2f}  "
              f"{c.measured.max_tasks_per_host}/{c.predicted.max_tasks_per_host:.1f}")
    for c in comparisons:
        if c.extra["outside_calibrated_range"]:
            print(f"  {c.app_id}: outside the model's calibrated range ({'; '.join(c.extra['outside_calibrated_range'])}): "
                  f"an extrapolation", file=sys.stderr)
        if c.extra.get("under_load"):
            print(f"  {c.app_id}: recorded under a 1-minute load of {c.extra['loadavg_1m']:g} on "
                  f"{c.extra['machine_cores']} core(s): "
                  f"its timing includes other work (--max-load to leave such runs out)", file=sys.stderr)
    fmt = lambda x: "n/a" if math.isnan(x) else f"{x:.1%}"
    print(f"{summary['runs']} runs: median APE {fmt(summary['median_ape'])}, p90 APE {fmt(summary['p90_ape'])}, "
          f"placement match {fmt(summary['placement_match'])}")
    if command:
        print(f"simulated twins (seed {args.seed}) in {twin_dir}; History Server stage pages, real run then twin:")
        for c in sorted(comparisons, key=lambda c: (c.nodes, c.partitions, c.wait, c.app_id)):
            print(f"  {stages_url(c.app_id)}  {stages_url(c.extra['twin_app_id'])}")
        print(f"open both: {command}")
    return 0

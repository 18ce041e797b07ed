"""`sparkdelay calibrate LOGS... -o model.json`: fit task costs to real Spark event logs.

LOGS are event-log files, rolling `eventlog_v2_*` folders, folders of logs, or `index.jsonl`
files from `sparkdelay run`. `--cluster` says which hosts share a machine's cores (needed to
undo processor sharing); `--workload`, a PySpark-form job file as `simulate --job` reads it, gives
the job's keys so items per partition are exact (its `partitions`, if any, is ignored). Without
it, the runs of an `index.jsonl` each bring their own workload from their row (keys, hash seed,
map slices, worker CPython), so runs of one job that differ in those fit together.
The result is a `sparkdelay-model/1` JSON file for `sim.costs.CostModel.load`; a short summary
(each parameter, RMSE, tasks and runs) goes to stdout.

`--method trace` (the default) replays the logs through the model's machine and chooses the
terms the job needs by cross-validation, printing each term kept or dropped with its held-out
error; on the bundled corpus it predicts held-out runs better than `linear` does (README, "Other
jobs"). `--method linear` fits CPU demands recovered under processor sharing by least squares, in
seconds, and gives each parameter its standard error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sparkdelay.app.argtypes import cores, input_path, load, output_file
from sparkdelay.ground.errors import UserError

NAME = "calibrate"
HELP = "fit the model's task costs to Spark event logs and write model.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logs", nargs="+", type=input_path, metavar="LOGS",
                        help="event logs, rolling eventlog_v2_* folders, folders of logs, or index.jsonl files")
    parser.add_argument("--cluster", type=input_path, metavar="C", help="cluster YAML (machines: name, cores, hosts)")
    parser.add_argument("--workload", type=input_path, metavar="W",
                        help="PySpark-form job YAML, as simulate reads it (pyspark: keys, python_hash_seed, ...)")
    parser.add_argument("-o", "--output", required=True, type=output_file, metavar="MODEL", help="write the fitted model JSON here")
    parser.add_argument("--local-cores", type=cores, metavar="N",
                        help="cores of the machine shared by loopback hosts without --cluster (default: this machine's)")
    parser.add_argument("--samples-csv", type=output_file, metavar="CSV", help="also write the per-task samples as CSV")
    parser.add_argument("--max-load", type=load, metavar="L",
                        help="leave out runs whose index row recorded a 1-minute load above L at their start")
    parser.add_argument("--method", choices=("linear", "trace"), default="trace",
                        help="trace (default): the logs replayed through the model's machine, terms chosen by "
                             "cross-validation and printed with the held-out error of each choice; linear: CPU "
                             "demands under processor sharing, fitted linearly, with standard errors (seconds "
                             "instead of minutes, but it errs more on runs it was not fitted on)")
    parser.add_argument("--platform", metavar="P", default=None,
                        help="--method trace: the platform's own costs (an executor JVM's JIT burst): a platform "
                             "JSON file (default: the bundled one, measured on this project's 2-core machine), "
                             "'fit' to fit them from the logs, or 'none' to leave them out")


def _fmt(value: float, se: float | None) -> str:
    text = f"{value:.6g}"
    return text if se is None else f"{text} ± {se:.2g}"


def run(args) -> int:
    # Imported here, not at the top: the CLI imports every command module to build its parser,
    # and calibration (scipy, the event-log reader) would add about 0.7 s to `sparkdelay --help`.
    from tqdm import tqdm

    from sparkdelay.calibration.pipeline import calibrate
    from sparkdelay.calibration.platform import PLATFORM_TERMS, load_platform
    from sparkdelay.eventlog.log import write_csv

    if args.platform is not None and args.method != "trace":
        raise UserError("--platform: applies to --method trace (the default) only, not to --method linear")
    if args.platform in (None, "fit"):
        platform = args.platform         # the bundled platform file, or fitted from the logs
    elif args.platform == "none":
        platform = {}
    else:
        platform = load_platform(args.platform)
    # The trace fit's term selection is minutes of cross-validated fits: show each step as it
    # ends (the bar appears with the first step, so a fit without a selection prints none).
    bars: list = []

    def step(what: str) -> None:
        if not bars:
            bars.append(tqdm(total=None, file=sys.stderr, desc="calibrate: choosing terms", unit="step",
                             bar_format="{desc}: {n} steps, {elapsed}{postfix}"))
        bars[0].set_postfix_str(what, refresh=False)
        bars[0].update(1)
    try:
        fit, doc, per_log = calibrate(args.logs, args.cluster, args.workload, args.local_cores, args.method,
                                      max_load=args.max_load, platform=platform, progress=step)
    finally:
        for bar in bars:
            bar.close()
    out = Path(args.output)
    outputs = [("-o", out, lambda p: p.write_text(json.dumps(doc, indent=2) + "\n"))]
    if args.samples_csv:
        outputs.append(("--samples-csv", Path(args.samples_csv), lambda p: write_csv(fit.tasks, p)))
    # All or nothing: each output is written beside its name and moved there once all are written,
    # so a refusal leaves neither half of the output nor a clobbered earlier model.
    staged: list[tuple[str, Path, Path]] = []
    try:
        for option, path, write in outputs:
            tmp = path.with_name(f".{path.name}.tmp")
            staged.append((option, tmp, path))
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                write(tmp)
            except OSError as exc:
                raise UserError(f"{option}: cannot write {path}: {exc.strerror or exc}") from None
        for option, tmp, path in staged:
            try:
                os.replace(tmp, path)
            except OSError as exc:
                raise UserError(f"{option}: cannot write {path}: {exc.strerror or exc}") from None
    finally:
        for _, tmp, _ in staged:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass   # its folder could not be made: there is no file to remove
    report = doc["fit_report"]
    terms = report.get("terms")
    quality = (f"trace fit, task duration error {terms['task_duration_error']:.1%}" if terms
               else f"linear fit, rmse {report['rmse_s']:.3f} s")
    print(f"calibrated on {report['runs']} run(s), {report['jobs']} job(s), {report['tasks']} tasks "
          f"({report['reduce_tasks']} reduce, {report['map_tasks']} map); {quality}")
    for name, value in doc["params"].items():
        print(f"  {name:22s} {_fmt(value, doc['uncertainty'].get(name))}")
    for note in report["notes"]:
        print(f"  note: {note}")
    if terms:
        print(f"  terms kept: {', '.join(terms['kept'])} (task duration error {terms['task_duration_error']:.1%}, "
              f"job span error {terms['job_span_error']:.1%})")
        for name, value in terms.get("held", {}).items():
            why = "the platform's: --platform" if name in PLATFORM_TERMS else "not identifiable from these logs"
            print(f"  held    {name:26s} {value:.6g} ({why})")
        for c in terms["choices"]:
            verdict = "kept" if c["kept"] else "dropped"
            print(f"  {verdict:7s} {c['term']:26s} held-out task error {c['cv_task_error_without']:.1%} without, "
                  f"{c['cv_task_error_with']:.1%} with")
    skipped = sum(s.skipped_jobs for s in per_log)
    if skipped:
        print(f"  note: {skipped} job(s) without a shuffle (or not successful) were left out")
    print(f"wrote {out}")
    return 0

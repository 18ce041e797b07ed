"""`sparkdelay demo` (`make demo`): the one-command tour, no cluster needed.

Runs the 2017 study's whole grid (N = 1..5, P = 1..40, waits 3/1/0 s, 10 seeds per point, under
Spark 2.1 and 4.0 rules and with evenly filled partitions) through the model with task costs
shaped like the study's 2017 nodes (the `CostModel` defaults: no log of that cluster exists to
calibrate on), compares the model, with the bundled calibration of this machine's runs
(`data/model.json`), with those runs (`data/runs/shared` and `data/runs/pinned`: in-sample, and in
the three held-out tests with their naive baseline), writes the report into `--out` (default
`reports/` under the current directory) and prints where to look and the three headline numbers.
The bundled files come from the installed package (`sparkdelay.app.bundled`), so the demo runs
from any directory. About a minute on two cores.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sparkdelay.app.bundled import MODEL, RUNS, bundled
from sparkdelay.app.commands.report import add_report_arguments, check_common, print_summary

NAME = "demo"
HELP = "the tour: re-make the 2017 study with the model, compare with bundled real runs, write reports/"

BUNDLED_MODEL = bundled(MODEL)
BUNDLED_RUNS = bundled(RUNS)


def add_arguments(parser) -> None:
    add_report_arguments(parser)


def run(args) -> int:
    # Imported here, not at the top: the report draws with matplotlib, about a second more for
    # every `sparkdelay --help` (the command line imports each command module to build its parser).
    from sparkdelay.app.report import GridSpec, ReportOptions, build_report

    check_common(args)
    # The study grid models the 2017 cluster (8-core Xeon nodes of their own), whose task costs
    # no log of ours can measure: it uses the study-shaped CostModel defaults. The bundled
    # calibration describes this machine's real runs, so it is what section 3 checks against them.
    model = str(BUNDLED_MODEL) if BUNDLED_MODEL.exists() else None
    print("study grid: CostModel defaults (task costs shaped like the 2017 study's nodes)")
    if model:
        print(f"model vs measurement: {model} (the bundled calibration of this machine's runs)")
    else:
        print(f"model vs measurement: a fit of the bundled runs ({BUNDLED_MODEL} not found)")
    runs = [str(BUNDLED_RUNS)] if BUNDLED_RUNS.is_dir() and any(BUNDLED_RUNS.rglob("index.jsonl")) else []
    print(f"real runs: {runs[0] if runs else 'none bundled (model vs measurement is skipped)'}")
    spec = GridSpec(reps=args.reps, seed=args.seed, model_path=None, processes=args.processes)
    print(f"simulating the study grid: {spec.runs_per_sweep} runs x 3 sweeps ...", flush=True)
    result = build_report(ReportOptions(Path(args.out), spec, runs, model, args.validate_reps, args.workload,
                                        progress=not args.no_progress and sys.stderr.isatty()))
    print_summary(result)
    print(f"look at: {result.readme} (figures inline); README_SECTION.md holds the summary for the top README")
    return 0

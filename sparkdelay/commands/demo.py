"""`sparkdelay demo` (`make demo`): the one-command tour, no cluster needed.

Runs the 2017 study's whole grid (N = 1..5, P = 1..40, waits 3/1/0 s, 10 seeds per point, under
Spark 2.1 and 4.0 rules and with evenly filled partitions) through the model with the bundled
calibration (`data/model.json` if present, otherwise the `CostModel` defaults, said so), compares
the model with the bundled real runs (`data/runs/shared` and `data/runs/pinned`, if any: in-sample,
and in the three held-out tests with their naive baseline), writes the report into `reports/`
and prints where to look and the three headline numbers. About a minute on two cores.
"""

from __future__ import annotations

import sys
from pathlib import Path

NAME = "demo"
HELP = "the tour: re-make the 2017 study with the model, compare with bundled real runs, write reports/"

BUNDLED_MODEL = Path("data") / "model.json"
BUNDLED_RUNS = Path("data") / "runs"


def add_arguments(parser) -> None:
    from .report import add_report_arguments
    add_report_arguments(parser)


def run(args) -> int:
    from sparkdelay.report import GridSpec, ReportOptions, build_report

    from .report import check_common, print_summary

    check_common(args)
    model = str(BUNDLED_MODEL) if BUNDLED_MODEL.exists() else None
    if model:
        print(f"cost model: {model} (the bundled calibration)")
    else:
        print(f"cost model: CostModel defaults ({BUNDLED_MODEL} not found: no bundled calibration yet)")
    runs = [str(BUNDLED_RUNS)] if any(BUNDLED_RUNS.rglob("index.jsonl")) else []
    print(f"real runs: {runs[0] if runs else 'none bundled (model vs measurement is skipped)'}")
    spec = GridSpec(reps=args.reps, seed=args.seed, model_path=model, processes=args.processes)
    print(f"simulating the study grid: {spec.runs_per_sweep} runs x 3 sweeps ...", flush=True)
    result = build_report(ReportOptions(Path(args.out), spec, runs, model, args.validate_reps, args.workload,
                                        progress=not args.no_progress and sys.stderr.isatty()))
    print_summary(result)
    print(f"look at: {result.readme} (figures inline); README_SECTION.md holds the summary for the top README")
    return 0

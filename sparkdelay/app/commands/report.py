"""`sparkdelay report`: the study re-made by the model, and model vs reality, as Markdown + PNG figures.

Runs the study's grid (N = 1..5, P = 1..40, waits 3/1/0 s by default) three times with
`sim.sweep` (Spark 2.1 rules, Spark 4.0 rules, and the study's future work: evenly filled
partitions), checks findings F1..F13 of STUDY.md on the results, compares the model with the
real runs found under `--runs` (folders holding `index.jsonl` from `sparkdelay run`, and their
`cluster.yaml`): in-sample, and in the three held-out tests of `sparkdelay heldout`; and writes
`OUT/README.md`, `OUT/README_SECTION.md`, `OUT/fig*.png` and `OUT/data/`. See `sparkdelay.app.report`.
Inputs default to the bundled files (`sparkdelay.app.bundled`), the output to `reports/` under the
current directory.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sparkdelay.app.argtypes import reps, seed
from sparkdelay.app.bundled import WORKLOAD, bundled
from sparkdelay.ground.errors import UserError
from sparkdelay.ground.lists import parse_int_list, parse_wait_list

DEFAULT_WORKLOAD = bundled(WORKLOAD)

NAME = "report"
HELP = "write the study re-made by the model, and model vs real runs, as Markdown with PNG figures"


def add_report_arguments(parser, out_default: str = "reports") -> None:
    parser.add_argument("--out", default=out_default,
                        help=f"output folder, created if needed (default {out_default}/ in the current directory)")
    parser.add_argument("--reps", type=reps, default=10, help="simulated runs (seeds) per grid point (default 10)")
    parser.add_argument("--seed", type=seed, default=0, help="base seed of every simulation (default 0)")
    parser.add_argument("--validate-reps", type=int, default=5,
                        help="simulated runs per measured run, in-sample and in the held-out tests (default 5)")
    parser.add_argument("--workload", metavar="W", default=None,
                        help="workload YAML of the real runs' job (default: the bundled data/study-workload.yaml "
                             "when installed, else the study's 40 shards)")
    parser.add_argument("--processes", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_arguments(parser) -> None:
    parser.add_argument("--model", metavar="M",
                        help="cost model JSON (sparkdelay-model/1) for the grid and the real-run predictions "
                             "(default: CostModel defaults for the grid; a fit to the runs for the predictions)")
    parser.add_argument("--runs", metavar="DIR", action="append", default=[],
                        help="folder (searched recursively) or index.jsonl of real runs; repeatable")
    parser.add_argument("--nodes", metavar="N", default="1-5", help="nodes of the grid (default 1-5)")
    parser.add_argument("--partitions", metavar="P", default="1-40", help="partitions of the grid (default 1-40)")
    parser.add_argument("--wait", metavar="W", default="3s,1s,0s", help="locality waits of the grid (default 3s,1s,0s)")
    add_report_arguments(parser)


def check_common(args) -> None:
    if args.reps < 1:
        raise UserError(f"--reps: must be at least 1, got {args.reps}")
    if args.validate_reps < 1:
        raise UserError(f"--validate-reps: must be at least 1, got {args.validate_reps}")
    if args.processes is not None and args.processes < 1:
        raise UserError(f"--processes: must be at least 1, got {args.processes}")
    if args.workload is None and DEFAULT_WORKLOAD.exists():
        args.workload = str(DEFAULT_WORKLOAD)
    elif args.workload is not None and not Path(args.workload).exists():
        raise UserError(f"--workload: {args.workload}: no such file")


def run(args) -> int:
    # Imported here, not at the top: the report draws with matplotlib (and simulates with numpy),
    # which would add about a second to every `sparkdelay --help` (the command line imports each
    # command module to build its parser).
    from sparkdelay.app.report import GridSpec, ReportOptions, build_report

    check_common(args)
    if args.model and not Path(args.model).exists():
        raise UserError(f"--model: {args.model}: no such file")
    spec = GridSpec(nodes=tuple(parse_int_list(args.nodes, "--nodes")),
                    partitions=tuple(parse_int_list(args.partitions, "--partitions")),
                    waits=tuple(parse_wait_list(args.wait, "--wait")),
                    reps=args.reps, seed=args.seed, model_path=args.model, processes=args.processes)
    result = build_report(ReportOptions(Path(args.out), spec, list(args.runs), args.model, args.validate_reps,
                                        args.workload, progress=not args.no_progress and sys.stderr.isatty()))
    print_summary(result)
    return 0


def print_summary(result) -> None:
    t = result.timings
    print(f"wrote {result.readme} ({len(result.figures)} figures) and {result.readme.parent / 'README_SECTION.md'}")
    print(f"grid: {t['grid_runs']} simulated runs in {t['grid_s']:.1f} s; report in {t['total_s']:.1f} s")
    for i, h in enumerate(result.headlines, 1):
        print(f"  {i}. {h}")

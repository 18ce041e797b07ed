"""`sparkdelay heldout`: the three held-out tests of the model on recorded real sweeps.

Fits the cost model on one part of the recorded runs and predicts the rest (see
`calibration.heldout`): interpolation over partition counts, more nodes than seen, other
hardware (shared machine -> pinned cores). Prints each split's median and p90 job-duration
error, the placement match rate, a naive log(P) interpolation baseline on the same split, and
the run-to-run spread of the measurements; `--json` prints the same as one object, `-o` also
writes it to a file.

With `--one-log LOGS` (runs of one job in several configurations) it predicts every run from each
single other log as `whatif` does (`calibration.one_log`), next to a Sparklens-style baseline
(recorded task times list-scheduled onto the new slots) and the replay error of each source.

With `--corpus DIR` (a folder of workloads recorded with `sparkdelay run --job NAME`, such as the
bundled data/corpus) it runs the corpus splits instead, per workload (`calibration.corpus`):
interpolation in P, N = 3 from N = 1-2, pinned from shared, and few-shot (three runs -> the
whole grid), and with the trace fit and more than one workload the machine's terms from the
other workloads; each next to the log(P) and linear-in-N baselines and the run-to-run spread;
`--split` runs some of them only.
`--method` picks the fit: `trace` (the runs replayed through the model's machine, terms chosen
by cross-validation) or `linear` (CPU demands recovered under processor sharing).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from sparkdelay.app.argtypes import input_path, load, output_file, reps, seed
from sparkdelay.app.bundled import PINNED_RUNS, SHARED_RUNS, WORKLOAD, bundled
from sparkdelay.ground.errors import UserError

NAME = "heldout"
HELP = "fit on some recorded real runs, predict the others (three held-out splits) vs a naive baseline"


def add_arguments(parser) -> None:
    parser.add_argument("--shared", type=input_path, default=str(bundled(SHARED_RUNS)), metavar="DIR",
                        help="sweep recorded with workers sharing this machine (default: the bundled data/runs/shared)")
    parser.add_argument("--pinned", type=input_path, default=str(bundled(PINNED_RUNS)), metavar="DIR",
                        help="sweep recorded with workers pinned one per CPU (default: the bundled data/runs/pinned)")
    parser.add_argument("--workload", type=input_path, default=str(bundled(WORKLOAD)), metavar="W",
                        help="workload YAML with the job's keys (default: the bundled data/study-workload.yaml)")
    parser.add_argument("--corpus", type=input_path, metavar="DIR", help="run the corpus splits over every workload of DIR "
                        "(<DIR>/<job>/shared and /pinned, as `sparkdelay run --job NAME --out` records them)")
    parser.add_argument("--job", action="append", metavar="NAME", help="with --corpus: only this workload (repeatable)")
    parser.add_argument("--split", action="append", choices=list("ABCDE"), metavar="LETTER",
                        help="with --corpus: only this split, A-E (repeatable; default all)")
    parser.add_argument("--one-log", nargs="+", type=input_path, metavar="LOGS",
                        help="runs of one job in several configurations (logs, folders, index.jsonl): predict every "
                             "run from each single other log, as `whatif` does, next to a Sparklens-style baseline")
    parser.add_argument("--cluster", type=input_path, metavar="C",
                        help="with --one-log: cluster YAML whose machines say which hosts share cores")
    parser.add_argument("--method", choices=("linear", "trace"), default=None,
                        help="the fit: linear (default for the bundled sweeps) or trace (default with --corpus)")
    parser.add_argument("--reps", type=reps, default=20, help="simulations per measured run (default 20)")
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument("--max-load", type=load, metavar="L",
                        help="leave out runs whose index row recorded a 1-minute load above L at their start")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("-o", "--output", type=output_file, metavar="FILE", help="also write the JSON here")


def result_document(result: dict) -> dict:
    return {"splits": [dict(s.summary(), model=None if s.model is None else s.model.__dict__) for s in result["splits"]],
            "spread": result["spread"]}


def run(args) -> int:
    # Imported here, not at the top: calibration pulls in scipy, which would add ~0.8 s to every
    # `sparkdelay --help` (the command line imports each command module to build its parser).
    from sparkdelay.calibration.heldout import heldout_tests, load_sweep
    from sparkdelay.sim.model.job import load_workload

    if args.corpus:
        return _corpus(args)
    if args.one_log:
        return _one_log(args)
    workload = load_workload(args.workload)
    left_out: list[str] = []
    shared = load_sweep("shared", Path(args.shared), workload, max_load=args.max_load, left_out=left_out)
    pinned = load_sweep("pinned", Path(args.pinned), workload, max_load=args.max_load, left_out=left_out)
    if left_out:
        print(f"note: {len(left_out)} run(s) left out (--max-load {args.max_load:g})", file=sys.stderr)
    if not shared:
        raise UserError(f"{args.shared}: no finished runs (index.jsonl with event logs) to fit on")
    doc = result_document(heldout_tests(shared, pinned, args.reps, args.seed, args.method or "linear"))
    return emit(doc, args, _print_splits)


def emit(doc: dict, args, printer, indent: int = 2) -> int:
    """The result as `-o FILE` (also), `--json` (instead of the table) and `printer`'s table say."""
    if args.output:
        try:
            Path(args.output).parent.mkdir(parents=True, exist_ok=True)
            Path(args.output).write_text(json.dumps(doc, indent=indent) + "\n")
        except OSError as exc:
            raise UserError(f"-o: cannot write {args.output}: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(doc, indent=indent))
    else:
        printer(doc)
    return 0


def _pct(x) -> str:
    return "  n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:5.1%}"


def _print_splits(doc: dict) -> None:
    pct = _pct
    print(f"{'split':<15} {'train':>5} {'test':>4}  {'median APE':>10} {'p90 APE':>8} {'placement':>9}   "
          f"{'baseline median':>15} {'p90':>6}")
    for s in doc["splits"]:
        print(f"{s['name']:<15} {s['train_runs']:>5} {s['test_runs']:>4}  {pct(s['median_ape']):>10} "
              f"{pct(s['p90_ape']):>8} {pct(s['placement_match']):>9}   {pct(s['baseline_median_ape']):>15} "
              f"{pct(s['baseline_p90_ape']):>6}  {s['note']}")
    for name, spread in doc["spread"].items():
        print(f"run-to-run spread ({name}): {spread['configs_with_reps']} configs with reps, median |dev| from "
              f"config mean {pct(spread['median_abs_dev_from_config_mean'])}, p90 {pct(spread['p90_abs_dev_from_config_mean'])}")


def _corpus(args) -> int:
    from tqdm import tqdm

    from sparkdelay.calibration.corpus import SPLITS, corpus_heldout, has_other_workloads_split, splits_of, workloads

    corpus = Path(args.corpus)
    names = workloads(corpus) if corpus.is_dir() else []
    if not names:
        raise UserError(f"{corpus}: no workloads (<job>/shared/index.jsonl) in this folder")
    unknown = [j for j in args.job or [] if j not in names]
    if unknown:
        raise UserError(f"--job: no workload {unknown[0]!r} in {corpus} (it has: {', '.join(names)})")
    method = args.method or "trace"
    chosen = [n for n in names if not args.job or n in args.job]
    only = "".join(sorted(set(args.split))) if args.split else SPLITS
    if args.split and "E" in only and not has_other_workloads_split(method, len(names) > 1):
        raise UserError(f"--split E: the machine's terms from the other workloads need the trace fit and a "
                        f"second workload in {corpus} (it has: {', '.join(names)}; --method {method})")
    skipped: list[str] = []
    # A split is a fit and its simulations: minutes each with the trace fit, so say where it is.
    with tqdm(total=len(chosen) * splits_of(method, len(names) > 1, only), file=sys.stderr, desc="heldout",
              unit="split") as bar:
        def advance(done: str) -> None:
            bar.set_postfix_str(done)
            bar.update(1)
        results = corpus_heldout(corpus, args.reps, args.seed, method, args.job, skipped, args.max_load, advance, only,
                                 detail=bar.set_postfix_str)
    doc = {"corpus": str(corpus), "method": method, "skipped": skipped,
           "workloads": [dict(result_document(r), workload=r["workload"]) for r in results]}
    return emit(doc, args, _print_corpus)


def _print_corpus(doc: dict) -> None:
    for w in doc["workloads"]:
        print(f"== {w['workload']} ({doc['method']} fit)")
        _print_splits(w)
    for note in doc["skipped"]:
        print(f"skipped: {note}")


def _one_log(args) -> int:
    from tqdm import tqdm

    from sparkdelay.calibration.logged_dag import logged_app
    from sparkdelay.calibration.one_log import one_log_heldout
    from sparkdelay.eventlog.discover import find_logs, recorded_loads
    from sparkdelay.eventlog.reader import read_eventlog
    from sparkdelay.sim.model.cluster import load_machines

    machines = load_machines(args.cluster)
    paths = find_logs(args.one_log)
    if args.max_load is not None:
        loads = recorded_loads(args.one_log)
        paths = [p for p in paths if loads.get(p.resolve(), 0.0) <= args.max_load]
    runs = []
    for p in paths:
        log = read_eventlog(p)
        runs.append((log, logged_app(log, machines)))
    n = len(runs) * (len(runs) - 1)
    with tqdm(total=n, desc="one log -> every other run", unit="pair", disable=args.json or n < 2,
              file=sys.stderr) as bar:
        result = one_log_heldout(runs, args.reps, args.seed, progress=lambda: bar.update(1))
    return emit(result, args, _print_one_log)


def _print_one_log(doc: dict) -> None:
    pct = _pct
    print(f"from one log, every other run: {doc['logs']} logs, {doc['pairs']} (source, target) pairs")
    print(f"  model (whatif)        median APE {pct(doc['model_median_ape'])}  p90 {pct(doc['model_p90_ape'])}")
    print(f"  Sparklens-style       median APE {pct(doc['baseline_median_ape'])}  p90 {pct(doc['baseline_p90_ape'])}")
    print(f"  replay of the source  median APE {pct(doc['replay_median_ape'])}  p90 {pct(doc['replay_p90_ape'])}")

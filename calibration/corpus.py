"""Held-out tests over the recorded corpus: for every workload, the splits a user meets.

A corpus is a folder of workloads, each with the sweeps `sparkdelay run --job NAME` recorded
(`<corpus>/<job>/shared`: workers sharing this machine's cores; `<corpus>/<job>/pinned`: a core
each, when recorded). Every run carries its own workload in its index row, so no workload file
is needed. Per workload:

- A, interpolation: fit on P in {1, 4, 8, 20, 40}, predict the other partition counts;
- B, more nodes: fit on N = 1-2, predict N = 3;
- C, other hardware: fit on the shared sweep, predict the pinned one (where it was recorded);
- D, few-shot: fit on three runs (N1 P8, N2 P20, N3 P40 at wait 3 s), predict the whole grid,
  which is what a user does who runs a job three times before asking the tool;
- E, leave one workload out: the terms that are properties of the machine and its software
  (the Python daemon's start, a fork, the oversubscription penalty, the executors' background
  load) fitted on the other workloads only and held, the job's own terms chosen and fitted on its
  three few-shot runs as in D.

Each split is put next to the naive baselines: job time interpolated in log(P) (the nearest node
count, same wait), and for B also linear in N (from N = 1 and 2 at the same P and wait), and
next to the run-to-run spread of repeated configurations (the noise floor).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

from sparkdelay.calibration.heldout import (Run, baseline, evaluate, load_sweep, run_to_run_spread,
                                           split_by_nodes, split_by_partitions, trace_calibration)
from sparkdelay.sim.model.costs import CostModel

INTERPOLATION_TRAIN = (1, 4, 8, 20, 40)
FEW_SHOT = ((1, 8), (2, 20), (3, 40))
FEW_SHOT_WAIT = "3s"
# Properties of the machine and its software stack, not of a job (split E).
MACHINE_TERMS = ("executor_start_s", "worker_fork_s", "oversubscription_penalty", "executor_background_cores")
SPLITS = "ABCDE"   # the splits' letters, in the order they run


def machine_terms(others: list[Run], progress: Callable[[str], None] | None = None) -> dict[str, float]:
    """The machine's terms as a calibration on other workloads' runs chose and fitted them
    (`progress(step)` after each step of its term selection: each takes minutes on ~180 runs)."""
    cal = trace_calibration(others, progress=progress)
    return {t: getattr(cal.model, t) for t in MACHINE_TERMS}


def job_on_machine(machine: dict[str, float]):
    """A fitter: the machine's terms as given, the job's own chosen and fitted on its runs as
    any calibration chooses them (by cross-validation). Fitting every job term instead (the
    base terms and both waits) let three runs of the pure-Python `pyloop` put 0.58 s per item
    off the CPU under the machine's oversubscription penalty: P = 1 predicted 28.8 s, measured
    8.8 s, and 42.6 % / 190 % over the grid (README, "Other jobs")."""
    def fitter(train: list[Run]) -> CostModel:
        return trace_calibration(train, fixed=machine).model
    return fitter


def workloads(corpus: Path) -> list[str]:
    """The workloads of a corpus folder: each subfolder with a recorded shared sweep."""
    return sorted(p.name for p in Path(corpus).iterdir() if (p / "shared" / "index.jsonl").is_file())


def linear_in_nodes(train: list[Run], run: Run) -> float:
    """Job time extrapolated linearly in N from N = 1 and 2 at the same P and wait (else log(P))."""
    same = {r.row["nodes"]: r.measured.duration_s for r in train
            if r.row["partitions"] == run.row["partitions"] and r.row["wait"] == run.row["wait"]}
    if 1 in same and 2 in same:
        return same[1] + (same[2] - same[1]) * (run.row["nodes"] - 1)
    return baseline(train, run)


def spanning_design(runs: list[Run]) -> tuple[tuple[int, int], ...]:
    """Three runs that span what a search will ask about: the fewest partitions on the fewest
    nodes, the geometric middle of the recorded partition counts on the middle node count, the
    most partitions on the most nodes (all at wait FEW_SHOT_WAIT). A model calibrated between P = 8
    and P = 40 has not seen a task with the cores to itself, and a recommender that may not
    extrapolate cannot recommend below P = 8; this design calibrates the whole range instead."""
    ps = sorted({r.row["partitions"] for r in runs})
    ns = sorted({r.row["nodes"] for r in runs})
    if not ps:
        return ()
    middle = min(ps, key=lambda p: (abs(math.log(p) - (math.log(ps[0]) + math.log(ps[-1])) / 2), p))
    return ((ns[0], ps[0]), (ns[len(ns) // 2], middle), (ns[-1], ps[-1]))


def few_shot_runs(runs: list[Run], design: tuple[tuple[int, int], ...] = FEW_SHOT) -> list[Run]:
    """The first recorded run of each (nodes, partitions) of the design, at wait FEW_SHOT_WAIT
    (a configuration the design names twice is one run)."""
    chosen = []
    for n, p in dict.fromkeys(design):
        match = [r for r in runs if r.row["nodes"] == n and r.row["partitions"] == p
                 and r.row["wait"] == FEW_SHOT_WAIT]
        chosen.extend(match[:1])
    return chosen


def workload_heldout(name: str, shared: list[Run], pinned: list[Run], reps: int, seed: int,
                     method: str, others: list[Run] | None = None,
                     progress: Callable[[str], None] | None = None, only: str = SPLITS,
                     detail: Callable[[str], None] | None = None) -> dict:
    """The splits of one workload (those of `only`'s letters); `progress(split name)` after each
    (a split's fit and its simulations take minutes with the trace fit), `detail(step)` after
    each step of split E's term selection."""
    train_p = set(INTERPOLATION_TRAIN)
    few = few_shot_runs(shared)
    rest = [r for r in shared if r not in few]
    plan = {
        "A": lambda: evaluate("A_interpolation", f"fit on P in {sorted(train_p)}, predict the other P",
                              *split_by_partitions(shared, train_p), reps, seed, method),
        "B": lambda: evaluate("B_more_nodes", "fit on N = 1-2, predict N = 3",
                              *split_by_nodes(shared), reps, seed, method, baseline_of=linear_in_nodes),
        "C": lambda: evaluate("C_other_hardware", "fit on the shared sweep, predict the pinned sweep", shared, pinned,
                              reps, seed, method),
        "D": lambda: evaluate("D_few_shot", "fit on N1 P8, N2 P20, N3 P40 (wait 3 s), predict the whole grid",
                              few, rest, reps, seed, method),
    }
    def machine_step(step: str) -> None:
        if detail is not None:
            detail(f"{name} E machine terms: {step}")

    if has_other_workloads_split(method, bool(others)):
        plan["E"] = lambda: evaluate("E_other_workloads", "machine terms from the other workloads, job terms from "
                                     "the three few-shot runs, predict the whole grid", few, rest, reps, seed, method,
                                     fitter=job_on_machine(machine_terms(others, machine_step)))
    splits = []
    for letter, step in plan.items():
        if letter not in only:
            continue
        splits.append(step())
        if progress is not None:
            progress(f"{name} {splits[-1].name}")
    return {"workload": name, "splits": splits,
            "spread": {"shared": run_to_run_spread(shared), "pinned": run_to_run_spread(pinned)}}


def has_other_workloads_split(method: str, has_others: bool) -> bool:
    """Split E needs other workloads' runs and the trace fit's machine terms."""
    return has_others and method == "trace"


def splits_of(method: str, has_others: bool, only: str = SPLITS) -> int:
    """How many splits `workload_heldout` runs per workload (for a progress bar's total)."""
    return len(set(only) & set("ABCD")) + ("E" in only and has_other_workloads_split(method, has_others))


def corpus_heldout(corpus: Path, reps: int = 20, seed: int = 0, method: str = "trace",
                   only: list[str] | None = None, skipped: list[str] | None = None,
                   max_load: float | None = None,
                   progress: Callable[[str], None] | None = None, splits: str = SPLITS,
                   detail: Callable[[str], None] | None = None) -> list[dict]:
    loaded = {}
    for name in workloads(corpus):
        base = Path(corpus) / name
        loaded[name] = (load_sweep(f"{name}/shared", base / "shared", None, skipped, max_load),
                        load_sweep(f"{name}/pinned", base / "pinned", None, skipped, max_load))
    out = []
    for name, (shared, pinned) in loaded.items():
        if only and name not in only:
            continue
        others = [r for other, (s, _) in loaded.items() if other != name for r in s]
        out.append(workload_heldout(name, shared, pinned, reps, seed, method, others, progress, splits, detail))
    return out

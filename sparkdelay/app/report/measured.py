"""Section 3's numbers: the recorded real sweeps, the model's in-sample predictions of every run, and the
three held-out tests, all computed by `calibration` (nothing re-implemented here).

`load_measured` finds the `sparkdelay run` folders (an `index.jsonl` each) under the given paths and
reads each with `calibration.heldout.load_sweep`, which builds the simulated cluster and job from
the run's own event log and the folder's `cluster.yaml` (which hosts share a machine's cores). A
folder named `pinned`, or whose rows say `pin`, is the pinned sweep; every other folder counts as a
shared-machine sweep. Every run is predicted in-sample with `calibration.validate.compare` (the
bundled model when given, else `calibration.heldout.fit` on all runs), and
`calibration.heldout.heldout_tests` gives the three held-out splits, the naive log(P) baseline and
the run-to-run spread. `write_data` puts per-run predictions in `validation.csv` and the held-out
tests in `heldout.json`. `write_twins` writes the simulated twin of every run (`calibration.twins`)
into the report's `twins/` folder, for the History Server links of section 3.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from sparkdelay.calibration.heldout import fit, heldout_tests, load_sweep
from sparkdelay.sim.model.job import load_workload
from sparkdelay.calibration.twins import TWIN_SUFFIX, write_twins as write_run_twins
from sparkdelay.calibration.validate import compare, error_summary
from sparkdelay.eventlog.run_index import INDEX_NAME, read_index
from sparkdelay.ground.errors import UserError
from sparkdelay.sim.model.costs import CostModel

from sparkdelay.app.bundled import shown
from sparkdelay.app.commands.heldout import result_document
from sparkdelay.app.commands.history import log_folders, start_command

SPLITS = ("interpolation", "more_nodes", "other_hardware")
PINNED = "pinned"


@dataclass
class Sweep:
    name: str
    folder: Path
    runs: list                 # calibration.heldout.Run
    rows: int                  # index rows, finished or not
    skipped: list[str]         # finished rows whose event log could not be used, with why
    cluster_file: bool         # whether the folder says which hosts share a machine
    pinned: bool


@dataclass
class Measured:
    sweeps: list[Sweep]
    model_label: str
    in_sample: list            # calibration.validate.RunComparison, one per run, same order as `runs`
    heldout: dict              # calibration.heldout.heldout_tests(...)
    reps: int
    model: object = field(repr=False, default=None)   # the in-sample CostModel
    twins: list = field(default_factory=list)          # calibration.twins.Twin per run, same order (None: a copy)
    history_command: str = ""                          # the line that opens the runs and their twins

    @property
    def runs(self) -> list:
        return [r for s in self.sweeps for r in s.runs]

    def split(self, name: str):
        return next((s for s in self.heldout["splits"] if s.name == name), None)

    def run_of(self, comparison):
        """The `Run` a comparison (in-sample or held-out) was made for: comparisons carry the log path."""
        return {r.measured.log: r for r in self.runs}[comparison.log]


def sweep_folders(paths: Sequence[str | Path]) -> list[Path]:
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_file() and p.name.endswith(".jsonl"):
            found.append(p.parent)
        elif p.is_dir():
            found.extend(i.parent for i in sorted(p.rglob(INDEX_NAME)))
        elif not p.exists():
            raise UserError(f"--runs: {p}: no such file or folder")
    return list(dict.fromkeys(found))


def _load_sweep(folder: Path, name: str, workload) -> Sweep:
    skipped: list[str] = []
    runs = load_sweep(name, folder, workload, skipped)
    rows = read_index(folder / INDEX_NAME, lenient=True).rows   # a torn last row is in `skipped`
    pinned = folder.name == PINNED or any(r.row.get("pin") for r in runs)
    return Sweep(name, folder, runs, len(rows), skipped, (folder / "cluster.yaml").exists(), pinned)


def _in_sample_model(runs: list, model_path: str | None):
    if model_path is not None and Path(model_path).exists():
        return CostModel.load(model_path), f"`{shown(model_path)}` (the bundled calibration, possibly fitted on these same runs)"
    try:
        return fit(runs), f"fitted here (`calibration.heldout.fit`) on all {len(runs)} runs, since no bundled model was given"
    except UserError as exc:
        return CostModel(), f"the `CostModel()` defaults (the fit on all runs failed: {exc})"


def load_measured(paths: Sequence[str | Path], workload_path: str | None, model_path: str | None,
                  reps: int = 5, seed: int = 0) -> Measured | None:
    """Read the sweeps under `paths`, predict every run in-sample, run the held-out tests; None: no sweep."""
    folders = sweep_folders(paths)
    if not folders:
        return None
    workload = load_workload(workload_path)
    names = [f.name for f in folders]
    # a folder's own name, unless two sweeps share it (then the path says which is which)
    sweeps = [_load_sweep(f, f.name if names.count(f.name) == 1 else str(f), workload) for f in folders]
    runs = [r for s in sweeps for r in s.runs]
    if not runs:
        return Measured(sweeps, "none", [], {"splits": [], "spread": {}}, reps)
    model, label = _in_sample_model(runs, model_path)
    in_sample = [compare(r.measured, model, reps, seed) for r in runs]
    shared = [r for s in sweeps if not s.pinned for r in s.runs]
    pinned = [r for s in sweeps if s.pinned for r in s.runs]
    heldout = heldout_tests(shared, pinned, reps, seed) if shared else {"splits": [], "spread": {}}
    return Measured(sweeps, label, in_sample, heldout, reps, model)


def clear_twins(folder: Path) -> None:
    """Remove the twins of an earlier report (the folder is the report's own)."""
    if folder.is_dir():
        for old in folder.glob(f"*{TWIN_SUFFIX}*"):
            old.unlink()
        if not any(folder.iterdir()):
            folder.rmdir()


def write_twins(measured: Measured, folder: Path, seed: int, run_paths: Sequence[str | Path],
                model_path: str | None) -> None:
    """Each run's simulated twin (the in-sample model, the comparisons' first seed) into `folder`,
    and the command that opens the sweeps and the twins in the History Server."""
    label = shown(model_path) if model_path is not None and Path(model_path).exists() else \
        f"fitted by the report on {len(measured.runs)} runs"
    # A log copied into two sweeps is one application to the History Server (one id): one twin,
    # of its first run; the copy's entry is None.
    first = {}
    for i, r in enumerate(measured.runs):
        first.setdefault(r.measured.app_id, i)
    unique = sorted(first.values())
    twins = dict(zip(unique, write_run_twins([measured.runs[i].measured for i in unique], measured.model, folder,
                                             seed, model_label=label)))
    measured.twins = [twins.get(i) for i in range(len(measured.runs))]
    folders = [shown(f) for f in log_folders(list(run_paths))]   # bundled ones as data/..., on any machine
    measured.history_command = start_command(folders + [shown(folder)])


# ------------------------------------------------------------------------------ configurations
def config_key(run) -> tuple:
    return (run.sweep, run.row["nodes"], run.row["partitions"], run.row["wait"])


def config_label(key: tuple, with_sweep: bool = False) -> str:
    sweep, n, p, wait = key
    return (f"{sweep} " if with_sweep else "") + f"N{n} P{p} w{wait}"


def by_config(measured: Measured, comparisons: list) -> dict[tuple, list]:
    """Comparisons grouped by configuration (sweep, N, P, wait), sorted for tables and figures."""
    groups: dict[tuple, list] = {}
    for c in comparisons:
        groups.setdefault(config_key(measured.run_of(c)), []).append(c)
    return dict(sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], kv[0][3])))


def mean_error(comparisons: list) -> float:
    """Signed error of a configuration: mean prediction / mean measurement - 1."""
    measured = sum(c.measured_duration_s for c in comparisons) / len(comparisons)
    return sum(c.predicted_duration_s for c in comparisons) / len(comparisons) / measured - 1.0


def example_run(m: Measured):
    """(run, in-sample comparison) of the run whose timelines fig12 shows and whose twin
    README_SECTION links: the study's N = 3, P = 9, wait 3 s on a shared machine if measured."""
    pinned = {s.name for s in m.sweeps if s.pinned}

    def score(pair):
        run, _ = pair
        return (run.sweep in pinned, abs(run.row["nodes"] - 3), abs(run.row["partitions"] - 9),
                abs(float(run.row.get("wait_ms", 0)) - 3000))
    return min(zip(m.runs, m.in_sample), key=score)


# ------------------------------------------------------------------------------ files
def _no_nan(value):
    # JSON has no NaN: a statistic over no runs is written as null
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def heldout_document(measured: Measured) -> dict:
    doc = result_document(measured.heldout)
    doc["in_sample"] = dict(error_summary(measured.in_sample), model=measured.model_label, reps=measured.reps)
    doc["sweeps"] = {s.name: {"folder": shown(s.folder), "runs": len(s.runs), "pinned": s.pinned,
                              "cluster_file": s.cluster_file, "skipped": s.skipped} for s in measured.sweeps}
    return _no_nan(doc)


def write_data(data: Path, measured: Measured | None) -> None:
    vpath, hpath = data / "validation.csv", data / "heldout.json"
    if measured is None or not measured.in_sample:
        vpath.unlink(missing_ok=True)
        hpath.unlink(missing_ok=True)
        return
    hpath.write_text(json.dumps(heldout_document(measured), indent=1) + "\n")
    held = {s.name: {c.log: c for c in s.comparisons} for s in measured.heldout["splits"]}
    with open(vpath, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sweep", "app_id", "nodes", "partitions", "wait", "measured_s", "predicted_in_sample_s", "ape_in_sample",
                    "placement_match_in_sample"] + [f"{k}_{n}" for n in SPLITS for k in ("predicted", "ape")])
        for run, c in zip(measured.runs, measured.in_sample):
            cells = []
            for name in SPLITS:
                h = held.get(name, {}).get(c.log)
                cells += ["", ""] if h is None else [round(h.predicted_duration_s, 3), round(h.ape, 4)]
            w.writerow([run.sweep, c.app_id, c.nodes, c.partitions, c.wait, round(c.measured_duration_s, 3),
                        round(c.predicted_duration_s, 3), round(c.ape, 4), c.placement_match] + cells)


def percent(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x * 100:.0f} %"

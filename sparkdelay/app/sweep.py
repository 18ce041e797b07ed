"""Parameter sweeps: many runs over nodes x partitions x wait (x Spark version) x repetitions.

The grid is every combination of the given values, each repeated `reps` times with its own
seed, derived from the base seed and the point (SHA-256 of both), so a point's result never
depends on which other points are in the sweep, on the order runs finish in, or on the number
of processes. Runs go to a process pool; each finished run is appended to the CSV at once
(and flushed), so an interrupted sweep resumes where it stopped: rows already in the file,
matched by their point and the sweep's fingerprint (`sweep_id`, a hash of everything else
that defines the runs), are not redone; a row torn by a kill mid-write is cut off and redone.
`run_sweep` returns the rows as `SweepRow` objects (lists and mappings as such); the CSV is
its side effect, with plain cells a user can read (`node1=8;node2=1`, `0.7;10.6`). The summary
gives, per point, the mean and a 95% Student-t interval of the job duration and the fairness
index (`PointSummary`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import multiprocessing
import os
import sys
import threading
import time
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

from tqdm import tqdm

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.sparkconf import parse_duration_ms

from sparkdelay.sim.model.engine import simulate
from sparkdelay.sim.model.metrics import mean_interval
from sparkdelay.app.runspec import IN_PROCESS_INPUTS, RunSpec

ROW_FIELDS = [
    "sweep_id", "spark_version", "nodes", "partitions", "wait", "rep", "seed",
    "job_duration_s", "stage_durations_s", "fairness_index", "max_tasks_per_host", "hosts_used",
    "tasks_per_host", "locality_counts",
]


# ------------------------------------------------------------------------- points and seeds
@dataclass(frozen=True)
class SweepPoint:
    spark_version: str
    nodes: int
    partitions: int | None      # None: an explicit job (nothing to partition)
    wait: str
    rep: int

    def key(self) -> tuple:
        """Identity for resuming: the wait compared by value (3s == 3000ms)."""
        return (self.spark_version, int(self.nodes), "" if self.partitions is None else int(self.partitions),
                parse_duration_ms(self.wait, "wait"), int(self.rep))


def derive_seed(base_seed: int, point: SweepPoint) -> int:
    """A 63-bit seed from the base seed and the point (not its position in the sweep)."""
    text = f"{base_seed}|{point.spark_version}|{point.nodes}|{point.partitions}|" \
           f"{parse_duration_ms(point.wait, 'wait'):g}|{point.rep}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def sweep_fingerprint(base: RunSpec, base_seed: int) -> str:
    """Everything that defines the runs except the swept values."""
    fixed = {f.name: getattr(base, f.name) for f in fields(base)}
    for k in ("nodes", "partitions", "wait", "spark_version"):
        fixed.pop(k)
    if fixed.get("partitioner") is None:   # no --partitioner: the fingerprint sweeps had before the option
        fixed.pop("partitioner", None)
    for k in ("cluster_path", "job_path", "model_path"):
        if fixed[k]:
            path = Path(fixed[k])
            fixed[k] = [str(path.resolve()), hashlib.sha256(path.read_bytes()).hexdigest()[:16]] \
                if path.exists() else str(path)
    for k in IN_PROCESS_INPUTS:   # objects: by their contents (a dataclass repr spells every field)
        obj = fixed.pop(k)
        if obj is not None:
            fixed[k] = hashlib.sha256(repr(obj).encode()).hexdigest()[:16]
    text = json.dumps({"base": fixed, "seed": base_seed}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def grid(base: RunSpec, nodes: Sequence[int] | None, partitions: Sequence[int] | None,
         waits: Sequence[str] | None, versions: Sequence[str] | None, reps: int) -> list[SweepPoint]:
    """All points, defaults resolved from the base cluster and job (which are validated here)."""
    if reps < 1:
        raise UserError(f"--reps: must be at least 1, got {reps}")
    cluster, job, _ = base.build()
    if partitions is not None and job.pyspark is None:
        raise UserError("--partitions: only a PySpark-form job has partitions to change")
    nodes = nodes or [len(cluster.hosts)]
    partitions = partitions or [job.pyspark.partitions if job.pyspark is not None else None]
    waits = waits or [cluster.config.get("spark.locality.wait", "3s")]
    versions = versions or [cluster.spark_version]
    points = [SweepPoint(v, n, p, w, r) for v in versions for n in nodes for p in partitions
              for w in waits for r in range(reps)]
    # Build one run per distinct configuration now, so bad input fails before any work starts.
    for v in versions:
        for n in nodes:
            for p in partitions:
                point_spec(base, SweepPoint(v, n, p, waits[0], 0)).build()
    return points


def point_spec(base: RunSpec, point: SweepPoint) -> RunSpec:
    return base.with_(nodes=point.nodes, partitions=point.partitions, wait=point.wait,
                      spark_version=point.spark_version)


# ------------------------------------------------------------------------- rows
LIST_SEP = ";"      # between the items of a list or mapping cell
PAIR_SEP = "="      # between a mapping's key and value (host names and locality levels hold neither)


@dataclass(frozen=True)
class SweepRow:
    """One finished run of a sweep: its point, its seed and what it measured; one line of the CSV."""

    sweep_id: str
    spark_version: str
    nodes: int
    partitions: int | None          # None: an explicit job (nothing to partition)
    wait: str
    rep: int
    seed: int
    job_duration_s: float
    stage_durations_s: list[float]
    fairness_index: float
    max_tasks_per_host: int
    hosts_used: int
    tasks_per_host: dict[str, int]  # result-stage tasks per host, in the run summary's host order
    locality_counts: dict[str, int]

    @property
    def point(self) -> SweepPoint:
        return SweepPoint(self.spark_version, self.nodes, self.partitions, self.wait, self.rep)

    def cells(self) -> dict[str, str]:
        """The CSV cells: numbers as Python prints them (they read back to the same value), a list as
        `a;b`, a mapping as `key=value;key=value`, so the file reads well in a spreadsheet too."""
        return {
            "sweep_id": self.sweep_id, "spark_version": self.spark_version, "nodes": str(self.nodes),
            "partitions": "" if self.partitions is None else str(self.partitions), "wait": self.wait,
            "rep": str(self.rep), "seed": str(self.seed), "job_duration_s": str(self.job_duration_s),
            "stage_durations_s": LIST_SEP.join(map(str, self.stage_durations_s)),
            "fairness_index": str(self.fairness_index), "max_tasks_per_host": str(self.max_tasks_per_host),
            "hosts_used": str(self.hosts_used), "tasks_per_host": _pairs_cell(self.tasks_per_host),
            "locality_counts": _pairs_cell(self.locality_counts),
        }

    @classmethod
    def from_cells(cls, cells: dict, where: str) -> "SweepRow":
        """A row read back from the CSV; `where` (file:line) names it in errors."""
        def cell(name: str) -> str:
            text = cells.get(name)
            if text is None:
                raise UserError(f"{where}: {name}: missing (a row cut short?); use another --out")
            return text

        def number(name: str, kind):
            try:
                value = kind(cell(name))
            except ValueError:
                value = None
            # A sweep writes finite numbers >= 0 only; NaN would poison every mean of the summary.
            if value is None or not math.isfinite(value) or value < 0:
                raise UserError(f"{where}: {name}: expected a number >= 0, got {cell(name)!r}; "
                                f"not a sparkdelay sweep row, use another --out") from None
            return value

        def pairs(name: str) -> dict[str, int]:
            out = {}
            for item in filter(None, cell(name).split(LIST_SEP)):
                key, sep, value = item.rpartition(PAIR_SEP)
                if not sep or not value.isdigit():
                    raise UserError(f"{where}: {name}: expected name=count items separated by "
                                    f"{LIST_SEP!r}, got {cell(name)!r}; use another --out")
                out[key] = int(value)
            return out

        try:   # a wait no sweep wrote would otherwise fail later, in the resume, naming no file
            parse_duration_ms(cell("wait"), f"{where}: wait")
        except UserError as exc:
            raise UserError(f"{exc}; not a sparkdelay sweep row, use another --out") from None
        try:
            stages = [float(x) for x in filter(None, cell("stage_durations_s").split(LIST_SEP))]
            if not all(math.isfinite(x) and x >= 0 for x in stages):
                raise ValueError("not finite")
        except ValueError:
            raise UserError(f"{where}: stage_durations_s: expected seconds separated by {LIST_SEP!r}, "
                            f"got {cell('stage_durations_s')!r}; use another --out") from None
        return cls(
            sweep_id=cell("sweep_id"), spark_version=cell("spark_version"), nodes=number("nodes", int),
            partitions=None if cell("partitions") == "" else number("partitions", int), wait=cell("wait"),
            rep=number("rep", int), seed=number("seed", int), job_duration_s=number("job_duration_s", float),
            stage_durations_s=stages, fairness_index=number("fairness_index", float),
            max_tasks_per_host=number("max_tasks_per_host", int), hosts_used=number("hosts_used", int),
            tasks_per_host=pairs("tasks_per_host"), locality_counts=pairs("locality_counts"))


def _pairs_cell(mapping: dict[str, int]) -> str:
    return LIST_SEP.join(f"{k}{PAIR_SEP}{v}" for k, v in mapping.items())


# ------------------------------------------------------------------------- running
@lru_cache(maxsize=256)
def _built(spec: RunSpec):
    """(cluster, job, model, scheduler conf) of one configuration, built once per process.

    The repetitions of a point differ only in their seed; building is deterministic and its
    results are immutable (the engine only reads them), so they are shared across runs. This
    also keeps the job's hashed partitions (`PySparkJob.reduce_members`) computed once."""
    cluster, job, model = spec.build()
    return cluster, job, model, cluster.scheduler_conf()


def run_point(task: tuple[RunSpec, SweepPoint, int, str]) -> SweepRow:
    """Run one point (in a worker process) and return its row."""
    base, point, seed, sweep_id = task
    cluster, job, model, conf = _built(point_spec(base, point))
    s = simulate(cluster, job, model, seed, conf=conf).summary()
    return SweepRow(
        sweep_id=sweep_id, spark_version=point.spark_version, nodes=int(point.nodes),
        partitions=None if point.partitions is None else int(point.partitions), wait=point.wait,
        rep=point.rep, seed=seed,
        # rounded as the CSV has always held them, so a resumed sweep's rows equal a fresh one's
        job_duration_s=round(s["job_duration_s"], 6),
        stage_durations_s=[round(d, 6) for d in s["stage_durations_s"]],
        fairness_index=round(s["fairness_index"], 6),
        max_tasks_per_host=s["max_tasks_per_host"], hosts_used=s["hosts_used"],
        tasks_per_host=dict(s["tasks_per_host"]), locality_counts=dict(s["locality_counts"]))


def read_sweep_rows(path: Path) -> list[SweepRow]:
    """The rows of a sweep CSV (none when the file is missing or empty)."""
    if not path.exists() or path.stat().st_size == 0:
        return []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames != ROW_FIELDS:
                raise UserError(f"{path}: not a sparkdelay sweep file (columns differ); use another --out")
            return [SweepRow.from_cells(cells, f"{path}:{reader.line_num}") for cells in reader]
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a sparkdelay sweep file (not UTF-8 text); use another --out") from None
    except csv.Error as exc:
        raise UserError(f"{path}: not a sparkdelay sweep file ({exc}); use another --out") from None


def _check_out(out: Path) -> None:
    """Refuse an --out that cannot take rows before any run starts, not after the first one ends."""
    if out.is_dir():
        raise UserError(f"--out: {out} is a folder; name a CSV file")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "a"):
            pass
    except OSError as exc:
        raise UserError(f"--out: cannot write {out}: {exc.strerror or exc}") from None


def _cut_torn_row(path: Path) -> None:
    """A kill in the middle of writing a row leaves a last line without its newline: cut it off
    (its run is simply redone), so the rows appended on resume start on a line of their own. A
    header cut short the same way (the kill came right at the start) leaves an empty file."""
    if not path.exists():
        return
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return
    if b"\n" not in data and (",".join(ROW_FIELDS) + "\r\n").encode().startswith(data):
        path.write_bytes(b"")   # the kill came while the header was written: the sweep starts afresh
        return
    header = data.split(b"\n", 1)[0].decode(errors="replace").rstrip("\r")
    if header.split(",") != ROW_FIELDS:
        return          # not a sweep file: reading it says so, and the file stays as it is
    with open(path, "r+b") as fh:
        fh.truncate(data.rfind(b"\n") + 1)


def run_sweep(base: RunSpec, out: str | Path, nodes: Sequence[int] | None = None,
              partitions: Sequence[int] | None = None, waits: Sequence[str] | None = None,
              versions: Sequence[str] | None = None, reps: int = 10, base_seed: int = 0,
              processes: int | None = None, progress: bool = True,
              run_points: Callable[[list], Iterable[SweepRow]] | None = None) -> list[SweepRow]:
    """Run (or finish) a sweep; returns all its rows in grid order. Each finished run is appended
    to the CSV `out` as it ends (the side effect that lets an interrupted sweep resume).
    `run_points`, if given, runs the tasks still to do elsewhere instead of the local pool (each
    task `(base, point, seed, sweep_id)` through `run_point`), yielding rows as they finish;
    `spark_engine.spark_runner` is one."""
    out = Path(out)
    # The inputs first, then the file: a refused input leaves no empty CSV behind.
    points = grid(base, nodes, partitions, waits, versions, reps)
    _check_out(out)
    sweep_id = sweep_fingerprint(base, base_seed)
    _cut_torn_row(out)
    existing = read_sweep_rows(out)
    if any(r.sweep_id != sweep_id for r in existing):
        raise UserError(f"{out}: holds rows of a different sweep (other cluster, job, model or seed); "
                        f"use another --out")
    done = {r.point.key(): r for r in existing}
    todo = [(base, p, derive_seed(base_seed, p), sweep_id) for p in points if p.key() not in done]
    new_rows = _execute(todo, out, processes, progress, run_points) if todo else []
    by_key = {**done, **{r.point.key(): r for r in new_rows}}
    return [by_key[p.key()] for p in points if p.key() in by_key]


def _die_with_parent(parent: int) -> None:
    """Pool workers end when the sweep's process ends, however it ends. Pool's own clean-up runs
    only when the parent exits normally; after a kill -9 or an unhandled SIGTERM its workers
    would otherwise live on, orphaned, each holding a core."""
    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)
    threading.Thread(target=watch, daemon=True, name="die-with-parent").start()


def _execute(todo, out: Path, processes: int | None, progress: bool, run_points=None) -> list[SweepRow]:
    processes = max(1, min(processes or os.cpu_count() or 1, len(todo)))
    new_file = not out.exists() or out.stat().st_size == 0
    if out.parent and not out.parent.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    with open(out, "a", newline="") as fh, tqdm(total=len(todo), disable=not progress, file=sys.stderr,
                                                 desc="sweep", unit="run") as bar:
        writer = csv.DictWriter(fh, fieldnames=ROW_FIELDS)
        if new_file:
            writer.writeheader()
            fh.flush()

        def emit(row: SweepRow):
            writer.writerow(row.cells())
            fh.flush()
            rows.append(row)
            bar.update(1)

        if run_points is not None:
            for row in run_points(todo):
                emit(row)
        elif processes == 1:
            for task in todo:
                emit(run_point(task))
        else:
            ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
            # Small chunks: a worker takes a few consecutive runs (often repetitions of one
            # point, which share a build), rows still stream back as each chunk ends, and an
            # interrupted sweep loses at most a few runs per worker.
            chunksize = max(1, min(8, len(todo) // (processes * 8)))
            with ctx.Pool(processes, initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
                for row in pool.imap_unordered(run_point, todo, chunksize=chunksize):
                    emit(row)
    return rows


# ------------------------------------------------------------------------- summary
@dataclass(frozen=True)
class PointSummary:
    """All repetitions of one point: the mean and 95 % Student-t interval of its job duration and
    fairness index, and the mean of its most tasks on one host."""

    spark_version: str
    nodes: int
    partitions: int | None
    wait: str
    runs: int
    duration_mean: float
    duration_low: float
    duration_high: float
    fairness_mean: float
    fairness_low: float
    fairness_high: float
    max_tasks_mean: float


def point_summaries(rows: Iterable[SweepRow]) -> list[PointSummary]:
    groups: dict[tuple, list[SweepRow]] = {}
    for row in rows:  # waits compared by value: 3s and 3000ms are one point
        key = (row.spark_version, row.nodes, row.partitions, parse_duration_ms(row.wait, "wait"))
        groups.setdefault(key, []).append(row)
    out = []
    for group in groups.values():
        first = group[0]
        dur = mean_interval([r.job_duration_s for r in group])
        fair = mean_interval([r.fairness_index for r in group])
        most = mean_interval([float(r.max_tasks_per_host) for r in group])
        out.append(PointSummary(first.spark_version, first.nodes, first.partitions, first.wait, len(group),
                                *dur, *fair, most[0]))
    return out


def format_summary(summary: Sequence[PointSummary]) -> str:
    head = f"{'spark':>5} {'nodes':>5} {'parts':>5} {'wait':>6} {'runs':>4}  " \
           f"{'job duration s (95% CI)':>26}  {'fairness (95% CI)':>22}  {'max/host':>8}"
    lines = [head, "-" * len(head)]
    for s in summary:
        lines.append(
            f"{s.spark_version:>5} {s.nodes:>5} {s.partitions or '-':>5} {s.wait:>6} {s.runs:>4}  "
            f"{s.duration_mean:8.2f} [{s.duration_low:7.2f}, {s.duration_high:7.2f}]  "
            f"{s.fairness_mean:6.3f} [{s.fairness_low:5.3f}, {s.fairness_high:5.3f}]  "
            f"{s.max_tasks_mean:8.1f}")
    return "\n".join(lines)

"""Parameter sweeps: many runs over nodes x partitions x wait (x Spark version) x repetitions.

The grid is every combination of the given values, each repeated `reps` times with its own
seed, derived from the base seed and the point (SHA-256 of both), so a point's result never
depends on which other points are in the sweep, on the order runs finish in, or on the number
of processes. Runs go to a process pool; each finished run is appended to the CSV at once
(and flushed), so an interrupted sweep resumes where it stopped: rows already in the file,
matched by their point and the sweep's fingerprint (`sweep_id`, a hash of everything else
that defines the runs), are not redone. The summary gives, per point, the mean and a 95%
Student-t interval of the job duration and the fairness index.
"""

from __future__ import annotations

import csv
import hashlib
import json
import multiprocessing
import os
import re
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.sparkconf import parse_duration_ms

from sparkdelay.sim.model.metrics import mean_interval
from sparkdelay.app.runspec import RunSpec

ROW_FIELDS = [
    "sweep_id", "spark_version", "nodes", "partitions", "wait", "rep", "seed",
    "job_duration_s", "stage_durations_s", "fairness_index", "max_tasks_per_host", "hosts_used",
    "tasks_per_host", "locality_counts",
]
POINT_FIELDS = ("spark_version", "nodes", "partitions", "wait")

_RANGE = re.compile(r"^\s*(-?\d+)\s*-\s*(-?\d+)\s*(?::\s*(\d+))?\s*$")


# ------------------------------------------------------------------------- parsing lists
def parse_int_list(text: str | None, name: str, minimum: int = 1) -> list[int] | None:
    """"1-5", "1-40:5" (step), "1,3,8", or a mix "1-3,8"; None stays None (= the default)."""
    if text is None:
        return None
    values: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            raise UserError(f"{name}: empty item in {text!r}")
        m = _RANGE.match(part)
        try:
            if m:
                lo, hi, step = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
                if step < 1 or hi < lo:
                    raise UserError(f"{name}: {part!r} is not an increasing range")
                values.extend(range(lo, hi + 1, step))
            else:
                values.append(int(part))
        except ValueError:
            raise UserError(f"{name}: expected whole numbers, ranges a-b or a-b:step, got {part!r}") from None
    for v in values:
        if v < minimum:
            raise UserError(f"{name}: must be at least {minimum}, got {v}")
    return list(dict.fromkeys(values))


def parse_text_list(text: str | None, name: str) -> list[str] | None:
    if text is None:
        return None
    items = [p.strip() for p in str(text).split(",")]
    if any(not p for p in items):
        raise UserError(f"{name}: empty item in {text!r}")
    return list(dict.fromkeys(items))


def parse_wait_list(text: str | None, name: str = "--wait") -> list[str] | None:
    items = parse_text_list(text, name)
    for item in items or ():
        parse_duration_ms(item, name)
    return items


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
    fixed = asdict(base)
    for k in ("nodes", "partitions", "wait", "spark_version"):
        fixed.pop(k)
    for k in ("cluster_path", "job_path", "model_path"):
        if fixed[k]:
            path = Path(fixed[k])
            fixed[k] = [str(path.resolve()), hashlib.sha256(path.read_bytes()).hexdigest()[:16]] \
                if path.exists() else str(path)
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


# ------------------------------------------------------------------------- running
@lru_cache(maxsize=256)
def _built(spec: RunSpec):
    """(cluster, job, model, scheduler conf) of one configuration, built once per process.

    The repetitions of a point differ only in their seed; building is deterministic and its
    results are immutable (the engine only reads them), so they are shared across runs. This
    also keeps the job's hashed partitions (`PySparkJob.reduce_members`) computed once."""
    cluster, job, model = spec.build()
    return cluster, job, model, cluster.scheduler_conf()


def run_point(task: tuple[RunSpec, SweepPoint, int, str]) -> dict:
    """Run one point (in a worker process) and return its CSV row."""
    from sparkdelay.sim.model.engine import simulate

    base, point, seed, sweep_id = task
    cluster, job, model, conf = _built(point_spec(base, point))
    result = simulate(cluster, job, model, seed, conf=conf)
    s = result.summary()
    return {
        "sweep_id": sweep_id, "spark_version": point.spark_version, "nodes": point.nodes,
        "partitions": "" if point.partitions is None else point.partitions, "wait": point.wait,
        "rep": point.rep, "seed": seed,
        "job_duration_s": round(s["job_duration_s"], 6),
        "stage_durations_s": json.dumps([round(d, 6) for d in s["stage_durations_s"]]),
        "fairness_index": round(s["fairness_index"], 6),
        "max_tasks_per_host": s["max_tasks_per_host"], "hosts_used": s["hosts_used"],
        "tasks_per_host": json.dumps(s["tasks_per_host"]),
        "locality_counts": json.dumps(s["locality_counts"]),
    }


def read_rows(path: Path) -> list[dict]:
    if not path.exists() or path.stat().st_size == 0:
        return []
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != ROW_FIELDS:
            raise UserError(f"{path}: not a sparkdelay sweep file (columns differ); use another --out")
        return [row for row in reader if row.get("rep") not in (None, "")]


def _row_key(row: dict) -> tuple:
    return (row["spark_version"], int(row["nodes"]), "" if row["partitions"] in ("", None) else int(row["partitions"]),
            parse_duration_ms(row["wait"], "wait"), int(row["rep"]))


def run_sweep(base: RunSpec, out: str | Path, nodes: Sequence[int] | None = None,
              partitions: Sequence[int] | None = None, waits: Sequence[str] | None = None,
              versions: Sequence[str] | None = None, reps: int = 10, base_seed: int = 0,
              processes: int | None = None, progress: bool = True) -> list[dict]:
    """Run (or finish) a sweep; returns all its rows, in grid order, as read back from `out`."""
    out = Path(out)
    points = grid(base, nodes, partitions, waits, versions, reps)
    sweep_id = sweep_fingerprint(base, base_seed)
    existing = read_rows(out)
    foreign = [r for r in existing if r["sweep_id"] != sweep_id]
    if foreign:
        raise UserError(f"{out}: holds rows of a different sweep (other cluster, job, model or seed); "
                        f"use another --out")
    done = {_row_key(r): r for r in existing}
    todo = [(base, p, derive_seed(base_seed, p), sweep_id) for p in points if p.key() not in done]
    new_rows: list[dict] = []
    if todo:
        new_rows = _execute(todo, out, processes, progress)
    by_key = {**done, **{_row_key(_as_text(r)): _as_text(r) for r in new_rows}}
    return [by_key[p.key()] for p in points if p.key() in by_key]


def _as_text(row: dict) -> dict:
    return {k: str(v) for k, v in row.items()}


def _execute(todo, out: Path, processes: int | None, progress: bool) -> list[dict]:
    from tqdm import tqdm

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

        def emit(row):
            writer.writerow(row)
            fh.flush()
            rows.append(row)
            bar.update(1)

        if processes == 1:
            for task in todo:
                emit(run_point(task))
        else:
            ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
            # Small chunks: a worker takes a few consecutive runs (often repetitions of one
            # point, which share a build), rows still stream back as each chunk ends, and an
            # interrupted sweep loses at most a few runs per worker.
            chunksize = max(1, min(8, len(todo) // (processes * 8)))
            with ctx.Pool(processes) as pool:
                for row in pool.imap_unordered(run_point, todo, chunksize=chunksize):
                    emit(row)
    return rows


# ------------------------------------------------------------------------- summary
def summarize_rows(rows: Iterable[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for row in rows:  # waits compared by value: 3s and 3000ms are one point
        key = (row["spark_version"], row["nodes"], row["partitions"], parse_duration_ms(row["wait"], "wait"))
        groups.setdefault(key, []).append(row)
    out = []
    for group in groups.values():
        key = tuple(group[0][k] for k in POINT_FIELDS)
        dur = mean_interval([float(r["job_duration_s"]) for r in group])
        fair = mean_interval([float(r["fairness_index"]) for r in group])
        most = mean_interval([float(r["max_tasks_per_host"]) for r in group])
        out.append({**dict(zip(POINT_FIELDS, key)), "runs": len(group),
                    "duration_mean": dur[0], "duration_low": dur[1], "duration_high": dur[2],
                    "fairness_mean": fair[0], "fairness_low": fair[1], "fairness_high": fair[2],
                    "max_tasks_mean": most[0]})
    return out


def format_summary(summary: Sequence[dict]) -> str:
    head = f"{'spark':>5} {'nodes':>5} {'parts':>5} {'wait':>6} {'runs':>4}  " \
           f"{'job duration s (95% CI)':>26}  {'fairness (95% CI)':>22}  {'max/host':>8}"
    lines = [head, "-" * len(head)]
    for s in summary:
        lines.append(
            f"{s['spark_version']:>5} {s['nodes']:>5} {s['partitions'] or '-':>5} {s['wait']:>6} {s['runs']:>4}  "
            f"{s['duration_mean']:8.2f} [{s['duration_low']:7.2f}, {s['duration_high']:7.2f}]  "
            f"{s['fairness_mean']:6.3f} [{s['fairness_low']:5.3f}, {s['fairness_high']:5.3f}]  "
            f"{s['max_tasks_mean']:8.1f}")
    return "\n".join(lines)

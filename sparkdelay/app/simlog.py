"""Simulated runs written as Spark event logs (`--event-log DIR` of `simulate` and `sweep`).

A log is named as Spark Standalone names an application, `app-<yyyyMMddHHmmss>-<counter>`: the
time is the writer's fixed start instant (so simulated runs line up in the History Server), the
counter is 8 digits of a SHA-256 of everything that defines the run (its cluster, job and model,
by content, the swept values and the seed). The same inputs and seed always give the same id and
the same bytes; two different runs practically never share an id. A sweep writes the logs of its
first `--keep` runs in sweep order only (at most `MAX_KEEP`): a History Server lists every file
of its folder, and thousands of near-identical runs are not something to read in a UI.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from sparkdelay.app.runspec import RunSpec

from sparkdelay.ground.errors import UserError

from sparkdelay.eventlog.writer import CODECS, DEFAULT_START_MS, write_eventlog

# RunSpec only in annotations: the CLI imports this module to build its parser, and run specs
# (the model, numpy) would add about 0.15 s to `sparkdelay --help` (python -X importtime).

MAX_KEEP = 1000
DEFAULT_CODEC = "zstd"


def _spec_text(spec: RunSpec) -> str:
    """The spec as text, files by their contents (so a copy of a file names the same run)."""
    from sparkdelay.app.runspec import IN_PROCESS_INPUTS

    fixed = {}
    for f in fields(spec):
        value = getattr(spec, f.name)
        if f.name in ("cluster_path", "job_path", "model_path") and value:
            path = Path(value)
            value = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else str(path)
        elif f.name in IN_PROCESS_INPUTS and value is not None:
            value = hashlib.sha256(repr(value).encode()).hexdigest()   # a dataclass repr spells every field
        fixed[f.name] = value
    return json.dumps(fixed, sort_keys=True, default=str)


def app_id(spec: RunSpec, seed: int) -> str:
    """Spark's `app-<time>-<counter>` form, deterministic from the run's inputs and seed."""
    stamp = datetime.fromtimestamp(DEFAULT_START_MS / 1000, tz=timezone.utc).strftime("%Y%m%d%H%M%S")
    digest = hashlib.sha256(f"{_spec_text(spec)}|seed={seed}".encode()).digest()
    return f"app-{stamp}-{int.from_bytes(digest[:8], 'big') % 10**8:08d}"


def app_name(spec: RunSpec, cluster, seed: int) -> str:
    """The name the History Server lists: what was simulated, in a few words."""
    what = spec.job_path or spec.preset or "study2017"
    parts = [f"sparkdelay simulation: {Path(what).name}", f"{len(cluster.hosts)} hosts"]
    if spec.partitions is not None:
        parts.append(f"P={spec.partitions}")
    parts += [f"wait {cluster.config.get('spark.locality.wait', '3s')}", f"Spark {cluster.spark_version}",
              f"seed {seed}"]
    return ", ".join(parts)


def check_folder(folder: str | Path, codec: str) -> Path:
    """The `--event-log` folder, created if missing; bad input fails before any simulation."""
    if codec not in CODECS:
        raise UserError(f"--event-log-codec: expected one of {', '.join(CODECS)}, got {codec!r}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--event-log: {folder} exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--event-log: cannot create {folder}: {exc.strerror or exc}") from None
    return folder


def write_run_log(spec: RunSpec, seed: int, folder: str | Path, codec: str = DEFAULT_CODEC,
                  result=None, cluster=None) -> Path:
    """Write one run's log (simulated here unless its `result` and `cluster` are given)."""
    if result is None:
        from sparkdelay.sim.model.engine import simulate
        cluster, job, model = spec.build()
        result = simulate(cluster, job, model, seed=seed)
    properties = {"spark.sparkdelay.model": str(spec.model_path or "none (the preset's costs)")}
    try:
        return write_eventlog(result, cluster, folder, app_id=app_id(spec, seed), codec=codec,
                              app_name=app_name(spec, cluster, seed), properties=properties)
    except UserError as exc:
        raise UserError(f"--event-log: {exc}") from None


def check_keep(keep: int) -> int:
    if not 1 <= keep <= MAX_KEEP:
        raise UserError(f"--keep: expected 1 to {MAX_KEEP} runs to write event logs of, got {keep}")
    return keep


def write_sweep_logs(base: RunSpec, rows: Sequence, folder: str | Path, keep: int,
                     codec: str = DEFAULT_CODEC) -> list[Path]:
    """The logs of the first `keep` runs of a sweep (rows in sweep order), each simulated again
    with its own seed: the run is deterministic, so the log is the very run its row measured."""
    from sparkdelay.app.sweep import point_spec

    return [write_run_log(point_spec(base, row.point), row.seed, folder, codec) for row in rows[:keep]]


def add_event_log_arguments(parser, sweep: bool = False) -> None:
    """`--event-log DIR`, `--event-log-codec` (and for a sweep `--keep N`)."""
    parser.add_argument("--event-log", metavar="DIR",
                        help="write the simulated run" + ("s" if sweep else "") +
                             " as Spark event logs into DIR (open them with `sparkdelay history start --dir DIR`)")
    parser.add_argument("--event-log-codec", choices=CODECS, default=DEFAULT_CODEC,
                        help=f"compression of the event logs, as spark.eventLog.compression.codec (default {DEFAULT_CODEC})")
    if sweep:
        parser.add_argument("--keep", type=int, default=None, metavar="N",
                            help=f"with --event-log: logs of the first N runs in sweep order only "
                                 f"(default 1, at most {MAX_KEEP})")

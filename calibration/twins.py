"""The simulated twin of a real run: the model's simulation of that run, as a Spark event log.

Validation simulates each real run as its own event log describes it (`validate.measured_run`);
the twin is one of those simulations, the one with the comparison's first seed, written by
`eventlog.writer` so that Spark's History Server shows it next to the real run. It keeps what the
real run had: its Spark properties (the configuration: the locality waits, cores, hash seed), its
stage names (the call sites) and the wall-clock instant its measured job was submitted, which is
the twin's t = 0, so both runs sit at the same time in the History Server's list and their
timelines line up. What makes it a twin, in its Environment tab: `spark.sparkdelay.simulated=true`,
`spark.sparkdelay.twinOf=<the real run's application id>`, the seed and the model. Its
application id is the real one with `-twin` appended, and its name says whose twin it is.

Everything in a twin comes from the real log, the model and the seed, so the same inputs always
write the same bytes (a report that holds twins stays deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.engine import simulate

from sparkdelay.eventlog.log import EventLog
from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.eventlog.shuffle_job import measured_job
from sparkdelay.eventlog.writer import write_eventlog

from sparkdelay.calibration.validate import MeasuredRun

TWIN_KEY = "spark.sparkdelay.twinOf"
TWIN_SUFFIX = "-twin"
# Keys of the real run that would be wrong in its twin: its identity (the writer sets the
# twin's), where Spark's event logger wrote, and marks of an earlier simulation.
NOT_COPIED = ("spark.app.id", "spark.app.name", "spark.app.startTime", "spark.app.submitTime")
NOT_COPIED_PREFIXES = ("spark.eventLog.", "spark.sparkdelay.")


@dataclass(frozen=True)
class Twin:
    real_app_id: str
    app_id: str
    path: Path


def twin_id(real_app_id: str) -> str:
    return real_app_id + TWIN_SUFFIX


def _properties(log: EventLog, real_id: str, seed: int, model_label: str) -> dict[str, str]:
    props = {k: v for k, v in log.properties.items()
             if k not in NOT_COPIED and not k.startswith(NOT_COPIED_PREFIXES)}
    props.update({TWIN_KEY: real_id, "spark.sparkdelay.seed": str(seed), "spark.sparkdelay.model": model_label})
    return props


def write_twin(run: MeasuredRun, model: CostModel, folder: str | Path, seed: int = 0, codec: str = "zstd",
               model_label: str = "", log: EventLog | None = None) -> Twin:
    """Simulate `run` once with `seed` and write it as `<folder>/<real id>-twin[.zstd]`."""
    log = log if log is not None else read_eventlog(run.log)
    real_id = log.app_id or Path(run.log).name.split(".")[0]
    result = simulate(run.cluster, run.job, model, seed=seed)
    shuffle = measured_job(log)   # measured_run found it, so it is there
    real_stages = sorted(shuffle.maps + [shuffle.result], key=lambda s: s.stage_id)
    names = [s.name for s in real_stages] if len(real_stages) == len(result.stage_names) else None
    workload = run.job.pyspark.workload
    name = (f"twin of {real_id} ({log.app_name or 'unnamed'}), simulated: {len(run.cluster.hosts)} hosts, "
            f"P={run.job.pyspark.partitions}, wait {run.wait}, seed {seed}")
    path = write_eventlog(result, run.cluster, folder, app_id=twin_id(real_id), codec=codec, app_name=name,
                          start_ms=shuffle.job.submission_ms, item_bytes=workload.item_bytes,
                          properties=_properties(log, real_id, seed, model_label or "unnamed model"),
                          stage_names=names)
    return Twin(real_id, twin_id(real_id), path)


def write_twins(runs: list[MeasuredRun], model: CostModel, folder: str | Path, seed: int = 0, codec: str = "zstd",
                model_label: str = "") -> list[Twin]:
    """The twins of `runs`, in their order."""
    return [write_twin(r, model, folder, seed, codec, model_label) for r in runs]

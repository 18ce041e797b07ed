"""The whole calibration in one call: find logs, parse them, extract samples, fit, document.

Kept apart from the command so tests and notebooks can calibrate without argparse; the command
(`sparkdelay.app.commands.calibrate`) only adds the summary printing and the output file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sparkdelay.sim.model.cluster import load_machines
from sparkdelay.sim.model.job import load_workload
from sparkdelay.eventlog.discover import find_logs
from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.calibration.fit import ModelFit, fit_model, model_document
from sparkdelay.calibration.samples import LogSamples, samples_from_log


def calibrate(log_args: list[str | Path], cluster: str | Path | None = None, workload: str | Path | None = None,
              local_cores: int | None = None) -> tuple[ModelFit, dict, list[LogSamples]]:
    """Fit the cost model to every log named by `log_args`; return (fit, model.json dict, per-log samples)."""
    machines = load_machines(cluster)
    if local_cores is not None:
        machines = replace(machines, local_cores=local_cores)
    wl = load_workload(workload)
    per_log = [samples_from_log(read_eventlog(p), machines, wl) for p in find_logs(log_args)]
    tasks = [t for s in per_log for t in s.tasks]
    jobs = [j for s in per_log for j in s.jobs]
    fit = fit_model(tasks, jobs)
    doc = model_document(fit, [s.path for s in per_log], None if cluster is None else str(cluster),
                         None if workload is None else str(workload))
    doc["fit_report"]["local_cores"] = machines.local_cores
    return fit, doc, per_log

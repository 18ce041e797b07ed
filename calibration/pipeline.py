"""The whole calibration in one call: find logs, parse them, extract samples, fit, document.

Kept apart from the command so tests and notebooks can calibrate without argparse; the command
(`sparkdelay.app.commands.calibrate`) only adds the summary printing and the output file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

from sparkdelay.sim.model.cluster import load_machines
from sparkdelay.sim.model.job import load_workload
from sparkdelay.eventlog.discover import find_logs, recorded_loads
from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.calibration.fit import ModelFit, _driver, fit_model, model_document
from sparkdelay.calibration.samples import LogSamples, samples_from_log
from sparkdelay.calibration.heldout import row_workload
from sparkdelay.calibration.trace_fit import calibrate_traces, held_unidentified, trace_run
from sparkdelay.eventlog.run_index import read_index, recorded_partitioners
from sparkdelay.sim.model.job import PySparkWorkload
from sparkdelay.calibration.validate import calibrated_range, measured_run
from sparkdelay.ground.errors import UserError

METHODS = ("linear", "trace")


def recorded_workloads(log_args: list[str | Path]) -> dict[Path, PySparkWorkload]:
    """Event log -> the workload its `sparkdelay run` row records, for every index.jsonl argument."""
    out = {}
    for arg in log_args:
        path = Path(arg)
        if path.is_file() and path.name.endswith(".jsonl"):
            for row in read_index(path).rows:
                log = row.event_log()
                if log is not None and "key_format" in row.fields:
                    out[log.resolve()] = row_workload(row.fields, row.where)
    return out


def _with_partitioner(workload: PySparkWorkload | None, partitioner: str | None) -> PySparkWorkload | None:
    if workload is None or partitioner is None:
        return workload
    return replace(workload, partitioner=partitioner)


def calibrate(log_args: list[str | Path], cluster: str | Path | None = None, workload: str | Path | None = None,
              local_cores: int | None = None, method: str = "trace",
              max_load: float | None = None,
              platform: dict[str, float] | str | None = None,
              progress: Callable[[str], None] | None = None) -> tuple[ModelFit, dict, list[LogSamples]]:
    """Fit the cost model to every log named by `log_args`; return (fit, model.json dict, per-log samples).

    `linear` fits CPU demands recovered under processor sharing; `trace` replays the logs through
    the model's machine and chooses its terms by cross-validation (`calibration.trace_fit`); its
    choices are in the document's `fit_report.terms`. With `max_load`, runs whose index row
    recorded a higher 1-minute load at their start are left out (and counted in the notes).
    `platform` is the trace fit's (`calibrate_traces`): None holds the platform's terms at the
    bundled platform file's values, {} leaves them off, "fit" fits them from the logs; `progress`
    hears of each step of its term selection."""
    machines = load_machines(cluster)
    if local_cores is not None:
        machines = replace(machines, local_cores=local_cores)
    wl = load_workload(workload)
    paths = find_logs(log_args)
    loaded: list[Path] = []
    if max_load is not None:
        loads = recorded_loads(log_args)
        loaded = [p for p in paths if loads.get(p.resolve(), 0.0) > max_load]
        paths = [p for p in paths if p not in loaded]
        if not paths:
            raise UserError(f"{' '.join(map(str, log_args))}: every run was recorded under a 1-minute load "
                            f"above {max_load:g} (--max-load): nothing left to fit")
    logs = [read_eventlog(p) for p in paths]
    recorded = recorded_workloads(log_args)
    # One --workload for every log; without one, each run's own index row says what its job held.
    # How partitionBy split the keys (hash or even) is always the row's, where a row recorded it.
    parts = recorded_partitioners(log_args)
    wl_of = {log.path: _with_partitioner(wl or recorded.get(Path(log.path).resolve()),
                                         parts.get(Path(log.path).resolve())) for log in logs}
    per_log = [samples_from_log(log, machines, wl_of[log.path]) for log in logs]
    tasks = [t for s in per_log for t in s.tasks]
    jobs = [j for s in per_log for j in s.jobs]
    named = ", ".join(map(str, log_args[:3])) + (" ..." if len(log_args) > 3 else "")
    if not any(t.kind == "reduce" for t in tasks):
        # Said here, where the logs are known: the fit itself only sees their tasks.
        raise UserError(f"{named}: no successful reduce tasks of a PySpark shuffle job (partitionBy -> collect) "
                        f"in {'this log' if len(logs) == 1 else f'these {len(logs)} logs'}")
    fit = fit_model(tasks, jobs)
    doc = model_document(fit, [s.path for s in per_log], None if cluster is None else str(cluster),
                         None if workload is None else str(workload))
    doc["fit_report"]["local_cores"] = machines.local_cores
    if loaded:
        doc["fit_report"]["notes"].append(f"{len(loaded)} run(s) recorded under a 1-minute load above "
                                          f"{max_load:g} left out (--max-load)")
        doc["fit_report"]["left_out_under_load"] = [str(p) for p in loaded]
    measured = []
    for log in logs:
        try:
            measured.append(measured_run(log, machines, wl_of[log.path], parts.get(Path(log.path).resolve())))
        except UserError:
            pass   # a log validation cannot simulate adds nothing to the range it can vouch for
    doc["calibrated_range"] = calibrated_range(measured)
    if method == "trace":
        runs = [r for log in logs if (r := trace_run(log, machines, wl_of[log.path])) is not None]
        if not runs:
            raise UserError(f"{named}: no PySpark shuffle job with its submission and completion logged "
                            f"to replay (--method trace); --method linear fits the tasks alone")
        cal = calibrate_traces(runs, _driver(jobs)[0], fixed=held_unidentified(fit.unidentified), platform=platform,
                               progress=progress)
        doc["params"] = {k: v for k, v in cal.model.__dict__.items()}
        doc["uncertainty"] = {}
        doc["fit_report"]["method"] = "trace"
        doc["fit_report"]["terms"] = {
            "kept": list(cal.fit.terms),
            "choices": [{"term": c.term, "kept": c.kept, "cv_task_error_without": round(c.cv_error_without, 4),
                         "cv_task_error_with": round(c.cv_error_with, 4)} for c in cal.choices],
            "task_duration_error": round(cal.fit.task_error, 4),
            "job_span_error": round(cal.fit.span_error, 4),
            "held": dict(cal.held),
        }
    return fit, doc, per_log

"""`sparkdelay inspect LOG...`: what an event log says, per application, job and stage.

LOG is an event-log file (any codec Spark writes, in progress or not), a rolling
`eventlog_v2_*` folder, a Spark 1.x log folder, or a folder of logs (every log in it, found by
`eventlog.discover`). The numbers are `sparkdelay.eventlog.summary`'s (its docstring defines each):
per stage task counts, duration, task-time quantiles, skew, locality levels, executors and hosts,
input, shuffle read and write, CPU vs run time and GC time; per job duration, stages, "Parent IDs"
and the critical path; the driver's time between jobs.

The default output is aligned plain text; `--json` prints one JSON document
`{"applications": [...], "skipped": [...]}`; `--csv FILE` writes one row per stage attempt (of
every log) and prints the text. A log that cannot be read stops the command with one line (exit
2), unless `--skip-bad`: then it is left out and named, with the reason, in a summary at the end
(on stderr with `--json`, so stdout stays one document).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import sys

from sparkdelay.app.argtypes import input_path, output_file
from sparkdelay.ground.errors import UserError

NAME = "inspect"
HELP = "summarise any Spark event log: jobs, stages, task times, skew, locality, shuffle, driver gaps"


def add_arguments(parser) -> None:
    parser.add_argument("logs", nargs="+", type=input_path, metavar="LOG",
                        help="event logs, rolling eventlog_v2_* folders, Spark 1.x log folders, or folders of logs")
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    out.add_argument("--csv", type=output_file, metavar="FILE", help="also write one row per stage attempt to FILE")
    parser.add_argument("--skip-bad", action="store_true",
                        help="leave out logs that cannot be read and list them (with why) at the end")


# ---------------------------------------------------------------------------------------------
# Plain text


def _s(ms) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f}s"


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n}B"


def _table(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    # Numbers read best right-aligned; the last column (names, lists) is left-aligned.
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    def line(r):
        cells = [c.rjust(w) if i < len(r) - 1 else c for i, (c, w) in enumerate(zip(r, widths))]
        return (indent + "  ".join(cells)).rstrip()
    return [line(header)] + [line(r) for r in rows]


def _path(job) -> str:
    if job.critical_path is None:
        return "? (no \"Parent IDs\" in the log)"
    return " -> ".join(map(str, job.critical_path)) + (f" ({_s(job.critical_path_ms)})" if job.critical_path else "")


def _n(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _counts(c) -> str:
    extra = [f"{n} {what}" for n, what in ((c.failed, "failed"), (c.killed, "killed"),
                                           (c.running, "running"), (c.speculative, "speculative")) if n]
    return f"{_n(c.tasks, 'task')} ({c.succeeded} succeeded{', ' + ', '.join(extra) if extra else ''})"


def _loc(loc: dict) -> str:
    return ", ".join(f"{level} {n}" for level, n in loc.items() if n) or "-"


def render(app) -> list[str]:
    from sparkdelay.eventlog.summary import LOCALITY_LEVELS

    out = [f"{app.app_id or '(no app id)'}  {app.app_name or ''}  Spark {app.spark_version or '?'}"
           f"{'  (in progress)' if app.in_progress else ''}  [{app.path}]".rstrip()]
    cores = sum(e.cores for e in app.executors)
    out.append(f"  {_s(app.duration_ms)} wall, {_n(len(app.executors), 'executor')} on {_n(len(app.hosts), 'host')} "
               f"({_n(cores, 'core')}), {_n(len(app.jobs), 'job')}, {_n(len(app.stages), 'stage attempt')}, "
               f"{_counts(app.counts)}")
    out.append(f"  locality: {_loc(app.locality)}")
    io = app.io
    out.append(f"  input {_bytes(io.input_bytes)} ({io.input_records} records), shuffle read "
               f"{_bytes(io.shuffle_read_bytes)} ({io.shuffle_read_records}), shuffle write "
               f"{_bytes(io.shuffle_write_bytes)} ({io.shuffle_write_records}); task run time {_s(io.run_time_ms)}, "
               f"CPU {'-' if io.cpu_per_run is None else f'{io.cpu_per_run:.0%}'} of it, GC {_s(io.gc_time_ms)}")
    out.append(f"  driver: {_s(app.before_first_job_ms)} before the first job, {_s(app.between_jobs_ms)} between "
               f"jobs, {_s(app.after_last_job_ms)} after the last")
    if app.jobs:
        out.append("")
        rows = [[str(j.job_id), j.result or "running", _s(j.duration_ms) + ("*" if j.duration_from == "stage times" else ""),
                 _s(j.gap_before_ms), f"{len(j.stages_run)}/{len(j.stage_ids)}", str(j.counts.tasks),
                 _path(j)]
                for j in app.jobs]
        out += _table(["job", "result", "duration", "gap before", "stages run", "tasks", "critical path"], rows)
        if any(j.duration_from == "stage times" for j in app.jobs):
            out.append("  * no job times in the log (Spark 1.2): the span of the job's stages")
    if app.stages:
        out.append("")
        extra = [k for k in app.locality if k not in LOCALITY_LEVELS]
        rows = []
        for s in app.stages:
            c, d = s.counts, s.task_duration
            rows.append([f"{s.stage_id}.{s.attempt}", "-" if s.job_id is None else str(s.job_id), str(c.tasks),
                         str(c.succeeded), str(c.failed), str(c.killed), str(c.speculative), _s(s.duration_ms),
                         _s(d.median), _s(d.p90), _s(d.max), "-" if s.skew is None else f"{s.skew:.2f}",
                         *(str(s.locality.get(k, 0)) for k in (*LOCALITY_LEVELS, *extra)),
                         str(len(s.executors)), str(len(s.hosts)), _bytes(s.io.input_bytes),
                         _bytes(s.io.shuffle_read_bytes), _bytes(s.io.shuffle_write_bytes),
                         "-" if s.io.cpu_per_run is None else f"{s.io.cpu_per_run:.0%}", _s(s.io.gc_time_ms),
                         ",".join(map(str, s.parent_ids)) or "-", s.name[:40]])
        out += _table(["stage", "job", "tasks", "ok", "fail", "kill", "spec", "duration", "task p50", "p90", "max",
                       "skew", *LOCALITY_LEVELS, *extra, "execs", "hosts", "input",
                       "shuf read", "shuf write", "cpu/run", "gc", "parents", "name"], rows)
        out.append("")
        out.append("  task times of succeeded tasks (s): launch -> finish | Executor Run Time")
        rows = []
        for s in app.stages:
            d, r = s.task_duration, s.run_time
            rows.append([f"{s.stage_id}.{s.attempt}", str(d.count),
                         *(_s(getattr(d, q)).rstrip("s") for q in ("min", "p25", "median", "p75", "p90", "max")), "|",
                         *(_s(getattr(r, q)).rstrip("s") for q in ("min", "p25", "median", "p75", "p90", "max")), ""])
        out += _table(["stage", "n", "min", "p25", "median", "p75", "p90", "max", "|",
                       "min", "p25", "median", "p75", "p90", "max", ""], rows)
    return out


# ---------------------------------------------------------------------------------------------
# CSV


def csv_rows(app) -> list[dict]:
    """One flat row per stage attempt of one application."""
    rows = []
    for s in app.stages:
        row = {"log": app.path, "app_id": app.app_id, "stage_id": s.stage_id, "attempt": s.attempt,
               "job_id": s.job_id, "name": s.name, "num_tasks": s.num_tasks,
               "parent_ids": json.dumps(s.parent_ids), "submission_ms": s.submission_ms,
               "completion_ms": s.completion_ms, "duration_ms": s.duration_ms, "skew": s.skew}
        row.update(dataclasses.asdict(s.counts))
        for prefix, q in (("task_duration", s.task_duration), ("run_time", s.run_time)):
            row.update({f"{prefix}_{k}_ms" if k != "count" else f"{prefix}_count": v
                        for k, v in dataclasses.asdict(q).items()})
        row.update({level: s.locality.get(level, 0) for level in _levels([app])})
        row.update({"executors": len(s.executors), "hosts": len(s.hosts)})
        row.update(dataclasses.asdict(s.io))
        row["failure_reason"] = s.failure_reason
        rows.append(row)
    return rows


def _levels(apps) -> list[str]:
    from sparkdelay.eventlog.summary import LOCALITY_LEVELS

    seen = list(LOCALITY_LEVELS)
    for app in apps:
        seen += [k for s in app.stages for k in s.locality if k not in seen]
    return seen


def write_csv(apps, path: str) -> int:
    rows = [row for app in apps for row in csv_rows(app)]
    fields = list(rows[0]) if rows else ["log", "app_id", "stage_id", "attempt"]
    for r in rows:   # logs may differ in extra locality levels: the union of columns, missing cells 0
        fields += [k for k in r if k not in fields]
    try:
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, restval=0)
            w.writeheader()
            w.writerows(rows)
    except OSError as exc:
        raise UserError(f"--csv {path}: cannot write ({exc.strerror})") from None
    return len(rows)


# ---------------------------------------------------------------------------------------------


def run(args) -> int:
    # Imported here, not at the top: the CLI imports every command module to build its parser.
    from sparkdelay.eventlog.discover import find_logs
    from sparkdelay.eventlog.reader import read_eventlog
    from sparkdelay.eventlog.summary import summarize

    apps, skipped = [], []
    for path in find_logs(args.logs):
        try:
            apps.append(summarize(read_eventlog(path)))
        except UserError as exc:
            if not args.skip_bad:
                raise
            skipped.append({"log": str(path), "reason": str(exc)})
    if not apps:
        raise UserError(f"none of the {len(skipped)} event log(s) could be read; first: {skipped[0]['reason']}")
    if args.json:
        doc = {"applications": [dataclasses.asdict(a) for a in apps], "skipped": skipped}
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for i, app in enumerate(apps):
            if i:
                print()
            print("\n".join(render(app)))
        if args.csv:
            n = write_csv(apps, args.csv)
            print(f"\nwrote {n} stage rows to {args.csv}")
    if skipped:
        stream = sys.stderr if args.json else sys.stdout
        print(f"\nskipped {len(skipped)} of {len(skipped) + len(apps)} event logs:", file=stream)
        for s in skipped:
            print(f"  {s['reason']}", file=stream)
    return 0

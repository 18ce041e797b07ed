"""Where a run's CPU went, from the sampler's per-process CPU seconds (cpu-*.jsonl.zst) and each
run's event log: `.venv/bin/python data/cpu-probe/analyse.py`.

Per run: the machine's CPU-seconds used and idle between the job's submission and its end, split
by kind of process. Per executor (matched to its JVM by host and registration time): the JVM's
CPU in the job and in the 2 s after its first task launch, and the tasks it ran. Per Python
daemon: its CPU by its first fork (the daemon's start), its CPU per later fork, and the spread
of its workers' fork times (PythonWorkerFactory forks one worker at a time, under its lock).
"""
import io, json, statistics as st
from pathlib import Path

import numpy as np
import zstandard

from sparkdelay.eventlog.reader import read_eventlog

root = Path(__file__).parent
samples, meta = [], {}
for f in sorted(root.glob("cpu-*.jsonl.zst")):
    with zstandard.ZstdDecompressor().stream_reader(f.open("rb")) as raw:
        for line in io.TextIOWrapper(raw, encoding="utf-8"):
            d = json.loads(line)
            if "new" in d:
                meta[d["new"]] = d
            else:
                samples.append(d)
T = np.array([s["t"] for s in samples])
series = {}
for i, s in enumerate(samples):
    for p, c in s["p"]:
        series.setdefault(p, ([], []))[0].append(s["t"])
        series[p][1].append(c)


def cpu_at(pid, t):
    """CPU seconds of pid at time t (epoch s): its last sample at or before t, 0 before its first."""
    ts, cs = series.get(pid, ([], []))
    i = int(np.searchsorted(ts, t, side="right")) - 1
    return cs[i] if i >= 0 else 0.0


def machine(t0, t1):
    a, b = samples[int(np.searchsorted(T, t0))]["sys"], samples[int(np.searchsorted(T, t1)) - 1]["sys"]
    return (b[0] - a[0]) + (b[1] - a[1]), b[2] - a[2]


jvm_rows, daemon_rows = [], []
for job in ("sleep", "pyloop"):
    for line in (root / job / "index.jsonl").open():
        row = json.loads(line)
        if row.get("status") != "ok":
            continue
        log = read_eventlog(root / job / row["event_log"])
        j = next(j for j in log.jobs if j.result == "JobSucceeded")
        t0, t1 = j.submission_ms / 1000, j.completion_ms / 1000
        map_stage = min(t.stage_id for t in log.tasks)
        first_reduce = min(t.launch_ms for t in log.tasks if t.stage_id != map_stage) / 1000
        used, idle = machine(t0, t1)
        kinds = {}
        print(f"== {job} N{row['nodes']} P{row['partitions']} rep{row['rep']}: job {t1 - t0:.2f} s, "
              f"machine {used:.1f} CPU-s used, {idle:.1f} idle (load at start {row.get('loadavg_1m')})")
        for e in log.executors:
            near = [(abs(m["create"] - e.added_ms / 1000), p) for p, m in meta.items()
                    if m["kind"] == "executor" and m.get("host") == e.host and m["create"] < e.added_ms / 1000 + 1]
            if not near or min(near)[0] > 15:
                continue
            pid = min(near)[1]
            tasks = [t for t in log.tasks if t.executor_id == e.executor_id]
            in_job = cpu_at(pid, t1) - cpu_at(pid, t0)
            ran_map = any(t.stage_id == map_stage for t in tasks)
            kinds["executor JVMs"] = kinds.get("executor JVMs", 0.0) + in_job
            if tasks:
                first = min(t.launch_ms for t in tasks) / 1000
                jvm_rows.append((job, ran_map, len(tasks), in_job, cpu_at(pid, first + 2) - cpu_at(pid, first)))
            daemons = [p for p, m in meta.items() if m["kind"] == "daemon" and m["ppid"] == pid]
            for d in daemons:
                forks = sorted(m["create"] for m in meta.values() if m["kind"] == "pyworker" and m["ppid"] == d)
                workers = [p for p, m in meta.items() if m["kind"] == "pyworker" and m["ppid"] == d]
                kinds["Python daemons"] = kinds.get("Python daemons", 0.0) + cpu_at(d, t1) - cpu_at(d, t0)
                kinds["Python workers"] = kinds.get("Python workers", 0.0) + sum(cpu_at(w, t1) - cpu_at(w, t0) for w in workers)
                if len(forks) >= 2:
                    start = cpu_at(d, forks[0])
                    per_fork = (cpu_at(d, forks[-1] + 0.3) - start) / (len(forks) - 1)
                    daemon_rows.append((job, ran_map, start, per_fork, meta[d]["create"] - first_reduce,
                                        forks[0] - meta[d]["create"], forks[-1] - forks[1] if len(forks) > 2 else 0.0))
                    print(f"   {e.host}: {len(tasks)} tasks{' (map host)' if ran_map else ''}; JVM {in_job:.2f} CPU-s in the job; "
                          f"daemon started {meta[d]['create'] - first_reduce:+.2f} s from the reduce stage's first launch, "
                          f"{start:.2f} CPU-s by its first fork, {len(forks)} forks over {forks[-1] - forks[0]:.2f} s")
        print("   CPU-s in the job by kind:", {k: round(v, 2) for k, v in kinds.items()})


def summary(values):
    return f"median {st.median(values):.2f} (range {min(values):.2f}-{max(values):.2f}, n={len(values)})"


print("\n== executor JVMs that ran tasks: CPU-s")
for label, keep in (("cold (no map task)", lambda r: not r[1]), ("map host", lambda r: r[1])):
    rows = [r for r in jvm_rows if keep(r)]
    slope, intercept = np.polyfit([r[2] for r in rows], [r[3] for r in rows], 1)
    print(f"   {label}: in the job {summary([r[3] for r in rows])}; in the 2 s after its first launch "
          f"{summary([r[4] for r in rows])}; least squares: {intercept:.2f} + {slope:.3f} per task")
print("== Python daemons")
for label, keep in (("started for the map task (idle machine)", lambda r: r[1]),
                    ("started on a cold executor (busy machine)", lambda r: not r[1])):
    rows = [r for r in daemon_rows if keep(r)]
    print(f"   {label}: CPU-s by the first fork {summary([r[2] for r in rows])}; CPU-s per later fork "
          f"{summary([r[3] for r in rows])}; start -> first fork {summary([r[5] for r in rows])} s; "
          f"2nd..last fork spread {summary([r[6] for r in rows])} s")
cold = [r for r in daemon_rows if not r[1]]
print(f"   cold executors: daemon started {summary([r[4] for r in cold])} s after the reduce stage's first launch")
rows = [r for r in jvm_rows if not r[1]]
slope, intercept = np.polyfit([r[2] for r in rows], [r[3] for r in rows], 1)
print(f"\nplatform (data/platform.json): executor_jit_s = {intercept:.2f} (a cold executor's JVM CPU beside "
      f"its tasks; {slope:.3f} per task more is each job's task overhead)")

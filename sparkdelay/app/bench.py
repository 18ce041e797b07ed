"""`make bench`: how fast the model runs on this machine, measured so anyone can rerun it.

    python -m sparkdelay.app.bench                 # everything -> reports/bench.json, bench_profile.txt
                                                   # (under the current directory; --out, --profile-out)
    python -m sparkdelay.app.bench --quick         # small sizes, one or two runs each (a smoke test)
    python -m sparkdelay.app.bench --only large_stage --only scaling   # updates those sections of
                                                                   # reports/bench.json (see "reruns")

Benchmarks (each figure is the median of several runs, with min and max and the load average
at the start of every run; the machine may be shared, so read them with the load):

- `simpy_raw_events_per_second`: a bare SimPy loop, one process yielding `env.timeout(1)`;
  and the callback form the engine uses (a timeout with one callback, no process). The
  engine cannot schedule tasks faster than this.
- `large_stage`: one stage of 100,000 tasks on 1,000 executors x 8 slots (each host its own
  8-core machine) whose tasks all prefer one of 10 % of the hosts, `spark.locality.wait` 3 s,
  Spark 4.0: wall seconds of `simulate()`, simulated tasks per second and peak RSS. Every run
  is a fresh subprocess (peak RSS is its VmHWM), so runs do not share caches or heap.
- `scaling`: the same shape at 10k, 100k and 1M tasks (1,000 executors throughout).
- `study_grid_seconds`: the study grid (N 1..5 x P 1..40 x waits 0/1/3 s x 10 reps = 6,000
  jobs, preset study2017) through `run_sweep` with every core, rows streamed to a temp CSV.
- `real_vs_model`: the bundled real runs (`data/runs/*/index.jsonl` of the installed package,
  `sparkdelay.app.bundled`: driver wall time and job
  duration of a real local Spark run) against the seconds needed to simulate the same
  configuration with the `local` preset.
- `trace_replay`: the trace fit's inner loop (`calibration.trace_fit.Replay`): replays per
  second of the bundled shared-machine runs with the platform's JIT burst and a daemon start
  (each replay iterates the daemons' and bursts' ends to their fixed point), and the seconds of
  one least-squares fit of the base terms on those runs. `calibrate`'s default trace fit runs
  some hundred such fits while it chooses the terms.
- `profile`: cProfile of the large stage, top functions by cumulative and by own time
  (`reports/bench_profile.txt`).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy
import simpy

from sparkdelay.eventlog.run_index import INDEX_NAME, read_index
from sparkdelay.sim.model.cluster import ClusterSpec
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.engine import simulate
from sparkdelay.sim.model.job import JobSpec, StageSpec
from sparkdelay.sim.policy.locality import TaskLocation

from sparkdelay.app.bundled import RUNS, SHARED_RUNS, WORKLOAD, bundled, shown
from sparkdelay.app.presets import local_cluster, study_job
from sparkdelay.app.runspec import RunSpec
from sparkdelay.app.sweep import run_sweep

REPORTS = Path("reports")     # default output folder, under the current directory (`make bench`: the repository's)

BENCHMARKS = ("simpy_raw", "large_stage", "scaling", "study_grid", "real_vs_model", "trace_replay", "profile")

# Targets on the reference machine (2 cores); checked and reported, never asserted in tests.
TARGETS = {
    "large_stage_tasks_per_second_min": 50_000,
    "scaling_1m_seconds_max": 60.0,
    "scaling_1m_peak_rss_mb_max": 2048,
    "study_grid_seconds_max": 20.0,
    "scaling_100k_to_1m_ratio_max": 12.0,
}


# ------------------------------------------------------------------------------ helpers
def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _spread(values: list[float], loads: list[list[float]] | None = None, **extra) -> dict:
    out = {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values),
           "values": values}
    if loads is not None:
        out["load_1m_at_start"] = [l[0] if l else None for l in loads]
    out.update(extra)
    return out


def _peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource   # POSIX only, and only where /proc is missing
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def machine_facts() -> dict:
    facts = {
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "simpy": simpy.__version__,
        "numpy": numpy.__version__,
        "load_average_at_start": _load(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return facts


# ------------------------------------------------------------------------------ the shapes
def large_stage(tasks: int, executors: int = 1000, slots: int = 8, pref_fraction: float = 0.1,
                wait: str = "3s", spark_version: str = "4.0", cpu_seconds: float = 2.0, cpu_sd: float = 0.5):
    """(cluster, job): `executors` executors of `slots` cores, one per host and machine; task i
    prefers host (i mod k) * (executors / k) for k = pref_fraction x executors hosts."""
    cluster = ClusterSpec.from_dict({
        "spark_version": spark_version,
        "config": {"spark.locality.wait": wait, "spark.executor.cores": str(slots)},
        "executors": {"count": executors, "cores": slots, "host": "host{i}"}})
    k = max(1, round(executors * pref_fraction))
    step = max(1, executors // k)
    pref = [(TaskLocation(f"host{h * step}"),) for h in range(k)]
    prefs = tuple(pref[i % k] for i in range(tasks))
    job = JobSpec(stages=(StageSpec("large", prefs, (float(cpu_seconds),) * tasks, cpu_sd, False),))
    return cluster, job


def _child_stage(tasks: int, executors: int, seed: int) -> dict:
    """In a fresh process: build the shape, simulate it once, report time and memory."""
    t0 = time.perf_counter()
    cluster, job = large_stage(tasks, executors)
    t1 = time.perf_counter()
    c0 = time.process_time()
    result = simulate(cluster, job, CostModel(), seed=seed)
    t2 = time.perf_counter()
    cpu = time.process_time() - c0
    m = result.metrics()
    return {"tasks": len(result.tasks), "build_s": t1 - t0, "simulate_s": t2 - t1, "cpu_s": cpu,
            "tasks_per_second": len(result.tasks) / (t2 - t1), "peak_rss_mb": _peak_rss_mb(),
            "simulated_job_s": result.job_duration_s, "locality_counts": m["locality_counts"],
            "hosts_used": m["hosts_used"]}


def _run_child(args: list[str]) -> dict:
    cmd = [sys.executable, "-m", "sparkdelay.app.bench", "--child", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({' '.join(args)}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _stage_runs(tasks: int, executors: int, runs: int) -> dict:
    results, loads = [], []
    for r in range(runs):
        loads.append(_load())
        results.append(_run_child(["stage", str(tasks), str(executors), str(r)]))
    secs = [x["simulate_s"] for x in results]
    rates = [x["tasks_per_second"] for x in results]
    rss = [x["peak_rss_mb"] for x in results]
    return {
        "tasks": tasks, "executors": executors, "slots_per_executor": 8,
        "seconds": _spread(secs, loads),
        "tasks_per_second": _spread(rates),
        "peak_rss_mb": _spread(rss),
        "cpu_seconds": _spread([x["cpu_s"] for x in results]),
        # CPU time of the child: what the rate would be on an otherwise idle core.
        "tasks_per_cpu_second": _spread([x["tasks"] / x["cpu_s"] for x in results]),
        "build_seconds": _spread([x["build_s"] for x in results]),
        "simulated_job_s": [x["simulated_job_s"] for x in results],
        "locality_counts_run0": results[0]["locality_counts"],
        "seeds": list(range(runs)),
    }


# ------------------------------------------------------------------------------ benchmarks
def bench_simpy_raw(quick: bool) -> dict:
    n = 200_000 if quick else 1_000_000
    runs = 2 if quick else 5

    def process_loop():
        env = simpy.Environment()

        def proc():
            timeout = env.timeout
            for _ in range(n):
                yield timeout(1)
        env.process(proc())
        t0 = time.perf_counter()
        env.run()
        return n / (time.perf_counter() - t0)

    def callback_loop():
        # One timeout per event with a callback, no generator: how the engine runs a task.
        env = simpy.Environment()
        left = [n]

        def fire(_ev):
            left[0] -= 1
            if left[0]:
                env.timeout(1).callbacks.append(fire)
        env.timeout(1).callbacks.append(fire)
        t0 = time.perf_counter()
        env.run()
        return n / (time.perf_counter() - t0)

    loads, proc_rates, cb_rates = [], [], []
    for _ in range(runs):
        loads.append(_load())
        proc_rates.append(process_loop())
        cb_rates.append(callback_loop())
    return {"events_per_run": n,
            "process_timeout_loop": _spread(proc_rates, loads),
            "callback_timeout_loop": _spread(cb_rates)}


def bench_large_stage(quick: bool) -> dict:
    tasks, executors = (10_000, 100) if quick else (100_000, 1000)
    return _stage_runs(tasks, executors, 2 if quick else 5)


def bench_scaling(quick: bool) -> dict:
    if quick:
        sizes = [(1_000, 100, 2), (10_000, 100, 2), (30_000, 100, 1)]
    else:
        sizes = [(10_000, 1000, 5), (100_000, 1000, 3), (1_000_000, 1000, 3)]
    out = {str(t): _stage_runs(t, e, r) for t, e, r in sizes}
    keys = [str(t) for t, _, _ in sizes]
    for a, b in zip(keys, keys[1:]):
        ratio = out[b]["seconds"]["median"] / out[a]["seconds"]["median"]
        cpu_ratio = out[b]["cpu_seconds"]["median"] / out[a]["cpu_seconds"]["median"]
        out[f"ratio_{a}_to_{b}"] = {"time_ratio": ratio, "cpu_time_ratio": cpu_ratio, "size_ratio": int(b) / int(a)}
    return out


def bench_study_grid(quick: bool) -> dict:
    if quick:
        nodes, parts, waits, reps, runs = [1, 2], list(range(1, 6)), ["0s", "3s"], 2, 1
    else:
        nodes, parts, waits, reps, runs = list(range(1, 6)), list(range(1, 41)), ["0s", "1s", "3s"], 10, 3
    jobs = len(nodes) * len(parts) * len(waits) * reps
    secs, loads = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "grid.csv"
            loads.append(_load())
            t0 = time.perf_counter()
            rows = run_sweep(RunSpec(preset="study2017"), out, nodes=nodes, partitions=parts, waits=waits,
                             reps=reps, processes=os.cpu_count(), progress=False)
            secs.append(time.perf_counter() - t0)
            assert len(rows) == jobs, (len(rows), jobs)
    return {"jobs": jobs, "processes": os.cpu_count(), "seconds": _spread(secs, loads),
            "jobs_per_second": jobs / statistics.median(secs),
            "grid": {"nodes": f"{nodes[0]}..{nodes[-1]}", "partitions": f"{parts[0]}..{parts[-1]}",
                     "waits": waits, "reps": reps, "preset": "study2017"}}


def _real_runs() -> list[dict]:
    runs = []
    for path in sorted(bundled(RUNS).glob(f"*/{INDEX_NAME}")):
        index = read_index(path, lenient=True)  # a sweep may be writing its last row right now
        if index.torn_note:
            print(index.torn_note, file=sys.stderr)
        for row in index.rows:
            if row.status == "ok" and row.fields.get("driver_wall_s"):
                runs.append({**row.fields, "_index": shown(path)})
    return runs


def bench_real_vs_model(quick: bool) -> dict:
    runs = _real_runs()
    if not runs:
        return {"available": False,
                "note": "no real run recorded yet: data/runs/*/index.jsonl has no run with status ok"}
    reps = 3 if quick else 5
    per_config = []
    for row in runs:
        cluster = local_cluster(int(row["nodes"]), str(row["wait"]), "4.0")
        job = study_job(int(row["partitions"]))
        secs = []
        for seed in range(reps):
            t0 = time.perf_counter()
            r = simulate(cluster, job, CostModel(), seed)
            secs.append(time.perf_counter() - t0)
        model_s = statistics.median(secs)
        per_config.append({
            "run_id": row["run_id"], "index": row["_index"], "nodes": row["nodes"],
            "partitions": row["partitions"], "wait": row["wait"],
            "real_driver_wall_s": row["driver_wall_s"], "real_job_duration_s": row["job_duration_ms"] / 1000.0,
            "real_loadavg_1m": row.get("loadavg_1m"),
            "model_wall_s": _spread(secs), "model_simulated_job_s": r.job_duration_s,
            "speedup_vs_driver_wall": row["driver_wall_s"] / model_s,
        })
    real_total = sum(p["real_driver_wall_s"] for p in per_config)
    model_total = sum(p["model_wall_s"]["median"] for p in per_config)
    # The example: the largest configuration recorded (most partitions, then most nodes).
    first = max(per_config, key=lambda p: (int(p["partitions"]), int(p["nodes"])))
    return {
        "available": True,
        "note": "real: one local Spark 4.0.1 run per row (driver wall time = start to results); model: "
                "the local preset with the same nodes/partitions/wait (default cost model), seconds of "
                f"simulate() (median of {reps} seeds)",
        "example": {k: first[k] for k in ("run_id", "nodes", "partitions", "wait", "real_driver_wall_s",
                                          "real_job_duration_s")} | {"model_wall_s": first["model_wall_s"]["median"],
                                                                     "speedup": first["speedup_vs_driver_wall"]},
        "real_runs": len(per_config),
        "real_driver_wall_total_s": real_total,
        "model_wall_total_s": model_total,
        "speedup_total": real_total / model_total,
        "per_config": per_config,
    }


def bench_trace_replay(quick: bool) -> dict:
    from sparkdelay.calibration.heldout import load_sweep
    from sparkdelay.calibration.platform import load_platform
    from sparkdelay.calibration.trace_fit import BASE_TERMS, OFF, Replay, fit_terms
    from sparkdelay.sim.model.job import load_workload

    runs = [r.trace for r in load_sweep("shared", bundled(SHARED_RUNS), load_workload(bundled(WORKLOAD)))
            if r.trace is not None]
    if quick:
        runs = runs[:3]
    # Typical values of the bundled MLP's fit, the platform's burst, and a daemon start: the
    # replay then runs its fixed-point passes, as most fits' replays do.
    params = {**OFF, "task_overhead_s": 0.3, "map_task_overhead_s": 0.5, "worker_startup_s": 1.0,
              "cpu_per_item_s": 0.3, "executor_start_s": 0.3, **load_platform()}
    replays = [Replay(r) for r in runs]
    rounds, reps = (2, 1) if quick else (20, 5)
    rates, loads = [], []
    for _ in range(reps):
        loads.append(_load())
        t0 = time.perf_counter()
        for _ in range(rounds):
            for rep in replays:
                rep.predict(params)
        rates.append(rounds * len(replays) / (time.perf_counter() - t0))
    fits, fit_loads = [], []
    for _ in range(1 if quick else 3):
        fit_loads.append(_load())
        t0 = time.perf_counter()
        fit_terms(runs, BASE_TERMS, dict(load_platform()))
        fits.append(time.perf_counter() - t0)
    return {"runs": len(runs), "tasks": sum(sum(t.fitted for t in r.tasks) for r in runs),
            "replays_per_second": _spread(rates, loads), "base_fit_seconds": _spread(fits, fit_loads)}


def bench_profile(quick: bool, out_path: Path | None) -> dict:
    tasks, executors = (10_000, 100) if quick else (100_000, 1000)
    cluster, job = large_stage(tasks, executors)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    simulate(cluster, job, CostModel(), seed=0)
    prof.disable()
    wall = time.perf_counter() - t0
    text = io.StringIO()
    text.write(f"cProfile of the large stage: {tasks} tasks on {executors} executors x 8 slots, prefs on 10% of "
               f"hosts, wait 3s, Spark 4.0, seed 0\n")
    text.write(f"wall under the profiler: {wall:.2f} s (the profiler roughly doubles it); load at start "
               f"{_load()}\n\n")
    for key, title in (("cumulative", "by cumulative time"), ("tottime", "by own (total) time")):
        text.write(f"==== top functions {title} ====\n")
        stats = pstats.Stats(prof, stream=text)
        stats.strip_dirs().sort_stats(key).print_stats(30)
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(text.getvalue())
    stats = pstats.Stats(prof)
    total = stats.total_tt
    top = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:10]
    return {"tasks": tasks, "profiled_wall_s": wall, "file": str(out_path) if out_path else None,
            "top_own_time": [{"function": f"{Path(fn[0]).name}:{fn[1]}({fn[2]})", "own_s": round(v[2], 3),
                              "share": round(v[2] / total, 3), "calls": v[1]} for fn, v in top]}


# ------------------------------------------------------------------------------ summary
def _targets(results: dict) -> dict:
    out = {}
    ls = results.get("large_stage")
    if ls and ls["tasks"] == 100_000:
        v = ls["tasks_per_second"]["median"]
        out["large_stage_tasks_per_second"] = {"target": f">= {TARGETS['large_stage_tasks_per_second_min']}",
                                               "measured": round(v), "met": v >= TARGETS["large_stage_tasks_per_second_min"]}
        if "tasks_per_cpu_second" in ls:
            c = ls["tasks_per_cpu_second"]["median"]
            out["large_stage_tasks_per_cpu_second"] = {
                "target": f">= {TARGETS['large_stage_tasks_per_second_min']} (wall target, on CPU time)",
                "measured": round(c), "met": c >= TARGETS["large_stage_tasks_per_second_min"]}
    sc = results.get("scaling")
    if sc and "1000000" in sc:
        s = sc["1000000"]["seconds"]["median"]
        rss = sc["1000000"]["peak_rss_mb"]["max"]
        out["scaling_1m_seconds"] = {"target": "< 60", "measured": round(s, 2), "met": s < 60}
        out["scaling_1m_peak_rss_mb"] = {"target": "< 2048", "measured": round(rss), "met": rss < 2048}
        ratio = sc["ratio_100000_to_1000000"]["time_ratio"]
        out["scaling_100k_to_1m_ratio"] = {"target": "<= 12", "measured": round(ratio, 2), "met": ratio <= 12}
    sg = results.get("study_grid_seconds")
    if sg and sg["jobs"] == 6000:
        s = sg["seconds"]["median"]
        out["study_grid_seconds"] = {"target": "< 20", "measured": round(s, 2), "met": s < 20}
    raw = results.get("simpy_raw_events_per_second")
    if raw and ls:
        r = raw["process_timeout_loop"]["median"]
        out["ratio_to_raw_simpy"] = {
            "raw_events_per_second": round(r),
            "simulated_tasks_per_second": round(ls["tasks_per_second"]["median"]),
            "raw_events_per_simulated_task": round(r / ls["tasks_per_second"]["median"], 2)}
    return out


def _table(results: dict) -> str:
    rows = [("benchmark", "median", "min", "max", "runs", "load 1m")]

    def add(name, spread, fmt="{:.2f}"):
        loads = spread.get("load_1m_at_start") or []
        rows.append((name, fmt.format(spread["median"]), fmt.format(spread["min"]), fmt.format(spread["max"]),
                     str(spread["runs"]), ",".join(f"{x:.1f}" for x in loads if x is not None)))

    raw = results.get("simpy_raw_events_per_second")
    if raw:
        add("simpy raw events/s (process loop)", raw["process_timeout_loop"], "{:,.0f}")
        add("simpy raw events/s (callback loop)", raw["callback_timeout_loop"], "{:,.0f}")
    ls = results.get("large_stage")
    if ls:
        add(f"large stage {ls['tasks']:,} tasks: seconds", ls["seconds"])
        add("large stage: simulated tasks/s", ls["tasks_per_second"], "{:,.0f}")
        if "tasks_per_cpu_second" in ls:
            add("large stage: tasks per CPU second", ls["tasks_per_cpu_second"], "{:,.0f}")
        add("large stage: peak RSS MiB", ls["peak_rss_mb"], "{:.0f}")
    sc = results.get("scaling")
    if sc:
        for k, v in sc.items():
            if k.startswith("ratio_"):
                rows.append((f"scaling {k[6:]}: time ratio", f"{v['time_ratio']:.2f}", "", "",
                             f"x{v['size_ratio']:.0f} tasks", ""))
                if "cpu_time_ratio" in v:
                    rows.append((f"scaling {k[6:]}: CPU time ratio", f"{v['cpu_time_ratio']:.2f}", "", "", "", ""))
            else:
                add(f"scaling {int(k):,} tasks: seconds", v["seconds"])
                add(f"scaling {int(k):,} tasks: peak RSS MiB", v["peak_rss_mb"], "{:.0f}")
    sg = results.get("study_grid_seconds")
    if sg:
        add(f"study grid {sg['jobs']:,} jobs, {sg['processes']} procs: s", sg["seconds"])
    rv = results.get("real_vs_model")
    if rv:
        if rv.get("available"):
            e = rv["example"]
            rows.append((f"real run {e['run_id']}: driver wall s", f"{e['real_driver_wall_s']:.2f}", "", "", "1", ""))
            rows.append((f"  simulated in s (x{e['speedup']:,.0f} faster)", f"{e['model_wall_s']:.4f}", "", "", "", ""))
            rows.append((f"all {rv['real_runs']} real runs: real s / model s",
                         f"{rv['real_driver_wall_total_s']:.0f} / {rv['model_wall_total_s']:.3f}", "", "", "", ""))
        else:
            rows.append(("real vs model", "n/a", "", "", "", rv["note"][:40]))
    tr = results.get("trace_replay")
    if tr:
        add(f"trace fit: replays/s of {tr['runs']} real runs", tr["replays_per_second"], "{:,.0f}")
        add("trace fit: one base-terms fit, s", tr["base_fit_seconds"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    t = results.get("targets") or {}
    for k, v in t.items():
        if "met" in v:
            lines.append(f"target {k}: {v['target']}, measured {v['measured']}: {'met' if v['met'] else 'NOT met'}")
        else:
            lines.append(f"{k}: {v}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparkdelay.app.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few runs (a smoke test)")
    parser.add_argument("--only", action="append", metavar="NAME", choices=BENCHMARKS,
                        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}")
    parser.add_argument("--out", default=None, help="JSON output (default reports/bench.json under the current "
                                                    "directory; with --quick reports/bench-quick.json)")
    parser.add_argument("--profile-out", default=None,
                        help="profile text (default reports/bench_profile.txt under the current directory)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, *rest = args.child
        if kind == "stage":
            tasks, executors, seed = (int(x) for x in rest)
            print(json.dumps(_child_stage(tasks, executors, seed)))
            return 0
        parser.error(f"unknown child {kind}")

    out = Path(args.out) if args.out else REPORTS / ("bench-quick.json" if args.quick else "bench.json")
    prof_out = Path(args.profile_out) if args.profile_out else \
        REPORTS / ("bench_profile-quick.txt" if args.quick else "bench_profile.txt")
    selected = args.only or list(BENCHMARKS)
    results: dict = {"machine": machine_facts(), "quick": args.quick, "benchmarks_run": selected}
    if args.only and out.exists():
        # --only updates the named sections of an existing report and keeps the others.
        try:
            previous = json.loads(out.read_text())
        except json.JSONDecodeError:
            previous = {}
        if previous.get("quick") == args.quick:
            reruns = previous.pop("reruns", [])
            reruns.append({"benchmarks": selected, "machine": results["machine"]})
            results = {**previous, "reruns": reruns}
    steps = {
        "simpy_raw": ("simpy_raw_events_per_second", lambda: bench_simpy_raw(args.quick)),
        "large_stage": ("large_stage", lambda: bench_large_stage(args.quick)),
        "scaling": ("scaling", lambda: bench_scaling(args.quick)),
        "study_grid": ("study_grid_seconds", lambda: bench_study_grid(args.quick)),
        "real_vs_model": ("real_vs_model", lambda: bench_real_vs_model(args.quick)),
        "trace_replay": ("trace_replay", lambda: bench_trace_replay(args.quick)),
        "profile": ("profile", lambda: bench_profile(args.quick, prof_out)),
    }
    for name in BENCHMARKS:
        if name not in selected:
            continue
        key, fn = steps[name]
        print(f"[bench] {name} ... (load {_load()})", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        results[key] = fn()
        print(f"[bench] {name} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1) + "\n")   # partial results survive a crash
    results["targets"] = _targets(results)
    (results["reruns"][-1]["machine"] if results.get("reruns") else results["machine"])["load_average_at_end"] = _load()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(_table(results))
    print(f"\nwrote {out}" + (f" and {prof_out}" if "profile" in selected else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Golden traces: the model's output must not change when the code is made faster.

`tests/data/golden/traces.json.xz` holds, for a fixed set of simulations, the complete trace:
every field of every TaskRecord (one column per field; floats in JSON's shortest exact form),
the job duration and every stage's submit and finish time. Floats are compared bit for bit
(`float.hex`). A mismatch names the case and shows the first task record that differs, field
by field, next to the golden one. The traces were first produced before the performance work
on `sim/` (engine, machine, scheduler, taskset_manager) and must stay bit-identical: an
optimization that changes one launch, one random draw or one float rounding fails here. They
were regenerated once on purpose, when task noise became mean-preserving (lognormal instead of
a normal truncated at 0) and map tasks stopped paying the result function's worker start-up;
the file then held only a SHA-256 per trace, and the full traces that replaced it hash to the
same values.

The cases cover the study2017 preset (Spark 2.1 and 4.0, several N/P/waits, seeds 0-4), the
local preset (hosts sharing one machine: processor sharing), explicit stages with executor,
host, hdfs_cache and per-task preferences, racks, staggered registration, task cpus 2 and
Python costs, the SPARK-18886 shape, a small version of the benchmark's large stage, and
random clusters and jobs drawn from a fixed seed (as the hypothesis properties draw them).

Regenerate (only when behaviour is meant to change): python tests/test_sim_golden.py --write
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import lzma
import math
import random
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sparkdelay.sim.model.cluster import ClusterSpec, ExecutorSpec, MachineSpec  # noqa: E402
from sparkdelay.sim.model.costs import CostModel  # noqa: E402
from sparkdelay.sim.model.engine import simulate  # noqa: E402
from sparkdelay.sim.model.job import JobSpec, PySparkJob, PySparkWorkload, StageSpec, explicit_stage  # noqa: E402
from sparkdelay.sim.policy.locality import TaskLocation, parse_task_location  # noqa: E402
from sparkdelay.app.presets import local_cluster, preset, study_job  # noqa: E402
from sparkdelay.app.runspec import RunSpec  # noqa: E402
from sparkdelay.app.sweep import run_sweep  # noqa: E402
from sparkdelay.sim.model.records import FIELDS  # noqa: E402

GOLDEN = ROOT / "tests" / "data" / "golden" / "traces.json.xz"
SEEDS = range(5)


# ------------------------------------------------------------------------------ the cases
def _study_cases():
    for version in ("2.1", "4.0"):
        for nodes in (1, 3, 5):
            for partitions in (1, 9, 14, 40):
                for wait in ("0s", "1s", "3s"):
                    for seed in SEEDS:
                        yield (f"study2017 v{version} n{nodes} p{partitions} w{wait} s{seed}",
                               lambda v=version, n=nodes, p=partitions, w=wait, s=seed:
                               (*preset("study2017", nodes=n, partitions=p, wait=w, spark_version=v),
                                CostModel(), s))


def _local_cases():
    # Several worker hosts on one 2-core machine: processor sharing with oversubscription.
    for version in ("2.4", "4.0"):
        for nodes, partitions in ((2, 9), (3, 40), (4, 14)):
            for wait in ("0s", "3s"):
                for seed in (0, 1, 2):
                    yield (f"local v{version} n{nodes} p{partitions} w{wait} s{seed}",
                           lambda v=version, n=nodes, p=partitions, w=wait, s=seed:
                           (local_cluster(n, w, v, cores=2), study_job(p), CostModel(), s))


def _explicit_job():
    loc = parse_task_location
    per_task = tuple((loc("h1"),) if i % 3 == 0 else (loc("executor_h2_3"), loc("h4")) if i % 3 == 1 else ()
                     for i in range(30))
    cpu = tuple(0.5 + (i % 7) * 0.4 for i in range(30))
    return JobSpec(stages=(
        explicit_stage("scan", 40, ["h0", "h5"], cpu_seconds=2.0, cpu_seconds_sd=0.3),
        StageSpec("mixed", per_task, cpu, 0.1, True),
        explicit_stage("cached", 25, ["hdfs_cache_h6", "executor_h7_10"], cpu_seconds=1.5, python=True),
        explicit_stage("free", 12, [], cpu_seconds=0.7, cpu_seconds_sd=0.2),
    ))


def _explicit_cluster(version, wait, extra=None):
    executors = [ExecutorSpec(str(i), f"h{i // 2}", 2 + (i % 3), float(i % 4) * 0.6) for i in range(18)]
    machines = [MachineSpec(f"m{j}", 3 if j % 2 else 8, tuple(f"h{k}" for k in range(9) if k % 3 == j))
                for j in range(3)]
    racks = {f"h{k}": f"r{k % 2}" for k in range(9)}
    config = {"spark.locality.wait": wait, **(extra or {})}
    return ClusterSpec.make(version, config, executors, machines, racks)


def _explicit_cases():
    for version in ("2.1", "2.4", "3.0", "3.5", "4.0"):
        for wait in ("0s", "500ms", "3s"):
            for seed in (0, 1, 2):
                yield (f"explicit v{version} w{wait} s{seed}",
                       lambda v=version, w=wait, s=seed: (_explicit_cluster(v, w), _explicit_job(), CostModel(), s))
    for extra_name, extra in (("cpus2", {"spark.task.cpus": "2"}),
                              ("legacy", {"spark.locality.wait.legacyResetOnTaskLaunch": "true"}),
                              ("node1s", {"spark.locality.wait.node": "1s", "spark.locality.wait.rack": "0s",
                                          "spark.scheduler.revive.interval": "300ms"}),
                              ("noreuse", {"spark.python.worker.reuse": "false"})):
        for seed in (0, 1):
            yield (f"explicit v4.0 w3s {extra_name} s{seed}",
                   lambda e=extra, s=seed: (_explicit_cluster("4.0", "3s", e), _explicit_job(), CostModel(), s))


def _spark_18886_cases():
    for version, conf in (("2.4", {}), ("4.0", {}), ("4.0", {"spark.locality.wait.legacyResetOnTaskLaunch": "true"})):
        for seed in SEEDS:
            def build(v=version, c=conf, s=seed):
                cluster = ClusterSpec.from_dict({
                    "spark_version": v, "config": {"spark.locality.wait": "3s", **c},
                    "executors": {"count": 100, "cores": 1, "host": "host{i}"}})
                job = JobSpec(stages=(explicit_stage("s0", 500, ["executor_host0_0"], cpu_seconds=5.0,
                                                     cpu_seconds_sd=0.5),))
                return cluster, job, CostModel(), s
            yield f"spark18886 v{version}{' legacy' if conf else ''} s{seed}", build


def _large_stage_small_cases():
    # The benchmark's large stage at 1/20 scale: 50 executors x 8 slots, prefs on 10% of hosts.
    for version in ("2.1", "4.0"):
        for seed in (0, 1):
            def build(v=version, s=seed):
                n_exec, tasks = 50, 5000
                cluster = ClusterSpec.from_dict({
                    "spark_version": v, "config": {"spark.locality.wait": "3s", "spark.executor.cores": "8"},
                    "executors": {"count": n_exec, "cores": 8, "host": "host{i}"}})
                pref_hosts = [TaskLocation(f"host{h}") for h in range(0, n_exec, 10)]
                prefs = tuple((pref_hosts[i % len(pref_hosts)],) for i in range(tasks))
                job = JobSpec(stages=(StageSpec("big", prefs, (2.0,) * tasks, 0.5, False),))
                return cluster, job, CostModel(), s
            yield f"large-stage-small v{version} s{seed}", build


def _random_cases(count=60):
    for k in range(count):
        def build(k=k):
            rnd = random.Random(1000 + k)
            machines, executors, eid = [], [], 0
            for m in range(rnd.randint(1, 3)):
                hosts = [f"m{m}h{h}" for h in range(rnd.randint(1, 3))]
                machines.append(MachineSpec(f"m{m}", rnd.randint(1, 6), tuple(hosts)))
                for h in hosts:
                    for _ in range(rnd.randint(1, 2)):
                        executors.append(ExecutorSpec(str(eid), h, rnd.randint(1, 4),
                                                      rnd.choice([0.0, 0.0, 0.5, 2.0, 7.0])))
                        eid += 1
            config = {"spark.locality.wait": rnd.choice(["0s", "500ms", "3s"])}
            if rnd.random() < 0.5:
                config["spark.scheduler.revive.interval"] = rnd.choice(["250ms", "1s", "2s"])
            cluster = ClusterSpec.make(rnd.choice(["2.1", "2.4", "3.5", "4.0"]), config, executors, machines)
            if rnd.randint(0, 3) == 0:
                workload = PySparkWorkload(tuple(f"k{i}" for i in range(rnd.randint(1, 40))), rnd.randint(0, 5),
                                           "3.11", rnd.randint(1, 3), 1000)
                job = JobSpec(pyspark=PySparkJob(workload, rnd.randint(1, 20)))
            else:
                locations = [TaskLocation(h) for h in cluster.hosts] + [
                    TaskLocation(e.host, "executor", e.id) for e in cluster.executors]
                stages = []
                for s in range(rnd.randint(1, 3)):
                    n = rnd.randint(1, 25)
                    prefs = tuple(tuple(rnd.sample(locations, rnd.randint(0, min(2, len(locations)))))
                                  for _ in range(n))
                    cpu = tuple(rnd.uniform(0.0, 6.0) for _ in range(n))
                    stages.append(StageSpec(f"s{s}", prefs, cpu, rnd.choice([0.0, 0.3]), rnd.random() < 0.5))
                job = JobSpec(stages=tuple(stages))
            model = CostModel(worker_startup_s=rnd.uniform(0, 3), worker_startup_sd_s=rnd.uniform(0, 0.5),
                              task_overhead_s=rnd.uniform(0, 0.5), cpu_per_item_s=rnd.uniform(0, 2),
                              submit_delay_s=rnd.uniform(0, 2), stage_gap_s=rnd.uniform(0, 0.5),
                              collect_s=rnd.uniform(0, 1))
            return cluster, job, model, rnd.randint(0, 2**31)
        yield f"random {k}", build


def cases():
    yield from _study_cases()
    yield from _local_cases()
    yield from _explicit_cases()
    yield from _spark_18886_cases()
    yield from _large_stage_small_cases()
    yield from _random_cases()


# ------------------------------------------------------------------------------ traces
_TIMES = ("job_duration_s", "stage_submit_s", "stage_finish_s")


def _exact(v):
    return v.hex() if isinstance(v, float) else v


def trace_of(result) -> dict:
    """A run as the golden file stores it: TaskRecord fields as columns, and the job's times."""
    return {"columns": {f: [getattr(t, f) for t in result.tasks] for f in FIELDS},
            "job_duration_s": result.job_duration_s,
            "stage_submit_s": list(result.stage_submit_s), "stage_finish_s": list(result.stage_finish_s)}


def _rows(trace: dict) -> list[tuple]:
    columns = trace["columns"]
    return list(zip(*(columns[f] for f in FIELDS)))


def first_difference(golden: dict, got: dict) -> str | None:
    """None when the traces are the same bit for bit; else where they first part, readably."""
    want_rows, got_rows = _rows(golden), _rows(got)
    for i, (want, have) in enumerate(zip(want_rows, got_rows)):
        if [_exact(v) for v in want] != [_exact(v) for v in have]:
            lines = [f"task record {i} of {len(want_rows)} is the first that differs:",
                     f"     {'field':<12} {'golden':>26} {'now':>26}"]
            for name, a, b in zip(FIELDS, want, have):
                mark = "  >>" if _exact(a) != _exact(b) else "    "
                lines.append(f"{mark} {name:<12} {a!r:>26} {b!r:>26}")
            return "\n".join(lines)
    if len(want_rows) != len(got_rows):
        return (f"the first {min(len(want_rows), len(got_rows))} task records agree, but the golden trace "
                f"has {len(want_rows)} and this run {len(got_rows)}")
    for key in _TIMES:
        want, have = golden[key], got[key]
        if [_exact(v) for v in (want if isinstance(want, list) else [want])] != \
                [_exact(v) for v in (have if isinstance(have, list) else [have])]:
            return f"every task record agrees, but {key} differs: golden {want!r}, now {have!r}"
    return None


def compute_all() -> dict:
    out = {}
    for name, build in cases():
        cluster, job, model, seed = build()
        out[name] = trace_of(simulate(cluster, job, model, seed))
    return out


# A sweep (the study preset, small grid) through run_sweep, in one process and in a pool: the
# rows it returns, less nothing, must not change either.
SWEEP_GRID = dict(nodes=[1, 3], partitions=[1, 9, 40], waits=["0s", "3s"], reps=3)


def _pinned_text(row) -> dict:
    """A sweep row in the form its golden hash was taken in: every value as text, lists and
    mappings as JSON (the CSV cells of that time), so the hash checks the values themselves."""
    def text(value):
        if isinstance(value, (list, dict)):
            return json.dumps(value)
        return "" if value is None else str(value)
    return {f.name: text(getattr(row, f.name)) for f in dataclasses.fields(row)}


def sweep_fingerprint_rows(tmp: Path, processes: int) -> str:
    rows = run_sweep(RunSpec(preset="study2017"), tmp / f"sweep{processes}.csv", processes=processes,
                     progress=False, **SWEEP_GRID)
    return hashlib.sha256(json.dumps([_pinned_text(r) for r in rows], sort_keys=True).encode()).hexdigest()


# ------------------------------------------------------------------------------ the test
@functools.cache
def _golden_file() -> dict:
    with lzma.open(GOLDEN, "rt") as fh:
        return json.load(fh)


def _golden() -> dict:
    return _golden_file()["cases"]


_CASES = list(cases())


@pytest.mark.parametrize("name,build", _CASES, ids=[n for n, _ in _CASES])
def test_trace_is_unchanged(name, build):
    golden = _golden()
    assert name in golden, f"no golden trace for {name!r}: regenerate with python tests/test_sim_golden.py --write"
    cluster, job, model, seed = build()
    difference = first_difference(golden[name], trace_of(simulate(cluster, job, model, seed)))
    assert difference is None, f"{name}: {difference}"


def test_a_changed_trace_shows_its_first_differing_record_field_by_field():
    golden = _golden()["study2017 v4.0 n3 p9 w3s s0"]
    assert first_difference(golden, golden) is None
    moved = json.loads(json.dumps(golden))
    finish = moved["columns"]["finish_time"]
    finish[3] = math.nextafter(finish[3], math.inf)   # one ulp later
    moved["columns"]["host"][5] = "elsewhere"
    report = first_difference(golden, moved)
    assert report.startswith(f"task record 3 of {len(finish)} is the first that differs")
    assert [line.split()[1] for line in report.splitlines() if line.startswith("  >>")] == ["finish_time"]
    shorter = json.loads(json.dumps(golden))
    for column in shorter["columns"].values():
        column.pop()
    assert "but the golden trace has" in first_difference(golden, shorter)
    later = dict(golden, job_duration_s=golden["job_duration_s"] + 1.0)
    assert first_difference(golden, later).startswith("every task record agrees, but job_duration_s differs")


@pytest.mark.parametrize("processes", [1, 2])
def test_sweep_rows_are_unchanged(tmp_path, processes):
    want = _golden_file()["sweep"]
    assert sweep_fingerprint_rows(tmp_path, processes) == want


def test_every_golden_case_is_still_run():
    assert set(_golden()) == {n for n, _ in _CASES}


if __name__ == "__main__":
    if "--write" not in sys.argv:
        sys.exit("usage: python tests/test_sim_golden.py --write   (overwrites the golden traces)")
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    data = compute_all()
    with tempfile.TemporaryDirectory() as tmp:
        sweep = sweep_fingerprint_rows(Path(tmp), 1)
    doc = {"about": "complete simulated traces, one column per TaskRecord field; see tests/test_sim_golden.py",
           "cases": data, "sweep": sweep}
    with lzma.open(GOLDEN, "wt", preset=9 | lzma.PRESET_EXTREME) as fh:
        json.dump(doc, fh, separators=(",", ":"), sort_keys=True)
    print(f"wrote {len(data)} cases to {GOLDEN}")

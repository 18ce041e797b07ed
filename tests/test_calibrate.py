"""`calibrate` on synthetic event logs whose timelines follow the model exactly.

A small processor-sharing simulator below plays PySpark jobs with known costs (worker start-up
on fresh workers, per-task and per-item CPU, per-byte CPU, driver delays) on executors that
share a machine's cores, and writes what Spark would log. The fit must give the costs back.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from sparkdelay.calibration.contention import cpu_demands, executor_cold_start, fresh_worker_tasks
from sparkdelay.calibration.fit import fit_linear
from sparkdelay.eventlog.discover import find_logs
from sparkdelay.calibration.pipeline import calibrate
from sparkdelay.eventlog.log import Task
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.policy.pyspark_partitioning import parallelize_slice_sizes, partition_sizes
from sparkdelay.app.cli import main
from sparkdelay.ground.errors import UserError

TRUTH = dict(worker_startup_s=0.8, task_overhead_s=0.15, cpu_per_item_s=0.4, cpu_per_byte_s=2e-5,
             map_task_overhead_s=0.3, map_cpu_per_item_s=0.02, submit_delay_s=0.5, stage_gap_s=0.1, collect_s=0.2)
KEYS = [f"shard-{i:02d}" for i in range(40)]
# host -> (machine, machine cores); each host runs one executor with 2 slots.
HOSTS = {"127.0.0.2": ("box", 2), "127.0.0.3": ("box", 2), "127.0.0.4": ("solo", 1)}
CLUSTER_YAML = """spark_version: "4.0"
machines:
  - {name: box, cores: 2, hosts: [127.0.0.2, 127.0.0.3]}
  - {name: solo, cores: 1, hosts: [127.0.0.4]}
"""
WORKLOAD_YAML = """pyspark:
  keys: {format: "shard-{:02d}", count: 40}
  python_hash_seed: 0
  python_version: "3.11"
  map_slices: 1
"""


@dataclass
class _Run:
    kind: str
    stage: int
    index: int
    items: int
    nbytes: int
    executor: str = ""
    launch: float = 0.0
    finish: float = 0.0
    remaining: float = 0.0
    fresh: bool = False


class _Sim:
    """Processor sharing per machine; worker pools per (executor, stage); FIFO over free slots."""

    def __init__(self, rng, sd=0.0):
        self.rng, self.sd = rng, sd
        self.idle = {}  # (host, stage) -> idle Python workers warm for that stage
        self.now = 0.0

    def demand(self, r: _Run) -> float:
        t = TRUTH
        noise = self.rng.gauss(0, self.sd) if self.sd else 0.0
        if r.kind == "map":  # the map side imports nothing heavy: no start-up term
            return t["map_task_overhead_s"] + r.items * t["map_cpu_per_item_s"]
        cpu = t["worker_startup_s"] if r.fresh else 0.0
        return max(0.01, cpu + t["task_overhead_s"] + r.items * t["cpu_per_item_s"] + r.nbytes * t["cpu_per_byte_s"] + noise)

    def run_stage(self, tasks: list[_Run]) -> None:
        queue, running, free = list(tasks), [], {h: 2 for h in HOSTS}
        while queue or running:
            for host in sorted(HOSTS, key=lambda h: -free[h]):
                while free[host] and queue:
                    r = queue.pop(0)
                    r.executor, r.launch, free[host] = host, self.now, free[host] - 1
                    idle = self.idle.get((host, r.stage), 0)
                    r.fresh = idle == 0
                    self.idle[(host, r.stage)] = idle - (0 if r.fresh else 1)
                    r.remaining = self.demand(r)
                    running.append(r)
            per_machine = {}
            for r in running:
                per_machine.setdefault(HOSTS[r.executor][0], []).append(r)
            rate = {id(r): min(1.0, HOSTS[r.executor][1] / len(per_machine[HOSTS[r.executor][0]])) for r in running}
            step = min(r.remaining / rate[id(r)] for r in running)
            self.now += step
            for r in list(running):
                r.remaining -= step * rate[id(r)]
                if r.remaining <= 1e-9:
                    r.finish = self.now
                    running.remove(r)
                    free[r.executor] += 1
                    self.idle[(r.executor, r.stage)] = self.idle.get((r.executor, r.stage), 0) + 1


def _ms(t: float) -> int:
    return int(round(t * 1000))


def write_log(path: Path, jobs: list[tuple[int, int]], seed: int, sd: float = 0.0, app: str = "app-1") -> None:
    """One application running `jobs` = [(map slices, partitions), ...] back to back."""
    rng = random.Random(seed)
    sim = _Sim(rng, sd)
    sim.now = 1000.0
    ev = [{"Event": "SparkListenerLogStart", "Spark Version": "4.0.1"},
          {"Event": "SparkListenerEnvironmentUpdate", "Spark Properties": {"spark.master": "spark://127.0.0.1:7077"}},
          {"Event": "SparkListenerApplicationStart", "App Name": "t", "App ID": app, "Timestamp": _ms(sim.now), "User": "u"}]
    for i, host in enumerate(HOSTS):
        ev.append({"Event": "SparkListenerExecutorAdded", "Timestamp": _ms(sim.now), "Executor ID": str(i),
                   "Executor Info": {"Host": host, "Total Cores": 2}})
    exec_id = {h: str(i) for i, h in enumerate(HOSTS)}
    task_id = 0
    stage_id = 0
    for job_id, (slices, P) in enumerate(jobs):
        submitted = sim.now + 1.0
        sim.now = submitted + TRUTH["submit_delay_s"]
        map_stage, red_stage = stage_id, stage_id + 1
        stage_id += 2
        ev.append({"Event": "SparkListenerJobStart", "Job ID": job_id, "Submission Time": _ms(submitted),
                   "Stage IDs": [map_stage, red_stage]})
        maps = [_Run("map", map_stage, i, n, 0) for i, n in enumerate(parallelize_slice_sizes(len(KEYS), slices))]
        sim.run_stage(maps)
        map_done = sim.now
        sim.now += TRUTH["stage_gap_s"]
        sizes = partition_sizes(KEYS, P, 0, "3.11")
        reds = [_Run("reduce", red_stage, i, n, n * 1000 + rng.randrange(0, 20000)) for i, n in enumerate(sizes)]
        red_start = sim.now
        sim.run_stage(reds)
        job_end = sim.now + TRUTH["collect_s"]
        for stage, runs, start, end, parents, rdds in ((map_stage, maps, submitted, map_done, [], ["PythonRDD"]),
                                                       (red_stage, reds, red_start, sim.now, [map_stage], ["ShuffledRDD"])):
            info = {"Stage ID": stage, "Stage Attempt ID": 0, "Stage Name": "s", "Number of Tasks": len(runs),
                    "RDD Info": [{"Name": n} for n in rdds], "Parent IDs": parents,
                    "Submission Time": _ms(start), "Completion Time": _ms(end)}
            ev.append({"Event": "SparkListenerStageSubmitted", "Stage Info": info})
            for r in runs:
                tinfo = {"Task ID": task_id, "Index": r.index, "Attempt": 0, "Launch Time": _ms(r.launch),
                         "Executor ID": exec_id[r.executor], "Host": r.executor, "Locality": "ANY",
                         "Finish Time": _ms(r.finish), "Failed": False, "Killed": False, "Getting Result Time": 0}
                task_id += 1
                metrics = {"Executor Run Time": 1, "Executor CPU Time": 1,
                           "Shuffle Read Metrics": {"Remote Bytes Read": r.nbytes // 2, "Local Bytes Read": r.nbytes - r.nbytes // 2,
                                                    "Total Records Read": int(r.items > 0) if r.kind == "reduce" else 0},
                           "Shuffle Write Metrics": {"Shuffle Bytes Written": 0, "Shuffle Records Written": 0}}
                ev.append({"Event": "SparkListenerTaskStart", "Stage ID": stage, "Stage Attempt ID": 0, "Task Info": tinfo})
                ev.append({"Event": "SparkListenerTaskEnd", "Stage ID": stage, "Stage Attempt ID": 0,
                           "Task Type": "ResultTask" if r.kind == "reduce" else "ShuffleMapTask",
                           "Task End Reason": {"Reason": "Success"}, "Task Info": tinfo, "Task Metrics": metrics})
            ev.append({"Event": "SparkListenerStageCompleted", "Stage Info": info})
        ev.append({"Event": "SparkListenerJobEnd", "Job ID": job_id, "Completion Time": _ms(job_end),
                   "Job Result": {"Result": "JobSucceeded"}})
        sim.now = job_end
    ev.append({"Event": "SparkListenerApplicationEnd", "Timestamp": _ms(sim.now + 0.5)})
    # Events are logged in time order in a real log; order does not matter to the reader.
    path.write_text("".join(json.dumps(e) + "\n" for e in ev))


RUNS = [[(1, 9), (2, 5), (1, 14)], [(1, 7), (1, 12)], [(2, 9), (1, 4), (1, 20)]]


@pytest.fixture()
def synthetic(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for i, jobs in enumerate(RUNS):
        write_log(logs / f"app-{i}", jobs, seed=i, app=f"app-{i}")
    (tmp_path / "cluster.yaml").write_text(CLUSTER_YAML)
    (tmp_path / "workload.yaml").write_text(WORKLOAD_YAML)
    return tmp_path


def test_fit_recovers_exact_costs(synthetic):
    fit, doc, _ = calibrate([synthetic / "logs"], synthetic / "cluster.yaml", synthetic / "workload.yaml", method="linear")
    p = doc["params"]
    for name, value in TRUTH.items():
        assert p[name] == pytest.approx(value, rel=0.03, abs=2e-3 if "byte" not in name else 1e-6), name
    report = doc["fit_report"]
    assert report["runs"] == 3 and report["jobs"] == 8 and report["rmse_s"] < 0.01
    assert report["reduce_tasks"] == sum(P for jobs in RUNS for _, P in jobs)
    assert all(v is not None for k, v in doc["uncertainty"].items() if k in TRUTH)
    assert p["task_overhead_sd_s"] < 0.02 and p["cpu_per_item_sd_s"] < 0.01
    assert any(r["fresh_worker"] for r in report["residuals"]) and not all(r["fresh_worker"] for r in report["residuals"])


def test_ignoring_shared_cores_would_bias_the_fit(synthetic):
    # Without the cluster file the loopback hosts share os.cpu_count() cores instead: with
    # more cores than the truth, durations are read as CPU and the per-item cost comes out high.
    _, doc, _ = calibrate([synthetic / "logs"], None, synthetic / "workload.yaml", local_cores=64, method="linear")
    assert doc["params"]["cpu_per_item_s"] > 1.1 * TRUTH["cpu_per_item_s"]


def test_fit_with_noise_recovers_means_and_spread(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for i in range(6):
        write_log(logs / f"app-{i}", [(1, 9), (2, 14), (1, 6)], seed=10 + i, sd=0.3, app=f"app-{i}")
    (tmp_path / "c.yaml").write_text(CLUSTER_YAML)
    (tmp_path / "w.yaml").write_text(WORKLOAD_YAML)
    _, doc, _ = calibrate([logs], tmp_path / "c.yaml", tmp_path / "w.yaml", method="linear")
    p, se = doc["params"], doc["uncertainty"]
    assert p["cpu_per_item_s"] == pytest.approx(TRUTH["cpu_per_item_s"], abs=4 * se["cpu_per_item_s"] + 0.02)
    assert p["worker_startup_s"] == pytest.approx(TRUTH["worker_startup_s"], abs=4 * se["worker_startup_s"] + 0.1)
    assert 0.15 < p["task_overhead_sd_s"] + p["cpu_per_item_sd_s"] * 2 < 0.6


def test_contention_integral_and_worker_pool():
    def task(tid, ex, launch, finish):
        return Task(0, 0, tid, 0, tid, ex, "h", "ANY", launch, finish)

    # Three tasks on a 2-core machine: [0, 4000] alone for 1 s, three together for 3 s, ...
    tasks = [task(0, "a", 0, 4000), task(1, "a", 1000, 4000), task(2, "b", 1000, 5000)]
    cpu = cpu_demands(tasks, lambda t: ("m", 2))
    assert cpu[0] == pytest.approx(1 + 3 * 2 / 3)
    assert cpu[1] == pytest.approx(3 * 2 / 3)
    assert cpu[2] == pytest.approx(3 * 2 / 3 + 1)
    # Executor "a": task 3 starts as task 0 ends (reuses it); task 4 overlaps task 3 (fresh).
    tasks += [task(3, "a", 4000, 6000), task(4, "a", 4500, 6000), task(5, "b", 7000, 8000)]
    assert fresh_worker_tasks(tasks) == {0, 1, 2}
    # A worker is warm only for its own stage: a later stage on "b" starts its own worker.
    later = Task(1, 0, 0, 0, 6, "b", "h", "ANY", 9000, 9500)
    assert fresh_worker_tasks(tasks + [later]) == {0, 1, 2, 6}


def test_an_executors_slow_first_deserialization_is_taken_out_of_its_tasks_as_one_cold_start():
    def task(tid, ex, launch, finish, deser):
        t = Task(0, 0, tid, 0, tid, ex, "h", "ANY", launch, finish)
        t.executor_deserialize_time_ms = deser
        return t

    # Executor "a": a first wave of two tasks (launched before its first finish) that spent
    # 600 ms deserializing; later tasks spent 100 ms: the wave's excess is 0.5 s each.
    tasks = [task(0, "a", 0, 2000, 600), task(1, "a", 0, 2000, 600),
             task(2, "a", 2000, 3000, 100), task(3, "a", 2000, 3000, 100)]
    demands = {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0}   # each wave task received 1 CPU-s over 2 s: rate 0.5
    taken, per_executor = executor_cold_start(tasks, demands)
    assert taken == {0: pytest.approx(0.25), 1: pytest.approx(0.25)}   # later tasks keep their demand
    assert per_executor == pytest.approx(0.5)
    # Every task in a first wave: no warm deserialization to compare with, nothing is taken out.
    assert executor_cold_start(tasks[:2], demands) == ({}, 0.0)


def test_launch_onto_full_executor_reuses_the_next_finishing_worker():
    # Spark stamps Finish Time after fetching the result, so with 2 slots task 2 can appear to
    # launch 30 ms before task 0 "finishes": its slot, and its worker, were already free.
    tasks = [Task(0, 0, i, 0, i, "a", "h", "ANY", launch, finish)
             for i, (launch, finish) in enumerate([(0, 1000), (0, 2000), (970, 1500)])]
    assert fresh_worker_tasks(tasks) == {0, 1, 2}
    assert fresh_worker_tasks(tasks, {"a": 2}) == {0, 1}


def test_cli_writes_model_and_summary(synthetic, capsys):
    out = synthetic / "model.json"
    csv = synthetic / "samples.csv"
    rc = main(["calibrate", str(synthetic / "logs"), "--cluster", str(synthetic / "cluster.yaml"),
               "--workload", str(synthetic / "workload.yaml"), "-o", str(out), "--samples-csv", str(csv),
               "--method", "linear"])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["format"] == "sparkdelay-model/1" and doc["source"]["cluster"].endswith("cluster.yaml")
    model = CostModel.load(out)
    assert model.cpu_per_item_s == pytest.approx(TRUTH["cpu_per_item_s"], rel=0.03)
    printed = capsys.readouterr().out
    assert "cpu_per_item_s" in printed and "±" in printed and "3 run(s)" in printed
    assert csv.read_text().splitlines()[0].startswith("app_id,kind,job_id")


def test_index_jsonl_and_folder_discovery(synthetic):
    logs = synthetic / "logs"
    index = synthetic / "index.jsonl"
    index.write_text(json.dumps({"eventlog": "logs/app-0"}) + "\n" + json.dumps({"eventlog": None}) + "\n"
                     + json.dumps({"eventlog": "logs/app-2", "partitions": 9}) + "\n")
    assert find_logs([index]) == [logs / "app-0", logs / "app-2"]
    (logs / "notes.txt").write_text("not a log\n")
    (logs / ".app-0.crc").write_bytes(b"x")
    assert find_logs([synthetic]) == [logs / "app-0", logs / "app-2"]  # the index.jsonl in the folder wins
    index.unlink()
    assert find_logs([synthetic]) == sorted(logs / f"app-{i}" for i in range(3))
    data = Path(__file__).parent / "data" / "eventlogs"
    found = find_logs([data])
    # the fixtures: zstd, lz4, snappy, lzf, plain files and a rolling folder (README.md there)
    assert len(found) == 6 and any(p.is_dir() for p in found)


@pytest.mark.parametrize(
    "cluster, message",
    [
        ("machines: []\nnodes: 3\n", "nodes: unknown key"),
        ("machines: [{name: a, cores: 0, hosts: [h]}]\n", r"machines\[0\].cores: must be at least 1"),
        ("machines: [{name: a, cores: 1, hosts: [h]}, {name: b, cores: 1, hosts: [h]}]\n", "already on machine"),
        # The simulator's rules for machines: a machine holds at least one host, names are unique.
        ("machines: [{name: a, cores: 1, hosts: []}]\n", r"machines\[0\].hosts: a machine needs at least one host"),
        ("machines: [{name: a, cores: 1, hosts: [h]}, {name: a, cores: 1, hosts: [g]}]\n", "duplicate machine"),
    ],
)
def test_bad_cluster_file_exits_2(synthetic, capsys, cluster, message):
    (synthetic / "bad.yaml").write_text(cluster)
    rc = main(["calibrate", str(synthetic / "logs"), "--cluster", str(synthetic / "bad.yaml"), "-o", str(synthetic / "m.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "bad.yaml" in err and len(err.strip().splitlines()) == 1
    assert re.search(message, err)


def test_user_errors(synthetic, tmp_path, capsys):
    assert main(["calibrate", str(tmp_path / "missing"), "-o", str(tmp_path / "m.json")]) == 2
    assert "missing: no such file or folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["calibrate", str(empty), "-o", str(tmp_path / "m.json")]) == 2
    assert "no Spark event logs found" in capsys.readouterr().err
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text('pyspark:\n  keys: {format: "key-{}", count: 40}\n  python_hash_seed: 0\n  python_version: "3.11"\n')
    with pytest.raises(UserError, match="wrong.yaml: does not match"):
        calibrate([synthetic / "logs"], synthetic / "cluster.yaml", wrong)
    noshuffle = tmp_path / "fixture-only-map"
    lines = [l for l in (synthetic / "logs" / "app-0").read_text().splitlines() if '"Stage ID": 1' not in l
             and '"Stage ID": 3' not in l and '"Stage ID": 5' not in l]
    noshuffle.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match="no successful reduce tasks"):
        calibrate([noshuffle])


def test_without_workload_uses_records_and_notes_it(synthetic):
    _, doc, _ = calibrate([synthetic / "logs"], synthetic / "cluster.yaml", method="linear")
    notes = " ".join(doc["fit_report"]["notes"])
    assert "shuffle records read" in notes and "map items unknown" in notes
    assert doc["params"]["map_cpu_per_item_s"] == 0.0


def test_collinear_bytes_are_not_fitted(tmp_path):
    rng = np.random.default_rng(0)
    items = rng.integers(1, 10, 30).astype(float)
    X = np.column_stack([np.ones(30), items, items * 1000.0])
    y = 0.2 + 0.5 * items
    fit = fit_linear(X, y, ("task_overhead_s", "cpu_per_item_s", "cpu_per_byte_s"), ("cpu_per_byte_s",),
                     intercepts=("task_overhead_s",))
    assert fit.params["cpu_per_byte_s"] == 0.0 and fit.se["cpu_per_byte_s"] is None
    assert fit.params["cpu_per_item_s"] == pytest.approx(0.5) and fit.params["task_overhead_s"] == pytest.approx(0.2)
    assert "cpu_per_byte_s not identifiable" in fit.notes[0]


def test_unexercised_columns_are_left_out():
    items = np.arange(1.0, 11.0)
    X = np.column_stack([np.ones(10), np.zeros(10), items])  # no map tasks at all
    fit = fit_linear(X, 0.1 + 0.3 * items, ("task_overhead_s", "map_task_overhead_s", "cpu_per_item_s"),
                     intercepts=("task_overhead_s", "map_task_overhead_s"))
    assert fit.params == pytest.approx({"task_overhead_s": 0.1, "map_task_overhead_s": 0.0, "cpu_per_item_s": 0.3})
    assert fit.se["map_task_overhead_s"] is None and fit.se["cpu_per_item_s"] is not None


def test_the_trace_fit_holds_at_zero_what_the_logs_cannot_identify(tmp_path, capsys):
    """One run with one reduce task cannot tell a per-item cost or a worker start-up from the
    task's overhead. The default (trace) fit holds those terms at 0, as the linear fit sets them,
    and says so, instead of splitting the task's one duration among them at random."""
    log = sorted((Path(__file__).parent.parent / "data" / "runs" / "shared" / "eventlogs").iterdir())[0]
    out = tmp_path / "m.json"
    assert main(["calibrate", str(log), "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["fit_report"]["method"] == "trace" and doc["fit_report"]["reduce_tasks"] == 1
    held = doc["fit_report"]["terms"]["held"]
    assert held["cpu_per_item_s"] == held["worker_startup_s"] == 0.0
    assert doc["params"]["cpu_per_item_s"] == doc["params"]["worker_startup_s"] == 0.0
    assert doc["params"]["task_overhead_s"] > 0
    printed = capsys.readouterr().out
    assert "held    cpu_per_item_s             0 (not identifiable from these logs)" in printed
    assert "trace fit, task duration error" in printed

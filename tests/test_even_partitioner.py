"""The even partitioner (issue 15, the 2017 study's future work), in the model and in the real job.

`partitioner: even` (job.yaml), `--partitioner even` (simulate, sweep, recommend, run) is
`partitionBy(P, partitionFunc)` with partitionFunc = the key's position in the key list, so item i
goes to partition i % P and every partition holds ceil(n/P) or floor(n/P) items; `hash` (the
default) is PySpark's portable_hash, unchanged. A real run records its partitioner in its index
row (a row without one ran hash), and calibration and validation simulate each run with its own.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from sparkdelay.app.cli import main
from sparkdelay.app.presets import study_job
from sparkdelay.app.recommend import Config, Space, search
from sparkdelay.app.runspec import RunSpec
from sparkdelay.app.sweep import run_sweep, sweep_fingerprint
from sparkdelay.eventlog import run_index
from sparkdelay.eventlog.run_index import read_index, recorded_partitioners, row_partitioner
from sparkdelay.ground.errors import UserError
from sparkdelay.calibration.heldout import row_workload
from sparkdelay.calibration.validate import load_runs
from sparkdelay.eventlog.discover import find_logs
from sparkdelay.real.plan import JobShape, RunPoint
from sparkdelay.sim.model.cluster import MachineMap
from sparkdelay.sim.model.engine import simulate
from sparkdelay.sim.model.records import to_json
from sparkdelay.sim.model.job import JobSpec, PySparkWorkload
from sparkdelay.sim.model.study import STUDY_KEY_FORMAT
from sparkdelay.sim.policy.pyspark_partitioning import (even_partition_func, members_by_partitioner,
                                                        partition_members)

from conftest import REPO

STUDY_KEYS = tuple(STUDY_KEY_FORMAT.format(i) for i in range(40))


# ----------------------------------------------------------------------------- the partition function
@pytest.mark.parametrize("n", [1, 7, 40, 41])
def test_even_partitions_hold_ceil_or_floor_of_n_over_p_for_every_p(n):
    keys = [STUDY_KEY_FORMAT.format(i) for i in range(n)]
    for P in range(1, 2 * n + 2):
        members = members_by_partitioner("even", keys, P, 0)
        sizes = [len(m) for m in members]
        assert sum(sizes) == n and len(sizes) == P
        assert sorted(set(sizes)) <= [n // P, math.ceil(n / P)]
        # item i is in partition i % P: the round robin partitionBy(P, position) deals
        assert all(i % P == p for p, m in enumerate(members) for i in m)


def test_even_is_the_position_of_the_key_whatever_its_hash_and_seed():
    keys = ["b", "a", (1, None), 2.5, -1]
    func = even_partition_func(keys)
    assert [func(k) for k in keys] == [0, 1, 2, 3, 4]
    assert members_by_partitioner("even", keys, 2, 0) == members_by_partitioner("even", keys, 2, 99, "2.7")
    with pytest.raises(KeyError):   # as on a worker: a key not in the list has no position
        func("c")


def test_hash_stays_portable_hash_modulo_p():
    for P in (1, 3, 9, 13, 40):
        assert members_by_partitioner("hash", STUDY_KEYS, P, 0) == partition_members(STUDY_KEYS, P, 0)
        assert study_job(P).pyspark.reduce_members == partition_members(STUDY_KEYS, P, 0)
    # the study's skew: 9 partitions of 40 keys are not 5/5/5/5/4/4/4/4/4 under the hash
    assert sorted(map(len, study_job(9).pyspark.reduce_members)) != [4] * 5 + [5] * 4
    assert sorted(map(len, study_job(9, partitioner="even").pyspark.reduce_members)) == [4] * 5 + [5] * 4


def test_a_job_file_saying_hash_simulates_byte_identically_to_one_saying_nothing():
    doc = {"pyspark": {"keys": {"format": STUDY_KEY_FORMAT, "count": 40}, "partitions": 9}}
    plain = JobSpec.from_dict(doc)
    said = JobSpec.from_dict({"pyspark": {**doc["pyspark"], "partitioner": "hash"}})
    assert plain == said and plain.pyspark.partitioner == "hash"
    cluster = RunSpec(preset="local", nodes=2).build()[0]
    a, b = simulate(cluster, plain, seed=5), simulate(cluster, said, seed=5)
    assert a.summary() == b.summary() and to_json(a.tasks) == to_json(b.tasks)


# ----------------------------------------------------------------------------- job.yaml and the commands
def test_job_yaml_takes_partitioner_even_and_refuses_others_in_one_line(tmp_path, capsys):
    job = JobSpec.from_dict({"pyspark": {"keys": {"format": "k{}", "count": 10}, "partitions": 4,
                                         "partitioner": "even"}})
    assert [len(m) for m in job.pyspark.reduce_members] == [3, 3, 2, 2]
    bad = tmp_path / "job.yaml"
    bad.write_text("pyspark: {keys: {format: 'k{}', count: 10}, partitioner: foo}\n")
    assert main(["simulate", "--job", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"{bad}: pyspark.partitioner: 'foo' is not a partitioner (expected one of hash, even)" in err
    with pytest.raises(UserError, match="pyspark.partitioner: 'range' is not a partitioner"):
        PySparkWorkload(("a",), partitioner="range")


def test_simulate_partitioner_even_spreads_the_items_and_overrides_the_file(tmp_path, capsys):
    def items_per_reduce_task(partitioner: str, *extra) -> list[int]:
        trace = tmp_path / f"{partitioner}.csv"
        assert main(["simulate", "--preset", "local", "--nodes", "2", "--partitions", "9",
                     "--partitioner", partitioner, "--trace", str(trace), "--json", *extra]) == 0
        json.loads(capsys.readouterr().out)
        rows = [line.split(",") for line in trace.read_text().splitlines()]
        head = rows[0]
        result = max(int(r[head.index("stage_id")]) for r in rows[1:])
        return sorted(int(r[head.index("items")]) for r in rows[1:] if int(r[head.index("stage_id")]) == result)

    assert items_per_reduce_task("even") == [4] * 5 + [5] * 4
    assert items_per_reduce_task("hash") == sorted(map(len, study_job(9).pyspark.reduce_members))
    even_file = tmp_path / "even.yaml"
    even_file.write_text("pyspark: {keys: {format: 'shard-{:02d}', count: 40}, partitioner: even}\n")
    assert items_per_reduce_task("hash", "--job", str(even_file)) == items_per_reduce_task("hash")
    # an explicit-stage job has no partitionBy
    explicit = tmp_path / "stages.yaml"
    explicit.write_text("stages: [{tasks: 2, cpu_seconds: 1.0}]\n")
    assert main(["simulate", "--job", str(explicit), "--partitioner", "even"]) == 2
    assert "--partitioner: only a PySpark-form job" in capsys.readouterr().err


def test_the_sweep_fingerprint_changes_with_the_partitioner_and_hash_keeps_the_old_one(tmp_path, capsys):
    base = RunSpec(preset="local")
    # the fingerprint `RunSpec(preset="local")` had before --partitioner existed (seed 0)
    assert sweep_fingerprint(base, 0) == "3f458020f918"
    assert sweep_fingerprint(base.with_(partitioner="even"), 0) != sweep_fingerprint(base, 0)
    out = tmp_path / "sweep.csv"
    argv = ["sweep", "--preset", "local", "--nodes", "2", "--partitions", "9", "--reps", "1",
            "--processes", "1", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(argv + ["--partitioner", "even"]) == 2     # a hash sweep's CSV does not resume as an even one
    assert "holds rows of a different sweep" in capsys.readouterr().err


def test_recommend_searches_the_partitioner_too(capsys):
    def build(c: Config):
        return RunSpec(preset="local", nodes=c.nodes, partitions=c.partitions, wait=c.wait,
                       partitioner=c.partitioner).build()

    space = Space((2,), (9,), ("3s",), (8,), ("hash", "even"))
    assert [c.partitioner for c in space.configs()] == ["hash", "even"]
    assert Config(2, 9, "3s", 8).seed(0, 1) != Config(2, 9, "3s", 8, "even").seed(0, 1)
    assert Config(2, 9, "3s", 8, "even").label() == "N=2 P=9 wait=3s cores=8 partitioner=even"
    result = search(space, build, reps=2, seed=0)
    assert {e.config.partitioner for e in result["ranked"]} == {"hash", "even"}
    assert main(["recommend", "--preset", "local", "--nodes", "2", "--partitions", "9", "--wait", "3s",
                 "--partitioner", "hash,even", "--reps", "2", "--json", "--no-progress"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["configs"] == 2 and doc["best"][0]["config"]["partitioner"] in ("hash", "even")
    assert main(["recommend", "--preset", "local", "--partitioner", "hash,round"]) == 2
    assert "--partitioner: 'round' is not a partitioner" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the real job's records
def test_even_runs_get_ids_of_their_own_and_hash_keeps_the_recorded_ones():
    assert JobShape(partitioner="hash").digest() == JobShape().digest()
    assert JobShape(partitioner="even").digest() != JobShape().digest()
    ids = {RunPoint(JobShape(partitioner=p), 2, 3, "0s", 1).run_id for p in ("hash", "even")}
    assert len(ids) == 2


def test_rows_without_a_partitioner_read_as_hash():
    row = {"key_format": "shard-{:02d}", "items": 8, "map_slices": 8}
    assert row_partitioner(row, "index.jsonl:1") == "hash"
    assert row_workload(row, "index.jsonl:1").partitioner == "hash"
    assert row_workload({**row, "partitioner": "even"}, "index.jsonl:2").partitioner == "even"
    with pytest.raises(UserError, match=r"^index.jsonl:3: partitioner: 'Even' is not a partitioner"):
        row_partitioner({**row, "partitioner": "Even"}, "index.jsonl:3")


def _workload_file(tmp_path: Path, items: int) -> Path:
    path = tmp_path / "workload.yaml"
    path.write_text(f"pyspark: {{keys: {{format: '{STUDY_KEY_FORMAT}', count: {items}}}}}\n")
    return path


def test_validate_simulates_each_run_with_its_rows_partitioner(tmp_path, capsys):
    """A simulated even run, as `simulate --event-log` writes it (records read = items), indexed
    like a real run: validate reads `partitioner: even` off the row; without it (hash) the log's
    records do not fit the keys, and validation says so instead of simulating the wrong split."""
    workload = _workload_file(tmp_path, 8)
    job = tmp_path / "job8.yaml"
    job.write_text(f"pyspark: {{keys: {{format: '{STUDY_KEY_FORMAT}', count: 8}}, map_slices: 8}}\n")
    logs = tmp_path / "runs" / "eventlogs"
    logs.mkdir(parents=True)
    assert main(["simulate", "--preset", "local", "--job", str(job), "--nodes", "2", "--partitions", "3",
                 "--partitioner", "even", "--event-log", str(logs), "--json"]) == 0
    log = Path(json.loads(capsys.readouterr().out)["event_log"])
    index = tmp_path / "runs" / "index.jsonl"
    row = {"run_id": "even-1", "status": "ok", "event_log": str(log.relative_to(index.parent)),
           "partitioner": "even"}
    run_index.append_row(index, row)
    runs = load_runs(find_logs([index]), MachineMap(), PySparkWorkload(tuple(STUDY_KEY_FORMAT.format(i)
                                                                             for i in range(8))),
                     recorded_partitioners([index]))
    assert [len(m) for m in runs[0].job.pyspark.reduce_members] == [3, 3, 2]
    model = str(REPO / "data" / "model.json")
    assert main(["validate", str(index), "--model", model, "--workload", str(workload), "--reps", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["runs"] == 1
    index.write_text(json.dumps({k: v for k, v in row.items() if k != "partitioner"}) + "\n")
    assert main(["validate", str(index), "--model", model, "--workload", str(workload), "--reps", "2"]) == 2
    assert "the keys assumed do not match the log" in capsys.readouterr().err


# ----------------------------------------------------------------------------- on a real cluster
STATE_DIR = Path("/tmp/even-cluster")


@pytest.mark.spark
def test_a_real_even_run_reads_ceil_floor_records_per_task_and_validates_as_even(tmp_path, capsys):
    """N=2, P=3, job `sleep`, 8 items, one item per map task (--map-slices 8): PySpark ships a map
    task's pairs for one partition as one pickled batch, so with one item per map task a reduce
    task's "Total Records Read" is the number of items in its partition: 3/3/2 even (hash: 1/4/3)."""
    if shutil.which("java") is None:
        pytest.skip("java not installed (Spark needs Java 17)")
    from sparkdelay.eventlog.codecs import decompress_bytes
    from sparkdelay.real.cluster import Cluster
    out = tmp_path / "runs"
    argv = ["run", "--master", "local-cluster", "--state-dir", str(STATE_DIR), "--master-port", "7377",
            "--worker-port", "7378", "--webui-port", "0", "--nodes", "2", "--partitions", "3", "--wait", "0s",
            "--job", "sleep", "--items", "8", "--map-slices", "8", "--work-repeat", "1",
            "--partitioner", "even", "--eventlog-codec", "none", "--out", str(out), "--no-progress"]
    try:
        assert main(argv) == 0, capsys.readouterr()
    finally:
        if Cluster(STATE_DIR).is_running():
            main(["cluster", "stop", "--state-dir", str(STATE_DIR)])
    [row] = [r.fields for r in read_index(out / "index.jsonl").rows]
    assert row["status"] == "ok" and row["partitioner"] == "even"
    assert row["run_id"] == RunPoint(JobShape(job="sleep", items=8, map_slices=8, work_repeat=1, cores=8,
                                              partitioner="even"), 2, 3, "0s", 1).run_id
    # item i came back from partition i % 3 (the job reports its TaskContext partition per item)
    assert {k: v[0] for k, v in row["item_results"].items()} == {STUDY_KEY_FORMAT.format(i): i % 3 for i in range(8)}
    events = [json.loads(line) for line in decompress_bytes(out / row["event_log"]).decode().splitlines()]
    ends = [e for e in events if e["Event"] == "SparkListenerTaskEnd"]
    result_stage = max(e["Stage ID"] for e in ends)
    read = {e["Task Info"]["Index"]: e["Task Metrics"]["Shuffle Read Metrics"]["Total Records Read"]
            for e in ends if e["Stage ID"] == result_stage}
    assert read == {0: 3, 1: 3, 2: 2}
    # validate simulates it with even partitions (the row's), not the hash's 1/4/3
    runs = load_runs(find_logs([out / "index.jsonl"]), MachineMap(),
                     PySparkWorkload(tuple(STUDY_KEY_FORMAT.format(i) for i in range(8))),
                     recorded_partitioners([out / "index.jsonl"]))
    assert runs[0].job.pyspark.partitioner == "even"
    assert [len(m) for m in runs[0].job.pyspark.reduce_members] == [3, 3, 2]
    capsys.readouterr()
    assert main(["validate", str(out / "index.jsonl"), "--model", str(REPO / "data" / "model.json"),
                 "--workload", str(_workload_file(tmp_path, 8)), "--reps", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["runs"] == 1

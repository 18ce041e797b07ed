"""cluster.yaml / job.yaml parsing, and bad input: one line naming file and field, exit 2."""

from __future__ import annotations

import textwrap

import pytest

from sparkdelay.sim.model.cluster import LOCAL_MACHINE, ClusterSpec, load_machines
from sparkdelay.sim.model.job import JobSpec, load_workload
from sparkdelay.sim.policy.config import SchedulerConf
from sparkdelay.sim.policy.pyspark_partitioning import DEFAULT_PYTHON_VERSION
from sparkdelay.app.cli import main
from sparkdelay.ground.errors import UserError
from sparkdelay.ground.sparkconf import SPARK_KEYS, spark_default

CLUSTER = """\
spark_version: "4.0"
config: {spark.locality.wait: 3s, spark.executor.cores: 8}
machines:
  - {name: box, cores: 2, hosts: [127.0.0.2, 127.0.0.3]}
executors:
  - {id: "0", host: 127.0.0.2, cores: 8, registers_at: 0.0}
  - {id: "1", host: 127.0.0.3}
"""

JOB_EXPLICIT = """\
stages:
  - {name: s0, tasks: 4, prefs: ["executor_127.0.0.2_0"], cpu_seconds: 1.0}
  - {name: s1, tasks: 2, prefs: [[127.0.0.3], []], cpu_seconds: [1.0, 2.5], cpu_seconds_sd: 0.1, python: true}
"""

JOB_PYSPARK = """\
pyspark: {keys: {format: "shard-{:02d}", count: 40}, python_hash_seed: 0, map_slices: 1, partitions: 9, item_bytes: 800000}
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_cluster_yaml(tmp_path):
    c = ClusterSpec.load(write(tmp_path, "cluster.yaml", CLUSTER))
    assert c.hosts == ["127.0.0.2", "127.0.0.3"]
    assert [(e.id, e.cores) for e in c.executors] == [("0", 8), ("1", 8)]
    assert c.machine_of_host()["127.0.0.3"].name == "box"
    assert c.effective_cores() == 2
    conf = c.scheduler_conf()
    assert conf.wait_node_ms == 3000.0 and str(conf.spark_version) == "4.0"


def test_cluster_generator_form_and_default_machines():
    c = ClusterSpec.from_dict({"executors": {"count": 100, "cores": 1, "host": "host{i}"}})
    assert len(c.executors) == 100 and c.executors[0].host == "host0" and c.executors[99].id == "99"
    assert len(c.machines) == 100 and c.machines[5].cores == 1
    assert c.spark_version == "4.0"


def test_job_yaml_forms(tmp_path):
    j = JobSpec.load(write(tmp_path, "job.yaml", JOB_EXPLICIT))
    assert [s.num_tasks for s in j.stages] == [4, 2]
    assert str(j.stages[0].prefs[3][0]) == "executor_127.0.0.2_0"
    assert j.stages[1].prefs[1] == () and j.stages[1].cpu_seconds == (1.0, 2.5) and j.stages[1].python
    p = JobSpec.load(write(tmp_path, "job2.yaml", JOB_PYSPARK))
    assert p.pyspark.partitions == 9 and len(p.pyspark.workload.keys) == 40
    assert sum(len(m) for m in p.pyspark.reduce_members) == 40
    assert p.pyspark.map_output_sizes(0) == [len(m) * 800000 for m in p.pyspark.reduce_members]


BAD_CLUSTERS = [
    ("unknown key", CLUSTER + "colour: red\n", "colour"),
    ("unknown executor key", CLUSTER.replace("registers_at: 0.0", "register_at: 0.0"), "executors[0].register_at"),
    ("negative wait", CLUSTER.replace("spark.locality.wait: 3s", "spark.locality.wait: -1s"), "spark.locality.wait"),
    ("zero nodes", CLUSTER.split("executors:")[0] + "executors: []\n", "executors"),
    ("zero count", CLUSTER.split("executors:")[0] + "executors: {count: 0, host: h}\n", "executors.count"),
    ("undefined machine", CLUSTER + "  - {id: '2', host: 127.0.0.9}\n", "executors[2].host"),
    ("bad cores", CLUSTER.replace("cores: 8, registers_at", "cores: 0, registers_at"), "executors[0].cores"),
    ("bad version", CLUSTER.replace('"4.0"', '"1.6"'), "spark_version"),
    ("bad bool", CLUSTER.replace("spark.executor.cores: 8", "spark.shuffle.reduceLocality.enabled: maybe"),
     "config.spark.shuffle.reduceLocality.enabled"),
    ("machine without hosts", CLUSTER.replace("hosts: [127.0.0.2, 127.0.0.3]", "hosts: []"), "machines[0].hosts"),
    ("host on two machines", CLUSTER.replace("machines:\n", "machines:\n  - {name: other, cores: 1, hosts: [127.0.0.3]}\n"),
     "machines[1].hosts"),
]


@pytest.mark.parametrize("label, text, field", BAD_CLUSTERS, ids=[b[0] for b in BAD_CLUSTERS])
def test_bad_cluster_files_exit_2_with_one_line(tmp_path, capsys, label, text, field):
    cluster = write(tmp_path, "cluster.yaml", text)
    job = write(tmp_path, "job.yaml", JOB_PYSPARK)
    assert main(["simulate", "--cluster", str(cluster), "--job", str(job)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(cluster) in err and field in err, err


BAD_JOBS = [
    ("unknown key", JOB_PYSPARK.replace("item_bytes", "item_size"), "item_size"),
    ("partitions < 1", JOB_PYSPARK.replace("partitions: 9", "partitions: 0"), "partitions"),
    ("unknown host in prefs", JOB_EXPLICIT.replace("[127.0.0.3]", "[127.0.0.7]"), "stages[1].prefs"),
    ("tasks < 1", JOB_EXPLICIT.replace("tasks: 4", "tasks: 0"), "stages[0].tasks"),
    ("cost list length", JOB_EXPLICIT.replace("[1.0, 2.5]", "[1.0]"), "stages[1].cpu_seconds"),
    ("both forms", JOB_EXPLICIT + JOB_PYSPARK, "stages"),
    ("not yaml", "stages: [\n", "YAML"),
]


@pytest.mark.parametrize("label, text, field", BAD_JOBS, ids=[b[0] for b in BAD_JOBS])
def test_bad_job_files_exit_2_with_one_line(tmp_path, capsys, label, text, field):
    cluster = write(tmp_path, "cluster.yaml", CLUSTER)
    job = write(tmp_path, "job.yaml", text)
    assert main(["simulate", "--cluster", str(cluster), "--job", str(job)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert str(job) in err and field in err, err


@pytest.mark.parametrize("argv, field", [
    (["--nodes", "0"], "--nodes"),
    (["--partitions", "0"], "--partitions"),
    (["--wait=-3s"], "--wait"),
    (["--nodes", "x"], "--nodes"),
    (["--spark-version", "9.1"], "--spark-version"),
    (["--conf", "spark.task.cpus=0"], "spark.task.cpus"),
    (["--model", "/nonexistent/model.json"], "model.json"),
])
def test_bad_options_exit_2(capsys, argv, field):
    assert main(["simulate", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and field in err, err


def test_explicit_job_rejects_partitions(tmp_path, capsys):
    cluster = write(tmp_path, "cluster.yaml", CLUSTER)
    job = write(tmp_path, "job.yaml", JOB_EXPLICIT)
    assert main(["simulate", "--cluster", str(cluster), "--job", str(job), "--partitions", "3"]) == 2
    assert "--partitions" in capsys.readouterr().err


def test_more_nodes_than_the_cluster_has(tmp_path, capsys):
    cluster = write(tmp_path, "cluster.yaml", CLUSTER)
    assert main(["simulate", "--cluster", str(cluster), "--nodes", "3"]) == 2
    assert "--nodes" in capsys.readouterr().err


def test_unknown_top_level_keys_raise_user_error():
    with pytest.raises(UserError, match="job: stages\\[0\\].cpu: unknown key"):
        JobSpec.from_dict({"stages": [{"tasks": 1, "cpu_seconds": 1, "cpu": 2}]})


# -- the one table of Spark keys ------------------------------------------------------------
def _other_value(name: str) -> str:
    key, default = SPARK_KEYS[name], spark_default(name)
    if key.kind == "duration":
        return "7s"
    if key.kind == "bool":
        return "false" if default == "true" else "true"
    return str(int(default) + 1)


def test_every_scheduler_key_of_the_table_is_read_with_its_default():
    default = SchedulerConf.from_spark_conf({})
    assert default == SchedulerConf()  # the dataclass's defaults are Spark's, as the table gives them
    for name, key in SPARK_KEYS.items():
        assert SchedulerConf.is_modelled_key(name) == key.scheduler
        if key.scheduler:
            assert SchedulerConf.from_spark_conf({name: _other_value(name)}) != default, name
    assert not SchedulerConf.is_modelled_key("spark.app.name")


def test_level_waits_fall_back_to_the_locality_wait():
    conf = SchedulerConf.from_spark_conf({"spark.locality.wait": "1s", "spark.locality.wait.node": "0"})
    assert (conf.wait_process_ms, conf.wait_node_ms, conf.wait_rack_ms) == (1000.0, 0.0, 1000.0)
    with pytest.raises(UserError, match="config: spark.locality.wait: must not be negative"):
        SchedulerConf.from_spark_conf({"spark.locality.wait": "-1s"})


# -- machines: one parser for simulate and calibrate -----------------------------------------
def test_machines_only_view_and_the_default_rule(tmp_path):
    only_machines = write(tmp_path, "machines.yaml", CLUSTER.split("executors:")[0])
    machines = load_machines(only_machines)  # executors are optional in this view
    assert machines.machine_of("127.0.0.3").name == "box" and machines.machine_of("127.0.0.3").cores == 2
    # Hosts no machine holds: loopback hosts and the local driver share this machine's cores,
    # any other host is a machine of its own with its executor's slots.
    assert machines.machine_of("127.0.0.9").name == LOCAL_MACHINE
    assert machines.machine_of("10.0.0.5", "driver").name == LOCAL_MACHINE
    other = machines.machine_of("10.0.0.5", "3", executor_cores=4)
    assert (other.name, other.cores) == ("host:10.0.0.5", 4)
    # A whole cluster file gives the same machines as the simulator reads from it.
    full = write(tmp_path, "cluster.yaml", CLUSTER)
    assert load_machines(full).by_host == ClusterSpec.load(full).machine_of_host()


def test_machines_only_view_refuses_what_simulate_refuses(tmp_path):
    bad = write(tmp_path, "cluster.yaml", "machines: [{name: box, cores: 2, hosts: []}]\n")
    with pytest.raises(UserError, match="machines\\[0\\].hosts: a machine needs at least one host"):
        load_machines(bad)


# -- the PySpark workload: one model for the job and for calibration ---------------------------
def test_workload_file_is_read_as_the_job_file(tmp_path):
    path = write(tmp_path, "job.yaml", JOB_PYSPARK)
    workload = load_workload(path)
    assert workload == JobSpec.load(path).pyspark.workload
    assert workload.python_version == DEFAULT_PYTHON_VERSION and workload.item_bytes == 800000
    assert sum(workload.reduce_items(9)) == 40 and workload.map_items(2) == [20, 20]
    # Without item_bytes the simulated job takes the study's 800 kB; calibration sees "not stated".
    unsized = write(tmp_path, "unsized.yaml", JOB_PYSPARK.replace(", item_bytes: 800000", ""))
    assert load_workload(unsized).item_bytes is None and JobSpec.load(unsized).pyspark.item_bytes == 800000


@pytest.mark.parametrize("text, field", [
    (JOB_PYSPARK.replace("map_slices", "slices"), "pyspark.slices: unknown key"),
    (JOB_PYSPARK.replace("python_hash_seed: 0", "python_hash_seed: -1"), "pyspark.python_hash_seed"),
    ("pyspark: {keys: [], partitions: 2}\n", "pyspark.keys: at least one key"),
    (JOB_EXPLICIT, "pyspark: missing"),
])
def test_bad_workload_files_are_one_line(tmp_path, text, field):
    path = write(tmp_path, "w.yaml", text)
    with pytest.raises(UserError, match=field) as err:
        load_workload(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)

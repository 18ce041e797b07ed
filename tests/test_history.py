"""Simulated runs as Spark event logs, read back by the tool and by Spark's own History Server.

Without Spark: `simulate`/`sweep --event-log` write Spark-named logs (deterministic, one per run,
`--keep` of a sweep), bad options end as one line, and a property (hypothesis) that for random
simulated jobs the written log reads back with `eventlog.reader` into the same task records and
every event carries the fields Spark's `JsonProtocol` needs to replay it.

Without Spark, too: the staging folder of links (`real.history_links`) holds one link per log
found at any depth, follows logs that appear, are renamed or vanish, and shows a name once.

Integration (`spark` marker, needs Java): `sparkdelay history start --dir D` on a free port, D
holding a simulated run in `D/sim/`, a recorded real run in `D/real/eventlogs/` and that real run's
simulated twin in `D/twins/` (none at the top level: Spark alone would list nothing); the REST API
(`/api/v1/applications`, `/jobs`, `/stages`, `/stages/N/0/taskList`) must give the simulation's
numbers of jobs, stages and tasks and each task's host and locality (for the real run: what the
tool's reader reads from its log; for the twin: the real run's stages and task counts), a log
written into a new subfolder after the start must be listed and one deleted unlisted, an empty
folder must be accepted, and `history stop` must leave no process of the server or its linker.
"""

from __future__ import annotations

import json
import shutil
import socket
import time
import urllib.request
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from sparkdelay.app.cli import main as cli_main
from sparkdelay.calibration.twins import TWIN_KEY, write_twin
from sparkdelay.calibration.validate import measured_run
from sparkdelay.app.runspec import RunSpec
from sparkdelay.app.simlog import app_id, write_run_log
from sparkdelay.eventlog.codecs import decompress_bytes
from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.eventlog.writer import DEFAULT_START_MS, SIMULATED_KEY
from sparkdelay.real import history_links, procs
from sparkdelay.real.history import HistoryServer
from sparkdelay.sim.model.cluster import load_machines
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.engine import simulate
from sparkdelay.sim.model.job import load_workload

from conftest import REPO

# A recorded real run (2 hosts, partitionBy(9), wait 3s, data/runs/shared) and its simulated twin:
# the same layout and job with the model fitted to those runs.
REAL_LOG = REPO / "data" / "runs" / "shared" / "eventlogs" / "app-20261129183350-0009.zstd"
SIM_SPEC = RunSpec(preset="local", nodes=2, partitions=9, wait="3s", model_path=str(REPO / "data" / "model.json"))
SIM_SEED = 0
REAL_CLUSTER = REPO / "data" / "runs" / "shared" / "cluster.yaml"
WORKLOAD = REPO / "data" / "study-workload.yaml"
MODEL = REPO / "data" / "model.json"

# The fields Spark 4's JsonProtocol reads without a default when it replays each event (the
# History Server drops an event it cannot read), and what the UI shows them as.
REQUIRED = {
    "SparkListenerLogStart": ["Spark Version"],
    "SparkListenerEnvironmentUpdate": ["JVM Information", "Spark Properties", "Hadoop Properties",
                                       "System Properties", "Classpath Entries"],
    "SparkListenerApplicationStart": ["App Name", "App ID", "Timestamp", "User"],
    "SparkListenerExecutorAdded": ["Timestamp", "Executor ID", "Executor Info"],
    "SparkListenerJobStart": ["Job ID", "Submission Time", "Stage Infos", "Stage IDs"],
    "SparkListenerStageSubmitted": ["Stage Info"],
    "SparkListenerTaskStart": ["Stage ID", "Stage Attempt ID", "Task Info"],
    "SparkListenerTaskEnd": ["Stage ID", "Stage Attempt ID", "Task Type", "Task End Reason", "Task Info",
                             "Task Metrics"],
    "SparkListenerStageCompleted": ["Stage Info"],
    "SparkListenerJobEnd": ["Job ID", "Completion Time", "Job Result"],
    "SparkListenerApplicationEnd": ["Timestamp"],
}
EXECUTOR_INFO = ["Host", "Total Cores", "Log Urls"]
STAGE_INFO = ["Stage ID", "Stage Attempt ID", "Stage Name", "Number of Tasks", "RDD Info", "Parent IDs", "Details"]
RDD_INFO = ["RDD ID", "Name", "Parent IDs", "Storage Level", "Number of Partitions",
            "Number of Cached Partitions", "Memory Size", "Disk Size"]
TASK_INFO = ["Task ID", "Index", "Attempt", "Launch Time", "Executor ID", "Host", "Locality", "Speculative",
             "Getting Result Time", "Finish Time", "Failed", "Killed", "Accumulables"]
METRICS = ["Executor Deserialize Time", "Executor Run Time", "Result Size", "JVM GC Time",
           "Result Serialization Time", "Memory Bytes Spilled", "Disk Bytes Spilled"]


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in decompress_bytes(path).decode().splitlines()]


def _missing(events: list[dict]) -> list[str]:
    """Every required field absent from an event, as 'event type: field'."""
    out = []

    def need(obj: dict, keys: list[str], where: str) -> None:
        out.extend(f"{where}: {k}" for k in keys if k not in obj)

    for ev in events:
        kind = ev["Event"]
        need(ev, REQUIRED[kind], kind)
        if kind == "SparkListenerExecutorAdded":
            need(ev["Executor Info"], EXECUTOR_INFO, kind)
        for info in ([ev["Stage Info"]] if "Stage Info" in ev else []) + ev.get("Stage Infos", []):
            need(info, STAGE_INFO, kind)
            for rdd in info.get("RDD Info", []):
                need(rdd, RDD_INFO, kind)
        if "Task Info" in ev:
            need(ev["Task Info"], TASK_INFO, kind)
        if kind == "SparkListenerTaskEnd":
            need(ev["Task Metrics"], METRICS, kind)
            need(ev["Task End Reason"], ["Reason"], kind)
    return out


def _ms(seconds: float) -> int:
    return DEFAULT_START_MS + int(round(seconds * 1000.0))


# ----------------------------------------------------------------------------- without Spark
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes=st.integers(1, 4), partitions=st.integers(1, 24), wait=st.sampled_from(["0s", "1s", "3s"]),
       version=st.sampled_from(["4.0", "2.1"]), seed=st.integers(0, 2**31), codec=st.sampled_from(["none", "zstd"]))
def test_written_log_reads_back_into_the_same_tasks(tmp_path_factory, nodes, partitions, wait, version, seed, codec):
    spec = RunSpec(preset="local", nodes=nodes, partitions=partitions, wait=wait, spark_version=version)
    cluster, job, model = spec.build()
    result = simulate(cluster, job, model, seed=seed)
    path = write_run_log(spec, seed, tmp_path_factory.mktemp("ev"), codec, result=result, cluster=cluster)
    assert path.name == app_id(spec, seed) + (".zstd" if codec == "zstd" else "")

    events = _events(path)
    assert _missing(events) == []
    kinds = [e["Event"] for e in events]
    assert kinds[:3] == ["SparkListenerLogStart", "SparkListenerEnvironmentUpdate", "SparkListenerApplicationStart"]
    assert kinds[-2:] == ["SparkListenerJobEnd", "SparkListenerApplicationEnd"]
    started = set()
    for e in events:   # a task starts after its stage is submitted and ends after it started
        if e["Event"] == "SparkListenerStageSubmitted":
            started.add(("stage", e["Stage Info"]["Stage ID"]))
        elif e["Event"] == "SparkListenerTaskStart":
            assert ("stage", e["Stage ID"]) in started
            started.add(e["Task Info"]["Task ID"])
        elif e["Event"] == "SparkListenerTaskEnd":
            assert e["Task Info"]["Task ID"] in started

    log = read_eventlog(path)
    assert log.app_id == app_id(spec, seed) and log.properties[SIMULATED_KEY] == "true"
    assert log.properties["spark.sparkdelay.seed"] == str(seed)
    got = sorted((t.stage_id, t.task_id, t.index, t.attempt, t.executor_id, t.host, t.locality, t.launch_ms,
                  t.finish_ms, t.executor_run_time_ms) for t in log.tasks)
    want = sorted((t.stage_id, t.task_id, t.index, t.attempt, t.executor_id, t.host, t.locality,
                   _ms(t.launch_time), _ms(t.finish_time), _ms(t.finish_time) - _ms(t.launch_time))
                  for t in result.tasks)
    assert got == want
    assert [s.num_tasks for s in sorted(log.stages, key=lambda s: s.stage_id)] == \
        [len(result.stage_tasks(i)) for i in range(len(result.stage_names))]
    assert sorted((e.executor_id, e.host) for e in log.executors) == \
        sorted((e.id, e.host) for e in cluster.executors)


def test_simulate_event_log_is_named_like_spark_and_deterministic(tmp_path, capsys):
    argv = ["simulate", "--preset", "local", "--partitions", "4", "--seed", "3", "--event-log"]
    assert cli_main(argv + [str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert cli_main(argv + [str(tmp_path / "b"), "--event-log-codec", "zstd"]) == 0
    capsys.readouterr()
    assert cli_main(["simulate", "--preset", "local", "--partitions", "4", "--seed", "4",
                     "--event-log", str(tmp_path / "b"), "--event-log-codec", "none"]) == 0
    (a,), b = list((tmp_path / "a").iterdir()), sorted((tmp_path / "b").iterdir())
    assert f"event log         {a}" in out
    assert a.name.startswith("app-20260101000000-") and a.suffix == ".zstd"
    assert a.name in [p.name for p in b] and (tmp_path / "b" / a.name).read_bytes() == a.read_bytes()
    assert len(b) == 2 and len({p.stem for p in b}) == 2      # another seed: another application


def test_sweep_writes_logs_of_the_first_keep_runs(tmp_path, capsys):
    ev = tmp_path / "ev"
    argv = ["sweep", "--preset", "local", "--partitions", "2,5", "--reps", "2", "--processes", "1",
            "--no-progress", "--out", str(tmp_path / "s.csv"), "--event-log", str(ev), "--event-log-codec", "none"]
    assert cli_main(argv + ["--keep", "3"]) == 0
    assert "event logs of the first 3 runs" in capsys.readouterr().out
    logs = sorted(ev.iterdir())
    assert len(logs) == 3
    # the first 3 runs in sweep order: P=2 reps 0 and 1, then P=5 rep 0; each log is its row's run
    rows = (tmp_path / "s.csv").read_text().splitlines()[1:4]
    durations = sorted(round(float(r.split(",")[7]), 3) for r in rows)
    read = sorted(round((read_eventlog(p).end_ms - DEFAULT_START_MS) / 1000, 3) for p in logs)
    assert read == pytest.approx(durations, abs=0.002)
    assert cli_main(argv[:-4] + ["--event-log", str(tmp_path / "one")]) == 0    # default: --keep 1
    assert len(list((tmp_path / "one").iterdir())) == 1


@pytest.mark.parametrize("argv, message", [
    (["sweep", "--preset", "local", "--keep", "2"], "--keep: only with --event-log"),
    (["sweep", "--preset", "local", "--keep", "1001", "--event-log", "EV"], "--keep: expected 1 to 1000"),
    (["simulate", "--preset", "local", "--event-log", "FILE"], "--event-log: FILE exists and is not a folder"),
    (["history", "start", "--dir", "NOPE", "--state-dir", "ST"], "--dir: NOPE does not exist"),
    (["history", "start", "--dir", "FILE", "--state-dir", "ST"], "--dir: FILE is not a folder"),
    (["history", "start", "--dir", "EV", "--dir", "NOPE", "--state-dir", "ST"], "--dir: NOPE does not exist"),
])
def test_bad_options_are_one_line(tmp_path, capsys, argv, message):
    (tmp_path / "FILE").write_text("x")
    (tmp_path / "EV").mkdir()
    argv = [str(tmp_path / a) if a in ("EV", "FILE", "NOPE", "ST") else a for a in argv]
    message = message.replace("FILE", str(tmp_path / "FILE")).replace("NOPE", str(tmp_path / "NOPE"))
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_history_status_and_stop_without_a_server(tmp_path, capsys):
    assert cli_main(["history", "status", "--state-dir", str(tmp_path)]) == 1
    assert cli_main(["history", "stop", "--state-dir", str(tmp_path)]) == 0
    assert "nothing running" in capsys.readouterr().out


def _sim_log(folder: Path, seed: int, codec: str = "zstd") -> Path:
    return write_run_log(RunSpec(preset="local", partitions=2), seed, folder, codec)


def test_links_show_every_log_at_any_depth_once(tmp_path):
    d, staging = tmp_path / "D", tmp_path / "state" / "eventlogs"
    a = _sim_log(d / "sim", 1)
    b = _sim_log(d / "x" / "y" / "z", 2, "none")
    shutil.copytree(REPO / "tests" / "data" / "eventlogs" / "rolling-eventlog_v2_local-1795971199876",
                    d / "deep" / "rolling-eventlog_v2_local-1795971199876")
    (d / "copy").mkdir()
    shutil.copyfile(a, d / "copy" / a.name)   # the same application twice
    (d / "sim" / "notes.txt").write_text("not a log")
    (d / "index.jsonl").write_text("{}\n")
    (d / ".hidden").mkdir()
    _sim_log(d / ".hidden", 3)
    found = history_links.sync([d], staging)
    names = sorted(p.name for p in staging.iterdir())
    assert names == sorted([a.name, b.name, "eventlog_v2_rolling-eventlog_v2_local-1795971199876"])
    assert all((staging / n).is_symlink() for n in names)
    assert (staging / a.name).resolve() == (d / "copy" / a.name).resolve()   # sorted paths: copy/ before sim/
    assert found.duplicates == [str(d / "sim" / a.name)]
    assert found.per_folder == {str(d / "copy"): 1, str(d / "deep"): 1, str(d / "x" / "y" / "z"): 1}
    assert history_links.read_status(staging)["logs"] == 3
    # a new log appears, a renamed one follows its new name, a deleted one goes
    c = _sim_log(d / "later", 4)
    running = b.with_name(b.name + ".inprogress")
    b.rename(running)
    shutil.rmtree(d / "deep")
    history_links.sync([d], staging, history_links.Sniffer())
    assert sorted(p.name for p in staging.iterdir()) == sorted([a.name, c.name, running.name])
    # the staging folder inside --dir is not a folder of logs of its own
    inner = d / "state" / "eventlogs"
    history_links.sync([d], inner)
    assert sorted(p.name for p in inner.iterdir()) == sorted([a.name, c.name, running.name])
    history_links.sync([d], inner)
    assert len(list(inner.iterdir())) == 3


def test_sniffer_asks_again_when_a_file_grows(tmp_path):
    sniff, path = history_links.Sniffer(), tmp_path / "app-1"
    path.write_bytes(b"")
    assert not sniff(path)                    # Spark has just created it
    path.write_text('{"Event":"SparkListenerLogStart","Spark Version":"4.0.1"}\n')
    assert sniff(path)


# ----------------------------------------------------------------------------- the History Server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


class Served:
    """A History Server on a temporary folder with a simulated run, a real one and the real one's
    twin, each in a subfolder (as `simulate --event-log runs/sim` and `sparkdelay run` put them)."""

    def __init__(self, root: Path):
        if shutil.which("java") is None:
            pytest.skip("java not installed (Spark's History Server needs Java 17)")
        self.logs = root / "logs"
        self.state = root / "state"
        self.cluster, job, model = SIM_SPEC.build()
        self.result = simulate(self.cluster, job, model, seed=SIM_SEED)
        self.sim_path = write_run_log(SIM_SPEC, SIM_SEED, self.logs / "sim", "zstd", result=self.result,
                                      cluster=self.cluster)
        self.sim_id = app_id(SIM_SPEC, SIM_SEED)
        self.real_path = self.logs / "real" / "eventlogs" / REAL_LOG.name
        self.real_path.parent.mkdir(parents=True)
        shutil.copyfile(REAL_LOG, self.real_path)
        self.real_id = REAL_LOG.name.split(".")[0]
        run = measured_run(read_eventlog(self.real_path), load_machines(REAL_CLUSTER), load_workload(WORKLOAD))
        self.twin = write_twin(run, CostModel.load(MODEL), self.logs / "twins", seed=0, model_label="data/model.json")
        self.twin_id = self.twin.app_id
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = HistoryServer(self.state)
        self.start_output = start_server(self.logs, self.port, self.state)
        self.record, self.linker = self.server.record(), self.server.linker_record()
        wait_for_apps(self.url, {self.sim_id, self.real_id, self.twin_id})

    def real_log(self):
        return read_eventlog(self.real_path)

    def stop(self) -> None:
        assert cli_main(["history", "stop", "--state-dir", str(self.state)]) == 0
        for rec in (self.record, self.linker):
            assert procs.tree(rec) == [] and not procs.is_alive(rec)


def start_server(folder: Path, port: int, state: Path) -> str:
    """`history start` through the command line; what it printed."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli_main(["history", "start", "--dir", str(folder), "--port", str(port),
                         "--state-dir", str(state)]) == 0
    return out.getvalue()


def wait_for_apps(url: str, want: set[str], timeout_s: float = 30.0) -> None:
    """Until the server lists exactly `want` (a new log is listed after a linker sync and a scan)."""
    deadline = time.monotonic() + timeout_s
    while (got := {a["id"] for a in get(f"{url}/api/v1/applications")}) != want:
        assert time.monotonic() < deadline, f"the History Server lists {sorted(got)}, not {sorted(want)}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("history"))
    try:
        yield s
    finally:
        s.stop()


@pytest.mark.spark
def test_history_server_shows_the_simulated_run(served, capsys):
    assert cli_main(["history", "status", "--state-dir", str(served.state)]) == 0
    assert f"{served.url}  pid {served.record.pid} running" in capsys.readouterr().out
    api = f"{served.url}/api/v1/applications/{served.sim_id}"
    (app,) = [a for a in get(f"{served.url}/api/v1/applications") if a["id"] == served.sim_id]
    assert app["attempts"][0]["completed"] and app["attempts"][0]["duration"] == \
        _ms(served.result.job_duration_s) - DEFAULT_START_MS
    jobs = get(f"{api}/jobs")
    assert [(j["jobId"], j["status"], j["numTasks"]) for j in jobs] == [(0, "SUCCEEDED", len(served.result.tasks))]
    stages = sorted(get(f"{api}/stages"), key=lambda s: s["stageId"])
    n_stages = len(served.result.stage_names)
    assert [(s["stageId"], s["status"], s["numTasks"], s["numCompleteTasks"]) for s in stages] == \
        [(i, "COMPLETE", len(served.result.stage_tasks(i)), len(served.result.stage_tasks(i))) for i in range(n_stages)]
    for i in range(n_stages):
        tasks = get(f"{api}/stages/{i}/0/taskList?length=1000")
        assert sorted((t["index"], t["host"], t["taskLocality"], t["executorId"], t["status"]) for t in tasks) == \
            sorted((t.index, t.host, t.locality, t.executor_id, "SUCCESS") for t in served.result.stage_tasks(i))
    executors = get(f"{api}/executors")
    assert sorted((e["id"], e["hostPort"], e["totalCores"]) for e in executors if e["id"] != "driver") == \
        sorted((e.id, e.host, e.cores) for e in served.cluster.executors)
    env = get(f"{api}/environment")
    assert [SIMULATED_KEY, "true"] in env["sparkProperties"]


@pytest.mark.spark
def test_history_server_shows_the_real_run_as_the_reader_reads_it(served):
    log = read_eventlog(served.real_path)
    api = f"{served.url}/api/v1/applications/{served.real_id}"
    assert len(get(f"{api}/jobs")) == len(log.jobs)
    stages = get(f"{api}/stages")
    assert sorted((s["stageId"], s["numTasks"]) for s in stages) == sorted((s.stage_id, s.num_tasks) for s in log.stages)
    for s in log.stages:
        tasks = get(f"{api}/stages/{s.stage_id}/{s.attempt}/taskList?length=1000")
        assert sorted((t["taskId"], t["host"], t["taskLocality"]) for t in tasks) == \
            sorted((t.task_id, t.host, t.locality) for t in log.tasks if t.stage_id == s.stage_id)


@pytest.mark.spark
def test_history_start_refuses_a_busy_state_dir_and_a_taken_port(served, tmp_path, capsys):
    argv = ["history", "start", "--dir", str(served.logs), "--port", str(free_port())]
    assert cli_main(argv + ["--state-dir", str(served.state)]) == 2
    assert "already running" in capsys.readouterr().err
    assert cli_main(argv[:-1] + [str(served.port), "--state-dir", str(tmp_path / "other")]) == 2
    assert f"--port: port {served.port} on 127.0.0.1 is in use" in capsys.readouterr().err


@pytest.mark.spark
def test_history_start_shows_the_logs_of_every_subfolder(served, capsys):
    out = served.start_output
    assert f"3 event logs found under {served.logs} (" in out
    for folder in ("real/eventlogs", "sim", "twins"):
        assert f"{served.logs / folder} 1" in out
    assert not any(p.is_file() for p in served.logs.iterdir())     # nothing at the top level
    assert cli_main(["history", "status", "--state-dir", str(served.state)]) == 0
    assert "(3 event logs, kept in sync)" in capsys.readouterr().out


@pytest.mark.spark
def test_a_log_written_after_the_start_is_listed_and_a_deleted_one_is_not(served):
    apps = {served.sim_id, served.real_id, served.twin_id}
    spec = RunSpec(preset="local", nodes=3, partitions=5, wait="0s")
    later = write_run_log(spec, 7, served.logs / "later" / "deeper", "none")
    wait_for_apps(served.url, apps | {app_id(spec, 7)})
    tasks = get(f"{served.url}/api/v1/applications/{app_id(spec, 7)}/stages/1/0/taskList?length=100")
    assert len(tasks) == 5
    later.unlink()
    wait_for_apps(served.url, apps)


@pytest.mark.spark
def test_the_twin_renders_next_to_its_real_run(served):
    real, twin = read_eventlog(served.real_path), read_eventlog(served.twin.path)
    api = f"{served.url}/api/v1/applications"
    (listed,) = [a for a in get(api) if a["id"] == served.twin_id]
    assert listed["name"].startswith(f"twin of {served.real_id} (")
    stages = {}
    for app in (served.real_id, served.twin_id):
        assert [j["status"] for j in get(f"{api}/{app}/jobs")] == ["SUCCEEDED"]
        stages[app] = sorted((s["stageId"], s["name"], s["numTasks"], s["status"]) for s in get(f"{api}/{app}/stages"))
        for stage_id, _, n, _ in stages[app]:
            assert len(get(f"{api}/{app}/stages/{stage_id}/0/taskList?length=1000")) == n
        # the UI's stage list renders (not an error page), as the report's links open it
        with urllib.request.urlopen(f"{served.url}/history/{app}/stages/", timeout=10) as resp:
            page = resp.read().decode()
        assert resp.status == 200 and "Stages for All Jobs" in page and "Application not found" not in page
    assert stages[served.twin_id] == stages[served.real_id]     # same stages, names and task counts
    assert sum(s.num_tasks for s in twin.stages) == len(real.tasks) == len(twin.tasks)
    env = dict(get(f"{api}/{served.twin_id}/environment")["sparkProperties"])
    assert env[TWIN_KEY] == served.real_id and env[SIMULATED_KEY] == "true"
    assert env["spark.locality.wait"] == real.properties["spark.locality.wait"] == "3s"
    assert env["spark.app.id"] == served.twin_id


@pytest.mark.spark
def test_an_empty_folder_is_accepted_and_fills_later(tmp_path, capsys):
    if shutil.which("java") is None:
        pytest.skip("java not installed (Spark's History Server needs Java 17)")
    empty, state, port = tmp_path / "runs", tmp_path / "state", free_port()
    empty.mkdir()
    out = start_server(empty, port, state)
    server = HistoryServer(state)
    records = [server.record(), server.linker_record()]
    try:
        assert f"no event logs under {empty} yet" in out
        url = f"http://127.0.0.1:{port}"
        assert get(f"{url}/api/v1/applications") == []
        write_run_log(SIM_SPEC, 5, empty / "sim", "zstd")
        wait_for_apps(url, {app_id(SIM_SPEC, 5)})
    finally:
        assert cli_main(["history", "stop", "--state-dir", str(state)]) == 0
    for rec in records:
        assert procs.tree(rec) == [] and not procs.is_alive(rec)

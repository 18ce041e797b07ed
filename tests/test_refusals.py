"""Honest refusals (issue 14): every bad input is one line naming the file or field, exit status 2.

One test per class of bad input, each parametrized over examples and run through the real
command line in-process (`sparkdelay.app.cli.main`): the exit status is 2, stderr is exactly one
line naming where the mistake is, and there is no traceback. A last test fuzzes a valid file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkdelay.app.cli import main
from sparkdelay.eventlog.reader import iter_lines
from sparkdelay.ground.limits import limits_table

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "data" / "runs" / "shared"
MODEL = ROOT / "data" / "model.json"
ONE_LOG = SHARED / "eventlogs" / "app-20261129183030-0001.zstd"
SCENARIO = ROOT / "tests" / "data" / "scenarios" / "T03-basic-delay-scheduling.yaml"

CLUSTER = 'executors:\n  - {id: "0", host: h1, cores: 2}\n'
JOB = "stages:\n  - {name: s0, tasks: 2, cpu_seconds: 1.0}\n"


def refused(capsys, argv, *names):
    """Run the CLI; assert exit 2 and one stderr line naming every one of `names`; return it."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:   # argparse refuses a bad option value itself, also with status 2
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def events() -> list[dict]:
    """The events of one real two-executor shuffle run, as plain JSON objects."""
    return [json.loads(line) for _, line, _ in iter_lines(ONE_LOG, False)]


def write_log(path: Path, evs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in evs))
    return path


def validate(log):
    return ["validate", log, "--model", MODEL, "--cluster", SHARED / "cluster.yaml", "--reps", "1"]


def first(evs, kind, n=0):
    return [e for e in evs if e["Event"] == kind][n]


# ---------------------------------------------------------------------------------------------
# 1. Files that are not UTF-8, or nested absurdly deep


def _inputs(tmp_path: Path, content: bytes, kind: str):
    """argv reading `content` as the input of `kind`, and the file's name."""
    f = tmp_path / ("index.jsonl" if kind == "index" else f"input.{kind}")
    f.write_bytes(content)
    return {
        "cluster": ["simulate", "--cluster", f],
        "job": ["simulate", "--job", f],
        "model": ["simulate", "--model", f],
        "scenario": ["replay", f],
        "workload": ["validate", ONE_LOG, "--model", MODEL, "--workload", f],
        "machines": ["calibrate", ONE_LOG, "--cluster", f, "-o", tmp_path / "m.json"],
        "index": ["validate", f, "--model", MODEL],
        "eventlog": ["validate", f, "--model", MODEL],
    }[kind], f


KINDS = ["cluster", "job", "model", "scenario", "workload", "machines", "index", "eventlog"]


@pytest.mark.parametrize("kind", KINDS)
def test_non_utf8_input(tmp_path, capsys, kind):
    # YAML and JSON are UTF-8; a stray 0xff byte is named by file and offset.
    body = b'{"Event": "SparkListenerLogStart", "x": "\xff"}\n' if kind in ("index", "eventlog") else b"name: \xff\n"
    argv, f = _inputs(tmp_path, body, kind)
    assert "UTF-8" in refused(capsys, argv, f)


@pytest.mark.parametrize("kind", KINDS)
def test_deeply_nested_input(tmp_path, capsys, kind):
    # Thousands of levels would hit Python's recursion limit in the parser (RecursionError).
    yaml_kind = kind in ("cluster", "job", "scenario", "workload", "machines")
    body = ("a: " + "[" * 5000 + "]" * 5000 + "\n") if yaml_kind else ("[" * 5000 + "]" * 5000 + "\n")
    argv, f = _inputs(tmp_path, body.encode(), kind)
    assert "nested" in refused(capsys, argv, f)


@pytest.mark.parametrize("kind", ["model", "index", "eventlog"])
def test_json_nan(tmp_path, capsys, kind):
    # Python's json reads NaN and Infinity, which JSON does not have; a NaN time poisons every sum.
    argv, f = _inputs(tmp_path, b'{"Event": "SparkListenerLogStart", "format": NaN}\n', kind)
    assert "NaN" in refused(capsys, argv, f)


# ---------------------------------------------------------------------------------------------
# 2. Event logs that no Spark wrote


def _set(kind, path, value, n=0):
    def mutate(evs):
        e = first(evs, kind, n)
        for k in path[:-1]:
            e = e[k]
        e[path[-1]] = value
    return mutate


WRONG_TYPES = {
    "Stage IDs a string": (_set("SparkListenerJobStart", ["Stage IDs"], "abc"), "Stage IDs"),
    "Stage IDs of strings": (_set("SparkListenerJobStart", ["Stage IDs"], ["a"]), "Stage IDs"),
    "Parent IDs a number": (_set("SparkListenerStageCompleted", ["Stage Info", "Parent IDs"], 5, 1), "Parent IDs"),
    "Parent IDs a string": (_set("SparkListenerStageCompleted", ["Stage Info", "Parent IDs"], "x", 1), "Parent IDs"),
    "Spark Properties a string": (_set("SparkListenerEnvironmentUpdate", ["Spark Properties"], "abc"), "Spark Properties"),
    "Spark Properties a number": (_set("SparkListenerEnvironmentUpdate", ["Spark Properties"], 5), "Spark Properties"),
    "Spark Properties not pairs": (_set("SparkListenerEnvironmentUpdate", ["Spark Properties"], [1, 2]), "Spark Properties"),
    "Launch Time a string": (_set("SparkListenerTaskEnd", ["Task Info", "Launch Time"], "12"), "Launch Time"),
    "Submission Time a string": (_set("SparkListenerJobStart", ["Submission Time"], "12"), "Submission Time"),
    "stage Submission Time a string": (_set("SparkListenerStageCompleted", ["Stage Info", "Submission Time"], "1", 1),
                                       "Submission Time"),
    "Executor Run Time a string": (lambda evs: first(evs, "SparkListenerTaskEnd")["Task Metrics"].update(
        {"Executor Run Time": "12"}), "Executor Run Time"),
    "Executor CPU Time negative": (lambda evs: first(evs, "SparkListenerTaskEnd")["Task Metrics"].update(
        {"Executor CPU Time": -5}), "Executor CPU Time"),
    "Speculative a string": (_set("SparkListenerTaskEnd", ["Task Info", "Speculative"], "false"), "Speculative"),
    "RDD Info a string": (_set("SparkListenerStageCompleted", ["Stage Info", "RDD Info"], "x", 1), "RDD Info"),
    "Task End Reason a list": (_set("SparkListenerTaskEnd", ["Task End Reason"], [1]), "Task End Reason"),
    "Executor Info a string": (_set("SparkListenerExecutorAdded", ["Executor Info"], "x"), "Executor Info"),
    "Index negative": (_set("SparkListenerTaskEnd", ["Task Info", "Index"], -1), "Index"),
}


@pytest.mark.parametrize("case", WRONG_TYPES, ids=list(WRONG_TYPES))
def test_eventlog_field_of_wrong_type(tmp_path, capsys, events, case):
    mutate, field = WRONG_TYPES[case]
    evs = json.loads(json.dumps(events))
    mutate(evs)
    log = write_log(tmp_path / "app.log", evs)
    refused(capsys, validate(log), log, field)


def _dup_executor(evs):
    a = first(evs, "SparkListenerExecutorAdded")
    b = json.loads(json.dumps(a))
    b["Executor Info"]["Host"] = "10.9.9.9"
    evs.insert(evs.index(first(evs, "SparkListenerExecutorAdded", 1)) + 1, b)


def _task_end(evs):
    return first(evs, "SparkListenerTaskEnd")["Task Info"]


def _job_ends_at(offset_ms):
    def mutate(evs):
        start = first(evs, "SparkListenerJobStart")["Submission Time"]
        first(evs, "SparkListenerJobEnd")["Completion Time"] = start + offset_ms
    return mutate


def _props(**kv):
    return lambda evs: first(evs, "SparkListenerEnvironmentUpdate")["Spark Properties"].update(kv)


IMPOSSIBLE = {
    "task on an executor never added": (_set("SparkListenerTaskEnd", ["Task Info", "Executor ID"], "99"), "Executor ID"),
    "no executors": (lambda evs: [e for e in evs if e["Event"] != "SparkListenerExecutorAdded"], "Executor ID"),
    "task on another host than its executor": (_set("SparkListenerTaskEnd", ["Task Info", "Host"], "10.9.9.9"),
                                                '"Host"'),
    "task index out of range": (_set("SparkListenerTaskEnd", ["Task Info", "Index"], 77), "Index"),
    "executor id reused on another host": (_dup_executor, "Executor ID"),
    "task finishes before it launches": (lambda evs: _task_end(evs).update(
        {"Finish Time": _task_end(evs)["Launch Time"] - 1000}), "Finish Time"),
    "job ends before it starts": (_job_ends_at(-1000), "Completion Time"),
    "job ends the instant it starts": (_job_ends_at(0), "Completion Time"),
    "0-core executor": (_set("SparkListenerExecutorAdded", ["Executor Info", "Total Cores"], 0), "Total Cores"),
    "negative cores": (_set("SparkListenerExecutorAdded", ["Executor Info", "Total Cores"], -4), "Total Cores"),
    "huge core count": (_set("SparkListenerExecutorAdded", ["Executor Info", "Total Cores"], 10 ** 12), "Total Cores"),
    "spark.task.cpus=0": (_props(**{"spark.task.cpus": "0"}), "spark.task.cpus"),
    "spark.locality.wait=abc": (_props(**{"spark.locality.wait": "abc"}), "spark.locality.wait"),
    "hash seed not a number": (_props(**{"spark.executorEnv.PYTHONHASHSEED": "x"}), "PYTHONHASHSEED"),
    "Number of Tasks negative": (_set("SparkListenerStageCompleted", ["Stage Info", "Number of Tasks"], -3, 1),
                                 "Number of Tasks"),
}


@pytest.mark.parametrize("case", IMPOSSIBLE, ids=list(IMPOSSIBLE))
def test_eventlog_impossible_values(tmp_path, capsys, events, case):
    mutate, field = IMPOSSIBLE[case]
    evs = json.loads(json.dumps(events))
    evs = mutate(evs) or evs
    log = write_log(tmp_path / "app.log", evs)
    refused(capsys, validate(log), log, field)


def test_nan_run_time(tmp_path, capsys, events):
    log = write_log(tmp_path / "app.log", events)
    log.write_text(log.read_text().replace('"Executor Run Time": ', '"Executor Run Time": NaN, "x": ', 1))
    refused(capsys, validate(log), log, "NaN")


# ---------------------------------------------------------------------------------------------
# 3. Options


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "c.yaml").write_text(CLUSTER)
    (tmp_path / "j.yaml").write_text(JOB)
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "h0.yaml").write_text("machines:\n  - {name: b, cores: 2, hosts: []}\n")
    (tmp_path / "dir").mkdir()
    return tmp_path


SMALL = ["--cluster", "{t}/c.yaml", "--job", "{t}/j.yaml"]
FLAGS = {
    "negative seed": (["simulate", "--seed", "-1"], "--seed"),
    "gantt not an image": (["simulate", *SMALL, "--gantt", "{t}/x.notanimage"], "--gantt"),
    "sweep out a folder": (["sweep", *SMALL, "--reps", "1", "--out", "{t}/dir"], "--out"),
    "sweep out unwritable": (["sweep", *SMALL, "--reps", "1", "--out", "/proc/none/s.csv"], "--out"),
    "trace unwritable": (["simulate", *SMALL, "--trace", "/proc/none/t.csv"], "--trace"),
    "calibrate -o a folder": (["calibrate", str(ONE_LOG), "-o", "{t}/dir"], "{t}/dir"),
    "misspelt Spark key": (["simulate", "--conf", "spark.locality.wiat=1s"], "spark.locality.wiat"),
    "unknown locality key": (["simulate", "--conf", "spark.locality.wait.nodes=1s"], "spark.locality.wait.nodes"),
    "validate of an empty index": (["validate", "{t}/empty.jsonl", "--model", str(MODEL)], "empty.jsonl"),
    "calibrate machine without hosts": (["calibrate", str(ONE_LOG), "--cluster", "{t}/h0.yaml", "-o", "{t}/m.json"],
                                        "hosts"),
}


@pytest.mark.parametrize("case", FLAGS, ids=list(FLAGS))
def test_bad_options(files, capsys, case):
    argv, name = FLAGS[case]
    refused(capsys, [a.format(t=files) for a in argv], name.format(t=files))
    assert not (files / "m.json").exists()   # nothing written on refusal


def _closed_pipe_run(argv):
    """Run the CLI in a subprocess whose stdout is a pipe nobody reads (`| head` after it left)."""
    r, w = os.pipe()
    os.close(r)
    try:
        return subprocess.run([sys.executable, "-m", "sparkdelay", *map(str, argv)], stdout=w,
                              stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(w)


@pytest.mark.parametrize("argv", [
    ["simulate", "--preset", "local"],
    ["validate", ONE_LOG, "--model", MODEL, "--cluster", SHARED / "cluster.yaml", "--reps", "1"],
], ids=["simulate", "validate"])
def test_closed_pipe_is_not_a_traceback(argv):
    # `sparkdelay validate ... | head`: the reader leaving is not our error; exit as SIGPIPE would.
    proc = _closed_pipe_run(argv)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert proc.returncode == 141


# ---------------------------------------------------------------------------------------------
# 4. Sizes and durations beyond their documented limits


def _yaml(name, text):
    return lambda t: (t / name).write_text(text) and None


LIMITED = {
    "--nodes 10^20": ([], ["simulate", "--nodes", "99999999999999999999"], "--nodes"),
    "--partitions 10^7": ([], ["simulate", "--partitions", "10000000"], "--partitions"),
    "sweep --nodes 1-10^20": ([], ["sweep", "--nodes", "1-99999999999999999999", "--reps", "1", "--out", "{t}/s.csv"],
                              "--nodes"),
    "--wait 10^8 h": ([], ["simulate", "--wait", "99999999h"], "--wait"),
    "registers_at 1e9": ([("c2.yaml", 'executors:\n  - {id: "0", host: h1, cores: 2, registers_at: 1e9}\n')],
                         ["simulate", "--cluster", "{t}/c2.yaml", "--job", "{t}/j.yaml"], "registers_at"),
    "executor count 10^7": ([("c2.yaml", "executors: {count: 10000000, host: 'h{i}'}\n")],
                            ["simulate", "--cluster", "{t}/c2.yaml"], "count"),
    "cores 10^9": ([("c2.yaml", 'executors:\n  - {id: "0", host: h1, cores: 1000000000}\n')],
                   ["simulate", "--cluster", "{t}/c2.yaml", "--job", "{t}/j.yaml"], "cores"),
    "cpu_seconds 1e30": ([("j2.yaml", "stages:\n  - {name: s0, tasks: 2, cpu_seconds: 1e30}\n")],
                         ["simulate", "--cluster", "{t}/c.yaml", "--job", "{t}/j2.yaml"], "cpu_seconds"),
    "tasks 10^7": ([("j2.yaml", "stages:\n  - {name: s0, tasks: 10000000, cpu_seconds: 1}\n")],
                   ["simulate", "--cluster", "{t}/c.yaml", "--job", "{t}/j2.yaml"], "tasks"),
    "keys 10^7": ([("j2.yaml", "pyspark: {keys: {format: 'k{}', count: 10000000}}\n")],
                  ["simulate", "--job", "{t}/j2.yaml"], "count"),
    "partitions 10^7": ([("j2.yaml", "pyspark: {keys: {format: 'k{}', count: 4}, partitions: 10000000}\n")],
                        ["simulate", "--job", "{t}/j2.yaml"], "partitions"),
    "map slices 10^7": ([("j2.yaml", "pyspark: {keys: {format: 'k{}', count: 4}, map_slices: 10000000}\n")],
                        ["simulate", "--job", "{t}/j2.yaml"], "map_slices"),
    "model parameter 1e30": ([("m.json", '{"format": "sparkdelay-model/1", "params": {"cpu_per_item_s": 1e30}}')],
                             ["simulate", "--model", "{t}/m.json"], "cpu_per_item_s"),
    "sweep --reps 10^9": ([], ["sweep", "--reps", "1000000000", "--out", "{t}/s.csv"], "--reps"),
    "validate --reps 10^9": ([], ["validate", str(ONE_LOG), "--model", str(MODEL), "--reps", "1000000000"], "--reps"),
    "spark.task.cpus 10^9": ([], ["simulate", "--conf", "spark.task.cpus=1000000000"], "spark.task.cpus"),
}


@pytest.mark.parametrize("case", LIMITED, ids=list(LIMITED))
def test_sizes_beyond_limits(files, capsys, case):
    extra, argv, name = LIMITED[case]
    for fname, text in extra:
        (files / fname).write_text(text)
    line = refused(capsys, [a.format(t=files) for a in argv], name)
    assert "limit" in line or "between" in line or "at most" in line or "more than" in line


@pytest.mark.parametrize("value", [".nan", ".inf", "1e30", "-1"])
def test_scenario_advance_out_of_range(tmp_path, capsys, value):
    text = SCENARIO.read_text().replace("{advance: 3000}", "{advance: %s}" % value, 1)
    f = tmp_path / "s.yaml"
    f.write_text(text)
    refused(capsys, ["replay", f], f, "advance")


def test_scenario_unknown_key(tmp_path, capsys):
    # A misspelt top-level key (clock_strat) would silently fall back to its default.
    f = tmp_path / "s.yaml"
    f.write_text(SCENARIO.read_text().replace("clock_start:", "clock_strat:", 1))
    refused(capsys, ["replay", f], f, "clock_strat")


def test_readme_documents_the_limits():
    assert limits_table() in (ROOT / "README.md").read_text()


# ---------------------------------------------------------------------------------------------
# 5. Damaged cluster state files


@pytest.mark.parametrize("content", ["[1, 2]", "{}", '{"spec": 1, "master_url": "x", "started_at": 0}',
                                     '{"spec": {"nope": 1}, "master_url": "x", "started_at": 0}', "\xff", "[" * 5000])
def test_corrupt_cluster_state(tmp_path, capsys, content):
    (tmp_path / "cluster.json").write_bytes(content.encode("latin-1"))
    refused(capsys, ["cluster", "status", "--state-dir", tmp_path], tmp_path / "cluster.json")


@pytest.mark.parametrize("content", ['{"pid": "abc"}', '{"pid": true}', '{"pid": -1}', "[1, 2]", "\xff"])
def test_corrupt_pid_file_records_no_process(tmp_path, capsys, content):
    # A pid file that names no process is never signalled; status reports no cluster (exit 1).
    (tmp_path / "pids").mkdir()
    (tmp_path / "pids" / "master.json").write_bytes(content.encode("latin-1"))
    assert main(["cluster", "status", "--state-dir", str(tmp_path)]) == 1
    assert "Traceback" not in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Fuzz: random edits of a valid cluster file end in an answer or one clean line, never a traceback


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(0, len(CLUSTER) - 1), junk=st.binary(min_size=1, max_size=4))
def test_fuzz_cluster_file(tmp_path, capsys, pos, junk):
    data = CLUSTER.encode()
    f = tmp_path / "fuzz.yaml"
    f.write_bytes(data[:pos] + junk + data[pos + 1:])
    (tmp_path / "j.yaml").write_text(JOB)
    code = main(["simulate", "--cluster", str(f), "--job", str(tmp_path / "j.yaml")])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code == 0 or (code == 2 and len(err.strip().splitlines()) == 1), err

"""Fuzzing every input of the tool through its command line (issue 14).

For each input kind a valid file (or folder, or command line) is mutated by hypothesis-drawn
mutators (`fuzzkit`: byte-level truncation, flips, insertion, deletion, non-UTF-8, number tokens
such as 1e400, NaN and 2^64; structural edits of the parsed document: values of the wrong type,
huge, negative, NaN, deep nesting, missing and unknown keys) and read by the commands that read
it, in-process. Every case must end in a sane answer (where the mutated input may still be
valid) or one clean line naming the file, exit 2, nothing written; never a traceback or a hang
(`fuzzkit.run_case`). The quick profile runs in `make test`; the long one (`-m slow`, over 2,000
cases) writes the counts per kind to reports/data/fuzz_counts.json.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

import fuzzkit
from fuzzkit import Case, Counts, Reached, byte_mutation, dump_json, path_keys, run_case, tree_mutation, walk
from sparkdelay.eventlog.codecs import decompress_bytes

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "data" / "runs" / "shared"
MODEL = ROOT / "data" / "model.json"
EXAMPLES = ROOT / "docs" / "examples"
SCENARIOS = ROOT / "tests" / "data" / "scenarios"
SPARK_LOGS = ROOT / "tests" / "data" / "eventlogs"
# The shared runs an index case holds: N = 1-3 x P = 4, 9 at 3 s, and N = 2, P = 1.
INDEX_ROWS = (1, 5, 9, 23, 27, 41, 45)
LOG_ROW = 27   # the event log of the event-log cases: N = 3, P = 9, wait 3 s
SMALL_SCENARIOS = ("T03-basic-delay-scheduling.yaml", "T08-executors-added-and-lost.yaml",
                   "S02-multiple-cpus-per-task.yaml", "X1-largest-outputs-same-machine.yaml",
                   "T17-task-location-strings.yaml", "T10-rack-local-tasks.yaml")
SWEEP = ["sweep", "--preset", "study2017", "--nodes", "1-2", "--partitions", "2,5", "--wait", "0s,3s",
         "--reps", "2", "--processes", "1", "--no-progress"]
COUNTS_FILE = ROOT / "reports" / "data" / "fuzz_counts.json"
# The long profile's seeds; another base explores other cases (SPARKDELAY_FUZZ_SEED=2400 make test-slow).
SEED_BASE = int(os.environ.get("SPARKDELAY_FUZZ_SEED", "1400"))


# ---------------------------------------------------------------------------------------------
# The valid inputs


@dataclass
class Bases:
    root: Path
    machines: Path
    log: Path
    log_text: bytes
    index_dir: Path
    empty_dir: Path
    diff_dir: Path
    sweep_csv: bytes
    sweep_rows: list
    sleeper: psutil.Process
    counter: list = field(default_factory=lambda: [0])

    def work(self) -> Path:
        self.counter[0] += 1
        w = self.root / "cases" / str(self.counter[0])
        w.mkdir(parents=True)
        return w


def _index_rows() -> list[dict]:
    return [json.loads(line) for line in (SHARED / "index.jsonl").read_text().splitlines() if line.strip()]


def _make_bases(root: Path) -> Bases:
    rows = _index_rows()
    index_dir = root / "index"
    (index_dir / "eventlogs").mkdir(parents=True)
    shutil.copy(SHARED / "cluster.yaml", index_dir / "cluster.yaml")
    picked = [rows[i] for i in INDEX_ROWS]
    for r in picked:
        shutil.copy(SHARED / r["event_log"], index_dir / r["event_log"])
    (index_dir / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in picked))
    (root / "empty").mkdir()

    # Nine differential cases (three calibrate), as `differential record` wrote them.
    src, diff_dir = ROOT / "data" / "differential" / "sleep", root / "diff"
    (diff_dir / "eventlogs").mkdir(parents=True)
    plan = json.loads((src / "cases.json").read_text())
    plan["cases"] = plan["cases"][:9]
    ids = {c["run_id"] for c in plan["cases"]}
    (diff_dir / "cases.json").write_text(json.dumps(plan, indent=1))
    kept = [r for r in (json.loads(x) for x in (src / "index.jsonl").read_text().splitlines() if x) if r["run_id"] in ids]
    for r in kept:
        shutil.copy(src / r["event_log"], diff_dir / r["event_log"])
    (diff_dir / "index.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    shutil.copy(src / "cluster.yaml", diff_dir / "cluster.yaml")

    out = root / "sweep.csv"
    code, *_ = fuzzkit.invoke(SWEEP + ["--out", str(out)], timeout_s=120)
    assert code == 0
    # A process whose pid the state cases' pid files name, under another identity: never to be signalled.
    sleeper = psutil.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
    return Bases(root, SHARED / "cluster.yaml", SHARED / rows[LOG_ROW]["event_log"],
                 decompress_bytes(SHARED / rows[LOG_ROW]["event_log"]), index_dir, root / "empty", diff_dir,
                 out.read_bytes(), _csv_rows(out.read_bytes()), sleeper)


def _csv_rows(data: bytes) -> list:
    return sorted(map(tuple, csv.reader(io.StringIO(data.decode()))))


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    b = _make_bases(tmp_path_factory.mktemp("fuzz"))
    yield b
    alive = b.sleeper.is_running()
    if alive:
        b.sleeper.kill()
        b.sleeper.wait()
    assert alive, "a `cluster stop` of a damaged state dir ended a process the cluster never started"



@pytest.fixture
def no_real_actions(monkeypatch):
    """Accepted options may reach what starts real processes: stop there (counted as accepted)."""
    from sparkdelay.app.commands import run as run_command
    from sparkdelay.real import cluster, history

    def reached(*a, **k):
        raise Reached()

    class NoSubprocess:
        Popen = staticmethod(reached)
        DEVNULL = subprocess.DEVNULL
        STDOUT = subprocess.STDOUT
    monkeypatch.setattr(cluster.Cluster, "_spawn", reached)
    monkeypatch.setattr(run_command, "prepare_job", reached)
    monkeypatch.setattr(history, "subprocess", NoSubprocess)


# ---------------------------------------------------------------------------------------------
# Sanity of the answers to inputs that may still be valid


def check_simulate(out: str, case: Case) -> None:
    doc = json.loads(out)
    assert math.isfinite(doc["job_duration_s"]) and doc["job_duration_s"] >= 0, doc["job_duration_s"]
    assert all(isinstance(v, int) and v >= 0 for v in doc["tasks_per_host"].values()), doc["tasks_per_host"]


def check_validate(out: str, case: Case) -> None:
    doc = json.loads(out)
    assert doc["runs"], "no runs"
    for r in doc["runs"]:
        assert math.isfinite(r["measured_duration_s"]) and r["measured_duration_s"] > 0, r["measured_duration_s"]
        assert math.isfinite(r["predicted_duration_s"]) and r["predicted_duration_s"] >= 0, r["predicted_duration_s"]


def check_model_written(out: str, case: Case) -> None:
    from sparkdelay.sim.model.costs import CostModel
    written = [p for p in case.outputs if p.suffix == ".json"]
    assert written and written[0].exists(), "no model written"
    CostModel.load(written[0])


def check_json(out: str, case: Case) -> None:
    json.loads(out)


# ---------------------------------------------------------------------------------------------
# Commands per input kind: (argv, outputs, check, ok codes) for the file at `f`


def _simulate(f, w, *, cluster=None, job=None, model=None):
    argv = ["simulate", "--json"]
    for opt, path in (("--cluster", cluster), ("--job", job), ("--model", model)):
        if path is not None:
            argv += [opt, path]
    return argv, (), check_simulate


def _sweep_with(f, w, **files):
    out = w / "s.csv"
    argv = ["sweep", "--reps", "1", "--processes", "1", "--no-progress", "--out", out, "--partitions", "2,4"]
    for opt, path in files.items():
        argv += [f"--{opt}", path]
    return argv, (out,), None


def _validate(f, w, *, log=None, model=MODEL, cluster=None, workload=None):
    argv = ["validate", log, "--model", model, "--reps", "1", "--json"]
    argv += ["--cluster", cluster] if cluster else []
    argv += ["--workload", workload] if workload else []
    return argv, (), check_validate


def _calibrate(f, w, *, log, cluster=None, workload=None, method=None):
    out = w / "m.json"
    argv = ["calibrate", log, "-o", out] + (["--cluster", cluster] if cluster else [])
    argv += ["--workload", workload] if workload else []
    argv += ["--method", method] if method else []
    return argv, (out,), check_model_written


def _file_commands(kind: str, b: Bases):
    ex = EXAMPLES
    if kind == "cluster":
        return [lambda f, w: _simulate(f, w, cluster=f, job=ex / "job-pyspark.yaml"),
                lambda f, w: _simulate(f, w, cluster=f, job=ex / "job.yaml"),
                lambda f, w: _sweep_with(f, w, cluster=f, job=ex / "job-pyspark.yaml")]
    if kind == "machines":
        return [lambda f, w: _validate(f, w, log=b.log, cluster=f),
                lambda f, w: _calibrate(f, w, log=b.log, cluster=f)]
    if kind == "job":
        return [lambda f, w: _simulate(f, w, cluster=ex / "cluster.yaml", job=f)]
    if kind == "job-pyspark":
        return [lambda f, w: _simulate(f, w, cluster=ex / "cluster.yaml", job=f),
                lambda f, w: _simulate(f, w, job=f),
                lambda f, w: _sweep_with(f, w, job=f)]
    if kind == "model":
        return [lambda f, w: _simulate(f, w, model=f),
                lambda f, w: _validate(f, w, log=b.log, model=f, cluster=b.machines),
                lambda f, w: _sweep_with(f, w, model=f)]
    if kind == "workload":
        return [lambda f, w: _validate(f, w, log=b.log, cluster=b.machines, workload=f),
                lambda f, w: _calibrate(f, w, log=b.log, cluster=b.machines, workload=f)]
    if kind.startswith("eventlog"):
        return [lambda f, w: _validate(f, w, log=f, cluster=b.machines),
                lambda f, w: _calibrate(f, w, log=f, cluster=b.machines),
                lambda f, w: (["whatif", f, "--cluster", b.machines, "--reps", "1", "--executors", "3", "--json"],
                              (), check_json),
                lambda f, w: (["inspect", f, "--json"], (), check_json)]
    raise KeyError(kind)


YAML_BASES = {"cluster": [EXAMPLES / "cluster.yaml"], "machines": [SHARED / "cluster.yaml"],
              "job": [EXAMPLES / "job.yaml"], "job-pyspark": [EXAMPLES / "job-pyspark.yaml"],
              "workload": [ROOT / "data" / "study-workload.yaml"]}


def _mutated_doc(draw, data: bytes, parse, dump, strict: bool, finite_only: bool, text: bool = True):
    """(bytes, note, must_refuse, field names) of one byte-level or structural mutation."""
    if draw(st.booleans(), label="structural"):
        doc = parse(data)
        note, must, keys = tree_mutation(draw, doc, strict, finite_only)
        return dump(doc), note, must, keys
    new, note, must = byte_mutation(draw, data, text)
    return new, note, must, ()


def _yaml_dump(doc) -> bytes:
    return yaml.safe_dump(doc, sort_keys=False, width=1000).encode()


def yaml_case(draw, kind: str, b: Bases) -> Case:
    w = b.work()
    source = draw(st.sampled_from(YAML_BASES.get(kind, [])), label="base file")
    data, note, must, keys = _mutated_doc(draw, source.read_bytes(), yaml.safe_load, _yaml_dump, True, False)
    f = w / source.name
    f.write_bytes(data)
    argv, outputs, check = draw(st.sampled_from(_file_commands(kind, b)), label="command")(f, w)
    return Case("cluster" if kind == "machines" else kind, argv, (str(f),), keys, must, outputs=outputs,
                check=check, note=note)


def model_case(draw, b: Bases) -> Case:
    w = b.work()
    if draw(st.booleans(), label="params"):   # what the simulator reads, not the long fit report
        doc = json.loads(MODEL.read_bytes())
        paths = [(p, v) for p, v in walk(doc) if p[0] in ("params", "format", "calibrated_range")]
        note, must, keys = tree_mutation(draw, doc, False, True, paths)
        data = dump_json(doc)
    else:
        data, note, must, keys = _mutated_doc(draw, MODEL.read_bytes(), json.loads, dump_json, False, True)
    f = w / "model.json"
    f.write_bytes(data)
    argv, outputs, check = draw(st.sampled_from(_file_commands("model", b)), label="command")(f, w)
    return Case("model", argv, (str(f),), keys, must, outputs=outputs, check=check, note=note)


def scenario_case(draw, b: Bases) -> Case:
    w = b.work()
    source = SCENARIOS / draw(st.sampled_from(SMALL_SCENARIOS), label="scenario")
    data, note, must, keys = _mutated_doc(draw, source.read_bytes(), yaml.safe_load, _yaml_dump, True, False)
    f = w / source.name
    f.write_bytes(data)
    # A valid scenario whose expectations no longer hold is an answer: FAIL, exit 1.
    return Case("scenario", ["replay", f], (str(f),), keys, must, ok_codes=(0, 1), note=note)


# ---------------------------------------------------------------------------------------------
# Event logs: content mutated and re-encoded, or the encoded bytes mutated


def _event_mutation(draw, text: bytes):
    """A structural mutation of one event (picked by type first, so the rare ones get picked)."""
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    kinds = sorted({e["Event"] for e in events})
    op = draw(st.sampled_from(["field", "field", "field", "drop", "repeat", "move", "unknown"]), label="event op")
    kind = draw(st.sampled_from(kinds), label="event kind")
    i = draw(st.sampled_from([n for n, e in enumerate(events) if e["Event"] == kind]), label="event")
    must, keys = False, ()
    if op == "drop":
        note = f"event {i} ({kind}) dropped"
        del events[i]
    elif op == "repeat":
        note = f"event {i} ({kind}) repeated"
        events.insert(i, json.loads(json.dumps(events[i])))
    elif op == "move":
        j = draw(st.integers(0, len(events) - 1), label="to")
        note = f"event {i} ({kind}) moved to {j}"
        events.insert(j, events.pop(i))
    elif op == "unknown":
        note = "an unknown event inserted"
        events.insert(i, {"Event": "org.example.SomeListenerEvent", "x": 1})
    else:
        paths = [(p, v) for p, v in walk(events[i]) if p != ("Event",)]
        if not paths:
            return _event_mutation(draw, text)
        sub, must, keys = tree_mutation(draw, events[i], False, True, paths)
        note = f"{kind} (event {i}): {sub}"
    return b"".join(dump_json(e) + b"\n" for e in events), note, must, keys


def _log_content(draw, text: bytes):
    if draw(st.booleans(), label="structural"):
        return _event_mutation(draw, text)
    new, note, must = byte_mutation(draw, text, text=True)
    return new, note, must, ()


def eventlog_case(draw, codec: str, b: Bases) -> Case:
    w = b.work()
    name = b.log.name.split(".")[0] + ("" if codec == "plain" else f".{codec}")
    f = w / name
    spark_written = codec != "plain" and draw(st.integers(0, 3), label="Spark's own file") == 0
    if spark_written:
        # A log Spark itself wrote in this codec (local mode: no executors, so never a valid run).
        src = next(SPARK_LOGS.glob(f"{codec}-*"))
        f = w / src.name
        data, note, _ = byte_mutation(draw, src.read_bytes(), text=False)
        f.write_bytes(data)
        must, keys = True, ()
    elif codec != "plain" and draw(st.booleans(), label="mutate the encoded bytes"):
        data, note, must = byte_mutation(draw, fuzzkit.ENCODERS[codec](b.log_text), text=False)
        keys = ()
        f.write_bytes(data)
    else:
        content, note, must, keys = _log_content(draw, b.log_text)
        f.write_bytes(fuzzkit.ENCODERS[codec](content))
    argv, outputs, check = draw(st.sampled_from(_file_commands("eventlog", b)), label="command")(f, w)
    if spark_written and argv[0] == "inspect":
        must = False   # inspect summarises a local-mode log too: only a mutation that breaks it is refused
    return Case(f"eventlog-{codec}", argv, (str(f),), keys, must, outputs=outputs, check=check, note=note)


def rolling_case(draw, b: Bases) -> Case:
    """A rolling log folder (`eventlog_v2_<app>/events_<n>_<app>[.codec]` + appstatus marker)."""
    w = b.work()
    app = b.log.name.split(".")[0]
    folder = w / f"eventlog_v2_{app}"
    folder.mkdir()
    codec = draw(st.sampled_from(["plain", "zstd", "lz4"]), label="codec")
    suffix = "" if codec == "plain" else f".{codec}"
    lines = b.log_text.splitlines(keepends=True)
    cut = draw(st.integers(1, len(lines) - 1), label="split")
    parts = [b"".join(lines[:cut]), b"".join(lines[cut:])]
    op = draw(st.sampled_from(["content", "content", "bytes", "layout"]), label="rolling op")
    which = draw(st.integers(0, 1), label="part")
    must, keys, note = False, (), ""
    if op == "content":
        parts[which], note, must, keys = _log_content(draw, parts[which])
        note = f"part {which + 1}: {note}"
    encoded = [fuzzkit.ENCODERS[codec](p) for p in parts]
    if op == "bytes":
        encoded[which], note, must = byte_mutation(draw, encoded[which], text=codec == "plain")
        note = f"part {which + 1} bytes: {note}"
    names = [f"events_{n}_{app}{suffix}" for n in (1, 2)]
    marker = f"appstatus_{app}"
    if op == "layout":
        change = draw(st.sampled_from(["drop first", "drop last", "swap numbers", "in progress", "no marker",
                                       "stray file", "number 10"]), label="layout")
        note = f"layout: {change}"
        if change == "drop first":
            names[0] = None
        elif change == "drop last":
            names[1] = None
        elif change == "swap numbers":
            names = names[::-1]
        elif change == "in progress":
            marker += ".inprogress"
        elif change == "no marker":
            marker = None
        elif change == "stray file":
            (folder / "events_x_junk").write_bytes(b"junk\n")
        else:
            names[1] = f"events_10_{app}{suffix}"
    for n, data in zip(names, encoded):
        if n:
            (folder / n).write_bytes(data)
    if marker:
        (folder / marker).write_bytes(b"")
    argv, outputs, check = draw(st.sampled_from(_file_commands("eventlog", b)), label="command")(folder, w)
    return Case("eventlog-rolling", argv, (str(folder),), keys, must, outputs=outputs, check=check, note=note)


# ---------------------------------------------------------------------------------------------
# Run indexes, differential plans, sweep CSVs, cluster state


def _jsonl_mutation(draw, data: bytes):
    """One row of a JSON-lines file mutated structurally, or a line-level or byte-level edit."""
    lines = data.splitlines(keepends=True)
    op = draw(st.sampled_from(["row", "row", "row", "lines", "bytes"]), label="jsonl op")
    if op == "row":
        i = draw(st.integers(0, len(lines) - 1), label="row")
        doc = json.loads(lines[i])
        note, must, keys = tree_mutation(draw, doc, False, True)
        lines[i] = dump_json(doc) + b"\n"
        return b"".join(lines), f"row {i + 1}: {note}", must, keys
    if op == "lines":
        change = draw(st.sampled_from(["drop", "repeat", "blank", "torn tail", "not an object", "empty"]), label="lines")
        i = draw(st.integers(0, len(lines) - 1), label="line")
        if change == "drop":
            del lines[i]
        elif change == "repeat":
            lines.insert(i, lines[i])
        elif change == "blank":
            lines.insert(i, b"\n")
        elif change == "torn tail":
            lines[-1] = lines[-1][: draw(st.integers(1, len(lines[-1]) - 2), label="cut")]
        elif change == "not an object":
            lines[i] = b"[1, 2]\n"
        else:
            lines = []
        must = change in ("not an object", "empty")
        return b"".join(lines), f"lines: {change} at {i + 1}", must, ()
    new, note, must = byte_mutation(draw, data, text=True)
    return new, note, must, ()


def index_case(draw, b: Bases) -> Case:
    w = b.work()
    folder = w / "shared"
    shutil.copytree(b.index_dir, folder)
    f = folder / "index.jsonl"
    data, note, must, keys = _jsonl_mutation(draw, f.read_bytes())
    f.write_bytes(data)
    command = draw(st.sampled_from(["validate", "calibrate", "heldout"]), label="command")
    if command == "validate":
        argv, outputs, check = _validate(f, w, log=f, cluster=folder / "cluster.yaml")
    elif command == "calibrate":
        # The linear fit: the index is read the same way by both, and the trace fit's term
        # selection over 7 runs takes a minute a case (single logs fuzz the default, trace).
        argv, outputs, check = _calibrate(f, w, log=f, cluster=folder / "cluster.yaml", method="linear")
    else:
        out = w / "h.json"
        argv = ["heldout", "--shared", folder, "--pinned", b.empty_dir, "--reps", "1", "--json", "-o", out]
        outputs, check = (out,), check_json
    return Case("index", argv, (str(folder),), keys, must, outputs=outputs, check=check, note=note)


def cases_case(draw, b: Bases) -> Case:
    """A `differential record` folder: its plan (cases.json) or its index mutated, then scored."""
    w = b.work()
    folder = w / "diff"
    shutil.copytree(b.diff_dir, folder)
    if draw(st.booleans(), label="the plan"):
        f = folder / "cases.json"
        data, note, must, keys = _mutated_doc(draw, f.read_bytes(), json.loads, dump_json, False, True)
    else:
        f = folder / "index.jsonl"
        data, note, must, keys = _jsonl_mutation(draw, f.read_bytes())
    f.write_bytes(data)
    out = w / "d.json"
    argv = ["differential", "score", folder, "--method", "linear", "--reps", "2", "--json", "-o", out]
    return Case("cases", argv, (str(folder),), keys, must, outputs=(out,), check=check_json,
                note=f"{f.name}: {note}")


SWEEP_NUMBER_COLUMNS = ("nodes", "partitions", "rep", "seed", "job_duration_s", "fairness_index",
                        "max_tasks_per_host", "hosts_used")


def sweep_csv_case(draw, b: Bases) -> Case:
    """A sweep's CSV, damaged, then resumed by the same command."""
    w = b.work()
    f = w / "sweep.csv"
    data, must, accept = b.sweep_csv, False, False
    op = draw(st.sampled_from(["tear", "tear", "cell", "cell", "bytes"]), label="csv op")
    if op == "tear":
        # A kill mid-write: the file ends inside its last row (or inside the header).
        cut = draw(st.integers(1, len(data) - 1), label="cut")
        data, note, accept = data[:cut], f"torn at byte {cut}/{len(data)}", True
    elif op == "cell":
        rows = list(csv.reader(io.StringIO(data.decode())))
        i = draw(st.integers(1, len(rows) - 1), label="row")
        j = draw(st.integers(0, len(rows[0]) - 1), label="column")
        value = draw(st.sampled_from(["", "abc", "nan", "inf", "-1", "1e400", "99999999999999999999", "0",
                                      "x=1;y", "3.5", "node1=abc"]), label="value")
        column = rows[0][j]
        rows[i][j] = value
        buf = io.StringIO()
        csv.writer(buf).writerows(rows)
        data = buf.getvalue().encode()
        note = f"row {i} {column} = {value!r}"
        must = column in SWEEP_NUMBER_COLUMNS and value in ("abc", "nan", "inf", "1e400", "x=1;y", "node1=abc") \
            or column == "job_duration_s" and value in ("-1",)
    else:
        data, note, must = byte_mutation(draw, data, text=True)
    f.write_bytes(data)

    def same_rows(out: str, case: Case) -> None:
        if accept:   # a repaired tear: the file holds exactly the rows of an unkilled sweep
            assert _csv_rows(f.read_bytes()) == b.sweep_rows, "rows differ from the unkilled sweep"
    return Case("sweep-csv", SWEEP + ["--out", f], (str(f), "--out"), (), must, must_accept=accept,
                kept={f: data}, check=same_rows, note=note)


def state_case(draw, b: Bases) -> Case:
    """A cluster state dir (cluster.json, pid files) damaged; `cluster status|stop` read it. The pid
    files name a live process of another identity, which must survive every `stop`."""
    from sparkdelay.real.cluster import ClusterState, StandaloneLayout
    from dataclasses import asdict
    w = b.work()
    state = w / "state"
    (state / "pids").mkdir(parents=True)
    spec = StandaloneLayout(workers=1, master_port=7177)
    # Nothing that varies from case to case goes into the files: hypothesis draws must replay.
    doc = asdict(ClusterState(spec, spec.master_url, 1767225600.0, [{"name": "worker-1", "host": "127.0.0.2",
                                                                   "port": 7178, "cpus": None}]))
    files = {"cluster.json": doc}
    for name in ("master", "worker-1"):
        files[f"pids/{name}.json"] = {"pid": b.sleeper.pid, "create_time": b.sleeper.create_time(),
                                      "cmdline": ["/opt/spark/bin/spark-class", "org.apache.spark.deploy.Nothing"],
                                      "name": name, "host": "127.0.0.1", "log": "logs/x.log"}
    target = draw(st.sampled_from(sorted(files)), label="file")
    for name, content in files.items():
        (state / name).write_bytes(json.dumps(content).encode())
    data, note, must, keys = _mutated_doc(draw, (state / target).read_bytes(), json.loads, dump_json, False, True)
    (state / target).write_bytes(data)
    action = draw(st.sampled_from(["status", "stop"]), label="action")

    def survived(out: str, case: Case) -> None:
        assert b.sleeper.is_running(), "cluster stop signalled a process it did not start"
    # A pid file records the process or nothing: a damaged one is no refusal (status says not running);
    # and `stop` must clean up after a damaged cluster.json, not refuse it: only `status` reads it.
    return Case("state", ["cluster", action, "--state-dir", state], (str(state),), (),
                must and target == "cluster.json" and action == "status", ok_codes=(0, 1), check=survived,
                note=f"{action}, {target}: {note}")


# ---------------------------------------------------------------------------------------------
# Command-line flags: one option of a valid command line given a drawn value


T, F, U = True, False, None   # valid, invalid, either
COUNT = [("1", T), ("2", T), ("0", F), ("-1", F), ("abc", F), ("", F), ("1.5", F), ("nan", F), ("inf", F),
         ("99999999999999999999", F), ("1e3", F), (" 2", U), ("1_0", U), ("\u0663", U), ("0x10", F), ("+3", U)]
SEED = [("0", T), ("7", T), ("-1", F), ("18446744073709551616", F), ("abc", F), ("1.0", F), ("", F)]
DURATION = [("0s", T), ("3s", T), ("500ms", T), ("1", T), ("-5s", F), ("soon", F), ("nan", F), ("99999999h", F),
            ("1e30s", F), ("", F), ("3 s", U), ("inf", F), ("1e3s", U), ("3.5s", U)]
SECONDS = [("5", T), ("0.5", T), ("nan", F), ("inf", F), ("-5", F), ("0", F), ("1e30", F), ("abc", F), ("", F),
           ("-inf", F), ("1e-300", U)]
INTLIST = [("1-3", T), ("1,2", T), ("2", T), ("3-1", F), ("1-99999999999", F), ("0", F), ("-2", F), ("1-5:0", F),
           ("a-b", F), ("1,,2", F), ("", F), (",", F), ("99999999999999999999", F), ("2,2,1", T)]
WAITLIST = [("0s,3s", T), ("3s", T), ("-1s", F), ("soon", F), ("0s,,3s", F), ("", F), ("99999999h", F), ("nan", F)]
VERSION = [("4.0", T), ("2.1", T), ("3.5", T), ("9.9", F), ("abc", F), ("", F), ("1.0", F), ("4", U), ("4.0.0.0", U)]
CONF = [("spark.locality.wait=1s", T), ("spark.locality.wiat=1s", F), ("noequals", F), ("spark.task.cpus=0", F),
        ("spark.task.cpus=1000000000", F), ("spark.locality.wait=-1s", F), ("=x", F), ("spark.locality.wait=", F),
        ("spark.foo.bar=1", T), ("spark.task.cpus=abc", F), ("spark.locality.wait.process=nan", F)]
MEMORY = [("2g", T), ("512m", T), ("2gb", F), ("-1g", F), ("abc", F), ("", F), ("0", U)]
PORT = [("0", U), ("7177", U), ("65535", U), ("65536", F), ("-1", F), ("abc", F), ("", F)]
HASH_SEED = [("0", T), ("4294967295", T), ("4294967296", F), ("-1", F), ("abc", F), ("", F)]
KEY_FORMAT = [("k{}", T), ("shard-{:02d}", T), ("{", F), ("{0}{1}", F), ("nokeys", F), ("{:s}", F), ("{x}", F)]
CHOICE = [("bogus", F)]


def _paths(w: Path, ext: str):
    (w / "afile.txt").write_text("x")
    (w / "adir").mkdir(exist_ok=True)
    out = [(str(w / f"new.{ext}"), T), (str(w / "adir"), F), (f"/proc/none/x.{ext}", F),
           (str(w / "afile.txt" / f"x.{ext}"), F), ("", F)]
    return out


def _inputs(w: Path):
    (w / "empty.yaml").write_bytes(b"")
    (w / "binary.bin").write_bytes(bytes(range(256)))
    (w / "indir").mkdir(exist_ok=True)
    return [(str(w / "missing.yaml"), F), (str(w / "indir"), F), (str(w / "empty.yaml"), F),
            (str(w / "binary.bin"), F), ("", F)]


def _flag_commands(b: Bases, w: Path) -> dict:
    """command -> (valid argv, {option: values}); "@" marks the positional argument."""
    out_dir = [(str(w / "newdir"), T), (str(w / "afile.txt"), F), ("/proc/none/d", F), ("", F)]
    files = _inputs(w)
    return {
        "simulate": (["simulate", "--preset", "study2017", "--nodes", "2", "--partitions", "4", "--json"], {
            "--nodes": COUNT, "--partitions": COUNT, "--wait": DURATION, "--spark-version": VERSION, "--conf": CONF,
            "--seed": SEED, "--trace": _paths(w, "csv"), "--gantt": _paths(w, "png") + [(str(w / "x.notimage"), F)],
            "--event-log": out_dir, "--event-log-codec": CHOICE, "--model": files, "--cluster": files,
            "--job": files, "--preset": CHOICE}),
        "sweep": (SWEEP[:1] + ["--preset", "study2017", "--nodes", "1-2", "--partitions", "2", "--wait", "0s", "--reps",
                               "1", "--processes", "1", "--no-progress", "--out", str(w / "s.csv")], {
            "--nodes": INTLIST, "--partitions": INTLIST, "--wait": WAITLIST, "--spark-version": VERSION,
            "--reps": COUNT, "--seed": SEED, "--out": _paths(w, "csv"), "--conf": CONF, "--model": files,
            "--cluster": files, "--job": files, "--processes": [("1", T), ("0", F), ("-1", F), ("abc", F)],
            "--keep": COUNT + [("1001", F)]}),
        "validate": (["validate", str(b.log), "--model", str(MODEL), "--cluster", str(b.machines), "--reps", "1",
                      "--json"], {
            "--reps": COUNT, "--seed": SEED, "--model": files, "--workload": files, "--cluster": files, "@": files,
            "--event-log": out_dir, "--event-log-codec": CHOICE}),
        "calibrate": (["calibrate", str(b.log), "--cluster", str(b.machines), "-o", str(w / "m.json")], {
            "-o": _paths(w, "json"), "--local-cores": COUNT, "--samples-csv": _paths(w, "csv"), "--method": CHOICE,
            "--workload": files, "--cluster": files, "@": files}),
        "replay": (["replay", str(SCENARIOS / SMALL_SCENARIOS[0])], {"@": files}),
        "inspect": (["inspect", str(b.log)], {"@": files, "--csv": _paths(w, "csv")}),
        "whatif": (["whatif", str(b.log), "--cluster", str(b.machines), "--reps", "1", "--json"], {
            "--reps": COUNT, "--seed": SEED, "--cluster": files, "@": files, "--executors": COUNT,
            "--executor-cores": COUNT, "--wait": DURATION, "--conf": CONF, "--shuffle-partitions": COUNT,
            "--partitions": [("1=4", T), ("0=2", T), ("9=2", F), ("1=0", F), ("1", F), ("=3", F), ("1=abc", F)]}),
        "heldout": (["heldout", "--shared", str(b.index_dir), "--pinned", str(b.empty_dir), "--reps", "1", "--json",
                     "-o", str(w / "h.json")], {
            "--reps": COUNT, "--seed": SEED, "--workload": files, "-o": _paths(w, "json"), "--method": CHOICE,
            "--corpus": files}),
        "run": (["run", "--master", "spark://127.0.0.1:1", "--nodes", "1", "--partitions", "2", "--job", "sleep",
                 "--out", str(w / "runs"), "--state-dir", str(w / "st"), "--no-progress"], {
            "--nodes": INTLIST, "--partitions": INTLIST, "--wait": WAITLIST, "--reps": COUNT, "--items": COUNT,
            "--key-format": KEY_FORMAT, "--map-slices": COUNT, "--work-repeat": COUNT, "--hash-seed": HASH_SEED,
            "--test-limit": COUNT, "--eventlog-codec": CHOICE, "--run-timeout": SECONDS,
            "--register-wait": DURATION, "--cores": COUNT, "--memory": MEMORY, "--job": CHOICE,
            "--master": [("local-cluster", T), ("yarn", F), ("", F), ("spark://", U)]}),
        "cluster": (["cluster", "start", "--workers", "1", "--state-dir", str(w / "st"), "--webui-port", "0",
                     "--master-port", "0", "--worker-port", "0"], {
            "--workers": COUNT + [("254", F)], "--cores": COUNT, "--memory": MEMORY, "--master-port": PORT,
            "--worker-port": PORT, "--worker-webui-port": PORT, "--register-timeout": SECONDS}),
        "history": (["history", "start", "--dir", str(w), "--state-dir", str(w / "h"), "--port", "18999"], {
            "--port": PORT + [("0", F)], "--timeout": SECONDS,
            "--dir": [(str(w / "missing"), F), (str(w / "afile.txt"), F), (str(w / "indir"), T), ("", F)]}),
        "differential-record": (["differential", "record", "--cases", "2", "--seed", "1", "--out", str(w / "d"),
                                 "--state-dir", str(w / "st"), "--no-progress", "--master-port", "0",
                                 "--worker-port", "0", "--webui-port", "0"], {
            "--cases": COUNT, "--seed": SEED, "--run-timeout": SECONDS, "--job": CHOICE}),
        "differential-score": (["differential", "score", str(b.diff_dir), "--method", "linear", "--reps", "2",
                                "--json"], {
            "--reps": COUNT, "--seed": SEED, "-o": _paths(w, "json"), "@": [(str(w / "missing"), F),
                                                                           (str(b.empty_dir), F)]}),
    }


def flags_case(draw, b: Bases) -> Case:
    w = b.work()
    commands = _flag_commands(b, w)
    name = draw(st.sampled_from(sorted(commands)), label="command")
    argv, options = commands[name]
    option = draw(st.sampled_from(sorted(options)), label="option")
    value, valid = draw(st.sampled_from(options[option]), label="value")
    argv = list(argv)
    if option == "@":
        pos = 2 if name == "differential-score" else 1
        argv[pos] = value
    elif option in argv and option != "--conf":
        argv[argv.index(option) + 1] = value
    else:
        argv += [option, value]
    if option == "--keep":
        argv += ["--event-log", str(w / "ev")]
    outputs = tuple(Path(a) for a in argv if a.startswith(str(w)) and not Path(a).exists()
                    and Path(a).suffix in (".csv", ".json", ".png"))
    names = (option, value) if option != "@" else (value or "error",)
    names = tuple(n for n in names if n and len(n) > 1) or (option,)
    check = check_simulate if name == "simulate" else None
    return Case("flags", argv, names, (), valid is F, ok_codes=(0, 1) if name == "replay" else (0,),
                outputs=outputs, check=check, note=f"{name} {option} {value!r}")


# ---------------------------------------------------------------------------------------------
# The profiles


BUILDERS = {
    "cluster": lambda d, b: yaml_case(d, d(st.sampled_from(["cluster", "machines"]), label="file"), b),
    "job": lambda d, b: yaml_case(d, "job", b),
    "job-pyspark": lambda d, b: yaml_case(d, "job-pyspark", b),
    "workload": lambda d, b: yaml_case(d, "workload", b),
    "model": model_case,
    "scenario": scenario_case,
    "eventlog-plain": lambda d, b: eventlog_case(d, "plain", b),
    "eventlog-zstd": lambda d, b: eventlog_case(d, "zstd", b),
    "eventlog-lz4": lambda d, b: eventlog_case(d, "lz4", b),
    "eventlog-snappy": lambda d, b: eventlog_case(d, "snappy", b),
    "eventlog-lzf": lambda d, b: eventlog_case(d, "lzf", b),
    "eventlog-rolling": rolling_case,
    "index": index_case,
    "cases": cases_case,
    "sweep-csv": sweep_csv_case,
    "state": state_case,
    "flags": flags_case,
}
QUICK = {kind: 12 for kind in BUILDERS} | {"flags": 40, "cluster": 16, "model": 16}
LONG = {kind: 130 for kind in BUILDERS} | {"flags": 300, "cluster": 160, "model": 160}


# A case may take long only where its input is at a documented limit (a million tasks on two
# executors): the limits promise an answer within minutes, so a case gets two before it is a hang.
TIMEOUT_S = 120.0


def fuzz(kind: str, n: int, b: Bases, counts: Counts, seed_value: int | None = None) -> None:
    @settings(max_examples=n, deadline=None, database=None, phases=[Phase.generate], derandomize=seed_value is None,
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def one(data):
        case = BUILDERS[kind](data.draw, b)
        try:
            counts.add(run_case(case, TIMEOUT_S))
        finally:
            shutil.rmtree(b.root / "cases", ignore_errors=True)
    if seed_value is not None:
        one = seed(seed_value)(one)
    one()


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_fuzz_quick(bases, no_real_actions, kind):
    counts = Counts()
    fuzz(kind, QUICK[kind], bases, counts)
    assert not counts.failures, counts.report()


@pytest.mark.slow
def test_fuzz_long(bases, no_real_actions):
    counts = Counts()
    started = time.monotonic()
    for i, kind in enumerate(sorted(BUILDERS)):
        fuzz(kind, LONG[kind], bases, counts, seed_value=SEED_BASE + i)
        print(f"{kind}: {counts.by_kind.get(kind)}", file=sys.stderr, flush=True)
    totals = {k: sum(row[k] for row in counts.by_kind.values()) for k in ("tried", *fuzzkit.OUTCOMES)}
    COUNTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    # A sample of what was accepted per kind, for a reader to judge (temporary paths shortened).
    accepted = {k: [n.replace(str(bases.root), "<tmp>") for n in v[:15]] for k, v in counts.accepted.items()}
    COUNTS_FILE.write_text(json.dumps({"seed_base": SEED_BASE, "kinds": counts.by_kind, "total": totals,
                                       "seconds": round(time.monotonic() - started, 1),
                                       "failures": [r.__dict__ for r in counts.failures],
                                       "accepted_sample": accepted}, indent=1) + "\n")
    assert totals["tried"] >= 2000
    assert not counts.failures, counts.report()

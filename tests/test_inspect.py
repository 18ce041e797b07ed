"""`sparkdelay inspect` and the reader's coverage of Spark's other log versions and codecs.

The numbers are checked against what the logs say: each expectation is computed here from the
raw JSON lines (only the decompression is the tool's), not from the reader's records. The logs
are the bundled real run (2 hosts, 9 reduce partitions, spark.locality.wait=3s), the PySpark 4
fixtures (the lzf one included) and Spark's own test logs of versions 1.2, 2.3, 3.0 and 3.1
(tests/data/spark-events/README.md).
"""

from __future__ import annotations

import csv
import json
import shutil
import statistics
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from sparkdelay.app.cli import main
from sparkdelay.eventlog.codecs import decompress_bytes
from sparkdelay.eventlog.log import Stage
from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.eventlog.summary import LOCALITY_LEVELS, critical_path, summarize
from sparkdelay.ground.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "data" / "runs" / "shared" / "eventlogs" / "app-20261129183350-0009.zstd"
EVENTLOGS = ROOT / "tests" / "data" / "eventlogs"
SPARK_EVENTS = ROOT / "tests" / "data" / "spark-events"
LZF = next(EVENTLOGS.glob("lzf-*.lzf"))
PLAIN = next(EVENTLOGS.glob("plain-local-*"))
SPARK_1_2 = SPARK_EVENTS / "local-1422981780767"            # Spark 1.2 log folder, local[*]
SPARK_2_3 = SPARK_EVENTS / "app-20180109111548-0000"        # Standalone, shuffle, failed tasks
SPARK_3_0 = SPARK_EVENTS / "application_1553914137147_0018"  # YARN, 3 jobs, two at once
SPARK_3_1 = SPARK_EVENTS / "application_1628109047826_1317105"  # speculative + killed attempts
LOGS = [BUNDLED, LZF, PLAIN, SPARK_1_2, SPARK_2_3, SPARK_3_0, SPARK_3_1]


def raw_events(path: Path) -> list[dict]:
    """Every event of a log, straight from its JSON lines."""
    data = (path / "EVENT_LOG_1").read_bytes() if path.is_dir() else decompress_bytes(path)
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def raw_task_ends(events) -> dict[tuple[int, int], list[dict]]:
    out = defaultdict(list)
    for e in events:
        if e["Event"] == "SparkListenerTaskEnd":
            out[(e["Stage ID"], e.get("Stage Attempt ID", 0))].append(e)
    return out


def linear_quantiles(values: list[float]) -> list[float]:
    """min, p25, median, p75, p90, max with linear interpolation (statistics' "inclusive")."""
    if len(values) == 1:
        return [float(values[0])] * 6
    quarters = statistics.quantiles(values, n=4, method="inclusive")
    tenths = statistics.quantiles(values, n=10, method="inclusive")
    return [min(values), quarters[0], quarters[1], quarters[2], tenths[8], max(values)]


def as_list(q) -> list[float]:
    return [q.min, q.p25, q.median, q.p75, q.p90, q.max]


# ---------------------------------------------------------------------------------------------
# The numbers


def test_bundled_run_result_stage_ran_8_node_local_and_1_any():
    # 2 hosts, 9 reduce tasks, spark.locality.wait=3s: 8 ran where their map output was, one
    # waited out the locality wait and ran at ANY.
    app = summarize(read_eventlog(BUNDLED))
    (job,) = app.jobs
    result = next(s for s in app.stages if s.stage_id == job.critical_path[-1])
    assert result.counts.tasks == 9
    assert {k: v for k, v in result.locality.items() if v} == {"NODE_LOCAL": 8, "ANY": 1}
    assert len(result.hosts) == 2 and result.parent_ids == [0]


@pytest.mark.parametrize("path", LOGS, ids=lambda p: p.name)
def test_stage_numbers_match_the_raw_log(path):
    events = raw_events(path)
    ends = raw_task_ends(events)
    completed = {(e["Stage Info"]["Stage ID"], e["Stage Info"].get("Stage Attempt ID", 0)): e["Stage Info"]
                 for e in events if e["Event"] == "SparkListenerStageCompleted"}
    app = summarize(read_eventlog(path))
    assert {(s.stage_id, s.attempt) for s in app.stages} == set(completed)
    for s in app.stages:
        tasks = ends[(s.stage_id, s.attempt)]
        info = completed[(s.stage_id, s.attempt)]
        reasons = Counter(t["Task End Reason"]["Reason"] for t in tasks)
        ok = [t for t in tasks if t["Task End Reason"]["Reason"] == "Success"]
        assert s.counts.tasks == len(tasks)
        assert s.counts.succeeded == reasons["Success"]
        assert s.counts.killed == reasons["TaskKilled"]
        assert s.counts.failed == len(tasks) - reasons["Success"] - reasons["TaskKilled"]
        assert s.counts.speculative == sum(t["Task Info"]["Speculative"] for t in tasks)
        assert s.duration_ms == info["Completion Time"] - info["Submission Time"]
        assert s.locality == {**{k: 0 for k in LOCALITY_LEVELS},
                              **Counter(t["Task Info"]["Locality"] for t in tasks)}
        assert s.executors and set(s.executors) == {t["Task Info"]["Executor ID"] for t in tasks}
        assert set(s.hosts) == {t["Task Info"]["Host"] for t in tasks}
        durations = [t["Task Info"]["Finish Time"] - t["Task Info"]["Launch Time"] for t in ok]
        assert as_list(s.task_duration) == pytest.approx(linear_quantiles(durations))
        assert as_list(s.run_time) == pytest.approx(linear_quantiles(
            [t["Task Metrics"]["Executor Run Time"] for t in ok]))
        assert s.skew == pytest.approx(max(durations) / statistics.median(durations))
        metrics = [t.get("Task Metrics") or {} for t in tasks]
        read = [m.get("Shuffle Read Metrics", {}) for m in metrics]
        assert s.io.shuffle_read_bytes == sum(r.get("Remote Bytes Read", 0) + r.get("Local Bytes Read", 0) for r in read)
        assert s.io.shuffle_write_bytes == sum(m.get("Shuffle Write Metrics", {}).get("Shuffle Bytes Written", 0)
                                               for m in metrics)
        assert s.io.input_bytes == sum(m.get("Input Metrics", {}).get("Bytes Read", 0) for m in metrics)
        assert s.io.gc_time_ms == sum(m.get("JVM GC Time", 0) for m in metrics)
        cpu_ns = sum(m.get("Executor CPU Time", 0) for m in metrics)
        run_ms = sum(m.get("Executor Run Time", 0) for m in metrics)
        assert s.io.cpu_per_run == (pytest.approx(cpu_ns / 1e6 / run_ms) if cpu_ns else None)


@pytest.mark.parametrize("path", [BUNDLED, SPARK_2_3, SPARK_3_0], ids=lambda p: p.name)
def test_job_durations_and_driver_gaps_match_the_raw_log(path):
    events = raw_events(path)
    start = {e["Job ID"]: e["Submission Time"] for e in events if e["Event"] == "SparkListenerJobStart"}
    end = {e["Job ID"]: e["Completion Time"] for e in events if e["Event"] == "SparkListenerJobEnd"}
    app_start = next(e["Timestamp"] for e in events if e["Event"] == "SparkListenerApplicationStart")
    app = summarize(read_eventlog(path))
    assert {j.job_id: j.duration_ms for j in app.jobs} == {j: end[j] - start[j] for j in start}
    order = sorted(start, key=lambda j: start[j])
    gaps = {b: start[b] - end[a] for a, b in zip(order, order[1:])}
    assert {j.job_id: j.gap_before_ms for j in app.jobs if j.gap_before_ms is not None} == gaps
    assert app.before_first_job_ms == start[order[0]] - app_start


def test_overlapping_jobs_leave_no_driver_time_between_them():
    # Spark's 3.0 test log: job 2 was submitted 14.8 s before job 1 completed.
    app = summarize(read_eventlog(SPARK_3_0))
    gaps = {j.job_id: j.gap_before_ms for j in app.jobs}
    assert gaps[2] < 0 < gaps[1]
    assert app.between_jobs_ms == gaps[1]     # only the hole between job 0 and job 1
    assert sum(v for v in app.locality.values()) == 6 and app.locality["RACK_LOCAL"] == 1


def test_critical_path_follows_the_parent_that_completed_last():
    # A diamond: 3 reads 1 and 2; 2 completed later, so it held 3 up.
    def stage(sid, parents, sub, done):
        return Stage(sid, 0, f"s{sid}", 1, submission_ms=sub, completion_ms=done, parent_ids=parents)
    stages = [stage(0, [], 0, 10), stage(1, [0], 10, 20), stage(2, [0], 10, 35), stage(3, [1, 2], 35, 50)]
    assert critical_path(stages) == [0, 2, 3]
    stages[1].completion_ms = 40
    assert critical_path(stages) == [0, 1, 3]
    app = summarize(read_eventlog(SPARK_2_3))
    assert app.jobs[0].critical_path == [0, 1]


def test_speculative_and_killed_attempts_are_counted():
    app = summarize(read_eventlog(SPARK_3_1))
    (stage,) = app.stages
    assert (stage.counts.tasks, stage.counts.succeeded, stage.counts.killed, stage.counts.speculative) == (5, 4, 1, 1)
    assert stage.task_duration.count == 4   # quantiles over succeeded attempts only


# ---------------------------------------------------------------------------------------------
# Spark 1.2 and lzf


def test_spark_1_2_log_folder_is_read_as_written():
    events = raw_events(SPARK_1_2)
    log = read_eventlog(SPARK_1_2)
    assert log.spark_version == "1.2.0" and not log.in_progress   # SPARK_VERSION_1.2.0, APPLICATION_COMPLETE
    # Local mode before Spark 1.5: the only executor is the driver's block manager, "<driver>".
    (ex,) = log.executors
    assert (ex.executor_id, ex.host) == ("<driver>", "localhost")
    # local[*]: the cores are the most tasks that ran at once.
    edges = sorted(x for e in events if e["Event"] == "SparkListenerTaskEnd"
                   for x in ((e["Task Info"]["Launch Time"], 1), (e["Task Info"]["Finish Time"], -1)))
    running = [sum(step for _, step in edges[:i + 1]) for i in range(len(edges))]
    assert ex.cores == max(running)
    app = summarize(log)
    # No job times in 1.2: durations are the spans of the jobs' stages; no "Parent IDs" either.
    assert all(j.submission_ms is None and j.completion_ms is None for j in log.jobs)
    assert [j.duration_from for j in app.jobs] == ["stage times"] * 3
    assert [j.result for j in app.jobs] == ["JobSucceeded", "JobFailed", "JobSucceeded"]
    two_stage = next(j for j in app.jobs if len(j.stages_run) == 2)
    assert two_stage.critical_path is None
    assert app.counts.failed == 1


def test_spark_1_2_folder_is_one_log_inside_a_folder_of_logs(tmp_path):
    shutil.copytree(SPARK_1_2, tmp_path / "logs" / SPARK_1_2.name)
    shutil.copy(SPARK_2_3, tmp_path / "logs")
    from sparkdelay.eventlog.discover import find_logs
    assert sorted(p.name for p in find_logs([tmp_path / "logs"])) == sorted([SPARK_1_2.name, SPARK_2_3.name])


def test_spark_1_2_folder_codec_file_is_honoured(tmp_path):
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    from fuzzkit import lzf_chunks
    folder = tmp_path / SPARK_1_2.name
    shutil.copytree(SPARK_1_2, folder)
    (folder / "EVENT_LOG_1").write_bytes(lzf_chunks((SPARK_1_2 / "EVENT_LOG_1").read_bytes()))
    (folder / "COMPRESSION_CODEC_org.apache.spark.io.LZFCompressionCodec").write_bytes(b"")
    assert len(read_eventlog(folder).tasks) == len(read_eventlog(SPARK_1_2).tasks)
    (folder / "COMPRESSION_CODEC_org.apache.spark.io.LZFCompressionCodec").rename(folder / "COMPRESSION_CODEC_brotli")
    with pytest.raises(UserError, match="COMPRESSION_CODEC_brotli: unknown compression codec"):
        read_eventlog(folder)


def test_a_later_spark_log_without_executor_added_is_still_refused(tmp_path):
    # The block-manager fallback is for Spark before 1.5 only: a 4.x log must add its executors.
    lines = [l for l in PLAIN.read_bytes().splitlines() if b'"SparkListenerExecutorAdded"' not in l]
    (tmp_path / "app").write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(UserError, match="no SparkListenerExecutorAdded"):
        read_eventlog(tmp_path / "app")


def test_lzf_log_written_by_spark_reads_like_the_plain_one():
    lzf, plain = read_eventlog(LZF), read_eventlog(PLAIN)
    assert lzf.properties["spark.eventLog.compression.codec"] == "lzf"
    assert decompress_bytes(LZF).startswith(b'{"Event":"SparkListenerLogStart"')
    assert [(s.stage_id, s.num_tasks) for s in lzf.stages] == [(s.stage_id, s.num_tasks) for s in plain.stages]
    assert [(t.stage_id, t.index) for t in lzf.tasks] == [(t.stage_id, t.index) for t in plain.tasks]


def test_lzf_damage_is_refused_and_an_in_progress_tail_tolerated(tmp_path):
    data = LZF.read_bytes()
    (tmp_path / "cut.lzf").write_bytes(data[:len(data) // 2])
    with pytest.raises(UserError, match="cut.lzf: lzf stream is cut off"):
        read_eventlog(tmp_path / "cut.lzf")
    (tmp_path / "run.lzf.inprogress").write_bytes(data[:len(data) // 2])
    assert read_eventlog(tmp_path / "run.lzf.inprogress").in_progress
    bad = bytearray(data)
    bad[0:2] = b"XX"
    (tmp_path / "bad.lzf").write_bytes(bytes(bad))
    with pytest.raises(UserError, match="bad.lzf: not an LZF stream"):
        read_eventlog(tmp_path / "bad.lzf")
    corrupt = bytearray(data)
    at = data.index(b"ZV\x01")   # the first compressed chunk: break its payload
    corrupt[at + 7:at + 40] = b"\xff" * 33
    (tmp_path / "corrupt.lzf").write_bytes(bytes(corrupt))
    with pytest.raises(UserError, match="corrupt.lzf: corrupt LZF chunk"):
        read_eventlog(tmp_path / "corrupt.lzf")


# ---------------------------------------------------------------------------------------------
# The command


def run_cli(capsys, *argv):
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_text_output_is_an_aligned_table(capsys):
    code, out, err = run_cli(capsys, "inspect", BUNDLED)
    assert code == 0 and not err
    lines = out.splitlines()
    header = next(i for i, l in enumerate(lines) if l.split()[:2] == ["stage", "job"])
    table = lines[header:header + 3]
    assert all(level in table[0] for level in LOCALITY_LEVELS)
    # Right-aligned numbers: each NODE_LOCAL count ends where its header does.
    col = table[0].index("NODE_LOCAL") + len("NODE_LOCAL")
    assert [row[col - 1] for row in table[1:]] == ["0", "8"]
    assert "critical path" in out and "0 -> 1" in out


def test_json_is_one_document_per_call(capsys):
    code, out, _ = run_cli(capsys, "inspect", BUNDLED, SPARK_1_2, "--json")
    doc = json.loads(out)
    assert code == 0 and set(doc) == {"applications", "skipped"} and doc["skipped"] == []
    bundled, old = doc["applications"]
    assert bundled["app_id"] == "app-20261129183350-0009" and old["spark_version"] == "1.2.0"
    stage = bundled["stages"][1]
    assert {"counts", "task_duration", "run_time", "skew", "locality", "executors", "hosts", "io"} <= set(stage)
    assert bundled["jobs"][0]["parents"] == {"0": [], "1": [0]}


def test_csv_has_one_row_per_stage_attempt(capsys, tmp_path):
    out_csv = tmp_path / "stages.csv"
    code, out, _ = run_cli(capsys, "inspect", BUNDLED, SPARK_2_3, SPARK_3_1, "--csv", out_csv)
    rows = list(csv.DictReader(out_csv.open()))
    assert code == 0 and f"wrote 5 stage rows to {out_csv}" in out
    assert [(Path(r["log"]).name, r["stage_id"]) for r in rows] == [
        (BUNDLED.name, "0"), (BUNDLED.name, "1"), (SPARK_2_3.name, "0"), (SPARK_2_3.name, "1"),
        (SPARK_3_1.name, "0")]
    result = rows[1]
    assert (result["NODE_LOCAL"], result["ANY"], result["tasks"], result["parent_ids"]) == ("8", "1", "9", "[0]")
    assert {"task_duration_median_ms", "run_time_p90_ms", "shuffle_read_bytes", "cpu_per_run"} <= set(rows[0])


def _folder_with_bad_logs(tmp_path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(BUNDLED, folder)
    shutil.copy(SPARK_2_3, folder)
    first = PLAIN.read_bytes().split(b"\n")[0]
    (folder / "broken-app").write_bytes(first + b"\n{not json\n" + first + b"\n")
    data = BUNDLED.read_bytes()
    (folder / "cut-app.zstd").write_bytes(data[:len(data) - 100])
    return folder


def test_skip_bad_reads_the_rest_and_says_what_it_skipped(capsys, tmp_path):
    folder = _folder_with_bad_logs(tmp_path)
    code, out, err = run_cli(capsys, "inspect", folder, "--skip-bad")
    assert code == 0 and not err
    tail = out.rstrip().splitlines()[-3:]
    assert tail[0] == "skipped 2 of 4 event logs:"
    assert "broken-app:2: not a JSON event" in tail[1]
    assert "cut-app.zstd: zstd stream is cut off" in tail[2]
    assert out.count("JobSucceeded") == 2
    code, out, err = run_cli(capsys, "inspect", folder, "--skip-bad", "--json")
    assert code == 0 and len(json.loads(out)["skipped"]) == 2 and "skipped 2 of 4" in err


def test_a_bad_log_is_refused_with_one_line(capsys, tmp_path):
    folder = _folder_with_bad_logs(tmp_path)
    code, out, err = run_cli(capsys, "inspect", folder)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "broken-app:2: not a JSON event" in err
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    shutil.move(str(folder / "broken-app"), only_bad)
    code, _, err = run_cli(capsys, "inspect", only_bad, "--skip-bad")
    assert code == 2 and err.count("\n") == 1 and "none of the 1 event log(s) could be read" in err


def test_json_and_csv_are_one_or_the_other(capsys, tmp_path):
    code, _, err = run_cli(capsys, "inspect", BUNDLED, "--json", "--csv", tmp_path / "x.csv")
    assert code == 2 and "not allowed with argument" in err and not (tmp_path / "x.csv").exists()

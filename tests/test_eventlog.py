"""Reading real Spark 4.0.1 event logs (committed fixtures) in every codec and layout."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from sparkdelay.eventlog.codecs import decompress_bytes
from sparkdelay.eventlog.reader import iter_events, read_eventlog
from sparkdelay.eventlog.log import write_csv
from sparkdelay.eventlog.shuffle_job import measured_job, succeeded_tasks
from sparkdelay.ground.errors import UserError

DATA = Path(__file__).parent / "data" / "eventlogs"
PLAIN = next(DATA.glob("plain-local-*"))
FIXTURES = {
    "plain": PLAIN,
    "zstd": next(DATA.glob("zstd-*.zstd")),
    "lz4": next(DATA.glob("lz4-*.lz4")),
    "snappy": next(DATA.glob("snappy-*.snappy")),
    "rolling": next(DATA.glob("rolling-eventlog_v2_*")),
}


def check_tiny_job(log):
    """The fixture job: parallelize(12 items, 2) -> partitionBy(3) -> mapPartitions -> collect."""
    assert log.spark_version.startswith(("3.", "4."))
    assert log.app_id and log.app_id.startswith("local-")
    assert log.properties["spark.master"] == "local[2]"
    assert log.properties["spark.eventLog.enabled"] == "true"
    assert [(e.executor_id, e.cores) for e in log.executors] == [("driver", 2)]
    (job,) = log.jobs
    assert job.result == "JobSucceeded" and job.stage_ids == [0, 1]
    assert job.submission_ms <= job.completion_ms
    assert [(s.stage_id, s.num_tasks) for s in log.stages] == [(0, 2), (1, 3)]
    assert "ShuffledRDD" in log.stages[1].rdd_names and log.stages[1].parent_ids == [0]
    assert len(log.tasks) == 5 and all(t.succeeded for t in log.tasks)
    maps = [t for t in log.tasks if t.stage_id == 0]
    reduces = [t for t in log.tasks if t.stage_id == 1]
    assert sorted(t.index for t in reduces) == [0, 1, 2]
    assert {t.task_type for t in maps} == {"ShuffleMapTask"} and {t.task_type for t in reduces} == {"ResultTask"}
    # PySpark shuffles pickled batches, so records are batches, not the 12 items.
    assert sum(t.shuffle_records_read for t in reduces) == sum(t.shuffle_records_written for t in maps) > 0
    assert sum(t.shuffle_read_bytes for t in reduces) == sum(t.shuffle_bytes_written for t in maps) > 0
    for t in log.tasks:
        assert t.host == log.executors[0].host and t.executor_id == "driver"
        assert t.launch_ms <= t.finish_ms and t.executor_run_time_ms >= 0 and t.executor_cpu_time_ns > 0
        assert t.locality in ("PROCESS_LOCAL", "NODE_LOCAL", "ANY", "NO_PREF")
        assert t.result_size > 0


@pytest.mark.parametrize("variant", sorted(FIXTURES))
def test_reads_every_codec_and_layout(variant):
    log = read_eventlog(FIXTURES[variant])
    check_tiny_job(log)
    assert not log.in_progress and log.skipped_events == {}


@pytest.mark.parametrize("variant", ["zstd", "lz4", "snappy"])
def test_compressed_streams_decode_to_json_lines(variant):
    lines = decompress_bytes(FIXTURES[variant]).decode().splitlines()
    assert json.loads(lines[0])["Event"] == "SparkListenerLogStart"
    assert json.loads(lines[-1])["Event"] == "SparkListenerApplicationEnd"


def test_records_export_to_json_and_csv(tmp_path):
    log = read_eventlog(PLAIN)
    json.dumps(dataclasses.asdict(log))
    assert write_csv(log.tasks, tmp_path / "tasks.csv") == 5
    assert write_csv(log.stages, tmp_path / "stages.csv") == 2
    header = (tmp_path / "tasks.csv").read_text().splitlines()[0].split(",")
    assert {"launch_ms", "finish_ms", "executor_run_time_ms", "shuffle_read_bytes"} <= set(header)


def test_measured_job_is_the_shuffle_job_from_its_start_to_its_end(tmp_path):
    """One definition of measured job duration: the successful shuffle job's JobStart "Submission
    Time" -> its JobEnd "Completion Time"; another job in the same log does not stretch it."""
    log = read_eventlog(PLAIN)
    measured = measured_job(log)
    (job,) = log.jobs
    assert measured.job is job and measured.duration_ms == job.completion_ms - job.submission_ms
    assert (measured.result.stage_id, [s.stage_id for s in measured.maps]) == (1, [0])
    assert sorted(t.index for t in succeeded_tasks(log, measured.result)) == [0, 1, 2]
    # a later job without a shuffle (say a count()) neither counts as measured nor stretches it
    later = job.completion_ms + 5000
    count_job = [
        {"Event": "SparkListenerJobStart", "Job ID": 1, "Submission Time": later, "Stage IDs": [2],
         "Stage Infos": []},
        {"Event": "SparkListenerStageSubmitted", "Stage Info": {"Stage ID": 2, "Stage Attempt ID": 0,
         "Stage Name": "count", "Number of Tasks": 1, "Submission Time": later, "Parent IDs": []}},
        {"Event": "SparkListenerJobEnd", "Job ID": 1, "Completion Time": later + 700,
         "Job Result": {"Result": "JobSucceeded"}},
    ]
    two_jobs = tmp_path / "app"
    two_jobs.write_bytes(PLAIN.read_bytes() + b"".join(json.dumps(e).encode() + b"\n" for e in count_job))
    log2 = read_eventlog(two_jobs)
    assert len(log2.jobs) == 2 and measured_job(log2).job.job_id == 0
    assert measured_job(log2).duration_ms == measured.duration_ms
    # a log whose shuffle job failed has no measured job
    failed = tmp_path / "failed"
    failed.write_bytes(PLAIN.read_bytes().replace(b'"Result":"JobSucceeded"', b'"Result":"JobFailed"'))
    assert read_eventlog(failed).jobs[0].result == "JobFailed" and measured_job(read_eventlog(failed)) is None


def _cut_last_line(src: Path, dst: Path) -> None:
    data = src.read_bytes().rstrip(b"\n")
    last = data.rfind(b"\n")
    dst.write_bytes(data[: last + 1 + (len(data) - last) // 2])


def test_inprogress_log_drops_the_cut_off_last_line(tmp_path):
    log_path = tmp_path / (PLAIN.name + ".inprogress")
    _cut_last_line(PLAIN, log_path)
    log = read_eventlog(log_path)
    assert log.in_progress and log.end_ms is None  # ApplicationEnd was the cut line
    assert len(log.tasks) == 5 and log.jobs[0].result == "JobSucceeded"


def test_finished_log_with_cut_line_is_an_error(tmp_path):
    log_path = tmp_path / PLAIN.name
    _cut_last_line(PLAIN, log_path)
    nlines = log_path.read_bytes().count(b"\n") + 1
    with pytest.raises(UserError, match=rf"{log_path.name}:{nlines}: not a JSON event"):
        read_eventlog(log_path)


def test_inprogress_running_tasks_have_no_finish(tmp_path):
    lines = PLAIN.read_bytes().splitlines(keepends=True)
    last_end = max(i for i, l in enumerate(lines) if b'"SparkListenerTaskEnd"' in l)
    log_path = tmp_path / (PLAIN.name + ".inprogress")
    log_path.write_bytes(b"".join(lines[:last_end]))
    log = read_eventlog(log_path)
    running = [t for t in log.tasks if t.finish_ms is None]
    assert len(running) == 1 and running[0].end_reason is None and log.jobs[0].completion_ms is None


@pytest.mark.parametrize("variant", ["zstd", "lz4", "snappy"])
def test_inprogress_compressed_log_cut_mid_block(tmp_path, variant):
    src = FIXTURES[variant]
    data = src.read_bytes()
    log_path = tmp_path / (src.name + ".inprogress")
    log_path.write_bytes(data[: len(data) - 700])
    log = read_eventlog(log_path)
    assert log.in_progress and log.spark_version and log.end_ms is None
    # Without the in-progress suffix the same bytes are a broken log.
    broken = tmp_path / src.name
    broken.write_bytes(data[: len(data) - 700])
    with pytest.raises(UserError, match=broken.name):
        read_eventlog(broken)


def test_rolling_folder_reads_files_in_numeric_order(tmp_path):
    app_id = read_eventlog(PLAIN).app_id
    folder = tmp_path / f"eventlog_v2_{app_id}"
    folder.mkdir()
    lines = PLAIN.read_bytes().splitlines(keepends=True)
    # 12 files so that lexical order (1, 10, 11, 12, 2, ...) would scramble the events.
    for n in range(12):
        (folder / f"events_{n + 1}_{app_id}").write_bytes(b"".join(lines[n * len(lines) // 12 : (n + 1) * len(lines) // 12]))
    (folder / f"appstatus_{app_id}.inprogress").write_bytes(b"")
    log = read_eventlog(folder)
    check_tiny_job(log)
    assert log.in_progress
    events = [e["Event"] for _, _, e in iter_events(folder)]
    assert events[0] == "SparkListenerLogStart" and events[-1] == "SparkListenerApplicationEnd"


def test_unknown_events_are_skipped(tmp_path):
    log_path = tmp_path / "app"
    extra = json.dumps({"Event": "org.example.MyListenerEvent", "x": 1}).encode() + b"\n"
    log_path.write_bytes(extra + PLAIN.read_bytes() + extra)
    log = read_eventlog(log_path)
    check_tiny_job(log)
    assert log.skipped_events == {"org.example.MyListenerEvent": 2}


def test_missing_required_field_names_file_line_and_field(tmp_path):
    lines = PLAIN.read_text().splitlines(keepends=True)
    i = next(i for i, l in enumerate(lines) if '"SparkListenerTaskEnd"' in l)
    ev = json.loads(lines[i])
    del ev["Task Info"]["Launch Time"]
    lines[i] = json.dumps(ev) + "\n"
    log_path = tmp_path / "app"
    log_path.write_text("".join(lines))
    with pytest.raises(UserError, match=rf'app:{i + 1}: SparkListenerTaskEnd lacks field "Launch Time"'):
        read_eventlog(log_path)


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"Event": "SparkListenerLogStart", "Spark Version": "4"}\nnot json\n', r"app:2: not a JSON event"),
        (b'{"Event": "SparkListenerLogStart", "Spark Version": "4.0.1"}\n[1, 2]\n', r'app:2: not a Spark event'),
        (b'{"Event": "SparkListenerJobStart", "Job ID": "x"}\n', r'app:1: SparkListenerJobStart lacks field "Job ID" \(expected int\)'),
    ],
)
def test_broken_logs(tmp_path, content, message):
    (tmp_path / "app").write_bytes(content)
    with pytest.raises(UserError, match=message):
        read_eventlog(tmp_path / "app")


def test_missing_and_wrong_paths(tmp_path):
    with pytest.raises(UserError, match="nope: event log not found"):
        read_eventlog(tmp_path / "nope")
    with pytest.raises(UserError, match="not an event log"):
        read_eventlog(tmp_path)
    (tmp_path / "app.lz4").write_bytes(b"x" * 40)
    with pytest.raises(UserError, match="app.lz4: not an lz4-java block stream"):
        read_eventlog(tmp_path / "app.lz4")
    (tmp_path / "app.snappy").write_bytes(b"y" * 40)
    with pytest.raises(UserError, match="app.snappy: not a snappy-java stream"):
        read_eventlog(tmp_path / "app.snappy")
    (tmp_path / "app.zstd").write_bytes(b"z" * 40)
    with pytest.raises(UserError, match="app.zstd"):
        read_eventlog(tmp_path / "app.zstd")
    (tmp_path / "app.lzf").write_bytes(b"z")
    with pytest.raises(UserError, match="lzf"):
        read_eventlog(tmp_path / "app.lzf")


def test_rolling_copy_of_fixture_matches_plain(tmp_path):
    # The committed rolling folder and the plain log hold the same kind of run.
    rolled = read_eventlog(shutil.copytree(FIXTURES["rolling"], tmp_path / "r"))
    plain = read_eventlog(PLAIN)
    assert [(t.stage_id, t.index) for t in rolled.tasks] == [(t.stage_id, t.index) for t in plain.tasks]

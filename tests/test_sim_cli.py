"""`sparkdelay simulate` and `sparkdelay sweep` end to end."""

from __future__ import annotations

import csv
import json

import pytest

from sparkdelay.app.runspec import RunSpec
from sparkdelay.app.sweep import derive_seed, format_summary, run_sweep, SweepPoint
from sparkdelay.ground.lists import parse_int_list
from sparkdelay.app.sweep import SweepRow, point_summaries, read_sweep_rows
from sparkdelay.app.cli import main
from sparkdelay.ground.errors import UserError


def test_simulate_json(capsys):
    assert main(["simulate", "--preset", "study2017", "--nodes", "3", "--partitions", "9", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("job_duration_s", "stage_durations_s", "tasks_per_host", "fairness_index", "max_tasks_per_host",
                "locality_counts", "seed"):
        assert key in out
    assert sorted(out["tasks_per_host"].values()) == [0, 1, 8]
    assert set(out["tasks_per_host"]) == {"node1", "node2", "node3"}
    assert out["max_tasks_per_host"] == 8 and out["seed"] == 0
    assert out["job_duration_s"] > sum(out["stage_durations_s"])


def test_simulate_trace_and_gantt(tmp_path, capsys):
    trace, gantt = tmp_path / "t.csv", tmp_path / "g.png"
    assert main(["simulate", "--nodes", "3", "--partitions", "40", "--wait", "0s", "--seed", "4",
                 "--trace", str(trace), "--gantt", str(gantt)]) == 0
    text = capsys.readouterr().out
    assert "job duration" in text and "fairness" in text
    rows = list(csv.DictReader(trace.open()))
    assert len(rows) == 41
    assert {"stage_id", "index", "attempt", "executor_id", "host", "locality", "launch_time",
            "finish_time"} <= set(rows[0])
    assert gantt.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_same_seed_same_output(capsys):
    args = ["simulate", "--nodes", "3", "--partitions", "20", "--json", "--seed", "7"]
    main(args)
    first = capsys.readouterr().out
    main(args)
    assert capsys.readouterr().out == first


def test_local_preset_shares_one_machine(capsys):
    assert main(["simulate", "--preset", "local", "--nodes", "2", "--partitions", "4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["tasks_per_host"]) == {"127.0.0.2", "127.0.0.3"}
    assert out["spark_version"] == "4.0"


def test_parse_int_list():
    assert parse_int_list("1-5", "--nodes") == [1, 2, 3, 4, 5]
    assert parse_int_list("1-40:10,3", "--partitions") == [1, 11, 21, 31, 3]
    assert parse_int_list(None, "--nodes") is None
    for bad in ("0-3", "5-1", "a", "1,,2"):
        with pytest.raises(UserError):
            parse_int_list(bad, "--nodes")


def test_seeds_depend_on_point_not_position():
    a = derive_seed(0, SweepPoint("2.1", 3, 9, "3s", 0))
    assert a == derive_seed(0, SweepPoint("2.1", 3, 9, "3000ms", 0))
    assert a != derive_seed(0, SweepPoint("2.1", 3, 9, "3s", 1))
    assert a != derive_seed(1, SweepPoint("2.1", 3, 9, "3s", 0))


def test_sweep_writes_resumes_and_summarises(tmp_path):
    out = tmp_path / "sweep.csv"
    base = RunSpec(preset="study2017")
    rows = run_sweep(base, out, nodes=[1, 3], partitions=[9], waits=["0s", "3s"], reps=2, processes=1,
                     progress=False)
    assert len(rows) == 8
    lines = out.read_text().splitlines()
    assert len(lines) == 9
    # Interrupted sweep: drop the last two rows, then resume with one more rep.
    out.write_text("\n".join(lines[:-2]) + "\n")
    rows2 = run_sweep(base, out, nodes=[1, 3], partitions=[9], waits=["0s", "3s"], reps=3, processes=2,
                      progress=False)
    assert len(rows2) == 12 and len(out.read_text().splitlines()) == 13
    # Rows that were redone, and rows read back from the file, equal the first run's (seeds
    # depend on the point only, and the CSV holds every value exactly).
    again = {(r.nodes, r.wait, r.rep): r for r in rows2}
    for r in rows:
        assert again[(r.nodes, r.wait, r.rep)] == r
    assert read_sweep_rows(out) != rows2 and sorted(read_sweep_rows(out), key=str) == sorted(rows2, key=str)
    summary = point_summaries(rows2)
    assert len(summary) == 4 and all(s.runs == 3 for s in summary)
    n3_wait3 = next(s for s in summary if s.nodes == 3 and s.wait == "3s")
    assert n3_wait3.max_tasks_mean == 8.0
    assert "job duration" in format_summary(summary)


def test_sweep_rows_are_objects_and_the_csv_is_plain(tmp_path):
    out = tmp_path / "sweep.csv"
    (row,) = run_sweep(RunSpec(preset="study2017"), out, nodes=[3], partitions=[9], waits=["3s"], reps=1,
                       processes=1, progress=False)
    assert isinstance(row, SweepRow) and row.partitions == 9 and sorted(row.tasks_per_host.values()) == [0, 1, 8]
    assert len(row.stage_durations_s) == 2 and sum(row.locality_counts.values()) == 9
    cells = next(csv.DictReader(out.open()))
    assert cells["tasks_per_host"] == ";".join(f"{h}={n}" for h, n in row.tasks_per_host.items())
    assert cells["stage_durations_s"] == ";".join(map(str, row.stage_durations_s))
    assert not any(c in cells[k] for k in cells for c in '[{"')     # no JSON inside a cell


def test_sweep_resumes_after_a_row_torn_by_a_kill(tmp_path):
    out = tmp_path / "sweep.csv"
    grid = dict(nodes=[1, 2], partitions=[4], waits=["0s"], reps=2, processes=1, progress=False)
    whole = run_sweep(RunSpec(preset="study2017"), out, **grid)
    text = out.read_text()
    out.write_text(text[:text.rindex("\n", 0, len(text) - 1) + 20])  # killed 20 characters into the last row
    assert run_sweep(RunSpec(preset="study2017"), out, **grid) == whole
    assert out.read_text() == text                                  # the torn row was cut off and redone
    foreign = tmp_path / "other.csv"
    foreign.write_text("a,b\n1,2")                                 # not a sweep file, no final newline either
    with pytest.raises(UserError, match="not a sparkdelay sweep file"):
        run_sweep(RunSpec(preset="study2017"), foreign, **grid)
    assert foreign.read_text() == "a,b\n1,2"                       # refused and left as it is


def test_a_sweep_file_with_a_bad_cell_is_one_line_naming_it(tmp_path):
    out = tmp_path / "sweep.csv"
    run_sweep(RunSpec(preset="study2017"), out, nodes=[1], partitions=[2], reps=1, processes=1, progress=False)
    header, row = out.read_text().splitlines()
    out.write_text(header + "\n" + row.replace("node1=", "node1:") + "\n")
    with pytest.raises(UserError, match=r"sweep.csv:2: tasks_per_host: expected name=count"):
        run_sweep(RunSpec(preset="study2017"), out, nodes=[1], partitions=[2], reps=1, processes=1, progress=False)


def test_sweep_refuses_a_foreign_file(tmp_path):
    out = tmp_path / "sweep.csv"
    run_sweep(RunSpec(preset="study2017"), out, nodes=[1], partitions=[2], reps=1, processes=1, progress=False)
    with pytest.raises(UserError, match="different sweep"):
        run_sweep(RunSpec(preset="study2017"), out, nodes=[1], partitions=[2], reps=1, base_seed=5, processes=1,
                  progress=False)


def test_sweep_command(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main(["sweep", "--nodes", "2-3", "--partitions", "8-9", "--wait", "0s,3s", "--reps", "2",
                 "--out", str(out), "--processes", "2", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "16 runs" in text and "fairness" in text
    assert main(["sweep", "--nodes", "0-2", "--out", str(out)]) == 2


def test_simulate_files(tmp_path, capsys):
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("spark_version: '3.5'\nconfig: {spark.locality.wait: 1s}\n"
                       "machines: [{name: box, cores: 2, hosts: [127.0.0.2, 127.0.0.3]}]\n"
                       "executors: [{id: '0', host: 127.0.0.2, cores: 2}, {id: '1', host: 127.0.0.3, cores: 2,"
                       " registers_at: 4}]\n")
    job = tmp_path / "job.yaml"
    job.write_text("stages:\n  - {name: s0, tasks: 8, prefs: [127.0.0.3], cpu_seconds: 1.0}\n")
    assert main(["simulate", "--cluster", str(cluster), "--job", str(job), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert sum(out["tasks_per_host"].values()) == 8
    assert out["spark_version"] == "3.5" and out["stage_names"] == ["s0"]

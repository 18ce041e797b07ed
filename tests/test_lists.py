"""One list grammar for every swept option: `sweep` (simulated) and `run` (real) read `1-5:2` alike."""

from __future__ import annotations

import csv

import pytest

from sparkdelay.app.cli import main
from sparkdelay.eventlog.run_index import append_row
from sparkdelay.ground.errors import UserError
from sparkdelay.ground.lists import parse_int_list, parse_text_list, parse_wait_list
from sparkdelay.real.plan import JobShape, plan


@pytest.mark.parametrize("text, expected", [
    ("4", [4]), ("1,2,4", [1, 2, 4]), ("1-3", [1, 2, 3]), ("5-5", [5]),
    ("1-5:2", [1, 3, 5]), ("1-40:10,3", [1, 11, 21, 31, 3]), (" 1 - 6 : 5 , 8 ", [1, 6, 8]),
    ("2,2,1", [2, 1]), ("1-3,2-4", [1, 2, 3, 4]),
])
def test_numbers_lists_ranges_and_steps(text, expected):
    assert parse_int_list(text, "--nodes") == expected


@pytest.mark.parametrize("text, complaint", [
    ("", "empty item"), ("1,,2", "empty item"), ("a", "expected a number"), ("1.5", "expected a number"),
    ("1-", "expected a number"), ("3-1", "runs backwards"), ("1-5:0", "step"), ("0", "at least 1"),
    ("-2", "at least 1"), ("0-3", "at least 1"),
])
def test_bad_lists_are_one_line_naming_the_option(text, complaint):
    with pytest.raises(UserError, match=complaint) as err:
        parse_int_list(text, "--partitions")
    assert str(err.value).startswith("--partitions: ") and "\n" not in str(err.value)


def test_bounds_and_missing_options():
    assert parse_int_list("1-3", "--x", minimum=0, maximum=3) == [1, 2, 3]
    with pytest.raises(UserError, match="between 0 and 3, got 4"):
        parse_int_list("2-4", "--x", minimum=0, maximum=3)
    # An option not given stays None: the command then uses its own default.
    assert parse_int_list(None, "--nodes") is None
    assert parse_text_list(None, "--spark-version") is None and parse_wait_list(None) is None


def test_text_and_wait_lists():
    assert parse_text_list(" 2.1, 4.0,2.1", "--spark-version") == ["2.1", "4.0"]
    assert parse_wait_list("500ms, 1s,500ms") == ["500ms", "1s"]
    for bad in ("3x", "s", "0s,,3s", "-1s"):
        with pytest.raises(UserError, match="--wait"):
            parse_wait_list(bad)


def test_run_reads_nodes_like_sweep(tmp_path, capsys):
    # sweep: the nodes of the simulated points.
    out = tmp_path / "sweep.csv"
    assert main(["sweep", "--nodes", "1-5:2", "--partitions", "2", "--reps", "1", "--out", str(out),
                 "--processes", "1", "--no-progress"]) == 0
    swept = sorted({int(row["nodes"]) for row in csv.DictReader(out.open())})
    assert swept == [1, 3, 5]
    # run: with every run of nodes 1-5:2 already in the index, nothing is left to do and no
    # cluster is touched; a different reading of the list would leave runs to do, which the
    # bad --master then refuses (exit 2) before anything starts.
    runs = tmp_path / "runs"
    for point in plan(JobShape(), swept, [2], ["3s"], 1):
        append_row(runs / "index.jsonl", {"run_id": point.run_id, "status": "ok"})
    capsys.readouterr()
    assert main(["run", "--nodes", "1-5:2", "--partitions", "2", "--master", "none://", "--out", str(runs),
                 "--state-dir", str(tmp_path / "state")]) == 0
    assert "3 runs planned, 3 already in" in capsys.readouterr().out

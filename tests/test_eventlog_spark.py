"""A log freshly written by the installed PySpark still parses (catches format changes)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from sparkdelay.eventlog.reader import read_eventlog

pytest.importorskip("pyspark")
pytestmark = pytest.mark.spark

_MAKER = Path(__file__).parent / "data" / "eventlogs" / "make_eventlogs.py"


def _make_logs():
    spec = importlib.util.spec_from_file_location("make_eventlogs", _MAKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_logs


def test_fresh_logs_in_every_codec_parse(tmp_path):
    from test_eventlog import check_tiny_job

    made = _make_logs()(tmp_path)
    assert set(made) == {"plain", "zstd", "lz4", "snappy", "rolling"}
    assert made["rolling"].is_dir() and any(made["rolling"].glob("events_1_*"))
    for variant, path in made.items():
        log = read_eventlog(path)
        check_tiny_job(log)
        assert log.skipped_events == {}, variant

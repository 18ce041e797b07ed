"""`index.jsonl`: one JSON row per finished run, appended and synced as soon as it ends.

A sweep can die at any moment (a crash, a killed session), so each row is written with
flush + fsync right after its run, and a half-written last line is ignored on reading.
Rerunning the same command reads the index and skips runs whose `run_id` is already there
(with `retry_failed`, only runs that ended with status "ok" count as done).
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def read_rows(path: Path) -> list[dict]:
    rows = []
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return rows
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a crash: that run is simply redone
    return rows


def done_ids(path: Path, retry_failed: bool = False) -> set[str]:
    return {r["run_id"] for r in read_rows(path)
            if "run_id" in r and (not retry_failed or r.get("status") == "ok")}


def append_row(path: Path, row: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(row, sort_keys=False, separators=(",", ":")) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        # A previous crash may have left a partial line: start on a fresh line.
        if f.tell() > 0:
            with open(path, "rb") as r:
                r.seek(-1, os.SEEK_END)
                if r.read(1) != b"\n":
                    f.write("\n")
        f.write(line)
        f.flush()
        os.fsync(f.fileno())

"""Every event log under the History Server's folders, at any depth, in one flat folder Spark lists.

Spark's FsHistoryProvider lists only the top level of `spark.history.fs.logDirectory` (a rolling
`eventlog_v2_*` folder counts as one log), so logs in `runs/sim/` and `runs/real/eventlogs/` are
invisible to a server started on `runs/`. The server's log directory is therefore a staging
folder in its state dir, holding one symbolic link per log found under the `--dir` folders at any
depth (`eventlog.discover.walk_logs`: files that start like a Spark event log after
decompression, and rolling folders). Spark 4.0.1 reads through the links with Hadoop's local file
system, which follows them for the listing, the size and modification time (how Spark notices a
log that grows) and the reads (`tests/test_history.py` checks this on the real server).

A linker process (`python -m sparkdelay.real.history_links`), started with the server and ended
with it, syncs the links every second: a log written after the start gets its link, a log that
is deleted or renamed (Spark renames `x.inprogress` to `x` when the application ends) loses it,
so the server lists a new run within about two seconds (this interval plus Spark's
`spark.history.fs.update.interval`). It exits by itself once the server's JVM is gone, so it is
never left behind. Which file is a log is decided once per size and modification time (a cache),
so a rescan reads only new or changed files.

Link names: the log's own name, since Spark reads the codec (`.zstd`) and whether the run is
still going (`.inprogress`) from it; a rolling folder whose name lacks Spark's `eventlog_v2_`
prefix gets it, since Spark recognises rolling logs only by that prefix. Two logs of one name
(the same application copied into two folders) are shown once, the first in folder-then-path
order; the others are counted as duplicates.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from sparkdelay.eventlog.discover import looks_like_log, walk_logs

from sparkdelay.real import procs

ROLLING_PREFIX = "eventlog_v2_"
INTERVAL_S = 1.0
STATUS_NAME = "links.json"   # beside the staging folder: what the last sync found


@dataclass
class Found:
    """The logs under the folders: link name -> target (resolved), and how they were found."""

    targets: dict[str, Path] = field(default_factory=dict)
    per_folder: dict[str, int] = field(default_factory=dict)   # folder holding logs (as given) -> logs
    duplicates: list[str] = field(default_factory=list)        # paths not linked: their name is taken


class Sniffer:
    """`looks_like_log`, remembered per (path, size, modification time)."""

    def __init__(self):
        self.seen: dict[Path, tuple[int, int, bool]] = {}

    def __call__(self, path: Path) -> bool:
        try:
            st = path.stat()
        except OSError:
            return False
        known = self.seen.get(path)
        if known is not None and known[:2] == (st.st_size, st.st_mtime_ns):
            return known[2]
        # An empty file may be a log Spark has just created: asked again once it has grown.
        answer = st.st_size > 0 and looks_like_log(path)
        self.seen[path] = (st.st_size, st.st_mtime_ns, answer)
        return answer


def link_name(log: Path) -> str:
    if log.is_dir() and not log.name.startswith(ROLLING_PREFIX):
        return ROLLING_PREFIX + log.name
    return log.name


def find(folders: Sequence[Path], staging: Path, sniff=looks_like_log) -> Found:
    """Every log under `folders` (in their order), the staging folder itself excluded."""
    found = Found()
    for folder in folders:
        for log in walk_logs(Path(folder), skip=(staging,), looks=sniff):
            name = link_name(log)
            if name in found.targets:
                found.duplicates.append(str(log))
                continue
            found.targets[name] = log.resolve()
            where = str(log.parent)
            found.per_folder[where] = found.per_folder.get(where, 0) + 1
    return found


def sync(folders: Sequence[Path], staging: Path, sniff=looks_like_log) -> Found:
    """Make the staging folder hold exactly one link per log found; return what was found."""
    staging.mkdir(parents=True, exist_ok=True)
    found = find(folders, staging, sniff)
    for entry in staging.iterdir():
        want = found.targets.get(entry.name)
        if entry.is_symlink() and (want is None or Path(os.readlink(entry)) != want):
            entry.unlink()   # gone, renamed, or now another file's name
    for name, target in found.targets.items():
        link = staging / name
        if link.is_symlink():
            continue
        # Made under a hidden name and renamed: Spark passes over names starting with a dot, so it
        # never lists a half-made link.
        tmp = staging / f".{name}.tmp"
        tmp.unlink(missing_ok=True)
        os.symlink(target, tmp)
        os.replace(tmp, link)
    status = {"logs": len(found.targets), "per_folder": found.per_folder, "duplicates": found.duplicates}
    path = staging.parent / STATUS_NAME
    text = json.dumps(status, indent=1, sort_keys=True)
    if not path.exists() or path.read_text() != text:   # rewritten only when something changed
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    return found


def read_status(staging: Path) -> dict | None:
    try:
        doc = json.loads((staging.parent / STATUS_NAME).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def clear(staging: Path) -> None:
    """Remove the links of an earlier server (only links: nothing else is ever put there)."""
    if staging.is_dir():
        for entry in staging.iterdir():
            if entry.is_symlink():
                entry.unlink()
    (staging.parent / STATUS_NAME).unlink(missing_ok=True)


def command(folders: Sequence[Path], staging: Path, server_pidfile: Path) -> list[str]:
    """The linker's command line (absolute paths: it runs in the state dir)."""
    cmd = [sys.executable, "-m", "sparkdelay.real.history_links", "--staging", str(staging.resolve()),
           "--server-pidfile", str(server_pidfile.resolve())]
    for f in folders:
        cmd += ["--dir", str(Path(f).resolve())]
    return cmd


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--staging", required=True)
    ap.add_argument("--server-pidfile", required=True)
    ap.add_argument("--dir", action="append", required=True)
    ap.add_argument("--interval", type=float, default=INTERVAL_S)
    args = ap.parse_args(argv)
    server = procs.read_pidfile(Path(args.server_pidfile))
    if server is None:
        print(f"no History Server recorded in {args.server_pidfile}", file=sys.stderr)
        return 1
    staging, folders, sniff = Path(args.staging), [Path(d) for d in args.dir], Sniffer()
    while procs.is_alive(server):
        try:
            sync(folders, staging, sniff)
        except OSError as exc:   # a folder removed mid-scan, a full disk: said, and tried again
            print(f"history links: {exc}", file=sys.stderr, flush=True)
        time.sleep(args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())

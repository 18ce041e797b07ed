"""Read Spark event logs: JSON lines, plain or compressed as Spark writes them.

Spark names a compressed log `<appId>.<codec>` (`spark.eventLog.compression.codec`).
`.zstd` files are standard zstd frames (read with `zstandard`); `.lz4` files use lz4-java's
`LZ4BlockOutputStream` framing (magic `LZ4Block`, then blocks with a 21-byte header), not
the lz4 frame format, so the blocks are unpacked here with `lz4.block`. Only the field names
Spark writes are used ("Event", "Submission Time", "Completion Time", "Task Info", ...).
"""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

from sparkdelay.errors import UserError

LZ4_MAGIC = b"LZ4Block"


def find_log(eventlog_dir: Path, app_id: str) -> Path | None:
    """The finished event log of `app_id` in `eventlog_dir` (not an `.inprogress` one)."""
    for suffix in ("", ".zstd", ".lz4", ".snappy", ".lzf"):
        path = Path(eventlog_dir) / f"{app_id}{suffix}"
        if path.is_file():
            return path
    return None


def _lz4_blocks(raw: bytes) -> bytes:
    import lz4.block
    out, pos = io.BytesIO(), 0
    while pos < len(raw):
        if raw[pos:pos + 8] != LZ4_MAGIC:
            raise ValueError(f"bad LZ4Block magic at byte {pos}")
        token = raw[pos + 8]
        clen, dlen, _check = struct.unpack_from("<iii", raw, pos + 9)
        pos += 21
        if dlen == 0:  # end mark; a concatenated stream may follow
            continue
        block = raw[pos:pos + clen]
        pos += clen
        method = token & 0xF0
        out.write(block if method == 0x10 else lz4.block.decompress(block, uncompressed_size=dlen))
    return out.getvalue()


def read_bytes(path: Path) -> bytes:
    path = Path(path)
    name = path.name.removesuffix(".inprogress")
    raw = path.read_bytes()
    if name.endswith(".zstd"):
        import zstandard
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw), read_across_frames=True).read()
    if name.endswith(".lz4"):
        return _lz4_blocks(raw)
    if name.endswith((".snappy", ".lzf")):
        raise UserError(f"{path}: codec not supported here (use zstd or lz4)")
    return raw


def events(path: Path) -> list[dict]:
    """All events of a log; a truncated last line (an app that died mid-write) is skipped."""
    try:
        text = read_bytes(path).decode("utf-8")
    except (OSError, ValueError) as exc:
        raise UserError(f"{path}: cannot read event log ({exc})") from None
    out = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            if i == len(lines) - 1:
                break
            raise UserError(f"{path}: line {i + 1} is not JSON") from None
    return out


def summarize(evs: list[dict]) -> dict:
    """Job duration and task placement from the events of one application.

    `job_duration_ms` runs from the first SparkListenerJobStart "Submission Time" to the last
    SparkListenerJobEnd "Completion Time". `tasks` lists each SparkListenerTaskEnd with its
    stage, partition ("Index"), host, executor, locality and times.
    """
    starts = [e["Submission Time"] for e in evs if e.get("Event") == "SparkListenerJobStart"]
    ends = [e["Completion Time"] for e in evs if e.get("Event") == "SparkListenerJobEnd"]
    results = [e.get("Job Result", {}).get("Result") for e in evs if e.get("Event") == "SparkListenerJobEnd"]
    tasks = []
    for e in evs:
        if e.get("Event") != "SparkListenerTaskEnd":
            continue
        info = e.get("Task Info", {})
        tasks.append({
            "stage": e.get("Stage ID"), "index": info.get("Index"), "attempt": info.get("Attempt"),
            "host": info.get("Host"), "executor": info.get("Executor ID"),
            "locality": info.get("Locality"), "launch": info.get("Launch Time"),
            "finish": info.get("Finish Time"), "failed": info.get("Failed"),
            "reason": e.get("Task End Reason", {}).get("Reason"),
        })
    lost = [e.get("Executor ID") for e in evs if e.get("Event") == "SparkListenerExecutorRemoved"]
    return {
        "job_duration_ms": (max(ends) - min(starts)) if starts and ends else None,
        "jobs": len(starts), "job_results": results, "tasks": tasks,
        "executors_added": sorted({e.get("Executor ID") for e in evs if e.get("Event") == "SparkListenerExecutorAdded"}),
        "executors_removed": lost,
    }


def reduce_placement(tasks: list[dict]) -> dict[str, int]:
    """Successful tasks of the last stage per host (the stage that ran `partitionBy`'s reducers)."""
    if not tasks:
        return {}
    last = max(t["stage"] for t in tasks)
    out: dict[str, int] = {}
    for t in tasks:
        if t["stage"] == last and t["reason"] == "Success":
            out[t["host"]] = out.get(t["host"], 0) + 1
    return dict(sorted(out.items()))

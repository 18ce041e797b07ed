"""The fuzzing kit of tests/test_fuzz.py: byte-level and structural mutators, and one guarded run.

A case is one command line (`Case.argv`) run in-process through `sparkdelay.app.cli.main`, with
stdout and stderr captured and a wall-clock alarm (`signal.setitimer`, raising `Hang` in the main
thread) and an address-space cap (`resource.RLIMIT_AS`) around it, so that neither a hang nor a
runaway allocation stops the suite. `run_case` classifies the run:

- `clean`: exit 2, exactly one stderr line naming the file (and, for a structural mutation, a
  key on the mutated path), no traceback, no output file left behind;
- `accepted`: an exit status the command may give for valid input, with a sane answer, where the
  mutated input may still be valid (`Case.must_refuse` false);
- `traceback`: an exception escaped the command line;
- `hang`: the alarm fired;
- `wrong_exit`: anything else (exit 0 on input that must be refused, a refusal of more than one
  line or naming neither file nor field, an output written despite a refusal, an insane answer).

The mutators take hypothesis's `draw`, so every case is drawn, reproducible and counted.
"""

from __future__ import annotations

import io
import json
import math
import re
import resource
import signal
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import psutil
from hypothesis import strategies as st

from sparkdelay.app.cli import main

OUTCOMES = ("clean", "accepted", "traceback", "hang", "wrong_exit")


class Hang(BaseException):
    """The wall-clock alarm of one case fired (a BaseException: no `except Exception` hides it)."""


class Reached(BaseException):
    """A patched real action (start a cluster, a Spark run) was reached: the options were accepted."""


@dataclass
class Case:
    kind: str
    argv: list[str]
    names: tuple[str, ...]                 # the refusal must name one of these (files, options)
    fields: tuple[str, ...] = ()           # ... and, when given, one of these (keys on the mutated path)
    must_refuse: bool = False              # the mutation makes the input invalid for sure
    must_accept: bool = False              # the mutation keeps it valid for sure (a repaired tear)
    ok_codes: tuple[int, ...] = (0,)       # exit statuses of an answer to valid input
    outputs: tuple[Path, ...] = ()         # must not exist after a refusal
    kept: dict = field(default_factory=dict)   # path -> bytes it must still hold after a refusal
    check: Callable[[str, "Case"], None] | None = None   # sanity of an answer (stdout), raises AssertionError
    note: str = ""                         # what was mutated


@dataclass
class Result:
    kind: str
    outcome: str
    code: Any
    note: str
    argv: list[str]
    detail: str = ""


def _address_space_cap(extra_bytes: int):
    """Cap this process's address space at its current size + `extra_bytes` (undone by the caller)."""
    old = resource.getrlimit(resource.RLIMIT_AS)
    cap = psutil.Process().memory_info().vms + extra_bytes
    if old[1] != resource.RLIM_INFINITY:
        cap = min(cap, old[1])
    resource.setrlimit(resource.RLIMIT_AS, (cap, old[1]))
    return old


def invoke(argv: list[str], timeout_s: float, memory_bytes: int = 4 << 30):
    """(exit code or an exception kind, stdout, stderr, traceback text) of one in-process run."""
    out, err = io.StringIO(), io.StringIO()

    def on_alarm(signum, frame):
        raise Hang()

    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    old_limit = _address_space_cap(memory_bytes)
    code, tb = None, ""
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            with redirect_stdout(out), redirect_stderr(err):
                try:
                    code = main([str(a) for a in argv])
                except SystemExit as exc:   # argparse's own refusals
                    code = exc.code
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except Hang:
        code = "hang"
    except Reached:
        code = "reached"
    except BaseException:   # noqa: BLE001 - anything escaping the command line is the finding
        code, tb = "traceback", traceback.format_exc()
    finally:
        resource.setrlimit(resource.RLIMIT_AS, old_limit)
        signal.signal(signal.SIGALRM, old_handler)
    return code, out.getvalue(), err.getvalue(), tb


def run_case(case: Case, timeout_s: float = 20.0) -> Result:
    code, out, err, tb = invoke(case.argv, timeout_s)

    def result(outcome: str, detail: str = "") -> Result:
        return Result(case.kind, outcome, code, case.note, [str(a) for a in case.argv], detail[-3000:])

    if code == "hang":
        return result("hang", f"no answer within {timeout_s:g} s; stderr: {err[-500:]}")
    if code == "traceback" or "Traceback (most recent call last)" in err:
        return result("traceback", tb or err)
    if code == "reached":
        code = 0   # a patched real action was reached: the command took the options
    if code == 2:
        lines = err.strip().splitlines()
        if len(lines) != 1:
            return result("wrong_exit", f"a refusal of {len(lines)} lines: {err[-1500:]}")
        line = lines[0]
        if not any(n in line for n in case.names):
            return result("wrong_exit", f"the refusal names none of {case.names}: {line}")
        # A list's name may be said in the singular of one item ("steps" -> "step 5").
        if case.fields and not any(f in line or (f.endswith("s") and f[:-1] in line) for f in case.fields):
            return result("wrong_exit", f"the refusal names none of the fields {case.fields}: {line}")
        left = [str(p) for p in case.outputs if Path(p).exists()]
        changed = [str(p) for p, data in case.kept.items() if Path(p).read_bytes() != data]
        if left or changed:
            return result("wrong_exit", f"written despite the refusal: {left + changed}: {line}")
        if case.must_accept:
            return result("wrong_exit", f"refused an input that is valid: {line}")
        return result("clean", line)
    if code in case.ok_codes:
        if case.must_refuse:
            return result("wrong_exit", f"exit {code} on input that must be refused; stdout: {out[:800]}")
        if case.check is not None:
            try:
                case.check(out, case)
            except AssertionError as exc:
                return result("wrong_exit", f"an insane answer: {exc}; stdout: {out[:800]}")
        return result("accepted")
    return result("wrong_exit", f"exit {code!r}; stderr: {err[-1500:]}")


class Counts:
    """Outcomes per input kind, and the failing cases (for the assertion and the report)."""

    def __init__(self):
        self.by_kind: dict[str, dict[str, int]] = {}
        self.failures: list[Result] = []
        self.accepted: dict[str, list[str]] = {}   # what was accepted, per kind (for a reader to check)

    def add(self, r: Result) -> None:
        row = self.by_kind.setdefault(r.kind, {"tried": 0, **{o: 0 for o in OUTCOMES}})
        row["tried"] += 1
        row[r.outcome] += 1
        if r.outcome not in ("clean", "accepted"):
            self.failures.append(r)
        elif r.outcome == "accepted":
            self.accepted.setdefault(r.kind, []).append(f"{r.note} | {' '.join(r.argv[:2])}")

    def report(self, limit: int = 12) -> str:
        parts = [f"{len(self.failures)} failing cases:"]
        for r in self.failures[:limit]:
            parts.append(f"[{r.kind}] {r.outcome} ({r.note}) argv={r.argv}\n{r.detail}")
        return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Mutators. Each returns (mutated, label, must_refuse).

NON_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80", b"\xf8\x88\x80\x80\x80", b"\xfe\xff"]
NUMBER_RE = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
NUMBER_TEXT = [b"1e30", b"-1", b"0", b"-0", b"nan", b"NaN", b".nan", b"Infinity", b"-Infinity", b".inf",
               b"99999999999999999999", b"1e400", b"1e-400", b"0x1F", b"1_0", b"3.5", b"-2.5", b"18446744073709551617",
               b"9" * 5000, b"1e308", b"4294967296", b"2147483648", b"9223372036854775808"]


def byte_mutation(draw, data: bytes, text: bool = True):
    """A byte-level mutation of `data` (a text file when `text`: then non-UTF-8 must be refused)."""
    ops = ["truncate", "flip", "insert", "delete", "duplicate", "number", "garbage", "empty"]
    if text:
        ops.append("non_utf8")
    op = draw(st.sampled_from(ops), label="byte op")
    n = len(data)
    if op == "truncate" and n > 1:
        cut = draw(st.integers(1, n - 1), label="cut")
        return data[:cut], f"truncated at {cut}/{n}", False
    if op == "flip" and n:
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 4), label="flips")):
            pos = draw(st.integers(0, n - 1), label="flip at")
            out[pos] ^= draw(st.integers(1, 255), label="mask")
        return bytes(out), "bytes flipped", False
    if op == "insert":
        pos = draw(st.integers(0, n), label="insert at")
        junk = draw(st.binary(min_size=1, max_size=32), label="junk")
        return data[:pos] + junk + data[pos:], f"{len(junk)} bytes inserted at {pos}", False
    if op == "delete" and n > 1:
        a = draw(st.integers(0, n - 1), label="from")
        b = draw(st.integers(a + 1, min(n, a + 256)), label="to")
        return data[:a] + data[b:], f"bytes {a}:{b} deleted", False
    if op == "duplicate" and n > 1:
        a = draw(st.integers(0, n - 1), label="from")
        b = draw(st.integers(a + 1, min(n, a + 512)), label="to")
        return data[:b] + data[a:b] + data[b:], f"bytes {a}:{b} repeated", False
    if op == "number":
        spots = list(NUMBER_RE.finditer(data))
        if spots:
            m = draw(st.sampled_from(spots), label="number")
            new = draw(st.sampled_from(NUMBER_TEXT), label="as")
            return data[:m.start()] + new + data[m.end():], f"number {m.group()!r} -> {new[:20]!r}", False
    if op == "non_utf8":
        pos = draw(st.integers(0, n), label="at")
        bad = draw(st.sampled_from(NON_UTF8), label="bytes")
        return data[:pos] + bad + data[pos:], f"non-UTF-8 {bad!r} at {pos}", True
    if op == "garbage":
        return draw(st.binary(min_size=1, max_size=300), label="garbage"), "random bytes", False
    return b"", "empty file", False


ADVERSARIAL = [None, True, False, 0, -1, 1, 2, 10 ** 30, -10 ** 30, 2 ** 63, 2 ** 31, 1e308, 1e-308, 0.5, -0.5,
               float("nan"), float("inf"), float("-inf"), "", "abc", "1", "3s", "-3s", "0s", [], {}, [1, 2],
               {"a": 1}, [[]], "x" * 5000, 10 ** 7, 999999, -10 ** 7, "spark.locality.wiat"]


def deep(levels: int = 200):
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def walk(doc, path=()):
    """Every (path, value) of a document of dicts and lists, the root excluded."""
    stack = [(doc, path)]
    while stack:
        value, p = stack.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for k, v in items:
            stack.append((v, p + (k,)))
            yield p + (k,), v


def _parent(doc, path):
    for k in path[:-1]:
        doc = doc[k]
    return doc


def path_keys(path) -> tuple[str, ...]:
    """The names an error about this path can use: its string keys (`executors`, `cores`, ...)."""
    return tuple(str(k) for k in path if isinstance(k, str))


def tree_mutation(draw, doc, strict_keys: bool, finite_only: bool, paths=None):
    """A structural mutation of a parsed document, in place: (label, must_refuse, keys of the path).

    `strict_keys`: an added unknown key must be refused (strict YAML inputs). `finite_only`: the
    document is JSON, where NaN and Infinity must be refused."""
    paths = paths if paths is not None else list(walk(doc))
    if not paths:
        return "nothing to mutate", False, ()
    path, value = draw(st.sampled_from(paths), label="path")
    parent = _parent(doc, path)
    key = path[-1]
    op = draw(st.sampled_from(["set", "set", "set", "delete", "add_key", "deep", "duplicate", "nonfinite"]),
              label="tree op")
    keys = path_keys(path)
    if op == "delete":
        del parent[key]
        return f"deleted {list(path)}", False, ()
    if op == "add_key" and isinstance(value, dict):
        value["zz_unknown_key"] = 1
        return f"unknown key under {list(path)}", strict_keys, keys + ("zz_unknown_key",)
    if op == "duplicate" and isinstance(parent, list):
        parent.insert(key, json.loads(json.dumps(parent[key])))
        return f"duplicated {list(path)}", False, ()
    if op == "deep":
        parent[key] = deep()
        return f"nested 200 deep at {list(path)}", True, ()
    if op == "nonfinite":
        parent[key] = draw(st.sampled_from([float("nan"), float("inf"), float("-inf")]), label="nonfinite")
        return f"{list(path)} = {parent[key]}", finite_only, keys
    new = draw(st.sampled_from(ADVERSARIAL), label="value")
    parent[key] = json.loads(json.dumps(new)) if isinstance(new, (dict, list)) else new
    nonfinite = isinstance(new, float) and not math.isfinite(new)
    return f"{list(path)} = {str(new)[:30]!r}", finite_only and nonfinite, keys


def dump_json(doc) -> bytes:
    return json.dumps(doc).encode()   # NaN and Infinity written as Python does: the reader must refuse them


# ---------------------------------------------------------------------------------------------
# Spark's codec framings (`sparkdelay.eventlog.codecs` describes them), to build valid logs


def zstd_frames(data: bytes, lines_per_frame: int = 5) -> bytes:
    """zstd-jni as Spark flushes it: one frame per few lines."""
    import zstandard
    lines = data.splitlines(keepends=True)
    cctx = zstandard.ZstdCompressor()
    return b"".join(cctx.compress(b"".join(lines[i:i + lines_per_frame]))
                    for i in range(0, len(lines), lines_per_frame))


def lz4_blocks(data: bytes, block: int = 32 * 1024) -> bytes:
    """lz4-java's LZ4BlockOutputStream: "LZ4Block" + token + lengths + checksum per block, then an
    empty end block (the checksum is written as 0: the reader does not verify it)."""
    import struct
    import lz4.block
    level = 5   # 32 KiB blocks: log2(32768) - 10
    out = []
    for i in range(0, len(data), block):
        raw = data[i:i + block]
        comp = lz4.block.compress(raw, store_size=False)
        token, payload = (0x20 | level, comp) if len(comp) < len(raw) else (0x10 | level, raw)
        out.append(struct.pack("<8sBiii", b"LZ4Block", token, len(payload), len(raw), 0) + payload)
    out.append(struct.pack("<8sBiii", b"LZ4Block", 0x10 | level, 0, 0, 0))
    return b"".join(out)


def snappy_chunks(data: bytes, block: int = 32 * 1024) -> bytes:
    """snappy-java's SnappyOutputStream: a 16-byte header, then big-endian length + raw snappy chunks."""
    import struct
    import cramjam
    out = [b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)]
    for i in range(0, len(data), block):
        comp = bytes(cramjam.snappy.compress_raw(data[i:i + block]))
        out.append(struct.pack(">i", len(comp)) + comp)
    return b"".join(out)


def lzf_chunks(data: bytes, block: int = 0xFFFF) -> bytes:
    """compress-lzf's LZFOutputStream: "ZV" + type + big-endian lengths per chunk (stored when
    compression does not shrink it, as the library does)."""
    import struct
    import lzf
    out = []
    for i in range(0, len(data), block):
        raw = data[i:i + block]
        comp = lzf.compress(raw)
        out.append(b"ZV\x01" + struct.pack(">HH", len(comp), len(raw)) + comp if comp and len(comp) < len(raw)
                   else b"ZV\x00" + struct.pack(">H", len(raw)) + raw)
    return b"".join(out)


ENCODERS = {"plain": lambda d: d, "zstd": zstd_frames, "lz4": lz4_blocks, "snappy": snappy_chunks, "lzf": lzf_chunks}

"""What a `sparkdelay run` command asks for: parsed value lists and the runs they expand to.

Nodes and partitions take a number, a list or an inclusive range (`4`, `1,2,4`, `1-3`,
`1-3,8`); waits take one Spark duration or a list (`3s`, `0s,3s`, `500ms`). Each run has a
stable id made of a digest of everything that shapes the job (so a changed option never
counts as done) plus readable coordinates; `real.index` uses it to skip finished runs.
Runs are ordered nodes-major, so a managed local cluster restarts once per node count.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.sparkconf import parse_duration_ms

_INT_PART = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_int_list(text: str, option: str, minimum: int = 1, maximum: int | None = None) -> list[int]:
    """`"1-3,5"` -> [1, 2, 3, 5]; duplicates dropped, order kept."""
    out: list[int] = []
    for part in str(text).split(","):
        m = _INT_PART.match(part)
        if not m:
            raise UserError(f"{option}: expected a number, list or range such as 1-3 or 1,2,4, got {text!r}")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise UserError(f"{option}: range {part.strip()!r} runs backwards")
        for v in range(lo, hi + 1):
            if v < minimum or (maximum is not None and v > maximum):
                bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
                raise UserError(f"{option}: values must be {bound}, got {v}")
            if v not in out:
                out.append(v)
    return out


def parse_wait_list(text: str, option: str = "--wait") -> list[str]:
    """`"0s,3s"` -> ["0s", "3s"], each checked as a Spark duration (bare numbers are ms)."""
    out: list[str] = []
    for part in str(text).split(","):
        value = part.strip()
        if not value:
            raise UserError(f"{option}: empty value in {text!r}")
        parse_duration_ms(value, option)
        if value not in out:
            out.append(value)
    return out


@dataclass(frozen=True)
class JobShape:
    """Everything besides (nodes, partitions, wait, rep) that changes what a run measures."""
    items: int = 40
    key_format: str = "shard-{:02d}"
    map_slices: int = 1
    work_repeat: int = 2000
    cores: int = 8
    memory: str = "2g"
    pin: bool = False
    python_hash_seed: str = "0"
    test_limit: int | None = None
    mnist_dir: str | None = None

    def digest(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class RunSpec:
    shape: JobShape
    nodes: int
    partitions: int
    wait: str
    rep: int

    @property
    def wait_ms(self) -> float:
        return parse_duration_ms(self.wait, "--wait")

    @property
    def run_id(self) -> str:
        return f"{self.shape.digest()}-n{self.nodes}-p{self.partitions}-w{self.wait}-r{self.rep}"


def plan(shape: JobShape, nodes: list[int], partitions: list[int], waits: list[str], reps: int) -> list[RunSpec]:
    if reps < 1:
        raise UserError(f"--reps: must be at least 1, got {reps}")
    return [RunSpec(shape, n, p, w, r)
            for n in nodes for r in range(1, reps + 1) for p in partitions for w in waits]

"""What a `sparkdelay run` command plans: the real runs a set of option values expands to.

Nodes, partitions and waits are lists in the grammar every swept option shares
(`ground.lists`: `4`, `1,2,4`, `1-3`, `1-40:5`, `0s,3s`). Each run (`RunPoint`) has a stable
id made of a digest of everything that shapes the job (so a changed option never counts as
done) plus readable coordinates; `eventlog.run_index` uses it to skip finished runs. Runs are
ordered nodes-major, so a managed local cluster restarts once per node count.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.sparkconf import parse_duration_ms
from sparkdelay.real.workloads import DEFAULT_JOB
from sparkdelay.sim.model.study import STUDY_ITEMS, STUDY_KEY_FORMAT


@dataclass(frozen=True)
class JobShape:
    """Everything besides (nodes, partitions, wait, rep) that changes what a run measures."""
    job: str = DEFAULT_JOB            # `real.workloads.JOBS`: what each task does with an item
    items: int = STUDY_ITEMS
    key_format: str = STUDY_KEY_FORMAT
    map_slices: int = 1
    work_repeat: int = 2000
    cores: int = 8
    memory: str = "2g"
    pin: bool = False
    python_hash_seed: str = "0"
    test_limit: int | None = None
    mnist_dir: str | None = None
    partitioner: str = "hash"         # partitionBy's function: hash (portable_hash) or even (key position)

    def digest(self) -> str:
        fields = asdict(self)
        # Runs recorded before jobs had names were all the default job: leaving it out of the
        # digest keeps their ids, so such a sweep still resumes.
        if fields["job"] == DEFAULT_JOB:
            del fields["job"]
        # Likewise runs recorded before --partitioner were all hash; even gets ids of its own.
        if fields["partitioner"] == "hash":
            del fields["partitioner"]
        return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:8]


@dataclass(frozen=True)
class RunPoint:
    """One point of a real sweep: the job's shape at N nodes, P partitions, one wait, one repetition."""
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


def plan(shape: JobShape, nodes: list[int], partitions: list[int], waits: list[str], reps: int) -> list[RunPoint]:
    if reps < 1:
        raise UserError(f"--reps: must be at least 1, got {reps}")
    return [RunPoint(shape, n, p, w, r)
            for n in nodes for r in range(1, reps + 1) for p in partitions for w in waits]

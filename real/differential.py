"""Differential cases: random, seeded configurations of a real job, each its own Spark application.

A held-out grid shares its job's keys, hash seed and map slices, so it tests only what the
grid varies. A differential case draws everything a user may change at once (Spark's outcome
depends on all of it): worker hosts N, cores per executor, numSlices of `parallelize`, P of
`partitionBy`, the number of keys, PYTHONHASHSEED, and `spark.locality.wait`. Every draw comes
from one `random.Random(seed)`, so a seed names a set of cases forever; case `i` of a set does
not depend on how many cases were asked for.

The ranges are those of the issue that asked for the harness ("Predictions that transfer..."):
N 1-4, 2-8 cores, 1-6 map slices, P 1-48, 10-80 keys, any 32-bit hash seed, waits 0/1/3 s.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from sparkdelay.ground.errors import UserError
from sparkdelay.real.plan import JobShape, RunPoint
from sparkdelay.real.workloads import job_named

NODES = (1, 4)
CORES = (2, 8)
MAP_SLICES = (1, 6)
PARTITIONS = (1, 48)
KEYS = (10, 80)
WAITS = ("0s", "1s", "3s")
MAX_CASES = 1000
CASES_NAME = "cases.json"


@dataclass(frozen=True)
class DifferentialCase:
    """One drawn configuration; `case` is its position in the seeded sequence."""
    case: int
    nodes: int
    cores: int
    map_slices: int
    partitions: int
    items: int
    hash_seed: int
    wait: str

    def run_point(self, job: str) -> RunPoint:
        shape = JobShape(job=job, items=self.items, map_slices=self.map_slices,
                         work_repeat=job_named(job).default_repeat, cores=self.cores,
                         python_hash_seed=str(self.hash_seed))
        return RunPoint(shape, self.nodes, self.partitions, self.wait, rep=1)


def draw_cases(count: int, seed: int) -> list[DifferentialCase]:
    if not 1 <= count <= MAX_CASES:
        raise UserError(f"--cases: must be 1..{MAX_CASES}, got {count}")
    cases = []
    for i in range(count):
        # One generator per case, seeded from (seed, i): case i is the same whatever `count` is.
        rng = random.Random(f"sparkdelay-differential/{seed}/{i}")
        cases.append(DifferentialCase(
            case=i, nodes=rng.randint(*NODES), cores=rng.randint(*CORES), map_slices=rng.randint(*MAP_SLICES),
            partitions=rng.randint(*PARTITIONS), items=rng.randint(*KEYS), hash_seed=rng.randrange(2 ** 32),
            wait=rng.choice(WAITS)))
    return cases


def write_cases(folder: Path, job: str, seed: int, cases: list[DifferentialCase]) -> Path:
    """The plan beside the runs (`cases.json`), so scoring knows which run is which case."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CASES_NAME
    doc = {"format": "sparkdelay-differential/1", "job": job, "seed": seed,
           "cases": [dict(asdict(c), run_id=c.run_point(job).run_id) for c in cases]}
    if path.exists():
        old = read_cases(path)
        if (old["job"], old["seed"]) != (job, seed):
            raise UserError(f"{path}: holds cases of job {old['job']} seed {old['seed']}, "
                            f"not {job} seed {seed}: use another --out")
        # A longer plan extends a shorter one: the common cases are identical by construction.
        if len(old["cases"]) >= len(cases):
            return path
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def read_cases(path: Path) -> dict:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("format") != "sparkdelay-differential/1":
            raise ValueError("not a sparkdelay-differential/1 file")
        for c in doc["cases"]:
            DifferentialCase(**{k: v for k, v in c.items() if k != "run_id"})
            str(c["run_id"])
        int(doc["seed"])
        str(doc["job"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(f"{path}: not a differential plan ({exc})") from None
    return doc

"""Task and driver costs: how many CPU seconds a task needs, and the driver's own delays.

A task's service demand (CPU seconds on its machine) is the Python worker start-up when its
worker has not run the stage's function yet (`spark.python.worker.reuse` keeps finished workers
for later tasks, of any stage), plus a fork when no worker was idle, plus a per-task overhead,
plus work per item and per shuffled byte. Terms a calibration adds where a workload needs them
(all off by default): the executor's Python daemon start, the executor JVM's own warm-up
after it registers, time off the CPU per task and per item, the share of a task's extra threads
that does work, and two properties of the machine, a throughput penalty when it is
oversubscribed and a background load per executor (`Machine`). The driver adds
delays outside any task: job submission to the first offer (`submit_delay_s`), the gap
between one stage finishing and the next being submitted (`stage_gap_s`) and the collection
of results after the last task (`collect_s`). A task cost with a spread (`*_sd_s`) is drawn
from a lognormal with the cost as its mean and the spread as its standard deviation
(`positive_noise`: never negative, mean kept exact, unlike a normal truncated at 0), from the
run's seeded stream of standard normals (`NormalStream`), so one seed always gives the same costs.

The defaults are placeholders that resemble the 2017 study (Xeon W5590, Chainer evaluating
one MNIST shard per item): about 3 s for a worker's first task of a stage (fork, import Chainer,
load the model), about 1 s of CPU per shard, a fraction of a second of per-task overhead. The
start-up matters for placement, not only time: under Spark 2.x's reset-on-every-launch rule a
node-local task finishing before the locality wait expires keeps the whole stage on one host,
so the study's spread at P >= 14 (F7, F12) needs first tasks longer than the 3 s wait plus up
to one revive interval; with 2 s the model keeps most of P = 40 on the map host. `sparkdelay calibrate` (another
module) fits real values and writes them to a `sparkdelay-model/1` file read by `CostModel.load`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.limits import LIMITS
from sparkdelay.ground.strict import load_json

MODEL_FORMAT = "sparkdelay-model/1"


@dataclass(frozen=True)
class CostModel:
    """Cost parameters, all in seconds (`*_sd_s` are standard deviations of the noise)."""

    worker_startup_s: float = 3.0      # a worker's first task of a stage's function: import Chainer, load the model
    worker_startup_sd_s: float = 0.2
    task_overhead_s: float = 0.3       # deserialise the closure, open the shuffle stream, report back
    task_overhead_sd_s: float = 0.05
    cpu_per_item_s: float = 1.0        # evaluate one MNIST shard (~250 images) with Chainer on a 2017 core
    cpu_per_item_sd_s: float = 0.1     # per item; a task with n items gets sd * sqrt(n)
    cpu_per_byte_s: float = 0.0        # shuffle read / unpickle per byte (folded into cpu_per_item by default)
    map_task_overhead_s: float = 0.3   # map side of partitionBy: task overhead
    map_cpu_per_item_s: float = 0.01   # map side: hash the key and pickle the item into its bucket
    submit_delay_s: float = 1.0        # driver: action called -> first taskset submitted
    stage_gap_s: float = 0.1           # driver: stage finished -> next stage submitted
    collect_s: float = 0.2             # driver: last task finished -> results back in the program
    # Terms a calibration adds where a workload needs them (0 = off, as in the defaults above):
    executor_start_s: float = 0.0      # an executor's first Python task starts its Python daemon
                                       # (interpreter + pyspark); tasks launched meanwhile wait for it
    worker_fork_s: float = 0.0         # a task that finds no idle worker forks one from the daemon
    wait_per_task_s: float = 0.0       # time a task spends off the CPU (sleep, I/O, fetch wait) ...
    wait_per_item_s: float = 0.0       # ... and per item: it does not share the machine's cores
    thread_parallel_fraction: float = 1.0   # of a task's extra threads (OpenBLAS), the share doing work
    oversubscription_penalty: float = 0.0   # throughput lost per unit of oversubscription of a machine
    executor_background_cores: float = 0.0  # cores each executor on a machine takes from its tasks
    executor_warmup_s: float = 0.0     # CPU an executor's JVM still burns once registered (JIT,
                                       # class loading), one more runnable thread on its machine
    executor_first_task_s: float = 0.0  # CPU an executor's JVM spends on its first task (class loading,
                                       # JIT of the task path: slow deserialization); tasks launched
                                       # on it meanwhile wait for it
    executor_jit_s: float = 0.0        # CPU an executor's JVM burns beside its tasks once it runs its
                                       # first one (JIT of the task path), one more runnable thread

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise UserError(f"cost model: {f.name}: expected a finite number of seconds, got {value!r}")
            if value < 0:
                raise UserError(f"cost model: {f.name}: must not be negative, got {value!r}")
        if self.thread_parallel_fraction > 1:
            raise UserError(f"cost model: thread_parallel_fraction: a share, at most 1, got {self.thread_parallel_fraction!r}")

    def useful_threads(self, threads: int) -> float:
        """How many of a task's `threads` threads' worth of work it gets done per unit of time."""
        return 1.0 + self.thread_parallel_fraction * (threads - 1) if threads > 1 else 1.0

    def task_wait(self, items: int) -> float:
        """Seconds a task with `items` items spends off the CPU."""
        return self.wait_per_task_s + self.wait_per_item_s * items if (self.wait_per_task_s or self.wait_per_item_s) else 0.0

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_params(cls, params: Mapping[str, Any], where: str = "cost model") -> "CostModel":
        """Build from a mapping of parameter -> seconds; missing keys keep their defaults."""
        if not isinstance(params, Mapping):
            raise UserError(f"{where}: expected a mapping of parameter names to seconds")
        known = set(cls.field_names())
        seconds = LIMITS["seconds"].maximum
        # Not every parameter is seconds: each other one has its own unit and domain. A per-item
        # cost may make one item take up to the seconds limit; a per-byte cost is capped at 1 ms a
        # byte (an item of the bytes limit then costs ~35 years, already absurd); a fraction is a
        # share; background cores are cores; the penalty is a factor per unit of oversubscription.
        domains = {
            "cpu_per_item_s": ("seconds per item", seconds), "cpu_per_item_sd_s": ("seconds per item", seconds),
            "map_cpu_per_item_s": ("seconds per item", seconds), "wait_per_item_s": ("seconds per item", seconds),
            "cpu_per_byte_s": ("seconds per byte", 1e-3),
            "thread_parallel_fraction": ("a share of a thread", 1.0),
            "executor_background_cores": ("cores", LIMITS["cores"].maximum),
            "oversubscription_penalty": ("a throughput factor per unit of oversubscription", 1000.0),
        }
        values = {}
        for key, value in params.items():
            if key not in known:
                raise UserError(f"{where}: {key}: unknown cost parameter (known: {', '.join(sorted(known))})")
            unit, top = domains.get(key, ("seconds", seconds))
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UserError(f"{where}: {key}: expected a number ({unit}), got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise UserError(f"{where}: {key}: must be a finite number >= 0 ({unit}), got {value!r}")
            if value > top:
                shown = f"{top:,.0f}" if top >= 1 else f"{top:g}"
                raise UserError(f"{where}: {key}: {value!r} is beyond the limit of {shown} ({unit}; README, Limits)")
            values[key] = float(value)
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path) -> "CostModel":
        """Read a `sparkdelay-model/1` JSON file: {"format": ..., "params": {<fields>}, ...}."""
        return cls.from_params(cls.document(path)["params"], where=f"{path}: params")

    @staticmethod
    def document(path: str | Path) -> dict:
        """The whole model file (params, uncertainty, fit report, calibrated range), checked."""
        path = Path(path)
        doc = load_json(path, " model file")
        if not isinstance(doc, dict):
            raise UserError(f"{path}: expected a JSON object with \"format\" and \"params\"")
        if doc.get("format") != MODEL_FORMAT:
            raise UserError(f"{path}: format: expected {MODEL_FORMAT!r}, got {doc.get('format')!r}")
        if "params" not in doc:
            raise UserError(f"{path}: params: missing")
        return doc

    def to_json(self, **extra: Any) -> str:
        return json.dumps({"format": MODEL_FORMAT, "params": asdict(self), **extra}, indent=2)

    def without_noise(self) -> "CostModel":
        return replace(self, worker_startup_sd_s=0.0, task_overhead_sd_s=0.0, cpu_per_item_sd_s=0.0)


def positive_noise(rng, mean: float, sd: float) -> float:
    """A positive draw with exactly this mean and standard deviation (lognormal).

    A normal truncated at 0 would raise the mean whenever sd is not small next to it (a
    calibrated per-item spread often is not), so every predicted task would run long. The
    lognormal with sigma^2 = ln(1 + (sd/mean)^2) and mu = ln(mean) - sigma^2/2 keeps both
    moments and is never negative. With sd == 0 (or mean == 0) nothing is drawn, so
    noise-free models leave the random stream untouched.
    """
    if sd <= 0.0 or mean <= 0.0:
        return mean
    r = sd / mean
    if not math.isfinite(r):
        return mean  # a mean too close to 0 to carry any spread
    # ln(1 + r^2), written so that a tiny mean with a real spread does not overflow.
    s2 = math.log1p(r * r) if r < 1e150 else 2.0 * math.log(r)
    return mean * math.exp(rng.normal(-0.5 * s2, math.sqrt(s2)))


class NormalStream:
    """Stands in for a numpy Generator where `positive_noise` draws `rng.normal(loc, scale)`.

    numpy's `Generator.normal(loc, scale)` computes `loc + scale * z` with z the generator's
    next standard normal (`random_normal` in numpy's distributions.c), and `standard_normal(n)`
    fills an array with the next n of those same z, one after another. So serving z from
    blocks gives bit-identical draws in the same order (checked by the golden traces), at a
    fraction of the cost of a numpy call per draw (a scalar numpy call costs more than the
    rest of a task launch). Blocks grow from 16 to 65,536 so small runs draw little ahead;
    the generator is used for nothing else.
    """

    __slots__ = ("_rng", "_block", "_buf", "_pos")

    def __init__(self, rng: np.random.Generator):
        self._rng = rng
        self._block = 16
        self._buf: list[float] = []
        self._pos = 0

    def normal(self, loc: float, scale: float) -> float:
        pos = self._pos
        buf = self._buf
        if pos == len(buf):
            self._block = min(self._block * 2, 65536)
            buf = self._buf = self._rng.standard_normal(self._block).tolist()
            pos = 0
        self._pos = pos + 1
        return loc + scale * buf[pos]


class CostSampler:
    """Draws task service demands from a `CostModel` with one seeded stream (a `NormalStream`,
    or any object with numpy's `normal(loc, scale)`)."""

    __slots__ = ("model", "rng")

    def __init__(self, model: CostModel, rng: NormalStream | np.random.Generator):
        self.model = model
        self.rng = rng

    def worker_startup(self) -> float:
        m = self.model
        return positive_noise(self.rng, m.worker_startup_s, m.worker_startup_sd_s)

    def result_task(self, items: int, nbytes: float, needs_worker: bool) -> float:
        """CPU seconds of a PySpark reduce/result task over `items` items of `nbytes` bytes."""
        m = self.model
        cpu = self.worker_startup() if needs_worker else 0.0
        cpu += positive_noise(self.rng, m.task_overhead_s, m.task_overhead_sd_s)
        if items:
            cpu += positive_noise(self.rng, m.cpu_per_item_s * items, m.cpu_per_item_sd_s * math.sqrt(items))
        return cpu + m.cpu_per_byte_s * nbytes

    def map_task(self, items: int) -> float:
        """CPU seconds of the map side of `partitionBy` over `items` items.

        No `worker_startup_s`: that is the result function's imports (Chainer, the model),
        which the map side never does; its own small worker start sits in the overhead.
        """
        m = self.model
        return m.map_task_overhead_s + m.map_cpu_per_item_s * items

    def explicit_task(self, cpu_seconds: float, sd: float, python: bool, needs_worker: bool) -> float:
        """CPU seconds of a task of an explicit stage (python: add worker start-up and overhead)."""
        cpu = positive_noise(self.rng, cpu_seconds, sd)
        if python:
            m = self.model
            if needs_worker:
                cpu += self.worker_startup()
            cpu += positive_noise(self.rng, m.task_overhead_s, m.task_overhead_sd_s)
        return cpu

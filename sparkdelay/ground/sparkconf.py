"""Spark configuration values as Spark spells and parses them, and the one table of keys the tool reads.

Spark writes durations as `3s`, `100ms`, `1min` and bare numbers (whose unit depends on the
key: `spark.locality.wait*` and `spark.scheduler.revive.interval` are in milliseconds when
no unit is given). `parse_duration_ms` follows `JavaUtils.timeStringAs`. Booleans follow
Spark's `toBoolean` (only `true`/`false`, any case).

`SPARK_KEYS` lists every `spark.*` key the tool reads, with Spark's default, its kind and
what it means; the scheduler's configuration (`sim.policy.config`), the cluster file's checks
(`sim.model.cluster`) and validation's reading of event logs all take keys and defaults from
it. Defaults are Spark 3.x/4.x's (SPEC.md, "Configuration defaults").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.limits import LIMITS, check_limit

_UNITS_MS = {
    "us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "min": 60_000.0,
    "h": 3_600_000.0, "d": 86_400_000.0,
}
_DURATION = re.compile(r"^\s*(-?[0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$")


@dataclass(frozen=True)
class SparkKey:
    """One configuration key: how Spark reads it and what the tool does with it."""

    name: str
    kind: str                   # "duration", "bool" or "int"
    default: str | None         # as Spark spells it; None: the `fallback` key's value applies
    meaning: str
    unit: str = "ms"            # unit of a bare number (durations only)
    minimum: int | None = None  # smallest accepted value (ints only)
    fallback: str | None = None
    scheduler: bool = True      # part of the scheduler's configuration (False: read for another purpose)
    limit: str | None = None    # the `sparkdelay.ground.limits` entry bounding it (ints only)

    def parse(self, value: Any, where: str):
        """The value as the model uses it: milliseconds, bool or int; a bad value is a UserError naming `where`."""
        if self.kind == "duration":
            return parse_duration_ms(value, where, default_unit=self.unit)
        if self.kind == "bool":
            return parse_bool(value, where)
        number = parse_int(value, where, minimum=self.minimum)
        return number if self.limit is None else check_limit(number, self.limit, where)


_LEVEL_WAIT = "delay before giving up on {} locality for a task (falls back to spark.locality.wait)"

SPARK_KEYS: dict[str, SparkKey] = {k.name: k for k in (
    SparkKey("spark.locality.wait", "duration", "3s",
             "delay scheduling: how long a taskset waits at a locality level before trying the next"),
    SparkKey("spark.locality.wait.process", "duration", None, _LEVEL_WAIT.format("PROCESS_LOCAL"),
             fallback="spark.locality.wait"),
    SparkKey("spark.locality.wait.node", "duration", None, _LEVEL_WAIT.format("NODE_LOCAL"),
             fallback="spark.locality.wait"),
    SparkKey("spark.locality.wait.rack", "duration", None, _LEVEL_WAIT.format("RACK_LOCAL"),
             fallback="spark.locality.wait"),
    SparkKey("spark.locality.wait.legacyResetOnTaskLaunch", "bool", "false",
             "reset the locality timer on every launch (Spark < 3.1 always does; SPARK-18886)"),
    SparkKey("spark.scheduler.revive.interval", "duration", "1s",
             "period of the driver's revive tick, a full offer round on every executor"),
    SparkKey("spark.shuffle.reduceLocality.enabled", "bool", "true",
             "prefer the hosts holding most of a reduce task's map output (the 20% rule)"),
    SparkKey("spark.task.cpus", "int", "1", "cores one task takes from its executor", minimum=1, limit="cores"),
    SparkKey("spark.task.maxFailures", "int", "4", "failures of one task before its job is aborted", minimum=1,
             limit="tasks"),
    SparkKey("spark.excludeOnFailure.enabled", "bool", "false",
             "exclude executors and hosts on which tasks failed (was spark.blacklist.enabled)"),
    # Spark's own default is 1 on YARN and all of a worker's cores in standalone mode; the
    # model needs a number, and 8 is the study's executors' thread count.
    SparkKey("spark.executor.cores", "int", "8", "task slots of one executor", minimum=1, limit="cores"),
    SparkKey("spark.python.worker.reuse", "bool", "true",
             "keep idle Python workers for later tasks instead of forking one per task"),
    # PySpark's SparkContext passes PYTHONHASHSEED to its workers, "0" unless the driver's
    # environment sets it; the study's runs set it explicitly through executorEnv.
    SparkKey("spark.executorEnv.PYTHONHASHSEED", "int", "0",
             "hash seed of the Python workers (read from event logs: it decides portable_hash of str keys)",
             minimum=0, scheduler=False, limit="hash_seed"),
)}


def spark_default(name: str) -> str:
    """Spark's default of `name`, following fallbacks (`spark.locality.wait.node` -> `spark.locality.wait`)."""
    key = SPARK_KEYS[name]
    while key.default is None:
        key = SPARK_KEYS[key.fallback]
    return key.default


def lookup(conf: Mapping[str, Any], name: str) -> tuple[str, Any]:
    """(key whose value applies, that value): `name` if set, else its fallback's, else Spark's default.

    The key is returned so an error names the key the user actually wrote."""
    key = SPARK_KEYS[name]
    while key.name not in conf and key.fallback is not None:
        key = SPARK_KEYS[key.fallback]
    return key.name, conf.get(key.name, key.default)


def parse_duration_ms(value, where: str = "duration", default_unit: str = "ms") -> float:
    """Parse a Spark time string (`3s`, `100ms`, `0`, `1.5s`) into milliseconds.

    A bare number takes `default_unit` (Spark reads `spark.locality.wait=3000` as 3000 ms).
    """
    if isinstance(value, bool):
        raise UserError(f"{where}: expected a duration such as 3s or 100ms, got {value!r}")
    if isinstance(value, (int, float)):
        number, unit = float(value), default_unit
    else:
        m = _DURATION.match(str(value).lower())
        if not m:
            raise UserError(f"{where}: expected a duration such as 3s or 100ms, got {value!r}")
        number, unit = float(m.group(1)), (m.group(2) or default_unit)
    if unit not in _UNITS_MS:
        raise UserError(f"{where}: unknown time unit {unit!r} in {value!r} (use ms, s, min, h)")
    if not math.isfinite(number):
        raise UserError(f"{where}: expected a duration such as 3s or 100ms, got {value!r}")
    if number < 0:
        raise UserError(f"{where}: must not be negative, got {value!r}")
    ms = number * _UNITS_MS[unit]
    if ms > LIMITS["milliseconds"].maximum:
        raise UserError(f"{where}: {value!r} is beyond the limit of {LIMITS['milliseconds'].maximum / 1000:,.0f} s "
                        f"(any duration; README, Limits)")
    return ms


def parse_bool(value, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise UserError(f"{where}: expected true or false, got {value!r}")


def parse_int(value, where: str, minimum: int | None = None) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(str(value).strip())
    except ValueError:
        raise UserError(f"{where}: expected a whole number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise UserError(f"{where}: must be at least {minimum}, got {number}")
    return number


def _distance(a: str, b: str) -> int:
    """Levenshtein distance (a swap of two letters counts 2)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def check_spelling(key: str, where: str) -> None:
    """Refuse a key that is almost one the tool reads: a misspelt wait would silently keep the default.

    Other Spark keys pass (Spark has hundreds the model does not read), except under
    `spark.locality.`, where every key Spark knows is in SPARK_KEYS."""
    if key in SPARK_KEYS:
        return
    near = min(SPARK_KEYS, key=lambda k: _distance(key, k))
    if _distance(key, near) <= 2 or key.startswith("spark.locality."):
        raise UserError(f"{where}: unknown Spark key {key!r} (did you mean {near}?)")

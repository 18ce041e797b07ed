"""Spark configuration values as Spark spells and parses them.

Spark writes durations as `3s`, `100ms`, `1min` and bare numbers (whose unit depends on the
key: `spark.locality.wait*` and `spark.scheduler.revive.interval` are in milliseconds when
no unit is given). `parse_duration_ms` follows `JavaUtils.timeStringAs`. Booleans follow
Spark's `toBoolean` (only `true`/`false`, any case).
"""

from __future__ import annotations

import re

from sparkdelay.ground.errors import UserError

_UNITS_MS = {
    "us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "min": 60_000.0,
    "h": 3_600_000.0, "d": 86_400_000.0,
}
_DURATION = re.compile(r"^\s*(-?[0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$")

# Defaults of the keys the model reads (Spark 3.x/4.x; see SPEC.md, "Configuration defaults").
DEFAULTS = {
    "spark.locality.wait": "3s",
    "spark.locality.wait.legacyResetOnTaskLaunch": "false",
    "spark.scheduler.revive.interval": "1s",
    "spark.shuffle.reduceLocality.enabled": "true",
    "spark.task.cpus": "1",
    "spark.executor.cores": "8",
    "spark.python.worker.reuse": "true",
    "spark.task.maxFailures": "4",
}


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
    if number < 0:
        raise UserError(f"{where}: must not be negative, got {value!r}")
    return number * _UNITS_MS[unit]


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

"""Strict reading of the YAML input files (cluster.yaml, job.yaml).

Every value is checked where it is read, and every complaint is one `UserError` line that
names the file and the field path (`cluster.yaml: executors[1].cores: ...`), so a user can
find the mistake without a traceback. Unknown keys are errors, not warnings: a misspelt key
silently falling back to a default would make a prediction quietly wrong.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from sparkdelay.ground.errors import UserError


def load_yaml(path: str | Path) -> Any:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{path}: not valid YAML{at}: {problem}") from None


def require_mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UserError(f"{where}: expected a mapping (key: value), got {type(value).__name__}")
    return value


def require_list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise UserError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def check_keys(mapping: Mapping[str, Any], allowed: Iterable[str], where: str,
               required: Iterable[str] = ()) -> None:
    allowed = list(allowed)
    for key in mapping:
        if key not in allowed:
            raise UserError(f"{where}.{key}: unknown key (expected one of {', '.join(allowed)})")
    for key in required:
        if key not in mapping:
            raise UserError(f"{where}.{key}: missing")


def get_int(value: Any, where: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise UserError(f"{where}: expected a whole number, got {value!r}")
    if minimum is not None and value < minimum:
        raise UserError(f"{where}: must be at least {minimum}, got {value}")
    return value


def get_float(value: Any, where: str, minimum: float | None = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{where}: expected a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise UserError(f"{where}: must be at least {minimum:g}, got {value!r}")
    return float(value)


def get_str(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise UserError(f"{where}: expected a string, got {value!r}")
    text = str(value)
    if not text:
        raise UserError(f"{where}: must not be empty")
    return text


def get_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"{where}: expected true or false, got {value!r}")
    return value

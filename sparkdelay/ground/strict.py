"""Strict reading of the YAML and JSON input files (cluster.yaml, job.yaml, model.json, ...).

Every value is checked where it is read, and every complaint is one `UserError` line that
names the file and the field path (`cluster.yaml: executors[1].cores: ...`), so a user can
find the mistake without a traceback. Unknown keys are errors, not warnings: a misspelt key
silently falling back to a default would make a prediction quietly wrong. Files must be UTF-8,
documents at most `MAX_DEPTH` levels deep, and JSON numbers finite (no NaN/Infinity).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.limits import check_limit

# No input of the tool nests more than a few levels; a deeper document is garbage, and the
# parsers (and anything walking the result) would hit Python's recursion limit on it.
MAX_DEPTH = 64


def read_text(path: str | Path, what: str = "") -> str:
    """The file as UTF-8 text; unreadable or not UTF-8 is a UserError naming the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read{what}: {exc.strerror or exc}") from None
    return decode_utf8(data, str(path))


def decode_utf8(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{where}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None


def check_depth(doc: Any, where: str) -> Any:
    """`doc` unchanged unless lists/mappings nest deeper than MAX_DEPTH (walked without recursion)."""
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise UserError(f"{where}: nested more than {MAX_DEPTH} levels deep")
            children = value.values() if isinstance(value, dict) else value
            stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return doc


def check_json_values(doc: Any, where: str) -> Any:
    """`doc` unchanged unless it nests deeper than MAX_DEPTH or holds a number that is not finite:
    Python's json reads NaN, Infinity and 1e400 (as inf), which JSON has not. The complaint names
    the value's path (`params.cpu_per_item_s`, `Task Info.Launch Time`), so the field is found."""
    stack = [(doc, 1, "")]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            at = f"{path}: " if path else ""
            raise UserError(f"{where}: {at}expected a finite number, got {value!r} (JSON has no NaN or Infinity)")
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise UserError(f"{where}: nested more than {MAX_DEPTH} levels deep")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for k, v in items:
                if isinstance(v, (dict, list, float)):
                    sub = f"{path}[{k}]" if isinstance(value, list) else f"{path}.{k}" if path else str(k)
                    stack.append((v, depth + 1, sub))
    return doc


def parse_json(text: str | bytes, where: str) -> Any:
    """One JSON document, strictly: UTF-8, finite numbers only, at most MAX_DEPTH deep.

    Raises ValueError (json.JSONDecodeError included) for text that is not JSON, so a caller
    can tell a torn line from a wrong one; UserError for the rest."""
    if isinstance(text, bytes):
        text = decode_utf8(text, where)
    try:
        doc = json.loads(text)
    except RecursionError:
        raise UserError(f"{where}: nested more than {MAX_DEPTH} levels deep") from None
    return check_json_values(doc, where)


def load_json(path: str | Path, what: str = "") -> Any:
    """A whole JSON file, read as `parse_json` reads it; every failure is a UserError naming the file."""
    path = Path(path)
    text = read_text(path, what)
    try:
        return parse_json(text, str(path))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except ValueError as exc:
        raise UserError(f"{path}: not valid JSON: {exc}") from None


def load_yaml(path: str | Path) -> Any:
    path = Path(path)
    text = read_text(path)
    try:
        return check_depth(yaml.safe_load(text), str(path))
    except RecursionError:
        raise UserError(f"{path}: nested more than {MAX_DEPTH} levels deep") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{path}: not valid YAML{at}: {problem}") from None
    except ValueError as exc:   # a number YAML reads with int() or float(): one of thousands of digits
        raise UserError(f"{path}: not valid YAML: {yaml_value_error(exc)}") from None


def yaml_value_error(exc: ValueError) -> str:
    """What a ValueError the YAML loader let through means, in one line."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return "a number with more than 4,300 digits" if "integer string conversion" in text else text


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


def get_int(value: Any, where: str, minimum: int | None = None, limit: str | None = None) -> int:
    """A whole number >= minimum and within the named limit of `sparkdelay.ground.limits`."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise UserError(f"{where}: expected a whole number, got {value!r}")
    if minimum is not None and value < minimum:
        raise UserError(f"{where}: must be at least {minimum}, got {value}")
    if limit is not None:
        check_limit(value, limit, where)
    return value


def get_float(value: Any, where: str, minimum: float | None = 0.0, limit: str | None = None) -> float:
    """A finite number >= minimum and within the named limit of `sparkdelay.ground.limits`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{where}: expected a number, got {value!r}")
    if minimum is not None and value < minimum:
        raise UserError(f"{where}: must be at least {minimum:g}, got {value!r}")
    if limit is not None:
        check_limit(value, limit, where)
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

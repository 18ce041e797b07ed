"""The list grammar of swept options, one for `sparkdelay sweep` (simulated) and `sparkdelay run` (real).

A number option takes a number, a comma-separated list, an inclusive range or a range with a
step, and any mix of them: `4`, `1,2,4`, `1-5`, `1-40:5` (1, 6, ..., 36), `1-3,8`. A text
option (a wait, a Spark version) takes one value or a comma-separated list; waits are checked
as Spark durations (`3s`, `0s,3s`, `500ms`; a bare number is milliseconds). Duplicates are
dropped and the order is kept, so `2,2,1` is [2, 1]. None (an option not given) stays None,
meaning the command's default. Every complaint is one line naming the option.
"""

from __future__ import annotations

import re

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.sparkconf import parse_duration_ms

_NUMBER = re.compile(r"^[-+]?\d+$")
_RANGE = re.compile(r"^(-?\d+)\s*-\s*(-?\d+)\s*(?::\s*(-?\d+))?$")


# A sweep over more points than this would run for weeks; a range that long is a typo.
MAX_ITEMS = 100_000


def _items(text: str, option: str) -> list[str]:
    items = [part.strip() for part in str(text).split(",")]
    if any(not item for item in items):
        raise UserError(f"{option}: empty item in {text!r}")
    return items


def parse_int_list(text: str | None, option: str, minimum: int = 1, maximum: int | None = None) -> list[int] | None:
    """`"1-3,8"` -> [1, 2, 3, 8], `"1-40:10"` -> [1, 11, 21, 31]; None stays None."""
    if text is None:
        return None
    values: list[int] = []
    for item in _items(text, option):
        if _NUMBER.match(item):
            values.append(int(item))
            continue
        m = _RANGE.match(item)
        if not m:
            raise UserError(f"{option}: expected a number, a list (1,2,4) or a range (1-5, 1-40:5), got {item!r}")
        lo, hi, step = int(m.group(1)), int(m.group(2)), int(m.group(3) or 1)
        if maximum is not None and hi > maximum:  # before expanding: 1-99999999999 would never finish
            raise UserError(f"{option}: values must be between {minimum} and {maximum}, got {hi}")
        if hi < lo:
            raise UserError(f"{option}: range {item!r} runs backwards")
        if step < 1:
            raise UserError(f"{option}: the step of {item!r} must be at least 1")
        if (hi - lo) // step >= MAX_ITEMS:
            raise UserError(f"{option}: range {item!r} has more than {MAX_ITEMS:,} values")
        values.extend(range(lo, hi + 1, step))
        if len(values) > MAX_ITEMS:
            raise UserError(f"{option}: more than {MAX_ITEMS:,} values")
    for v in values:
        if v < minimum or (maximum is not None and v > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            raise UserError(f"{option}: values must be {bound}, got {v}")
    return list(dict.fromkeys(values))


def parse_text_list(text: str | None, option: str) -> list[str] | None:
    """`"2.1, 4.0"` -> ["2.1", "4.0"]; None stays None."""
    if text is None:
        return None
    return list(dict.fromkeys(_items(text, option)))


def parse_wait_list(text: str | None, option: str = "--wait") -> list[str] | None:
    """`"0s,3s"` -> ["0s", "3s"], each checked as a Spark duration; None stays None."""
    items = parse_text_list(text, option)
    for item in items or ():
        parse_duration_ms(item, option)
    return items

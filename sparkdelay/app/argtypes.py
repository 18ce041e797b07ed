"""argparse value types shared by the commands, so `--reps 0` is refused the same way everywhere."""

from __future__ import annotations

import argparse

from sparkdelay.ground.limits import LIMITS


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def seed(text: str) -> int:
    """A random seed, 0 .. the documented limit (numpy refuses a negative one with a traceback)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    top = int(LIMITS["seed"].maximum)
    if not 0 <= value <= top:
        raise argparse.ArgumentTypeError(f"must be between 0 and {top}, got {value}")
    return value


def port(text: str) -> int:
    """A TCP port, 0 .. 65535 (0: any free port, where the option says so)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {value}")
    return value


def fixed_port(text: str) -> int:
    """A TCP port a server listens on and prints, so not 0: 1 .. 65535."""
    value = port(text)
    if value == 0:
        raise argparse.ArgumentTypeError("port out of range (1-65535): 0")
    return value


def output_file(text: str) -> str:
    """A file the command will write at its end, checked now (without writing anything), so that a
    name it cannot write is refused before the work rather than as a traceback after it."""
    import os
    from pathlib import Path

    if not text:
        raise argparse.ArgumentTypeError("expected a file name, got ''")
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; name a file")
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:   # folders the command will create
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {text}: {ancestor} is not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"cannot write {text}: permission denied")
    return text


def _finite(text: str, expected: str) -> float:
    import math
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def seconds(text: str) -> float:
    """A time in seconds: a finite number > 0, at most the documented limit (nan, -5, 1e30 refused)."""
    value = _finite(text, "seconds")
    top = LIMITS["seconds"].maximum
    if not 0 < value <= top:
        raise argparse.ArgumentTypeError(f"expected seconds > 0 and at most {top:,.0f} (README, Limits), got {text!r}")
    return value


def load(text: str) -> float:
    """A 1-minute load average: a finite number >= 0 (nan, -1 refused)."""
    value = _finite(text, "a load such as 2 or 1.5")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a load >= 0, got {text!r}")
    return value


def bounded(limit: str):
    """A whole number from 1 to the named documented limit (an argparse type)."""
    def parse(text: str) -> int:
        value = positive_int(text)
        top = int(LIMITS[limit].maximum)
        if value > top:
            raise argparse.ArgumentTypeError(f"must be at most {top:,} ({limit}; README, Limits), got {value}")
        return value
    parse.__name__ = limit
    return parse


def input_path(text: str) -> str:
    """A file or folder name: not empty (an empty name reads as the current folder, or as no
    option given at all where the option is optional)."""
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got ''")
    return text


def names_required(parser, *options: str) -> None:
    """Give options another module defined (`--event-log`) the `input_path` check: an empty name
    is refused instead of read as the option not given."""
    for option in options:
        parser._option_string_actions[option].type = input_path


# Repetitions per point (10^9 would run for years) and cores of a worker or machine.
reps = bounded("reps")
cores = bounded("cores")

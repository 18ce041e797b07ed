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


def reps(text: str) -> int:
    """Repetitions per point: at least 1, at most the documented limit (10^9 would run for years)."""
    value = positive_int(text)
    top = int(LIMITS["reps"].maximum)
    if value > top:
        raise argparse.ArgumentTypeError(f"must be at most {top:,} (README, Limits), got {value}")
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

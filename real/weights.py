"""Trained weights cached on disk, keyed by a digest of the data and the hyper-parameters.

A sweep trains each network once: `cached(...)` returns the weights stored under
`cache_dir/<name>-<digest>.npz`, training and storing them (atomically: a temporary file,
then a rename) when they are missing. Weights are a plain dict of numpy arrays named like
Chainer's parameters (`l1/W`), so they travel to the workers as a broadcast.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np


def digest(x: np.ndarray, y: np.ndarray, settings: str) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    h.update(settings.encode())
    return h.hexdigest()[:16]


def cached(cache_dir: Path, name: str, key: str,
           train: Callable[[], dict[str, np.ndarray]]) -> tuple[dict[str, np.ndarray], Path, bool]:
    """(weights, path, trained_now) for `name-key.npz` in `cache_dir`."""
    path = Path(cache_dir) / f"{name}-{key}.npz"
    if path.is_file():
        with np.load(path) as d:
            return {k.replace("|", "/"): d[k] for k in d.files}, path, False
    weights = train()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
    np.savez(tmp, **{k.replace("/", "|"): v for k, v in weights.items()})
    os.replace(tmp, path)
    return weights, path, True

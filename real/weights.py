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


def train(model, xs: np.ndarray, ys: np.ndarray, epochs: int, seed: int, lr: float, batch: int) -> dict[str, np.ndarray]:
    """Train a Chainer classifier deterministically and return its weights.

    numpy's RandomState(seed) replaces Chainer's initial weights (drawn from numpy's global RNG)
    with He-normal ones (zero biases) and orders the minibatches, so the same data, model and
    seed always give the same weights; momentum SGD on softmax cross-entropy, CPU only."""
    import chainer
    import chainer.functions as F
    rng = np.random.RandomState(seed)
    for name, param in sorted(model.namedparams()):
        if name.endswith("/W"):
            fan_in = int(np.prod(param.array.shape[1:]))
            param.array[...] = rng.normal(0, np.sqrt(2.0 / fan_in), param.array.shape).astype(np.float32)
        else:
            param.array[...] = 0
    opt = chainer.optimizers.MomentumSGD(lr=lr, momentum=0.9)
    opt.setup(model)
    ys = ys.astype(np.int32)
    for _ in range(epochs):
        order = rng.permutation(len(xs))
        for start in range(0, len(xs), batch):
            idx = order[start:start + batch]
            loss = F.softmax_cross_entropy(model(xs[idx]), ys[idx])
            model.cleargrads()
            loss.backward()
            opt.update()
    return {name.lstrip("/"): param.array.copy() for name, param in model.namedparams()}

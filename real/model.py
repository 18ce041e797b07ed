"""The study's model: a small Chainer MLP for MNIST, trained deterministically and cached.

Training uses a fixed seed (numpy's RandomState for the initial weights and the minibatch
order, CPU only), so the same data gives the same weights; the weights are cached as an
npz keyed by a digest of the training data and the hyper-parameters, so a sweep trains
once. The weights travel to the workers as a plain dict of numpy arrays; each Python worker
builds the Chainer model from them once and keeps it (Spark reuses Python workers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sparkdelay.real import weights

HIDDEN = 100
EPOCHS = 10
BATCH = 100
LR = 0.01
SEED = 0


def _mlp(chainer):
    """Build the Chainer MLP class lazily, so importing this module does not import chainer."""
    import chainer.functions as F
    import chainer.links as L

    class MLP(chainer.Chain):
        def __init__(self, n_units: int, n_out: int = 10):
            super().__init__()
            with self.init_scope():
                self.l1 = L.Linear(784, n_units)
                self.l2 = L.Linear(n_units, n_units)
                self.l3 = L.Linear(n_units, n_out)

        def forward(self, x):
            h = F.relu(self.l1(x))
            h = F.relu(self.l2(h))
            return self.l3(h)

    return MLP


def to_input(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 255.0


def build(weights: dict[str, np.ndarray]):
    """A Chainer MLP holding `weights` (as returned by `train`)."""
    import chainer
    model = _mlp(chainer)(int(weights["l1/W"].shape[0]))
    for name, param in model.namedparams():
        param.array[...] = weights[name.lstrip("/")]
    return model


def predict(model, images: np.ndarray) -> np.ndarray:
    import chainer
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        return model(to_input(images)).array.argmax(axis=1)


def train(x: np.ndarray, y: np.ndarray, hidden: int = HIDDEN, epochs: int = EPOCHS, seed: int = SEED) -> dict[str, np.ndarray]:
    import chainer
    return weights.train(_mlp(chainer)(hidden), to_input(x), y, epochs, seed, LR * 10, BATCH)


def cache_key(x: np.ndarray, y: np.ndarray, hidden: int, epochs: int, seed: int) -> str:
    return weights.digest(x, y, f"{hidden}/{epochs}/{seed}/{BATCH}/{LR}")


def load_or_train(x: np.ndarray, y: np.ndarray, cache_dir: Path, hidden: int = HIDDEN,
                  epochs: int = EPOCHS, seed: int = SEED) -> tuple[dict[str, np.ndarray], Path, bool]:
    """Weights from `cache_dir/mlp-<digest>.npz`, training (and caching) them if missing.

    Returns (weights, path, trained_now).
    """
    return weights.cached(cache_dir, "mlp", cache_key(x, y, hidden, epochs, seed),
                          lambda: train(x, y, hidden, epochs, seed))

"""A LeNet-style convolutional network for MNIST in Chainer, trained deterministically and cached.

conv 5x5 (6 maps, pad 2) -> ReLU -> max-pool 2 -> conv 5x5 (16 maps) -> ReLU -> max-pool 2
-> 120 -> 84 -> 10. Training is seeded like the MLP's (numpy RandomState for the initial
weights and the minibatch order), so the same data gives the same weights, cached by
`real.weights`. Unlike the MLP job, the `lenet` job builds the network inside every task
(`build` from the broadcast weights): per-task set-up is part of what that job measures.
Chainer is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sparkdelay.real import weights as weight_cache

EPOCHS = 2
BATCH = 100
LR = 0.05
SEED = 0


def _lenet(chainer):
    import chainer.functions as F
    import chainer.links as L

    class LeNet(chainer.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.c1 = L.Convolution2D(1, 6, 5, pad=2)
                self.c2 = L.Convolution2D(6, 16, 5)
                self.f1 = L.Linear(16 * 5 * 5, 120)
                self.f2 = L.Linear(120, 84)
                self.f3 = L.Linear(84, 10)

        def forward(self, x):
            h = F.max_pooling_2d(F.relu(self.c1(x)), 2)
            h = F.max_pooling_2d(F.relu(self.c2(h)), 2)
            h = F.relu(self.f1(h))
            h = F.relu(self.f2(h))
            return self.f3(h)

    return LeNet


def to_input(images: np.ndarray) -> np.ndarray:
    return (images.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)


def build(weights: dict[str, np.ndarray]):
    import chainer
    model = _lenet(chainer)()
    for name, param in model.namedparams():
        param.array[...] = weights[name.lstrip("/")]
    return model


def predict(model, images: np.ndarray) -> np.ndarray:
    import chainer
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        return model(to_input(images)).array.argmax(axis=1)


def train(x: np.ndarray, y: np.ndarray, epochs: int = EPOCHS, seed: int = SEED) -> dict[str, np.ndarray]:
    import chainer
    return weight_cache.train(_lenet(chainer)(), to_input(x), y, epochs, seed, LR, BATCH)


def load_or_train(x: np.ndarray, y: np.ndarray, cache_dir: Path, epochs: int = EPOCHS,
                  seed: int = SEED) -> tuple[dict[str, np.ndarray], Path, bool]:
    key = weight_cache.digest(x, y, f"lenet/{epochs}/{seed}/{BATCH}/{LR}")
    return weight_cache.cached(cache_dir, "lenet", key, lambda: train(x, y, epochs, seed))

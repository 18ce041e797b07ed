"""MNIST for the study's job, from files on this machine only (nothing is downloaded).

Default: `real/data/mnist5k.npz`, a 5000-image subset of MNIST (4000 train / 1000 test)
shipped with the repo; see `real/data/README.md` for its origin and licence. With
`--mnist-dir DIR` the standard IDX files are read instead (`train-images-idx3-ubyte`,
`train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each
optionally `.gz`, dashes or dots as in the original distribution). Images stay uint8
(784 bytes each) until a model needs them, which keeps pickled shards small.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sparkdelay.ground.errors import UserError

BUNDLED = Path(__file__).parent / "data" / "mnist5k.npz"
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass
class Mnist:
    x_train: np.ndarray  # (n, 784) uint8
    y_train: np.ndarray  # (n,) uint8
    x_test: np.ndarray
    y_test: np.ndarray
    source: str


def load(mnist_dir: str | Path | None = None) -> Mnist:
    if mnist_dir is None:
        with np.load(BUNDLED) as d:
            return Mnist(d["x_train"], d["y_train"], d["x_test"], d["y_test"], source=f"bundled {BUNDLED.name}")
    base = Path(mnist_dir)
    if not base.is_dir():
        raise UserError(f"--mnist-dir: {base} is not a directory")
    arrays = {key: read_idx(_find(base, stem)) for key, stem in IDX_NAMES.items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1 or len(x) != len(y):
            raise UserError(f"--mnist-dir: {split} images {x.shape} and labels {y.shape} do not match MNIST's layout")
    return Mnist(arrays["x_train"].reshape(-1, 784), arrays["y_train"],
                 arrays["x_test"].reshape(-1, 784), arrays["y_test"], source=f"IDX files in {base}")


def _find(base: Path, stem: str) -> Path:
    for name in (stem, stem.replace("-idx", ".idx"), stem.replace("-ubyte", ".ubyte")):
        for suffix in ("", ".gz"):
            path = base / f"{name}{suffix}"
            if path.is_file():
                return path
    raise UserError(f"--mnist-dir: {base} has no {stem} (or {stem}.gz)")


def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (magic 0x0000 08 D: unsigned bytes, D dimensions, big-endian sizes)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise UserError(f"{path}: not an unsigned-byte IDX file (bad magic number)")
    dims = raw[3]
    shape = struct.unpack(f">{dims}I", raw[4:4 + 4 * dims])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims)
    if data.size != int(np.prod(shape)):
        raise UserError(f"{path}: header says {shape} but holds {data.size} bytes")
    return data.reshape(shape)

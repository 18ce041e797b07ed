"""The study's keyed items: the MNIST test set cut into shards, one (key, shard) pair each.

The study's driver built an RDD of 40 keyed items and spread them with `partitionBy(P)`;
which partition an item lands in is `portable_hash(key) % P`, so the key strings (and
`PYTHONHASHSEED`) decide how uneven the partitions are. The defaults are the study's 40 items
keyed `"shard-{:02d}"` (`sim.model.study`). Shards keep uint8 pixels so a pickled item stays small.
"""

from __future__ import annotations

import numpy as np

from sparkdelay.ground.errors import UserError
from sparkdelay.sim.model.study import STUDY_ITEMS, STUDY_KEY_FORMAT


def keys(count: int = STUDY_ITEMS, key_format: str = STUDY_KEY_FORMAT) -> list[str]:
    if count < 1:
        raise UserError(f"--items: must be at least 1, got {count}")
    try:
        out = [key_format.format(i) for i in range(count)]
    except (IndexError, KeyError, ValueError) as exc:
        raise UserError(f"--key-format: {key_format!r} cannot format an item number ({exc})") from None
    if len(set(out)) != count:
        raise UserError(f"--key-format: {key_format!r} gives duplicate keys for {count} items")
    return out


def make_items(x: np.ndarray, y: np.ndarray, count: int = STUDY_ITEMS,
               key_format: str = STUDY_KEY_FORMAT, limit: int | None = None) -> list[tuple]:
    """`count` items (key, (images, labels)) over the first `limit` test images (all if None)."""
    if limit is not None:
        x, y = x[:limit], y[:limit]
    if count > len(x):
        raise UserError(f"--items: {count} items need at least {count} test images, have {len(x)}")
    ks = keys(count, key_format)
    idx = np.array_split(np.arange(len(x)), count)
    return [(k, (x[i], y[i])) for k, i in zip(ks, idx)]

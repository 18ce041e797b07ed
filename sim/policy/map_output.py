"""Preferred locations of shuffle reduce tasks, from the map outputs (SPEC §c.2).

A reduce task prefers the hosts of the executors that hold at least 20% of its input, counted
per executor (BlockManagerId), not per host, and only over non-empty blocks, using the sizes
the map statuses report: each size is compressed to one byte (log base 1.1, rounded up) and
decompressed to a whole number, so a reported size can be about 10% larger than the real one.
No preference at all is computed when reduce locality is disabled or when there are 1000 or
more map partitions or reduce partitions. This mirrors MapStatus.compressSize/decompressSize
and MapOutputTrackerMaster.getPreferredLocationsForShuffle/getLocationsWithLargestOutputs
(Spark 2.x to 4.x; the push-based merged-block path, YARN only, is not modelled).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Optional, Sequence

from sparkdelay.ground.errors import UserError

__all__ = [
    "REDUCER_PREF_LOCS_FRACTION",
    "SHUFFLE_PREF_MAP_THRESHOLD",
    "SHUFFLE_PREF_REDUCE_THRESHOLD",
    "MapStatus",
    "compress_size",
    "decompress_size",
    "locations_with_largest_outputs",
    "preferred_hosts_for_shuffle",
]

# MapOutputTrackerMaster fields (not configurable).
SHUFFLE_PREF_MAP_THRESHOLD = 1000
SHUFFLE_PREF_REDUCE_THRESHOLD = 1000
REDUCER_PREF_LOCS_FRACTION = 0.2

_LOG_BASE = 1.1


def compress_size(size: int) -> int:
    """MapStatus.compressSize: 0 -> 0, 1 -> 1, else ceil(log(size)/log(1.1)) capped at 255.
    Returned as 0..255 (Spark stores a signed byte and reads it back with `& 0xFF`)."""
    if size < 0:
        raise UserError(f"map output size must be >= 0 bytes, got {size}")
    if size == 0:
        return 0
    if size <= 1:
        return 1
    return min(255, math.ceil(math.log(float(size)) / math.log(_LOG_BASE)))


def decompress_size(compressed: int) -> int:
    """MapStatus.decompressSize: 0 -> 0, else (long) 1.1 ** c, truncated."""
    c = compressed & 0xFF
    if c == 0:
        return 0
    return int(math.pow(_LOG_BASE, c))


@dataclass(frozen=True)
class MapStatus:
    """The output of one map task: where it is (executor and host) and its real size in bytes
    for each reduce partition. `size_for_block` gives what Spark reports (compressed and
    decompressed). Above 2000 reduce partitions Spark switches to HighlyCompressedMapStatus
    (average sizes), but such shuffles get no preferences anyway (threshold 1000)."""

    executor_id: str
    host: str
    sizes: tuple[int, ...]
    _reported: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sizes = tuple(self.sizes)
        for i, s in enumerate(sizes):
            if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0:
                raise UserError(
                    f"map output on executor {self.executor_id!r}: sizes[{i}] must be a non-negative integer, got {s!r}"
                )
        object.__setattr__(self, "sizes", tuple(int(s) for s in sizes))
        object.__setattr__(self, "_reported", tuple(decompress_size(compress_size(s)) for s in self.sizes))

    def size_for_block(self, reduce_id: int) -> int:
        """CompressedMapStatus.getSizeForBlock: the size Spark reports for this reduce partition."""
        return self._reported[reduce_id]


def locations_with_largest_outputs(
    statuses: Sequence[Optional[MapStatus]], reduce_id: int, fraction: float = REDUCER_PREF_LOCS_FRACTION
) -> Optional[list[tuple[str, str]]]:
    """getLocationsWithLargestOutputs: the (executor_id, host) pairs whose reported output for
    `reduce_id` is at least `fraction` of the total (inclusive), or None when the partition is
    empty or nobody qualifies. Sums are per executor: two executors on one host count
    separately. A None status (a missing map output) is skipped, as Spark skips null.

    Spark returns the keys of a HashMap, so its order is unspecified; this returns them in the
    order the executors first appear in `statuses`, to stay deterministic."""
    per_executor: dict[tuple[str, str], int] = {}
    total = 0
    for status in statuses:
        if status is None:
            continue
        if not 0 <= reduce_id < len(status.sizes):
            raise UserError(
                f"map output on executor {status.executor_id!r} has {len(status.sizes)} sizes, "
                f"no size for reduce partition {reduce_id}"
            )
        block = status.size_for_block(reduce_id)
        if block > 0:
            loc = (status.executor_id, status.host)
            per_executor[loc] = per_executor.get(loc, 0) + block
            total += block
    if total == 0:
        return None
    # Same floating-point comparison as Spark: size.toDouble / totalOutputSize >= threshold.
    top = [loc for loc, size in per_executor.items() if size / total >= fraction]
    return top or None


def preferred_hosts_for_shuffle(
    statuses: Sequence[Optional[MapStatus]],
    num_reduce_partitions: int,
    *,
    reduce_locality_enabled: bool = True,
    fraction: float = REDUCER_PREF_LOCS_FRACTION,
    num_map_partitions: Optional[int] = None,
) -> list[list[str]]:
    """getPreferredLocationsForShuffle for every reduce partition: a list of hosts per
    partition, [] meaning no preference. Hosts only (reduce tasks are at best NODE_LOCAL),
    duplicates removed in first-seen order (the DAGScheduler's `distinct`).

    All lists are empty when `spark.shuffle.reduceLocality.enabled` is false, or when there
    are >= 1000 map partitions (`num_map_partitions`, default len(statuses)) or >= 1000 reduce
    partitions; both thresholds are strict `<` in Spark."""
    if isinstance(num_reduce_partitions, bool) or not isinstance(num_reduce_partitions, numbers.Integral) or num_reduce_partitions < 0:
        raise UserError(f"number of reduce partitions must be a non-negative integer, got {num_reduce_partitions!r}")
    num_maps = len(statuses) if num_map_partitions is None else num_map_partitions
    for status in statuses:
        if status is not None and len(status.sizes) != num_reduce_partitions:
            raise UserError(
                f"map output on executor {status.executor_id!r} has {len(status.sizes)} sizes, "
                f"expected one per reduce partition ({num_reduce_partitions})"
            )
    if not (
        reduce_locality_enabled
        and num_maps < SHUFFLE_PREF_MAP_THRESHOLD
        and num_reduce_partitions < SHUFFLE_PREF_REDUCE_THRESHOLD
    ):
        return [[] for _ in range(num_reduce_partitions)]
    prefs: list[list[str]] = []
    for reduce_id in range(num_reduce_partitions):
        locs = locations_with_largest_outputs(statuses, reduce_id, fraction) or []
        prefs.append(list(dict.fromkeys(host for _, host in locs)))
    return prefs

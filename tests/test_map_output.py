"""Reduce-task preferred locations from map outputs (SPEC §c.2-c.3).

A reduce partition prefers the hosts of executors holding >= 20% of its reported input
(per executor, compressed sizes, inclusive), and nothing at all at >= 1000 maps or reduces.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sparkdelay.sim.policy.map_output import (
    MapStatus,
    compress_size,
    decompress_size,
    locations_with_largest_outputs,
    preferred_hosts_for_shuffle,
)
from sparkdelay.ground.errors import UserError


def out(executor: str, host: str, *sizes: int) -> MapStatus:
    return MapStatus(executor, host, tuple(sizes))


# --------------------------------------------------------------------------------------------
# Size compression (MapStatusSuite "compressSize" / "decompressSize")


@pytest.mark.parametrize(
    "size, compressed",
    [(0, 0), (1, 1), (2, 8), (10, 25), (1_000_000, 145), (1_000_000_000, 218), (10**18, 255)],
)
def test_compress_size_matches_spark(size, compressed):
    assert compress_size(size) == compressed


def test_decompress_size():
    assert decompress_size(0) == 0
    assert decompress_size(1) == 1  # (long) 1.1
    assert decompress_size(255) == int(1.1**255)  # the cap: about 35 GB
    for size in (2, 10, 100, 50_000, 1_000_000, 1_000_000_000):
        assert 0.99 * size <= decompress_size(compress_size(size)) <= 1.11 * size


def test_reported_sizes_10_20_30_40():
    # SPEC §c.2: 10/20/30/40 decompress to 10/21/30/41
    assert [decompress_size(compress_size(s)) for s in (10, 20, 30, 40)] == [10, 21, 30, 41]
    assert out("e", "h", 10, 20, 30, 40)._reported == (10, 21, 30, 41)


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 30_000_000_000))
def test_reported_size_is_at_least_real_and_at_most_10_percent_more(size):
    assert size <= decompress_size(compress_size(size)) <= 1.1 * size


def test_negative_sizes_are_rejected():
    with pytest.raises(UserError, match=r"sizes\[1\]"):
        out("e", "h", 1, -5)


# --------------------------------------------------------------------------------------------
# Scenarios X1 and X2


X1_OUTPUTS = [out("a", "hostA", 2), out("a", "hostA", 2), out("b", "hostB", 3)]


def test_x1_fraction_half_only_the_executor_with_two_outputs():
    # MapOutputTrackerSuite "getLocationsWithLargestOutputs with multiple outputs in same machine":
    # executor a holds 4/7 (two map outputs summed), b holds 3/7.
    assert locations_with_largest_outputs(X1_OUTPUTS, 0, 0.5) == [("a", "hostA")]
    assert preferred_hosts_for_shuffle(X1_OUTPUTS, 1, fraction=0.5) == [["hostA"]]


def test_x1_fraction_default_both():
    assert preferred_hosts_for_shuffle(X1_OUTPUTS, 1) == [["hostA", "hostB"]]


def test_x2_only_machines_with_largest_outputs():
    # DAGSchedulerSuite: 10/20/30/40 -> hosts 2, 3, 4; host1 reports 10/102, about 10%.
    outputs = [out(f"exec-host{i}", f"host{i}", 10 * i) for i in (1, 2, 3, 4)]
    assert preferred_hosts_for_shuffle(outputs, 1) == [["host2", "host3", "host4"]]


def test_x2_single_map_output_is_preferred():
    # DAGSchedulerSuite "reduce tasks should be placed locally with map output"
    assert preferred_hosts_for_shuffle([out("exec-hostA", "hostA", 2)], 1) == [["hostA"]]


# --------------------------------------------------------------------------------------------
# The 20% rule


def test_threshold_is_inclusive():
    five = [out(f"e{i}", f"h{i}", 1) for i in range(5)]  # 20% each
    assert preferred_hosts_for_shuffle(five, 1) == [["h0", "h1", "h2", "h3", "h4"]]
    six = [out(f"e{i}", f"h{i}", 1) for i in range(6)]  # 16.7% each: nobody qualifies
    assert preferred_hosts_for_shuffle(six, 1) == [[]]
    assert locations_with_largest_outputs(six, 0) is None


def test_compression_can_push_a_share_over_20_percent():
    # real 12/61 = 19.7% -> reported 13/62 = 21.0%
    assert preferred_hosts_for_shuffle([out("small", "h1", 12), out("big", "h2", 49)], 1) == [["h1", "h2"]]


def test_compression_can_pull_a_share_under_20_percent():
    # real 3/15 = exactly 20% -> reported 3/16 = 18.75%
    assert preferred_hosts_for_shuffle([out("small", "h1", 3), out("big", "h2", 12)], 1) == [["h2"]]


def test_shares_are_per_executor_not_per_host():
    # Five executors on one host with 10% each: the host holds 50% but nobody reaches 20%.
    outputs = [out(f"e{i}", "crowded", 100) for i in range(5)] + [out("solo", "other", 500)]
    assert preferred_hosts_for_shuffle(outputs, 1) == [["other"]]


def test_executors_on_one_host_give_the_host_once():
    outputs = [out("e1", "h", 100), out("e2", "h", 100), out("e3", "g", 100)]
    assert locations_with_largest_outputs(outputs, 0) == [("e1", "h"), ("e2", "h"), ("e3", "g")]
    assert preferred_hosts_for_shuffle(outputs, 1) == [["h", "g"]]


def test_same_executor_outputs_are_summed():
    outputs = [out("e1", "h1", 10), out("e2", "h2", 45), out("e1", "h1", 10)]  # e1: 20/65 reported 20/67
    assert preferred_hosts_for_shuffle(outputs, 1) == [["h1", "h2"]]


def test_empty_reduce_partition_has_no_preference():
    outputs = [out("e1", "h1", 0, 5), out("e2", "h2", 0, 0)]
    assert locations_with_largest_outputs(outputs, 0) is None
    assert preferred_hosts_for_shuffle(outputs, 2) == [[], ["h1"]]


def test_zero_blocks_do_not_count():
    outputs = [out("e1", "h1", 5), out("e2", "h2", 0)]
    assert locations_with_largest_outputs(outputs, 0) == [("e1", "h1")]


def test_missing_map_outputs_are_skipped():
    assert preferred_hosts_for_shuffle([None, out("e1", "h1", 5), None], 1) == [["h1"]]


def test_all_on_one_executor():
    # SPEC §c.3: every non-empty reducer prefers exactly [A], empty ones nothing
    outputs = [out("exec-A", "A", 100, 0, 7) for _ in range(4)]
    assert preferred_hosts_for_shuffle(outputs, 3) == [["A"], [], ["A"]]


def test_even_spread_over_six_or_more_executors_gives_no_preference():
    outputs = [out(f"e{i}", f"h{i}", 1000, 1000) for i in range(6)]
    assert preferred_hosts_for_shuffle(outputs, 2) == [[], []]


# --------------------------------------------------------------------------------------------
# When no preference is computed at all


def test_disabled_reduce_locality():
    assert preferred_hosts_for_shuffle(X1_OUTPUTS, 1, reduce_locality_enabled=False) == [[]]


def test_map_threshold_is_strict():
    maps_999 = [out("e1", "h1", 1)] * 999
    assert preferred_hosts_for_shuffle(maps_999, 1) == [["h1"]]
    maps_1000 = [out("e1", "h1", 1)] * 1000
    assert preferred_hosts_for_shuffle(maps_1000, 1) == [[]]


def test_map_threshold_counts_map_partitions():
    # Spark tests dep.rdd.partitions.length; statuses may be fewer (missing outputs)
    assert preferred_hosts_for_shuffle([out("e1", "h1", 1)], 1, num_map_partitions=999) == [["h1"]]
    assert preferred_hosts_for_shuffle([out("e1", "h1", 1)], 1, num_map_partitions=1000) == [[]]


def test_reduce_threshold_is_strict():
    reduces_999 = preferred_hosts_for_shuffle([out("e1", "h1", *([1] * 999))], 999)
    assert len(reduces_999) == 999 and all(p == ["h1"] for p in reduces_999)
    reduces_1000 = preferred_hosts_for_shuffle([out("e1", "h1", *([1] * 1000))], 1000)
    assert len(reduces_1000) == 1000 and all(p == [] for p in reduces_1000)


# --------------------------------------------------------------------------------------------
# Input errors


def test_sizes_must_cover_every_reduce_partition():
    with pytest.raises(UserError, match="expected one per reduce partition"):
        preferred_hosts_for_shuffle([out("e1", "h1", 1, 2)], 3)
    with pytest.raises(UserError, match="no size for reduce partition 2"):
        locations_with_largest_outputs([out("e1", "h1", 1, 2)], 2)


def test_no_map_outputs():
    assert preferred_hosts_for_shuffle([], 2) == [[], []]
    assert locations_with_largest_outputs([], 0) is None

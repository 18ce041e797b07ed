"""How PySpark assigns keys to partitions and slices `parallelize` input (SPEC §d.2-d.4).

The string hashes are checked against real interpreters run with PYTHONHASHSEED set: this
interpreter (or any python3.11 found) through a property test, and every other CPython found
on the machine (2.7, 3.6-3.13) through a fixed corpus. Interpreters that are absent are skipped.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import shutil
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sparkdelay.sim.policy.pyspark_partitioning import (
    KeySpec,
    key_from_yaml,
    parallelize_slice_sizes,
    parallelize_slices,
    partition_members,
    partition_of,
    partition_sizes,
    portable_hash,
)
from sparkdelay.ground.errors import UserError

THIS_VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"

# --------------------------------------------------------------------------------------------
# Running real interpreters

# Runs under Python 2.7 and 3.x. Reads tagged keys as JSON, prints PySpark's portable_hash of
# each (the algorithm from python/pyspark/rdd.py; for non-tuples it is the built-in hash()).
_CHILD = r"""
import json, sys
def decode(item):
    kind = item[0]
    if kind == "n": return None
    if kind == "s": return item[1]
    if kind == "b": return bytes(bytearray(item[1]))
    if kind == "i": return int(item[1])
    if kind == "B": return bool(item[1])
    if kind == "f": return float.fromhex(item[1])
    if kind == "t": return tuple(decode(x) for x in item[1])
def portable_hash(x):
    if x is None: return 0
    if isinstance(x, tuple):
        h = 0x345678
        for i in x:
            h ^= portable_hash(i)
            h *= 1000003
            h &= sys.maxsize
        h ^= len(x)
        if h == -1: h = -2
        return int(h)
    return hash(x)
keys = [decode(item) for item in json.loads(sys.stdin.read())]
sys.stdout.write(json.dumps([str(portable_hash(k)) for k in keys]))
"""


def _encode(key):
    if key is None:
        return ["n"]
    if isinstance(key, bool):
        return ["B", key]
    if isinstance(key, int):
        return ["i", key]
    if isinstance(key, float):
        return ["f", key.hex()]
    if isinstance(key, str):
        return ["s", key]
    if isinstance(key, bytes):
        return ["b", list(key)]
    if isinstance(key, tuple):
        return ["t", [_encode(k) for k in key]]
    raise TypeError(key)


@functools.lru_cache(maxsize=None)
def find_interpreter(version: str) -> str | None:
    """A CPython `version` executable that really is that version, or None."""
    if version == THIS_VERSION:
        return sys.executable
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = sorted(glob.glob(os.path.join(pyenv, "versions", f"{version}.*", "bin", f"python{version}")))
    which = shutil.which(f"python{version}")
    if which:
        candidates.append(which)
    for exe in candidates:
        try:
            out = subprocess.run(
                [exe, "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=20,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if out == version:  # a pyenv shim for an uninstalled version prints nothing useful
            return exe
    return None


def real_portable_hashes(exe: str, seed: int, keys: list) -> list[int]:
    env = {"PYTHONHASHSEED": str(seed), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    proc = subprocess.run(
        [exe, "-S", "-c", _CHILD], input=json.dumps([_encode(k) for k in keys]),
        capture_output=True, text=True, env=env, timeout=60, check=True,
    )
    return [int(x) for x in json.loads(proc.stdout)]


# A corpus covering each internal width (1/2/4 bytes per code point), lengths around the 8-byte
# SipHash block boundary, big and negative ints, floats, and tuples of these.
def _corpus() -> list:
    import random

    rng = random.Random(2017)

    def text(lo, hi, n):
        return "".join(chr(rng.randint(lo, hi)) for _ in range(n))

    keys: list = []
    for n in [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 64, 100]:
        keys += [
            text(32, 126, n),  # ASCII
            text(0x80, 0xFF, n),  # Latin-1: still one byte per character
            text(0x100, 0xD7FF, n),  # BMP: two bytes per character
            text(0x10000, 0x10FFFF, n),  # astral: four bytes per character
            text(32, 126, n) + "\u20ac",  # one wide character widens the whole string
            bytes(rng.randint(0, 255) for _ in range(n)),
        ]
    keys += ["shard-%02d" % i for i in range(5)] + ["a", "abc", "hello world", "\u00e9", "\U0001F600"]
    keys += [0, 1, -1, -2, 7, 2**31, 2**61 - 2, 2**61 - 1, 2**61, -(2**61 - 1), 2**63 - 1, -(2**63),
             2**63, 2**64 - 2, 2**64 - 1, 2**64, -(2**64 - 1), 2**100 + 12345, True, False]
    keys += [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.141592653589793, 1e300, -1e-300, 2.0**62, 2.0**63,
             2.0**64, 2.0**100, float("inf"), float("-inf"), 5e-324, 123456789.123]
    keys += [None, (None, 1), (1, 2), ("a", 1), (("x", None), b"y", 2.5), (), ("k",)]
    return keys


CORPUS = _corpus()
ALL_VERSIONS = ["2.7", "3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]


# --------------------------------------------------------------------------------------------
# portable_hash: PySpark's doctests and the scenario X4 values


def test_none_hashes_to_zero():  # rdd.py doctest
    assert portable_hash(None, 0) == 0


def test_tuple_doctest_value():  # rdd.py doctest: portable_hash((None, 1)) & 0xffffffff == 219750521
    assert portable_hash((None, 1), 0) & 0xFFFFFFFF == 219750521
    assert portable_hash((None, 1), 0) == 3430028580079870073  # X4: the full 64-bit value


def test_tuple_hash_is_composed_from_element_hashes():
    h = 0x345678
    for element_hash in (portable_hash("a", 42), 0, 5):
        h = ((h ^ element_hash) * 1000003) & (2**63 - 1)
    assert portable_hash(("a", None, 5), 42) == h ^ 3


@pytest.mark.parametrize(
    "key, n, expected",
    [
        (7, 3, 1),
        (-1, 3, 1),  # hash(-1) == -2 and (-2) % 3 == 1, not (-1) % 3 == 2
        (-1, 2, 0),
        (2**61 - 1, 3, 0),  # hash(2**61 - 1) == 0
        # partitionBy doctest: partitionBy(2) sends evens to 0, odds to 1
        (1, 2, 1),
        (2, 2, 0),
        (3, 2, 1),
        (4, 2, 0),
    ],
)
def test_x4_int_partitions(key, n, expected):
    assert partition_of(key, n, python_hash_seed=0) == expected


def test_ints_hash_to_themselves_modulo_2_61_minus_1():
    assert portable_hash(12345, 0) == 12345
    assert portable_hash(-12345, 0) == -12345
    assert portable_hash(-1, 0) == -2
    assert portable_hash(2**61 - 1, 0) == 0
    assert portable_hash(2**61, 0) == 1
    assert portable_hash(-(2**61 + 5), 0) == -6


def test_bools_and_integral_floats_hash_like_ints():
    assert portable_hash(True, 0) == 1 and portable_hash(False, 0) == 0
    assert portable_hash(1.0, 0) == 1 and portable_hash(-1.0, 0) == -2
    assert portable_hash(float(2**61 - 1), 0) == portable_hash(2**61, 0)  # the float rounds up to 2**61
    assert portable_hash(float("inf"), 0) == 314159 and portable_hash(float("-inf"), 0) == -314159


def test_numeric_hashes_do_not_depend_on_the_seed():
    for key in (5, -1, 2**70, 0.25, -3.75):
        assert len({portable_hash(key, seed) for seed in (0, 1, 42, 4294967295)}) == 1


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans()))
def test_numeric_hash_matches_this_interpreter(key):
    # Numeric hashing is the same on every 64-bit CPython 3, so this process's hash() is a
    # valid reference whatever its own PYTHONHASHSEED.
    if sys.version_info[0] == 3:
        assert portable_hash(key, 0, THIS_VERSION) == hash(key)


def test_nan_has_no_reproducible_hash_on_310_and_later():
    with pytest.raises(UserError, match="NaN"):
        portable_hash(float("nan"), 0, "3.11")
    assert portable_hash(float("nan"), 0, "3.9") == 0
    assert portable_hash(float("nan"), 0, "2.7") == 0


# --------------------------------------------------------------------------------------------
# String hashing: seeded SipHash, version-dependent


def test_empty_string_and_bytes_hash_to_zero_everywhere():
    for version in ("2.7", "3.6", "3.10", "3.11", "3.13"):
        for seed in (0, 1, 42, 4294967295):
            assert portable_hash("", seed, version) == 0
            assert portable_hash(b"", seed, version) == 0


# Values observed with `PYTHONHASHSEED=<seed> pythonX.Y -c 'print(hash("abc"), hash(u"caf\xe9"))'`.
@pytest.mark.parametrize(
    "version, seed, abc, cafe",
    [
        ("2.7", 0, 1453079729188098211, 5473382298129946391),  # FNV-style, not randomized
        ("2.7", 42, -4410911502303878509, -847834651427558183),  # 2.7 randomizes when the seed is set
        ("3.10", 0, 4596069200710135518, -1432176324953013652),  # SipHash-2-4
        ("3.10", 42, -4501618152524544106, 7265528658942228918),
        ("3.11", 0, -4594863902769663758, 137524001917817222),  # SipHash-1-3 from 3.11 on
        ("3.11", 42, 3869580338025362921, 6223193746424771551),
        ("3.12", 42, 3869580338025362921, 6223193746424771551),
        ("3.13", 0, -4594863902769663758, 137524001917817222),
    ],
)
def test_known_string_hashes(version, seed, abc, cafe):
    assert portable_hash("abc", seed, version) == abc
    assert portable_hash("caf\u00e9", seed, version) == cafe
    assert portable_hash(b"abc", seed, version) == abc  # a Latin-1 str hashes like its bytes


def test_string_partition_depends_on_seed_and_version():
    keys = [f"shard-{i:02d}" for i in range(40)]
    by_setting = {
        (seed, version): partition_sizes(keys, 8, seed, version)
        for seed in (0, 42)
        for version in ("2.7", "3.10", "3.11")
    }
    assert all(sum(sizes) == 40 for sizes in by_setting.values())
    assert len({tuple(sizes) for sizes in by_setting.values()}) > 1


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("seed", [0, 1, 42, 4294967295])
def test_corpus_matches_real_interpreter(version, seed):
    exe = find_interpreter(version)
    if exe is None:
        pytest.skip(f"python{version} is not installed")
    expected = real_portable_hashes(exe, seed, CORPUS)
    actual = [portable_hash(k, seed, version) for k in CORPUS]
    mismatches = [(k, a, e) for k, a, e in zip(CORPUS, actual, expected) if a != e]
    assert not mismatches, mismatches[:5]


_texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0x100, max_codepoint=0xFFFF), max_size=20),
    st.text(alphabet=st.characters(min_codepoint=0x10000), max_size=20),
    st.binary(max_size=40),
)
_seeds = st.one_of(st.sampled_from([0, 1, 42, 4294967295]), st.integers(0, 2**32 - 1))


@settings(max_examples=100, deadline=None)
@given(seed=_seeds, keys=st.lists(_texts, min_size=1, max_size=25))
def test_string_hash_matches_python311(seed, keys):
    exe = find_interpreter("3.11")
    if exe is None:
        pytest.skip("python3.11 is not installed")
    assert [portable_hash(k, seed, "3.11") for k in keys] == real_portable_hashes(exe, seed, keys)


# --------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("key", [[1, 2], {"a": 1}, {1}, bytearray(b"x"), (1, [2])])
def test_unhashable_keys_are_user_errors(key):
    with pytest.raises(UserError, match="unhashable"):
        portable_hash(key, 0)


def test_unsupported_key_type_is_a_user_error():
    with pytest.raises(UserError, match="unsupported type complex"):
        portable_hash(1j, 0)


@pytest.mark.parametrize("version", ["3.3", "2.6", "4", "three", ""])
def test_unsupported_versions(version):
    with pytest.raises(UserError, match="python_version"):
        portable_hash("a", 0, version)


def test_patch_versions_are_accepted():
    assert portable_hash("abc", 42, "3.11.7") == portable_hash("abc", 42, "3.11")


@pytest.mark.parametrize("seed", [-1, 2**32, "42", 1.5, True])
def test_bad_seeds(seed):
    with pytest.raises(UserError, match="python_hash_seed"):
        portable_hash("a", seed)


@pytest.mark.parametrize("n", [0, -3, 2.0])
def test_bad_partition_counts(n):
    with pytest.raises(UserError, match="partitions"):
        partition_of(1, n, 0)


def test_error_names_the_field():
    with pytest.raises(UserError, match=r"^steps\[3\]\.partition_of: key \[1\] is unhashable"):
        partition_of([1], 2, 0, where="steps[3].partition_of")
    with pytest.raises(UserError, match=r"keys\[1\]"):
        partition_sizes(["a", ["b"]], 2, 0)


# --------------------------------------------------------------------------------------------
# Partition sizes and members


def test_partition_of_is_never_negative():
    for key in (-1, -7, -(2**62), "abc", (None, -3)):
        for n in (1, 2, 3, 7):
            assert 0 <= partition_of(key, n, 42) < n


def test_partition_members_and_sizes():
    keys = [1, 2, 3, 4, 2, 4, 1]  # the partitionBy doctest input
    assert partition_members(keys, 2, 0) == [[1, 3, 4, 5], [0, 2, 6]]
    assert partition_sizes(keys, 2, 0) == [4, 3]
    assert partition_sizes(keys, 10, 0) == [0, 2, 2, 1, 2, 0, 0, 0, 0, 0]


def test_partition_members_agree_with_partition_of():
    keys = [f"shard-{i:02d}" for i in range(40)]
    members = partition_members(keys, 6, 42, "3.11")
    for p, indices in enumerate(members):
        assert all(partition_of(keys[i], 6, 42, "3.11") == p for i in indices)
    assert sorted(i for m in members for i in m) == list(range(40))


# --------------------------------------------------------------------------------------------
# parallelize


@pytest.mark.parametrize(
    "items, n, expected",
    [
        ([0, 2, 3, 4, 6], 5, [[0], [2], [3], [4], [6]]),  # context.py doctest
        (range(0, 6, 2), 5, [[], [0], [], [2], [4]]),  # context.py doctest
        (list(range(10)), 4, [[0, 1], [2, 3], [4, 5], [6, 7, 8, 9]]),  # batch 2: 5 batches, 1/1/1/2
        (range(10), 4, [[0, 1], [2, 3, 4], [5, 6], [7, 8, 9]]),  # element-wise, like Scala
        (["a", "b", "c"], 2, [["a"], ["b", "c"]]),  # context.py doctest (strings)
    ],
)
def test_x4_parallelize(items, n, expected):
    assert parallelize_slices(items, n) == expected


def test_large_list_slices_fall_on_1024_element_batches():
    slices = parallelize_slices(list(range(5000)), 3)
    assert [len(s) for s in slices] == [1024, 2048, 1928]
    assert slices[0] == list(range(1024)) and slices[2] == list(range(3072, 5000))
    assert parallelize_slice_sizes(5000, 3) == [1024, 2048, 1928]


def test_batch_size_argument():
    # SparkContext(batchSize=3): min(10 // 2, 3) = 3, batches 3/3/3/1, sliced 2 and 2 batches
    assert parallelize_slices(list(range(10)), 2, batch_size=3) == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9]]


def test_more_slices_than_items():
    assert parallelize_slices([1, 2], 4) == [[], [1], [], [2]]
    assert parallelize_slices(range(2), 4) == [[], [0], [], [1]]
    assert parallelize_slices([], 3) == [[], [], []]
    assert parallelize_slices(range(0), 3) == [[], [], []]


def test_range_edge_cases():
    assert parallelize_slices(range(10, 0, -3), 2) == [[10, 7], [4, 1]]
    assert parallelize_slices(range(5, 6), 1) == [[5]]
    assert parallelize_slices(range(5, 100, 1000), 2) == [[], [5]]  # a single element: step taken as 1


def test_any_iterable_is_listed_first():
    assert parallelize_slices(iter(range(6)), 3) == [[0, 1], [2, 3], [4, 5]]
    assert parallelize_slices("abcd", 2) == [["a", "b"], ["c", "d"]]


@pytest.mark.parametrize("n", [0, -1, 1.5])
def test_bad_slice_counts(n):
    with pytest.raises(UserError, match="numSlices"):
        parallelize_slices([1, 2, 3], n)


@settings(max_examples=200, deadline=None)
@given(
    length=st.integers(0, 5000),
    n=st.integers(1, 64),
    as_range=st.booleans(),
    batch=st.sampled_from([0, 1, 3, 1024]),
)
def test_slices_cover_items_in_order_and_sizes_agree(length, n, as_range, batch):
    items = range(length) if as_range else list(range(length))
    slices = parallelize_slices(items, n, batch_size=batch)
    assert len(slices) == n
    assert [x for s in slices for x in s] == list(range(length))
    assert [len(s) for s in slices] == parallelize_slice_sizes(items, n, batch_size=batch)
    if not as_range and length:
        size = max(1, min(length // n, batch or 1024))
        # every boundary is a multiple of the batch size (or the end)
        bounds = [sum(len(s) for s in slices[:i]) for i in range(n + 1)]
        assert all(b % size == 0 or b == length for b in bounds)


# --------------------------------------------------------------------------------------------
# Keys from configuration


def test_keyspec_from_format_and_count():
    spec = KeySpec.parse({"format": "shard-{:02d}", "count": 40})
    assert len(spec) == 40 and spec.keys[0] == "shard-00" and spec.keys[39] == "shard-39"
    assert spec.partition_sizes(4, 0) == partition_sizes(list(spec), 4, 0)


def test_keyspec_from_explicit_list():
    spec = KeySpec.parse(["a", 1, None, {"tuple": ["x", 2]}])
    assert spec.keys == ("a", 1, None, ("x", 2))


@pytest.mark.parametrize(
    "value, message",
    [
        ({"format": "shard-{:02d}"}, r"workload\.keys\.count"),
        ({"format": "shard-{:02d}", "count": -1}, r"workload\.keys\.count"),
        ({"format": 5, "count": 3}, r"workload\.keys\.format"),
        ({"format": "shard-{:02d}", "count": 3, "extra": 1}, r"workload\.keys: unknown field"),
        ({"format": "shard-{name}", "count": 3}, r"workload\.keys\.format"),
        ([1, [2]], r"workload\.keys\[1\]"),
        ("shard", r"workload\.keys"),
    ],
)
def test_keyspec_errors_name_the_field(value, message):
    with pytest.raises(UserError, match=message):
        KeySpec.parse(value, where="workload.keys")


def test_key_from_yaml():
    assert key_from_yaml({"tuple": [None, 1]}) == (None, 1)
    assert key_from_yaml({"tuple": [{"tuple": ["a"]}, 2.5]}) == (("a",), 2.5)
    with pytest.raises(UserError, match="unhashable"):
        key_from_yaml([1, 2])
    with pytest.raises(UserError, match="tuple"):
        key_from_yaml({"list": [1]})


def test_python27_infinities():
    assert portable_hash(float("inf"), 0, "2.7") == 314159
    assert portable_hash(float("-inf"), 0, "2.7") == -271828

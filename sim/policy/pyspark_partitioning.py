"""PySpark partitioning, computed exactly as PySpark computes it, without PySpark or the target interpreter.

Which reduce partition a key lands in is `portable_hash(key) % n` (SPEC §d.3–d.4), and for
everything but tuples and None `portable_hash` is the worker interpreter's built-in `hash()`.
That depends on the interpreter version and on `PYTHONHASHSEED`, so this module re-implements
CPython's hashing for a *target* interpreter in pure Python: the modular numeric hash for
ints/bools/floats, and for str/bytes the seeded SipHash (SipHash-1-3 from CPython 3.11,
SipHash-2-4 in 3.4–3.10) or Python 2.7's FNV-style string hash. `parallelize_slices` reproduces
`SparkContext.parallelize`'s batch-based slicing (SPEC §d.2). Every function is deterministic and
independent of this process's own hash seed and version.

`partitionBy(P, partitionFunc)` with a custom function puts a pair in bucket `partitionFunc(key) %
P` (python/pyspark/rdd.py, `add_shuffle_key`), Python's modulo again. The one custom function
this tool knows is the `even` partitioner (`PARTITIONERS`): the key's position in the job's key
list (parallelize order) from a dict built in the driver, so item i lands in partition i % P and
the sizes are ceil/floor(n/P) (`even_partition_func`, `members_by_partitioner`).
"""

from __future__ import annotations

import math
import numbers
import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Sequence

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.limits import check_limit

__all__ = [
    "DEFAULT_PARTITIONER",
    "DEFAULT_PYTHON_VERSION",
    "KeySpec",
    "PARTITIONERS",
    "check_partitioner",
    "even_partition_func",
    "members_by_partitioner",
    "key_from_yaml",
    "parallelize_slice_sizes",
    "parallelize_slices",
    "partition_members",
    "partition_of",
    "partition_sizes",
    "portable_hash",
]

_M64 = (1 << 64) - 1
_SIGN64 = 1 << 63
_MAXSIZE = (1 << 63) - 1  # sys.maxsize on the 64-bit workers PySpark runs on
_PY3_MODULUS = (1 << 61) - 1  # sys.hash_info.modulus on 64-bit CPython 3
_PY3_INF = 314159  # sys.hash_info.inf
_MAX_SEED = 4294967295  # CPython rejects PYTHONHASHSEED outside [0, 2**32 - 1]

# The workers' CPython when a job, workload or scenario does not say: 3.11, the interpreter the
# project's real runs were recorded with (data/runs) and the one the study's keys are hashed by
# (sim.model.study). A fixed version, not the running interpreter: the analysing process is not
# the workers' (PYSPARK_PYTHON may be any Python), and a file must hash alike on every machine.
DEFAULT_PYTHON_VERSION = "3.11"


def _signed64(x: int) -> int:
    x &= _M64
    return x - (1 << 64) if x & _SIGN64 else x


# --------------------------------------------------------------------------------------------
# Target interpreter and hash secret


@dataclass(frozen=True)
class _Target:
    major: int
    minor: int

    @property
    def siphash_rounds(self) -> tuple[int, int]:
        # bpo-29410: CPython 3.11 switched the default string hash to SipHash-1-3.
        return (1, 3) if (self.major, self.minor) >= (3, 11) else (2, 4)


@lru_cache(maxsize=64)
def _parse_version(python_version: str) -> _Target:
    text = str(python_version).strip()
    parts = text.split(".")
    try:
        major, minor = int(parts[0]), int(parts[1])
        for extra in parts[2:]:
            int(extra)
    except (ValueError, IndexError):
        raise UserError(
            f"python_version: {python_version!r} is not a version like '3.11' or '2.7'"
        ) from None
    if (major, minor) == (2, 7) or (major == 3 and minor >= 4):
        return _Target(major, minor)
    # 3.0-3.3 used a randomized FNV hash and 2.6 and older predate PySpark 2; nobody runs them.
    raise UserError(
        f"python_version: {python_version!r} is not supported (use 2.7 or 3.4 and newer)"
    )


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise UserError(f"python_hash_seed: {seed!r} is not an integer")
    if not 0 <= int(seed) <= _MAX_SEED:
        raise UserError(f"python_hash_seed: {seed} is outside 0..{_MAX_SEED} (PYTHONHASHSEED's range)")
    return int(seed)


def _lcg_urandom(seed: int, size: int) -> bytes:
    """CPython's `lcg_urandom` (Python/bootstrap_hash.c, Python/random.c in 2.7): the hash
    secret derived from a fixed PYTHONHASHSEED. The state is a C `unsigned int` (32 bits)."""
    out = bytearray(size)
    x = seed
    for i in range(size):
        x = (x * 214013 + 2531011) & 0xFFFFFFFF
        out[i] = (x >> 16) & 0xFF
    return bytes(out)


@lru_cache(maxsize=256)
def _secret(seed: int, major: int) -> tuple[int, int]:
    """(k0, k1) for SipHash on 3.x, (prefix, suffix) for 2.7's string hash. Seed 0 means
    "randomization disabled": an all-zero secret (and in 2.7 it is also what an unset
    PYTHONHASHSEED gives)."""
    if seed == 0:
        return (0, 0)
    # 3.x fills the whole 24-byte _Py_HashSecret_t, 2.7 its 16-byte {prefix, suffix}; the LCG
    # stream is the same, and both keys come from the first 16 bytes, little-endian.
    raw = _lcg_urandom(seed, 24 if major == 3 else 16)
    return int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:16], "little")


# --------------------------------------------------------------------------------------------
# String hashing


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & _M64


def _siphash(k0: int, k1: int, data: bytes, c_rounds: int, d_rounds: int) -> int:
    """SipHash-c-d as in CPython's Python/pyhash.c; returns the unsigned 64-bit value."""
    v0 = k0 ^ 0x736F6D6570736575
    v1 = k1 ^ 0x646F72616E646F6D
    v2 = k0 ^ 0x6C7967656E657261
    v3 = k1 ^ 0x7465646279746573

    def rounds(n: int) -> None:
        nonlocal v0, v1, v2, v3
        for _ in range(n):
            v0 = (v0 + v1) & _M64
            v2 = (v2 + v3) & _M64
            v1 = _rotl(v1, 13) ^ v0
            v3 = _rotl(v3, 16) ^ v2
            v0 = _rotl(v0, 32)
            v2 = (v2 + v1) & _M64
            v0 = (v0 + v3) & _M64
            v1 = _rotl(v1, 17) ^ v2
            v3 = _rotl(v3, 21) ^ v0
            v2 = _rotl(v2, 32)

    n = len(data)
    full = n - n % 8
    for i in range(0, full, 8):
        m = int.from_bytes(data[i : i + 8], "little")
        v3 ^= m
        rounds(c_rounds)
        v0 ^= m
    # The last word carries the length in its top byte: `(uint64_t)src_sz << 56` keeps only
    # the low 8 bits of the length.
    b = ((n & 0xFF) << 56) | int.from_bytes(data[full:], "little")
    v3 ^= b
    rounds(c_rounds)
    v0 ^= b
    v2 ^= 0xFF
    rounds(d_rounds)
    return v0 ^ v1 ^ v2 ^ v3


@lru_cache(maxsize=1 << 16)  # keys repeat a lot (words, shard names); hashing is pure Python
def _hash_bytes_py3(data: bytes, seed: int, c_rounds: int, d_rounds: int) -> int:
    # _Py_HashBytes: the empty buffer hashes to 0 without calling SipHash.
    if not data:
        return 0
    k0, k1 = _secret(seed, 3)
    x = _signed64(_siphash(k0, k1, data, c_rounds, d_rounds))
    return -2 if x == -1 else x


def _unicode_data(s: str) -> bytes:
    """A str's internal PEP 393 buffer: 1, 2 or 4 bytes per code point, chosen by the widest
    character, little-endian (the x86/ARM workers Spark runs on). unicode_hash hashes this
    buffer, so "é" (Latin-1, 1 byte) and "€" (2 bytes) widen the whole string differently."""
    widest = max(map(ord, s), default=0)
    if widest < 0x100:
        return s.encode("latin-1")
    fmt = "H" if widest < 0x10000 else "I"
    return struct.pack(f"<{len(s)}{fmt}", *map(ord, s))


@lru_cache(maxsize=1 << 16)
def _hash_units_py27(units: tuple[int, ...] | bytes, seed: int) -> int:
    """Python 2.7 string_hash/unicode_hash over bytes (str) or code points (unicode, UCS4
    build as shipped by Linux distributions)."""
    n = len(units)
    if n == 0:  # "We make the hash of the empty string be 0" (Objects/stringobject.c)
        return 0
    prefix, suffix = _secret(seed, 2)
    x = prefix ^ (units[0] << 7)
    for u in units:
        x = ((1000003 * x) & _M64) ^ u
    x ^= n
    x ^= suffix
    x = _signed64(x)
    return -2 if x == -1 else x


# --------------------------------------------------------------------------------------------
# Numeric hashing


def _hash_int_py3(k: int) -> int:
    # Objects/longobject.c long_hash: |k| mod (2**61 - 1) with k's sign; -1 is reserved.
    h = abs(k) % _PY3_MODULUS
    if k < 0:
        h = -h
    return -2 if h == -1 else h


def _hash_int_py27(k: int) -> int:
    # Python 2.7: an int is its own hash; a long is folded into a C unsigned long with
    # end-around carry (long_hash), i.e. congruent to |k| modulo ULONG_MAX = 2**64 - 1 but in
    # 1..ULONG_MAX for k != 0 (never reduced to 0: hash(2**64 - 1) is -2, not 0), then given
    # k's sign and read back as a C long. Both agree for values that fit a C long.
    if k == 0:
        return 0
    x = (abs(k) - 1) % _M64 + 1
    if k < 0:
        x = (-x) & _M64
    if x == _M64:  # (unsigned long)-1
        x = _M64 - 1
    return _signed64(x)


def _hash_float_py3(v: float, target: _Target, where: str) -> int:
    # Python/pyhash.c _Py_HashDouble is the numeric hash of the exact rational value, so an
    # integral float hashes like the equal int; written here in its documented rational form
    # ("Hashing of numeric types" in the stdtypes docs), which gives the same bits.
    if math.isinf(v):
        return _PY3_INF if v > 0 else -_PY3_INF
    if math.isnan(v):
        if (target.major, target.minor) >= (3, 10):
            # bpo-43475: since 3.10 a NaN hashes by object identity, so no run reproduces it.
            raise UserError(f"{where}: a NaN key has no reproducible hash on Python 3.10+")
        return 0
    num, den = v.as_integer_ratio()
    h = (abs(num) % _PY3_MODULUS) * pow(den, _PY3_MODULUS - 2, _PY3_MODULUS) % _PY3_MODULUS
    if num < 0:
        h = -h
    return -2 if h == -1 else h


def _hash_float_py27(v: float) -> int:
    # Objects/object.c _Py_HashDouble in 2.7.
    if math.isinf(v):
        return 314159 if v > 0 else -271828
    if math.isnan(v):
        return 0
    fractpart, intpart = math.modf(v)
    if fractpart == 0.0:
        if abs(intpart) > _MAXSIZE / 2:  # LONG_MAX/2: converted to a long and hashed as such
            return _hash_int_py27(int(v))
        x = int(intpart)
        return -2 if x == -1 else x
    m, expo = math.frexp(v)
    m *= 2147483648.0  # 2**31
    hipart = int(m)  # C (long) cast truncates toward zero, like int()
    m = (m - hipart) * 2147483648.0
    x = _signed64(hipart + int(m) + (expo << 15))
    return -2 if x == -1 else x


# --------------------------------------------------------------------------------------------
# portable_hash and partitioning


def _builtin_hash(key: Any, seed: int, target: _Target, where: str) -> int:
    py3 = target.major == 3
    # bool before int: True/False hash as 1/0 in every version, which the int path also gives.
    if isinstance(key, bool):
        return int(key)
    if isinstance(key, numbers.Integral):
        k = int(key)
        return _hash_int_py3(k) if py3 else _hash_int_py27(k)
    if isinstance(key, float):
        return _hash_float_py3(key, target, where) if py3 else _hash_float_py27(key)
    if isinstance(key, str):
        if py3:
            return _hash_bytes_py3(_unicode_data(key), seed, *target.siphash_rounds)
        # A py3 str stands for a 2.7 `unicode` (what textFile yields); for ASCII text it
        # hashes like the 2.7 byte string, as CPython 2.7 guarantees.
        return _hash_units_py27(tuple(map(ord, key)), seed)
    if isinstance(key, bytes):
        if py3:
            return _hash_bytes_py3(key, seed, *target.siphash_rounds)
        return _hash_units_py27(key, seed)  # a 2.7 `str`
    if isinstance(key, (list, dict, set, bytearray)):
        raise UserError(
            f"{where}: key {key!r} is unhashable ({type(key).__name__}); PySpark's portable_hash fails on it too"
        )
    raise UserError(
        f"{where}: key {key!r} has unsupported type {type(key).__name__} "
        "(supported: None, bool, int, float, str, bytes, tuples of these)"
    )


def _portable_hash(key: Any, seed: int, target: _Target, where: str) -> int:
    # python/pyspark/rdd.py portable_hash, the same since Spark 1.x. sys.maxsize is 2**63 - 1
    # on the 64-bit workers, so the tuple hash is never negative and the -1 check never fires;
    # it is kept because PySpark has it.
    if key is None:
        return 0
    if isinstance(key, tuple):
        h = 0x345678
        for element in key:
            h ^= _portable_hash(element, seed, target, where)
            h *= 1000003
            h &= _MAXSIZE
        h ^= len(key)
        if h == -1:
            h = -2
        return h
    return _builtin_hash(key, seed, target, where)


def portable_hash(key: Any, python_hash_seed: int, python_version: str = DEFAULT_PYTHON_VERSION, *, where: str = "key") -> int:
    """PySpark's `portable_hash(key)` as computed by a worker running CPython `python_version`
    with `PYTHONHASHSEED=python_hash_seed`.

    For 2.7, seed 0 is also what an unset PYTHONHASHSEED gives (no randomization); a nonzero
    seed reproduces `PYTHONHASHSEED=<seed> python2.7`, which does randomize. `where` names the
    input field in error messages. Raises UserError for unhashable or unsupported keys.
    """
    return _portable_hash(key, _check_seed(python_hash_seed), _parse_version(python_version), where)


def _check_partitions(num_partitions: Any, where: str) -> int:
    if isinstance(num_partitions, bool) or not isinstance(num_partitions, numbers.Integral) or num_partitions < 1:
        raise UserError(f"{where}: number of partitions must be a positive integer, got {num_partitions!r}")
    return int(num_partitions)


def partition_of(
    key: Any, num_partitions: int, python_hash_seed: int, python_version: str = DEFAULT_PYTHON_VERSION, *, where: str = "key"
) -> int:
    """The reduce partition `partitionBy(num_partitions)` puts `key` in: `portable_hash(key) %
    num_partitions` with Python's modulo, so never negative (`PythonPartitioner` then applies
    `nonNegativeMod`, which leaves it unchanged). Note hash(-1) == -2: key -1 goes to (-2) % n."""
    n = _check_partitions(num_partitions, where)
    return portable_hash(key, python_hash_seed, python_version, where=where) % n


def partition_members(
    keys: Iterable[Any], num_partitions: int, python_hash_seed: int, python_version: str = DEFAULT_PYTHON_VERSION, *, where: str = "keys"
) -> list[list[int]]:
    """For each reduce partition, the indices (into `keys`) of the items it receives, in order."""
    n = _check_partitions(num_partitions, where)
    seed = _check_seed(python_hash_seed)
    target = _parse_version(python_version)
    members: list[list[int]] = [[] for _ in range(n)]
    for i, key in enumerate(keys):
        members[_portable_hash(key, seed, target, f"{where}[{i}]") % n].append(i)
    return members


def partition_sizes(
    keys: Iterable[Any], num_partitions: int, python_hash_seed: int, python_version: str = DEFAULT_PYTHON_VERSION, *, where: str = "keys"
) -> list[int]:
    """How many items each reduce partition receives."""
    return [len(m) for m in partition_members(keys, num_partitions, python_hash_seed, python_version, where=where)]


# --------------------------------------------------------------------------------------------
# partitionBy with a partition function: the even partitioner

# `hash`: partitionBy(P), PySpark's default portable_hash. `even`: partitionBy(P, position of the key).
PARTITIONERS = ("hash", "even")
DEFAULT_PARTITIONER = "hash"


def check_partitioner(name: Any, where: str = "partitioner") -> str:
    """`name` if it is one of `PARTITIONERS`, else one line saying which ones exist."""
    if not isinstance(name, str) or name not in PARTITIONERS:
        raise UserError(f"{where}: {name!r} is not a partitioner (expected one of {', '.join(PARTITIONERS)})")
    return name


def even_partition_func(keys: Iterable[Any]):
    """The `partitionFunc` of the even partitioner: the key's position in `keys` (parallelize order).

    The real job passes exactly this function to `partitionBy(P, partitionFunc)` (the dict is built
    in the driver and travels in the function's closure), and the model calls it too, so both put
    item i in partition i % P. A key given twice keeps its last position, as the dict does."""
    positions = {key: i for i, key in enumerate(keys)}

    def position(key: Any) -> int:
        return positions[key]

    return position


def members_by_partitioner(
    partitioner: str, keys: Sequence[Any], num_partitions: int, python_hash_seed: int,
    python_version: str = DEFAULT_PYTHON_VERSION, *, where: str = "keys"
) -> list[list[int]]:
    """For each reduce partition, the indices of its items under `partitioner`: `hash` is
    `partition_members` (portable_hash(key) % P), `even` buckets by `even_partition_func(keys)(key) % P`
    as PySpark buckets by any custom partitionFunc. The hash seed and version matter to `hash` only."""
    check_partitioner(partitioner, where)
    if partitioner == "hash":
        return partition_members(keys, num_partitions, python_hash_seed, python_version, where=where)
    n = _check_partitions(num_partitions, where)
    func = even_partition_func(keys)
    members: list[list[int]] = [[] for _ in range(n)]
    for i, key in enumerate(keys):
        members[func(key) % n].append(i)
    return members


# --------------------------------------------------------------------------------------------
# parallelize


def _check_slices(num_slices: Any, where: str) -> int:
    if isinstance(num_slices, bool) or not isinstance(num_slices, numbers.Integral) or num_slices < 1:
        # PySpark fails too: ZeroDivisionError for 0, IllegalArgumentException from the JVM below 0.
        raise UserError(f"{where}: numSlices must be a positive integer, got {num_slices!r}")
    return int(num_slices)


def _range_bounds(r: range, n: int) -> list[tuple[int, int, int]]:
    # python/pyspark/context.py parallelize: element-wise like Scala's positions(), but with
    # Python true division, which is kept (it differs from integer division only above 2**53).
    size = len(r)
    step = r[1] - r[0] if size > 1 else 1
    start0 = r[0]

    def get_start(split: int) -> int:
        return start0 + int(split * size / n) * step

    return [(get_start(k), get_start(k + 1), step) for k in range(n)]


def _batch_positions(length: int, n: int, batch_size: int) -> list[tuple[int, int]]:
    """Element bounds of each slice when `length` items are pickled in batches of `batch_size`
    and the JVM slices the list of batches with ParallelCollectionRDD.positions."""
    batch = max(1, min(length // n, batch_size or 1024))  # SparkContext(batchSize=0) means 1024
    num_batches = -(-length // batch)  # the last batch may be short
    bounds = []
    for i in range(n):
        first, last = i * num_batches // n, (i + 1) * num_batches // n
        bounds.append((min(first * batch, length), min(last * batch, length)))
    return bounds


def parallelize_slices(items: Iterable[Any], num_slices: int, *, batch_size: int = 0, where: str = "parallelize") -> list[list[Any]]:
    """`sc.parallelize(items, num_slices).glom().collect()`.

    A `range` is sliced element-wise: slice k = range(start + int(k*size/n)*step, ...). Any other
    collection is turned into a list, pickled in batches of max(1, min(len//n, 1024)) elements,
    and the *batches* are sliced [i*B//n, (i+1)*B//n): slice boundaries fall on batch boundaries,
    so list(range(10)) in 4 slices is 2/2/2/4, not Scala's 2/3/2/3. `batch_size` is
    SparkContext's `batchSize` argument (0 = the default, 1024).
    """
    n = _check_slices(num_slices, where)
    if isinstance(items, range):
        if len(items) == 0:
            return [[] for _ in range(n)]  # PySpark: self.parallelize([], numSlices)
        return [list(range(a, b, s)) for a, b, s in _range_bounds(items, n)]
    data = list(items)
    return [data[a:b] for a, b in _batch_positions(len(data), n, batch_size)]


def parallelize_slice_sizes(items: range | Sequence[Any] | int, num_slices: int, *, batch_size: int = 0, where: str = "parallelize") -> list[int]:
    """Sizes of `parallelize_slices(items, num_slices)` without materialising the elements.
    `items` may be a range, a sized collection, or an int meaning a list of that many items."""
    n = _check_slices(num_slices, where)
    if isinstance(items, range):
        if len(items) == 0:
            return [0] * n
        return [len(range(a, b, s)) for a, b, s in _range_bounds(items, n)]
    if isinstance(items, bool) or not isinstance(items, (numbers.Integral, Sequence)):
        items = list(items)
    length = int(items) if isinstance(items, numbers.Integral) else len(items)
    if length < 0:
        raise UserError(f"{where}: number of items must be >= 0, got {length}")
    return [b - a for a, b in _batch_positions(length, n, batch_size)]


# --------------------------------------------------------------------------------------------
# Keys from configuration


def key_from_yaml(value: Any, where: str = "key") -> Any:
    """A key written in a scenario/config file: null, int, float, bool, str, or a tuple written
    as `{tuple: [...]}` (YAML has no tuples). A YAML list is a Python list: unhashable."""
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    if isinstance(value, dict):
        if set(value) == {"tuple"} and isinstance(value["tuple"], list):
            return tuple(key_from_yaml(v, f"{where}.tuple[{i}]") for i, v in enumerate(value["tuple"]))
        raise UserError(f"{where}: a mapping key must be {{tuple: [...]}}, got {value!r}")
    if isinstance(value, list):
        raise UserError(f"{where}: a list is not a valid key (unhashable); write a tuple as {{tuple: [...]}}")
    raise UserError(f"{where}: unsupported key {value!r} ({type(value).__name__})")


@dataclass(frozen=True)
class KeySpec:
    """The keys of a workload: `{format: "shard-{:02d}", count: 40}` (item i's key is
    `format.format(i)`, Python str.format) or an explicit list of keys."""

    keys: tuple[Any, ...]

    @classmethod
    def parse(cls, value: Any, where: str = "keys") -> "KeySpec":
        if isinstance(value, list):
            return cls(tuple(key_from_yaml(v, f"{where}[{i}]") for i, v in enumerate(value)))
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a list of keys or {{format: ..., count: N}}, got {value!r}")
        unknown = set(value) - {"format", "count"}
        if unknown:
            raise UserError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))} (expected format, count)")
        fmt, count = value.get("format"), value.get("count")
        if not isinstance(fmt, str):
            raise UserError(f"{where}.format: expected a Python format string like 'shard-{{:02d}}', got {fmt!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise UserError(f"{where}.count: expected a non-negative integer, got {count!r}")
        check_limit(count, "keys", f"{where}.count")
        try:
            keys = tuple(fmt.format(i) for i in range(count))
        except (ValueError, IndexError, KeyError, AttributeError, TypeError) as exc:
            raise UserError(f"{where}.format: {fmt!r} cannot format an item index: {exc}") from None
        return cls(keys)

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self):
        return iter(self.keys)

    def partition_sizes(self, num_partitions: int, python_hash_seed: int, python_version: str = DEFAULT_PYTHON_VERSION) -> list[int]:
        return partition_sizes(self.keys, num_partitions, python_hash_seed, python_version)

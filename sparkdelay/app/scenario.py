"""The scheduler scenario format (docs/spark-scheduler/SCENARIO_FORMAT.md): one YAML file read
and validated completely into a `Scenario`, before anything runs.

A scenario replays a piece of Spark's scheduling behaviour step by step at one level
(`taskset`, `scheduler`, `shuffle` or `pyspark`). Every problem in a file is one `UserError`
naming the file, the step and the field (`file: step N (op): field ...`); the `replay` module
runs what this one accepted. Expectations are normalised here to the form the replay compares
(Spark's spelling of locality levels, ids and hosts as strings).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.limits import LIMITS
from sparkdelay.ground.strict import MAX_DEPTH, check_depth, read_text, yaml_value_error
from sparkdelay.sim.policy.config import SchedulerConf
from sparkdelay.sim.policy.locality import TaskLocality, parse_locality, parse_task_location
from sparkdelay.sim.policy.scheduler import WorkerOffer

LEVELS = ("taskset", "scheduler", "shuffle", "pyspark")

# op -> (levels where it is valid, sibling keys allowed next to it)
OPS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "offer": (("taskset",), frozenset({"expect"})),
    "advance": (("taskset", "scheduler"), frozenset()),
    "add_executor": (("taskset", "scheduler"), frozenset()),
    "lose_executor": (("taskset", "scheduler"), frozenset()),
    "fail_task": (("taskset", "scheduler"), frozenset()),
    "finish_task": (("taskset", "scheduler"), frozenset()),
    "set_zombie": (("taskset",), frozenset()),
    "exclude": (("taskset",), frozenset()),
    "expect_levels": (("taskset", "scheduler"), frozenset({"current_level"})),
    "submit": (("scheduler",), frozenset()),
    "round": (("scheduler",), frozenset({"expect"})),
    "map_outputs": (("shuffle",), frozenset({"fraction", "expect"})),
    "portable_hash": (("pyspark",), frozenset({"python_hash_seed", "python_version", "expect"})),
    "partition_of": (("pyspark",), frozenset({"partitions", "python_hash_seed", "python_version", "expect"})),
    "parallelize": (("pyspark",), frozenset({"slices", "expect"})),
}


@dataclass(frozen=True)
class Step:
    """One validated step: its number in the file (from 1), its operation and its arguments."""

    number: int
    op: str
    args: dict


@dataclass
class Scenario:
    path: str
    name: str
    level: str
    config: SchedulerConf
    racks: dict[str, str]
    clock_start: float                       # milliseconds
    executors: list[tuple[str, str, int]]    # alive before the first step: (id, host, cores)
    taskset_prefs: list                      # level taskset: per task, its TaskLocations
    steps: list[Step]


class Where:
    """Builds the 'file: step N (op): field' prefix of every validation error."""

    def __init__(self, path: str, number: int | None = None, op: str | None = None):
        self.prefix = path if number is None else f"{path}: step {number} ({op})"

    def fail(self, message: str):
        raise UserError(f"{self.prefix}: {message}")

    def mapping(self, value, field: str) -> dict:
        if not isinstance(value, dict):
            self.fail(f"{field} must be a mapping, got {value!r}")
        return value

    def require(self, mapping: dict, key: str, field: str):
        if key not in mapping:
            self.fail(f"missing field {field}.{key}" if field else f"missing field {key}")
        return mapping[key]

    def only(self, mapping: dict, allowed: set[str], field: str) -> None:
        unknown = sorted(set(mapping) - allowed)
        if unknown:
            self.fail(f"unknown field {field}.{unknown[0]} (expected {', '.join(sorted(allowed))})")

    def integer(self, value, field: str, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"{field} must be a whole number, got {value!r}")
        if minimum is not None and value < minimum:
            self.fail(f"{field} must be at least {minimum}, got {value}")
        return value

    def boolean(self, value, field: str) -> bool:
        if not isinstance(value, bool):
            self.fail(f"{field} must be true or false, got {value!r}")
        return value

    def locality(self, value, field: str) -> TaskLocality:
        try:
            return parse_locality(value, where=field)
        except UserError as exc:
            self.fail(str(exc))

    def prefs(self, value, field: str) -> list:
        if not isinstance(value, list) or not all(isinstance(p, list) for p in value):
            self.fail(f"{field} must be a list of lists of TaskLocation strings, got {value!r}")
        try:
            return [[parse_task_location(_text(loc), where=field) for loc in p] for p in value]
        except _NotText as exc:
            self.fail(f"{field}: {exc}")
        except UserError as exc:
            self.fail(str(exc))


class _NotText(ValueError):
    """An id or host that is no string or number (true, null, a list): named by the step that read it."""


def _text(value) -> str:
    # YAML reads ids such as 3 or 1.0 as numbers; Spark's ids and hosts are strings. But `false`,
    # `null`, `.nan` or a list is no id: str() of it would quietly name a host "False".
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float)
                                                                          and not math.isfinite(value)):
        raise _NotText(f"expected an id or host name (a string), got {value!r}")
    return str(value)


# The top-level keys of SCENARIO_FORMAT.md, and spark_version, which this reader also takes.
SCENARIO_KEYS = ("name", "title", "source", "level", "spark_version", "config", "racks", "clock_start",
                 "executors", "taskset", "steps")


def load_scenario(path: str | Path) -> Scenario:
    path = str(path)
    where = Where(path)
    try:
        doc = check_depth(yaml.safe_load(read_text(path)), path)
    except RecursionError:
        raise UserError(f"{path}: nested more than {MAX_DEPTH} levels deep") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]   # one line, whatever the error
        raise UserError(f"{path}: not valid YAML{line}: {problem}") from None
    except ValueError as exc:   # a number of thousands of digits
        raise UserError(f"{path}: not valid YAML: {yaml_value_error(exc)}") from None
    doc = where.mapping(doc, "the scenario")
    # A misspelt top-level key (clock_strat) would silently fall back to its default.
    unknown = [k for k in doc if k not in SCENARIO_KEYS]
    if unknown:
        where.fail(f"unknown key {unknown[0]!r} (expected one of {', '.join(SCENARIO_KEYS)})")
    level = where.require(doc, "level", "")
    if level not in LEVELS:
        where.fail(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    conf_map = where.mapping(doc.get("config") or {}, "config")
    conf = SchedulerConf.from_spark_conf(conf_map, doc.get("spark_version", "4.0"), where=f"{path}: config")
    try:
        racks = {_text(h): _text(r) for h, r in where.mapping(doc.get("racks") or {}, "racks").items()}
    except _NotText as exc:
        where.fail(f"racks: {exc}")
    clock_start = doc.get("clock_start", 0)
    if isinstance(clock_start, bool) or not isinstance(clock_start, (int, float)) or not math.isfinite(clock_start):
        where.fail(f"clock_start must be a number of milliseconds, got {clock_start!r}")
    executors = []
    raw_execs = doc.get("executors") or []
    if not isinstance(raw_execs, list):
        where.fail("executors must be a list")
    for i, e in enumerate(raw_execs):
        e = where.mapping(e, f"executors[{i}]")
        where.only(e, {"id", "host", "cores"}, f"executors[{i}]")
        try:
            executors.append((_text(where.require(e, "id", f"executors[{i}]")),
                              _text(where.require(e, "host", f"executors[{i}]")),
                              where.integer(e.get("cores", 1), f"executors[{i}].cores", minimum=0)))
        except _NotText as exc:
            where.fail(f"executors[{i}]: {exc}")
    prefs = []
    if level == "taskset":
        ts = where.mapping(where.require(doc, "taskset", ""), "taskset")
        prefs = where.prefs(where.require(ts, "prefs", "taskset"), "taskset.prefs")
    raw_steps = where.require(doc, "steps", "")
    if not isinstance(raw_steps, list):
        where.fail("steps must be a list")
    steps = []
    for number, raw in enumerate(raw_steps, start=1):
        steps.append(_parse_step(path, number, raw, level))
    return Scenario(path, str(doc.get("name", Path(path).stem)), level, conf, racks,
                    float(clock_start), executors, prefs, steps)


def _parse_step(path: str, number: int, raw, level: str) -> Step:
    if not isinstance(raw, dict) or not raw:
        Where(path, number, "?").fail(f"a step must be a mapping with one operation, got {raw!r}")
    ops = [k for k in raw if k in OPS]
    if len(ops) != 1:
        what = f"unknown operation {next(iter(raw))!r}" if not ops else f"several operations {ops}"
        Where(path, number, "?").fail(f"{what} (known: {', '.join(OPS)})")
    op = ops[0]
    where = Where(path, number, op)
    levels, siblings = OPS[op]
    if level not in levels:
        where.fail(f"operation {op!r} is not valid at level {level!r}")
    where.only(raw, {op} | siblings, "step")
    try:
        return Step(number, op, _VALIDATORS[op](where, raw))
    except _NotText as exc:
        where.fail(str(exc))


# ---------------------------------------------------------------------- step validation
def _v_offer(w: Where, raw) -> dict:
    offer = w.mapping(raw["offer"], "offer")
    w.only(offer, {"executor", "host", "max_locality"}, "offer")
    out = {"executor": _text(w.require(offer, "executor", "offer")),
           "host": _text(w.require(offer, "host", "offer")),
           "max_locality": w.locality(w.require(offer, "max_locality", "offer"), "offer.max_locality")}
    expect = w.mapping(raw.get("expect", {}), "expect")
    w.only(expect, {"task", "locality", "reject"}, "expect")
    if "task" in expect and expect["task"] is not None:
        w.integer(expect["task"], "expect.task", minimum=0)
    if "locality" in expect:
        expect = {**expect, "locality": str(w.locality(expect["locality"], "expect.locality"))}
    if "reject" in expect:
        w.boolean(expect["reject"], "expect.reject")
    out["expect"] = expect
    return out


def _v_advance(w: Where, raw) -> dict:
    value = raw["advance"]
    # `not value >= 0` also refuses NaN; an infinite or huge advance would never end the replay.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0 \
            or value > LIMITS["milliseconds"].maximum:
        w.fail(f"advance must be a non-negative number of milliseconds, at most "
               f"{LIMITS['milliseconds'].maximum:,.0f} (README, Limits), got {value!r}")
    return {"ms": float(value)}


def _v_executor(w: Where, raw, op: str) -> dict:
    e = w.mapping(raw[op], op)
    w.only(e, {"executor", "host"}, op)
    return {"executor": _text(w.require(e, "executor", op)), "host": _text(w.require(e, "host", op))}


def _v_task(w: Where, raw, op: str) -> dict:
    t = w.mapping(raw[op], op)
    w.only(t, {"index", "taskset"}, op)
    out = {"index": w.integer(w.require(t, "index", op), f"{op}.index", minimum=0)}
    if "taskset" in t:
        out["taskset"] = _text(t["taskset"])
    return out


def _v_set_zombie(w: Where, raw) -> dict:
    if w.boolean(raw["set_zombie"], "set_zombie") is not True:
        w.fail("set_zombie must be true (Spark's suites make a taskset a zombie, never live again)")
    return {}


def _v_exclude(w: Where, raw) -> dict:
    e = w.mapping(raw["exclude"], "exclude")
    w.only(e, {"host", "executor", "index"}, "exclude")
    if "host" not in e and "executor" not in e:
        w.fail("exclude needs a host or an executor")
    out = {k: _text(e[k]) for k in ("host", "executor") if k in e}
    if "index" in e:
        out["index"] = w.integer(e["index"], "exclude.index", minimum=0)
    return out


def _v_expect_levels(w: Where, raw) -> dict:
    value = raw["expect_levels"]
    out: dict = {}
    if isinstance(value, dict):  # scheduler level: {taskset, levels, current_level}
        w.only(value, {"taskset", "levels", "current_level"}, "expect_levels")
        out["taskset"] = _text(w.require(value, "taskset", "expect_levels"))
        levels = value.get("levels")
        current = value.get("current_level")
    else:
        levels, current = value, raw.get("current_level")
    if levels is not None:
        if not isinstance(levels, list):
            w.fail(f"expect_levels must be a list of locality levels, got {levels!r}")
        out["levels"] = [w.locality(lv, "expect_levels") for lv in levels]
    if current is not None:
        out["current_level"] = w.locality(current, "current_level")
    return out


def _v_submit(w: Where, raw) -> dict:
    s = w.mapping(raw["submit"], "submit")
    w.only(s, {"id", "stage", "priority", "prefs", "cpus_per_task"}, "submit")
    return {"id": _text(w.require(s, "id", "submit")),
            "stage": w.integer(w.require(s, "stage", "submit"), "submit.stage", minimum=0),
            "priority": w.integer(s.get("priority", 0), "submit.priority"),
            "prefs": w.prefs(w.require(s, "prefs", "submit"), "submit.prefs"),
            "cpus": None if s.get("cpus_per_task") is None else
            w.integer(s["cpus_per_task"], "submit.cpus_per_task", minimum=1)}


def _v_round(w: Where, raw) -> dict:
    r = w.mapping(raw["round"], "round")
    w.only(r, {"all_free", "offers", "shuffle"}, "round")
    offers_raw = w.require(r, "offers", "round")
    if not isinstance(offers_raw, list):
        w.fail("round.offers must be a list")
    offers = []
    for i, o in enumerate(offers_raw):
        o = w.mapping(o, f"round.offers[{i}]")
        w.only(o, {"executor", "host", "cores"}, f"round.offers[{i}]")
        offers.append(WorkerOffer(_text(w.require(o, "executor", f"round.offers[{i}]")),
                                  _text(w.require(o, "host", f"round.offers[{i}]")),
                                  w.integer(w.require(o, "cores", f"round.offers[{i}]"),
                                            f"round.offers[{i}].cores", minimum=0)))
    expect = w.mapping(raw.get("expect", {}), "expect")
    w.only(expect, {"count", "launched"}, "expect")
    if "count" in expect:
        w.integer(expect["count"], "expect.count", minimum=0)
    if "launched" in expect:
        if not isinstance(expect["launched"], list):
            w.fail("expect.launched must be a list")
        launched = []
        for i, item in enumerate(expect["launched"]):
            item = w.mapping(item, f"expect.launched[{i}]")
            w.only(item, {"taskset", "index", "executor", "locality"}, f"expect.launched[{i}]")
            launched.append({k: (_text(v) if k in ("taskset", "executor") else
                                 str(w.locality(v, f"expect.launched[{i}].locality")) if k == "locality" else v)
                             for k, v in item.items()})
        expect = {**expect, "launched": launched}
    return {"all_free": w.boolean(w.require(r, "all_free", "round"), "round.all_free"),
            "shuffle": w.boolean(r.get("shuffle", True), "round.shuffle"),
            "offers": offers, "expect": expect}


def _v_map_outputs(w: Where, raw) -> dict:
    outputs = raw["map_outputs"]
    if not isinstance(outputs, list) or not outputs:
        w.fail("map_outputs must be a non-empty list")
    statuses = []
    width = None
    for i, m in enumerate(outputs):
        m = w.mapping(m, f"map_outputs[{i}]")
        w.only(m, {"executor", "host", "sizes"}, f"map_outputs[{i}]")
        sizes = w.require(m, "sizes", f"map_outputs[{i}]")
        if not isinstance(sizes, list):
            w.fail(f"map_outputs[{i}].sizes must be a list of byte counts")
        sizes = [w.integer(s, f"map_outputs[{i}].sizes", minimum=0) for s in sizes]
        if width is not None and len(sizes) != width:
            w.fail(f"map_outputs[{i}].sizes has {len(sizes)} entries, the others {width}")
        width = len(sizes)
        statuses.append((_text(w.require(m, "executor", f"map_outputs[{i}]")),
                         _text(w.require(m, "host", f"map_outputs[{i}]")), sizes))
    fraction = raw.get("fraction", 0.2)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 <= fraction <= 1:
        w.fail(f"fraction must be a number in [0, 1], got {fraction!r}")
    expect = w.mapping(raw.get("expect", {}), "expect")
    w.only(expect, {"prefs"}, "expect")
    if "prefs" in expect:
        prefs = expect["prefs"]
        if not isinstance(prefs, list) or not all(isinstance(p, list) for p in prefs):
            w.fail(f"expect.prefs must be a list of host lists, one per reduce partition, got {prefs!r}")
        # Spark's tests compare host sets: the order of hosts is not significant.
        expect = {"prefs": [sorted(_text(h) for h in p) for p in prefs]}
    return {"statuses": statuses, "partitions": width, "fraction": float(fraction), "expect": expect}


def _key(w: Where, value, field: str):
    if isinstance(value, dict):
        if set(value) == {"tuple"} and isinstance(value["tuple"], list):
            return tuple(_key(w, v, field) for v in value["tuple"])
        w.fail(f"{field}: a key mapping must be {{tuple: [...]}}, got {value!r}")
    if isinstance(value, list):
        w.fail(f"{field}: a list is not hashable (PySpark could not partition it)")
    return value


def _hash_args(w: Where, raw) -> dict:
    seed = w.integer(raw.get("python_hash_seed", 0), "python_hash_seed", minimum=0)
    if seed > 4294967295:
        w.fail(f"python_hash_seed must be at most 4294967295, got {seed}")
    return {"seed": seed, "python_version": str(raw.get("python_version", "3.11"))}


def _v_portable_hash(w: Where, raw) -> dict:
    out = {"key": _key(w, raw["portable_hash"], "portable_hash"), **_hash_args(w, raw)}
    if "expect" in raw:
        out["expect"] = w.integer(raw["expect"], "expect")
    return out


def _v_partition_of(w: Where, raw) -> dict:
    out = {"key": _key(w, raw["partition_of"], "partition_of"),
           "partitions": w.integer(w.require(raw, "partitions", ""), "partitions", minimum=1), **_hash_args(w, raw)}
    if "expect" in raw:
        out["expect"] = w.integer(raw["expect"], "expect", minimum=0)
    return out


def _v_parallelize(w: Where, raw) -> dict:
    value = raw["parallelize"]
    if isinstance(value, dict):
        bounds = value.get("range") if set(value) == {"range"} else None
        if not (isinstance(bounds, list) and 1 <= len(bounds) <= 3
                and all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)):
            w.fail(f"parallelize: expected a list or {{range: [start, stop, step]}}, got {value!r}")
        if len(bounds) == 3 and bounds[2] == 0:
            w.fail("parallelize: range step must not be 0")
        data = range(*bounds)
    elif isinstance(value, list):
        data = [_key(w, v, "parallelize") if not isinstance(v, list) else v for v in value]
    else:
        w.fail(f"parallelize: expected a list or {{range: [start, stop, step]}}, got {value!r}")
    out = {"data": data, "slices": w.integer(w.require(raw, "slices", ""), "slices", minimum=1)}
    expect = w.mapping(raw.get("expect", {}), "expect")
    w.only(expect, {"glom"}, "expect")
    out["expect"] = expect
    return out


_VALIDATORS: dict[str, Callable] = {
    "offer": _v_offer, "advance": _v_advance,
    "add_executor": lambda w, r: _v_executor(w, r, "add_executor"),
    "lose_executor": lambda w, r: _v_executor(w, r, "lose_executor"),
    "fail_task": lambda w, r: _v_task(w, r, "fail_task"),
    "finish_task": lambda w, r: _v_task(w, r, "finish_task"),
    "set_zombie": _v_set_zombie, "exclude": _v_exclude, "expect_levels": _v_expect_levels,
    "submit": _v_submit, "round": _v_round, "map_outputs": _v_map_outputs,
    "portable_hash": _v_portable_hash, "partition_of": _v_partition_of, "parallelize": _v_parallelize,
}


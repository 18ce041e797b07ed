"""The cluster: machines with physical cores, hosts on them, executors on hosts (cluster.yaml).

An executor has task slots (`spark.executor.cores`, 8 by default here) and a time at which
it registers with the driver. A machine is a box of physical cores shared by every running
task of the hosts placed on it: a test cluster of several workers on one box (hosts
127.0.0.2, 127.0.0.3 on one machine) oversubscribes its cores and tasks slow down, which the
engine models as processor sharing. Without a `machines` section every host is its own
machine with as many cores as its executors have slots, so tasks never slow each other.
Calibration and validation take only the machines (`load_machines` -> `MachineMap`, below).

YAML form (every key is checked; unknown keys are errors)::

    spark_version: "4.0"                      # 4.0, 3.5, 2.4, 2.1 ...
    config: {spark.locality.wait: 3s, spark.executor.cores: 8}
    machines:                                 # optional
      - {name: box, cores: 2, hosts: [127.0.0.2, 127.0.0.3]}
    executors:                                # a list ...
      - {id: "0", host: 127.0.0.2, cores: 8, registers_at: 0.0}
      - {id: "1", host: 127.0.0.3}
    # ... or a generator: ids "0".."count-1", "{i}" in host replaced by the id
    # executors: {count: 100, cores: 1, host: "host{i}", registers_at: 0.0}
    racks: {host0: r1}                        # optional host -> rack (YARN-style racks)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.sparkconf import SPARK_KEYS, check_spelling, lookup
from sparkdelay.ground.limits import check_limit
from sparkdelay.ground.strict import (check_keys, get_float, get_int, get_str, load_yaml, require_list,
                                      require_mapping)
from sparkdelay.sim.policy.config import SchedulerConf

DEFAULT_SPARK_VERSION = "4.0"
CLUSTER_KEYS = ("spark_version", "config", "machines", "executors", "racks")
LOCAL_MACHINE = "local"


@dataclass(frozen=True)
class MachineSpec:
    """A machine: `cores` physical cores shared by the running tasks of every host on it."""

    name: str
    cores: int
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class ExecutorSpec:
    id: str
    host: str
    cores: int
    registers_at: float = 0.0
    # Seconds it had already been registered when the action was called (a measured run's
    # executors register before its job): that much of its JVM warm-up is behind it.
    registered_before_s: float = 0.0


@dataclass(frozen=True)
class ClusterSpec:
    """A validated cluster. Build with `ClusterSpec.load(path)`, `from_dict` or `make`."""

    spark_version: str
    config: Mapping[str, str]
    machines: tuple[MachineSpec, ...]
    executors: tuple[ExecutorSpec, ...]
    racks: Mapping[str, str] = field(default_factory=dict)

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> "ClusterSpec":
        return cls.from_dict(load_yaml(path), where=str(path))

    @classmethod
    def from_dict(cls, doc: Any, where: str = "cluster") -> "ClusterSpec":
        doc = require_mapping(doc, where)
        check_keys(doc, CLUSTER_KEYS, where, required=("executors",))
        version = get_str(doc.get("spark_version", DEFAULT_SPARK_VERSION), f"{where}: spark_version")
        config = _parse_config(doc.get("config") or {}, f"{where}: config")
        default_cores = _executor_cores(config, f"{where}: config")
        executors = _parse_executors(doc["executors"], default_cores, f"{where}: executors")
        machines = (_parse_machines(doc["machines"], f"{where}: machines")
                    if doc.get("machines") is not None else None)
        racks = doc.get("racks") or {}
        require_mapping(racks, f"{where}: racks")
        racks = {get_str(h, f"{where}: racks"): get_str(r, f"{where}: racks.{h}") for h, r in racks.items()}
        return cls.make(version, config, executors, machines, racks, where=where)

    @classmethod
    def make(cls, spark_version: str, config: Mapping[str, Any], executors, machines=None,
             racks: Mapping[str, str] | None = None, where: str = "cluster") -> "ClusterSpec":
        """Check cross-references and fill in default machines (one per host, cores = slots)."""
        executors = tuple(executors)
        if not executors:
            raise UserError(f"{where}: executors: at least one executor is needed (zero nodes)")
        seen: set[str] = set()
        for i, e in enumerate(executors):
            if e.id in seen:
                raise UserError(f"{where}: executors[{i}].id: duplicate executor id {e.id!r}")
            seen.add(e.id)
        hosts = _ordered_hosts(executors)
        if machines is None:
            slots: dict[str, int] = {}
            for e in executors:
                slots[e.host] = slots.get(e.host, 0) + e.cores
            machines = tuple(MachineSpec(h, max(1, slots[h]), (h,)) for h in hosts)
        else:
            machines = tuple(machines)
            placed = _machine_of_host(machines, f"{where}: machines")
            for i, e in enumerate(executors):
                if e.host not in placed:
                    raise UserError(f"{where}: executors[{i}].host: host {e.host!r} is on no machine "
                                    f"(machines define: {', '.join(sorted(placed)) or 'none'})")
        for h in (racks or {}):
            if h not in hosts:
                raise UserError(f"{where}: racks.{h}: no executor runs on host {h!r}")
        return cls(str(spark_version), {str(k): str(v) for k, v in dict(config).items()},
                   machines, executors, dict(racks or {}))

    # ---- derived views ------------------------------------------------------------------
    @property
    def hosts(self) -> list[str]:
        """Hosts that run executors, in order of first appearance."""
        return _ordered_hosts(self.executors)

    def machine_of_host(self) -> dict[str, MachineSpec]:
        return {h: m for m in self.machines for h in m.hosts}

    @property
    def total_slots(self) -> int:
        return sum(e.cores for e in self.executors)

    def effective_cores(self) -> int:
        """Cores that can run tasks at once: per machine, min(physical cores, slots on it)."""
        slots: dict[str, int] = {}
        mh = self.machine_of_host()
        for e in self.executors:
            name = mh[e.host].name
            slots[name] = slots.get(name, 0) + e.cores
        return sum(min(m.cores, slots.get(m.name, 0)) for m in self.machines)

    def scheduler_conf(self, where: str = "cluster: config") -> SchedulerConf:
        return SchedulerConf.from_spark_conf(dict(self.config), self.spark_version, where)

    # ---- variations (command-line shortcuts, sweeps) -------------------------------------
    def with_config(self, **updates: str) -> "ClusterSpec":
        config = dict(self.config)
        config.update({k: str(v) for k, v in updates.items()})
        _parse_config(config, "config")
        return replace(self, config=config)

    def with_spark_conf(self, updates: Mapping[str, Any]) -> "ClusterSpec":
        config = dict(self.config)
        config.update({str(k): str(v) for k, v in updates.items()})
        _parse_config(config, "config")
        return replace(self, config=config)

    def with_version(self, spark_version: str) -> "ClusterSpec":
        return replace(self, spark_version=str(spark_version))

    def first_hosts(self, n: int, where: str = "--nodes") -> "ClusterSpec":
        """Keep only the executors on the first `n` hosts (the `--nodes` shortcut)."""
        hosts = self.hosts
        if n < 1:
            raise UserError(f"{where}: must be at least 1, got {n}")
        if n > len(hosts):
            raise UserError(f"{where}: the cluster has only {len(hosts)} hosts with executors, asked for {n}")
        keep = set(hosts[:n])
        executors = tuple(e for e in self.executors if e.host in keep)
        machines = tuple(m for m in self.machines if any(h in keep for h in m.hosts))
        racks = {h: r for h, r in self.racks.items() if h in keep}
        return replace(self, executors=executors, machines=machines, racks=racks)

    def to_dict(self) -> dict:
        return {
            "spark_version": self.spark_version,
            "config": dict(self.config),
            "machines": [{"name": m.name, "cores": m.cores, "hosts": list(m.hosts)} for m in self.machines],
            "executors": [{"id": e.id, "host": e.host, "cores": e.cores, "registers_at": e.registers_at}
                          for e in self.executors],
            **({"racks": dict(self.racks)} if self.racks else {}),
        }


def _ordered_hosts(executors) -> list[str]:
    return list(dict.fromkeys(e.host for e in executors))


def _parse_config(config: Any, where: str) -> dict[str, str]:
    config = require_mapping(config, where)
    out: dict[str, str] = {}
    for key, value in config.items():
        if not isinstance(key, str) or not key.startswith("spark."):
            raise UserError(f"{where}: {key!r}: not a Spark configuration key (they start with 'spark.')")
        if isinstance(value, (dict, list)) or value is None:
            raise UserError(f"{where}.{key}: expected a single value, got {value!r}")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        check_spelling(key, where)
        known = SPARK_KEYS.get(key)
        if known is not None and known.scheduler:
            known.parse(text, f"{where}.{key}")  # rejects negative waits, bad units, 0 cores, ...
        out[key] = text
    return out


def _executor_cores(config: Mapping[str, str], where: str) -> int:
    key, value = lookup(config, "spark.executor.cores")
    return SPARK_KEYS[key].parse(value, f"{where}.{key}")


def _parse_executors(value: Any, default_cores: int, where: str) -> tuple[ExecutorSpec, ...]:
    if isinstance(value, Mapping):  # generator form
        check_keys(value, ("count", "cores", "host", "registers_at"), where, required=("count", "host"))
        count = get_int(value["count"], f"{where}.count", minimum=1, limit="executors")
        cores = get_int(value.get("cores", default_cores), f"{where}.cores", minimum=1, limit="cores")
        host = get_str(value["host"], f"{where}.host")
        at = get_float(value.get("registers_at", 0.0), f"{where}.registers_at", limit="seconds")
        try:
            hosts = [host.format(i=i) for i in range(count)]
        except (KeyError, IndexError, ValueError):
            raise UserError(f"{where}.host: {host!r} may only use the placeholder {{i}}") from None
        return tuple(ExecutorSpec(str(i), hosts[i], cores, at) for i in range(count))
    items = require_list(value, where)
    if not items:
        raise UserError(f"{where}: at least one executor is needed (zero nodes)")
    check_limit(len(items), "executors", f"{where}: the number of executors")
    out = []
    for i, item in enumerate(items):
        w = f"{where}[{i}]"
        item = require_mapping(item, w)
        check_keys(item, ("id", "host", "cores", "registers_at"), w, required=("host",))
        out.append(ExecutorSpec(
            id=get_str(item.get("id", str(i)), f"{w}.id"),
            host=get_str(item["host"], f"{w}.host"),
            cores=get_int(item.get("cores", default_cores), f"{w}.cores", minimum=1, limit="cores"),
            registers_at=get_float(item.get("registers_at", 0.0), f"{w}.registers_at", limit="seconds"),
        ))
    return tuple(out)


def _parse_machines(value: Any, where: str) -> tuple[MachineSpec, ...]:
    """The `machines` list, the one parser for both views: `ClusterSpec` and `MachineMap`."""
    items = require_list(value, where)
    out = []
    for i, item in enumerate(items):
        w = f"{where}[{i}]"
        item = require_mapping(item, w)
        check_keys(item, ("name", "cores", "hosts"), w, required=("name", "cores", "hosts"))
        hosts = require_list(item["hosts"], f"{w}.hosts")
        if not hosts:
            raise UserError(f"{w}.hosts: a machine needs at least one host")
        out.append(MachineSpec(get_str(item["name"], f"{w}.name"),
                               get_int(item["cores"], f"{w}.cores", minimum=1, limit="cores"),
                               tuple(get_str(h, f"{w}.hosts[{j}]") for j, h in enumerate(hosts))))
    return tuple(out)


def _machine_of_host(machines: tuple[MachineSpec, ...], where: str) -> dict[str, MachineSpec]:
    """host -> machine; a machine name used twice or a host on two machines is an error."""
    names: set[str] = set()
    placed: dict[str, MachineSpec] = {}
    for i, m in enumerate(machines):
        if m.name in names:
            raise UserError(f"{where}[{i}].name: duplicate machine {m.name!r}")
        names.add(m.name)
        for h in m.hosts:
            if h in placed:
                raise UserError(f"{where}[{i}].hosts: host {h!r} is already on machine {placed[h].name!r}")
            placed[h] = m
    return placed


# ---- the machines-only view, for reading event logs -------------------------------------
@dataclass(frozen=True)
class MachineMap:
    """Which machine (physical cores) a host of a recorded run was on, for undoing processor sharing.

    Calibration and validation read the hosts from event logs, so they need only a cluster
    file's `machines`: `load_machines` parses them with the same rules as `ClusterSpec` but
    `executors` is optional. A host no machine holds gets the default rule: a loopback host
    (127.x.x.x, localhost) and the driver's own executor in local mode share this machine's
    `local_cores` as the machine "local"; any other host is a machine of its own with as many
    cores as its executor has task slots.
    """

    by_host: Mapping[str, MachineSpec] = field(default_factory=dict)
    local_cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    source: str | None = None

    def machine_of(self, host: str, executor_id: str = "", executor_cores: int = 1) -> MachineSpec:
        if host in self.by_host:
            return self.by_host[host]
        # The default machines list no hosts: which hosts they hold is the rule above.
        if host.startswith("127.") or host == "localhost" or executor_id == "driver":
            return MachineSpec(LOCAL_MACHINE, self.local_cores, ())
        return MachineSpec(f"host:{host}", max(1, executor_cores), ())


def load_machines(path: str | Path | None) -> MachineMap:
    """The machines of a cluster file (None: no file, every host by the default rule)."""
    if path is None:
        return MachineMap()
    where = str(path)
    doc = require_mapping(load_yaml(path), where)
    check_keys(doc, CLUSTER_KEYS, where)
    # A missing or null `machines` means the default rule; anything else must be the list (a 0
    # or "" is a mistake, not "none", as `ClusterSpec` says too).
    value = doc.get("machines")
    machines = _parse_machines(value if value is not None else [], f"{where}: machines")
    return MachineMap(_machine_of_host(machines, f"{where}: machines"), source=where)

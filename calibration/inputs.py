"""The side files of a calibration: which hosts share a machine, and what the PySpark job held.

The cluster file is the simulator's `cluster.yaml`; calibration needs only its `machines`
(name, physical cores, hosts), so `executors` is optional here and the other known keys are
accepted and ignored, while an unknown top-level key is an error as everywhere else. Without a
cluster file every loopback host (127.x.x.x) and the host of a local-mode driver executor share
this machine with `os.cpu_count()` cores; any other host is a machine of its own with as many
cores as its executors have task slots. The workload file's `pyspark:` mapping names the keys
(`{format: "shard-{:02d}", count: 40}` or a list), the hash seed, `map_slices` and the
interpreter version, from which `sim.pyspark_partitioning` gives exact items per partition.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sparkdelay.sim.policy.pyspark_partitioning import KeySpec, parallelize_slice_sizes, partition_sizes
from sparkdelay.ground.strict import check_keys, get_int, get_str, load_yaml, require_list, require_mapping
from sparkdelay.ground.errors import UserError

CLUSTER_KEYS = ("spark_version", "config", "machines", "executors", "racks")
LOCAL_MACHINE = "local"


@dataclass(frozen=True)
class Machine:
    name: str
    cores: int
    hosts: tuple[str, ...] = ()


@dataclass
class MachineMap:
    """Host -> machine, with the defaults above for hosts the cluster file does not place."""

    machines: dict[str, Machine] = field(default_factory=dict)  # by host
    local_cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    source: str | None = None

    def machine_of(self, host: str, executor_id: str = "", executor_cores: int = 1) -> Machine:
        if host in self.machines:
            return self.machines[host]
        if host.startswith("127.") or host == "localhost" or executor_id == "driver":
            return Machine(LOCAL_MACHINE, self.local_cores)
        return Machine(f"host:{host}", max(1, executor_cores))


def load_cluster(path: str | Path | None) -> MachineMap:
    if path is None:
        return MachineMap()
    where = str(path)
    doc = require_mapping(load_yaml(path), where)
    check_keys(doc, CLUSTER_KEYS, where)
    by_host: dict[str, Machine] = {}
    for i, item in enumerate(require_list(doc.get("machines") or [], f"{where}: machines")):
        w = f"{where}: machines[{i}]"
        item = require_mapping(item, w)
        check_keys(item, ("name", "cores", "hosts"), w, required=("name", "cores", "hosts"))
        hosts = tuple(get_str(h, f"{w}.hosts[{j}]") for j, h in enumerate(require_list(item["hosts"], f"{w}.hosts")))
        machine = Machine(get_str(item["name"], f"{w}.name"), get_int(item["cores"], f"{w}.cores", minimum=1), hosts)
        for h in hosts:
            if h in by_host:
                raise UserError(f"{w}.hosts: host {h!r} is already on machine {by_host[h].name!r}")
            by_host[h] = machine
    return MachineMap(by_host, source=where)


@dataclass(frozen=True)
class Workload:
    """The PySpark job's data: keys in parallelize order, seed, slices, interpreter version."""

    keys: tuple
    python_hash_seed: int = 0
    map_slices: int = 1
    python_version: str = f"{sys.version_info.major}.{sys.version_info.minor}"
    item_bytes: int | None = None
    source: str | None = None

    def reduce_items(self, num_partitions: int) -> list[int]:
        return partition_sizes(self.keys, num_partitions, self.python_hash_seed, self.python_version,
                               where=f"{self.source}: pyspark.keys")

    def map_items(self, num_slices: int) -> list[int]:
        return parallelize_slice_sizes(len(self.keys), num_slices, where=f"{self.source}: pyspark.map_slices")


def load_workload(path: str | Path | None) -> Workload | None:
    if path is None:
        return None
    where = str(path)
    doc = require_mapping(load_yaml(path), where)
    if "pyspark" not in doc:
        raise UserError(f"{where}: pyspark: missing (the calibration needs the job's keys)")
    # Only the fields read here are checked: the rest of the mapping belongs to the job format.
    ps = require_mapping(doc["pyspark"], f"{where}: pyspark")
    if "keys" not in ps:
        raise UserError(f"{where}: pyspark.keys: missing")
    keys = KeySpec.parse(ps["keys"], f"{where}: pyspark.keys").keys
    version = ps.get("python_version", Workload.python_version)
    item_bytes = ps.get("item_bytes")
    return Workload(
        keys=keys,
        python_hash_seed=get_int(ps.get("python_hash_seed", 0), f"{where}: pyspark.python_hash_seed", minimum=0),
        map_slices=get_int(ps.get("map_slices", 1), f"{where}: pyspark.map_slices", minimum=1),
        python_version=get_str(str(version), f"{where}: pyspark.python_version"),
        item_bytes=None if item_bytes is None else get_int(item_bytes, f"{where}: pyspark.item_bytes", minimum=0),
        source=where,
    )

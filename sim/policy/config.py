"""The scheduler's configuration: Spark keys plus the Spark version whose rules apply.

`SchedulerConf.from_spark_conf` reads the `spark.*` keys the scheduler cares about (keys,
defaults and parsing from `ground.sparkconf.SPARK_KEYS`) and a Spark version. The version selects behaviour that Spark
changed over time rather than exposing as a key: Spark 2.0/2.1 drop a locality level whose
wait is 0 (SPARK-18967 landed in 2.2), Spark < 3.1 resets the locality timer on every launch
(SPARK-18886 made that the internal `spark.locality.wait.legacyResetOnTaskLaunch`), 3.1+
shifts a taskset to a newly valid, more local level when an executor appears (SPARK-31837),
and 2.x offers a registering executor all its cores in an immediate full round (3.0+ waits
for `LaunchedExecutor`, SPARK-29287).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.sparkconf import SPARK_KEYS, lookup
from sparkdelay.sim.policy.locality import TaskLocality


@dataclass(frozen=True, order=True)
class SparkVersion:
    major: int
    minor: int

    _PATTERN = re.compile(r"^\s*(\d+)\.(\d+)(?:\.\d+)?(?:[-.].*)?\s*$")

    @classmethod
    def parse(cls, text, where: str = "spark_version") -> SparkVersion:
        m = cls._PATTERN.match(str(text))
        if not m:
            raise UserError(f"{where}: expected a Spark version such as 4.0, 3.5, 2.4 or 2.1, got {text!r}")
        version = cls(int(m.group(1)), int(m.group(2)))
        if not (cls(2, 0) <= version < cls(5, 0)):
            raise UserError(f"{where}: Spark {version} is not modelled (supported: 2.0 to 4.x)")
        return version

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


@dataclass(frozen=True)
class SchedulerConf:
    spark_version: SparkVersion = SparkVersion(4, 0)
    wait_process_ms: float = 3000.0
    wait_node_ms: float = 3000.0
    wait_rack_ms: float = 3000.0
    legacy_reset: bool = False
    task_cpus: int = 1
    revive_interval_ms: float = 1000.0
    reduce_locality_enabled: bool = True
    max_task_failures: int = 4
    exclude_on_failure: bool = False
    executor_cores: int = 8
    python_worker_reuse: bool = True
    properties: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def drop_zero_wait_levels(self) -> bool:
        """Spark 2.0/2.1: a level whose wait is 0 is left out of the valid levels."""
        return self.spark_version < SparkVersion(2, 2)

    @property
    def shift_on_executor_added(self) -> bool:
        """SPARK-31837 (3.1+): move to a newly valid, more local level on executor added."""
        return self.spark_version >= SparkVersion(3, 1)

    @property
    def offers_on_registration(self) -> bool:
        """2.x: RegisterExecutor gives all cores and an immediate full round."""
        return self.spark_version < SparkVersion(3, 0)

    def wait_ms(self, level) -> float:
        if level == TaskLocality.PROCESS_LOCAL:
            return self.wait_process_ms
        if level == TaskLocality.NODE_LOCAL:
            return self.wait_node_ms
        if level == TaskLocality.RACK_LOCAL:
            return self.wait_rack_ms
        return 0.0  # NO_PREF and ANY never wait

    @classmethod
    def from_spark_conf(cls, conf: Mapping[str, Any] | None = None, spark_version="4.0",
                        where: str = "config") -> SchedulerConf:
        conf = dict(conf or {})
        for key in conf:
            if not isinstance(key, str) or not key.startswith("spark."):
                raise UserError(f"{where}: {key!r} is not a Spark configuration key (they start with 'spark.')")
        version = SparkVersion.parse(spark_version, where=f"{where}: spark_version")

        def get(name: str):
            # .process/.node/.rack fall back to spark.locality.wait, as in Spark; the error
            # names the key whose value was read.
            source, value = lookup(conf, name)
            return SPARK_KEYS[name].parse(value, f"{where}: {source}")

        legacy_key = "spark.locality.wait.legacyResetOnTaskLaunch"
        legacy = get(legacy_key)
        if version < SparkVersion(3, 1):
            if legacy_key in conf and not legacy:
                raise UserError(f"{where}: {legacy_key}=false needs Spark 3.1+ "
                                f"(Spark {version} always resets the locality timer on launch)")
            legacy = True
        return cls(
            spark_version=version,
            wait_process_ms=get("spark.locality.wait.process"),
            wait_node_ms=get("spark.locality.wait.node"),
            wait_rack_ms=get("spark.locality.wait.rack"),
            legacy_reset=legacy,
            task_cpus=get("spark.task.cpus"),
            revive_interval_ms=get("spark.scheduler.revive.interval"),
            reduce_locality_enabled=get("spark.shuffle.reduceLocality.enabled"),
            max_task_failures=get("spark.task.maxFailures"),
            exclude_on_failure=get("spark.excludeOnFailure.enabled"),
            executor_cores=get("spark.executor.cores"),
            python_worker_reuse=get("spark.python.worker.reuse"),
            properties={k: str(v) for k, v in conf.items()},
        )

    @staticmethod
    def is_modelled_key(key: str) -> bool:
        """A key the scheduler reads; any other `spark.` key is kept (and echoed) but has no effect."""
        key_info = SPARK_KEYS.get(key)
        return key_info is not None and key_info.scheduler

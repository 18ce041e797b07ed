"""The scheduler's configuration: Spark keys plus the Spark version whose rules apply.

`SchedulerConf.from_spark_conf` reads the `spark.*` keys the scheduler cares about (with
Spark's defaults and parsing) and a Spark version. The version selects behaviour that Spark
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
from sparkdelay.ground.sparkconf import DEFAULTS, parse_bool, parse_duration_ms, parse_int


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


# Keys the scheduler model reads. Anything else under `spark.` is kept (and echoed in
# outputs) but has no effect; a key outside `spark.` is a typo worth stopping for.
_KNOWN_KEYS = {
    "spark.locality.wait", "spark.locality.wait.process", "spark.locality.wait.node",
    "spark.locality.wait.rack", "spark.locality.wait.legacyResetOnTaskLaunch",
    "spark.scheduler.revive.interval", "spark.shuffle.reduceLocality.enabled", "spark.task.cpus",
    "spark.task.maxFailures", "spark.excludeOnFailure.enabled", "spark.executor.cores",
    "spark.python.worker.reuse",
}


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
        from sparkdelay.sim.policy.locality import TaskLocality

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

        def get(key: str):
            return conf.get(key, DEFAULTS.get(key))

        def wait(key: str) -> float:
            # .process/.node/.rack fall back to spark.locality.wait, as in Spark.
            source = key if key in conf else "spark.locality.wait"
            return parse_duration_ms(get(source), where=f"{where}: {source}")

        legacy_given = "spark.locality.wait.legacyResetOnTaskLaunch" in conf
        legacy = parse_bool(get("spark.locality.wait.legacyResetOnTaskLaunch"),
                            f"{where}: spark.locality.wait.legacyResetOnTaskLaunch")
        if version < SparkVersion(3, 1):
            if legacy_given and not legacy:
                raise UserError(f"{where}: spark.locality.wait.legacyResetOnTaskLaunch=false needs Spark 3.1+ "
                                f"(Spark {version} always resets the locality timer on launch)")
            legacy = True
        return cls(
            spark_version=version,
            wait_process_ms=wait("spark.locality.wait.process"),
            wait_node_ms=wait("spark.locality.wait.node"),
            wait_rack_ms=wait("spark.locality.wait.rack"),
            legacy_reset=legacy,
            task_cpus=parse_int(get("spark.task.cpus"), f"{where}: spark.task.cpus", minimum=1),
            revive_interval_ms=parse_duration_ms(get("spark.scheduler.revive.interval"),
                                                 where=f"{where}: spark.scheduler.revive.interval"),
            reduce_locality_enabled=parse_bool(get("spark.shuffle.reduceLocality.enabled"),
                                               f"{where}: spark.shuffle.reduceLocality.enabled"),
            max_task_failures=parse_int(get("spark.task.maxFailures"), f"{where}: spark.task.maxFailures", minimum=1),
            exclude_on_failure=parse_bool(conf.get("spark.excludeOnFailure.enabled", "false"),
                                          f"{where}: spark.excludeOnFailure.enabled"),
            executor_cores=parse_int(get("spark.executor.cores"), f"{where}: spark.executor.cores", minimum=1),
            python_worker_reuse=parse_bool(get("spark.python.worker.reuse"), f"{where}: spark.python.worker.reuse"),
            properties={k: str(v) for k, v in conf.items()},
        )

    @staticmethod
    def is_modelled_key(key: str) -> bool:
        return key in _KNOWN_KEYS

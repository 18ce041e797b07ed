"""Validation: simulate every measured run as its own event log describes it, and compare.

For each log the configuration is read from the log itself: the executors and their hosts
and cores (`SparkListenerExecutorAdded`), the Spark version (`SparkListenerLogStart`), the
locality waits and other scheduler keys (`spark.*` properties), the map and reduce task
counts of the shuffle job, and the hash seed (`spark.executorEnv.PYTHONHASHSEED` when set).
Which hosts share a machine comes from the cluster file (default: loopback hosts share this
machine). The keys come from the workload file (default: the study's 40 shards), and are
checked against the items each reduce task really read, so a log of another job is refused
rather than silently mis-predicted. The model then runs `reps` times with different seeds;
job duration is compared as absolute percentage error (APE) of the mean prediction, and
placement as the sorted tasks-per-host vector (the most frequent simulated one must equal
the measured one), Jain's index, most tasks on one host, and tasks per locality level.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sparkdelay.ground.errors import UserError
from sparkdelay.ground.sparkconf import spark_default
from sparkdelay.sim.model.cluster import ClusterSpec, ExecutorSpec, MachineMap, MachineSpec
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.engine import simulate
from sparkdelay.sim.model.job import JobSpec, PySparkJob, PySparkWorkload
from sparkdelay.sim.model.metrics import jain_index
from sparkdelay.sim.model.study import STUDY_KEYS
from sparkdelay.sim.policy.config import SchedulerConf, SparkVersion
from sparkdelay.sim.policy.pyspark_partitioning import KeySpec

from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.eventlog.log import EventLog
from sparkdelay.eventlog.shuffle_job import measured_job

from sparkdelay.calibration.trace_fit import blas_threads


@dataclass
class Placement:
    tasks_per_host: dict[str, int]
    fairness_index: float
    max_tasks_per_host: int
    locality_counts: dict[str, int]

    @property
    def sorted_counts(self) -> list[int]:
        return sorted(self.tasks_per_host.values(), reverse=True)


@dataclass
class RunComparison:
    log: str
    app_id: str
    nodes: int
    partitions: int
    wait: str
    spark_version: str
    measured_duration_s: float
    predicted_duration_s: float
    predicted_sd_s: float
    ape: float
    measured: Placement
    predicted: Placement
    predicted_sorted_mode: list[int]
    placement_match: bool
    reps: int
    # The predictive distribution behind the summary: each sorted tasks-per-host vector the
    # simulations produced with how many of the `reps` produced it (most frequent first), and
    # the most frequent tasks-per-locality-level counts.
    predicted_vectors: list[tuple[list[int], int]] = field(default_factory=list)
    predicted_locality_mode: dict[str, int] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["measured_sorted"] = self.measured.sorted_counts
        return d


@dataclass(frozen=True)
class MeasuredRun:
    """A real run reduced to what validation needs: the cluster and job to simulate, and truth."""

    log: str
    app_id: str
    cluster: ClusterSpec
    job: JobSpec
    duration_s: float
    placement: Placement
    wait: str


def _version(text: str | None, where: str) -> str:
    if not text:
        raise UserError(f"{where}: no SparkListenerLogStart event: the Spark version is unknown")
    return str(SparkVersion.parse(text, where=f"{where}: Spark Version"))


def _machines(hosts: list[str], slots: dict[str, int], machines: MachineMap) -> tuple[MachineSpec, ...]:
    by_name: dict[str, tuple[int, list[str]]] = {}
    for h in hosts:
        m = machines.machine_of(h, "", slots[h])
        cores, members = by_name.setdefault(m.name, (m.cores, []))
        members.append(h)
    return tuple(MachineSpec(name, cores, tuple(members)) for name, (cores, members) in by_name.items())


def registered_before(executor, job) -> float:
    """Seconds between an executor's registration and the job's submission (0 if after)."""
    if executor.added_ms is None or job.submission_ms is None:
        return 0.0
    return max(0.0, (job.submission_ms - executor.added_ms) / 1000.0)


def logged_cluster(log: EventLog, machines: MachineMap, job, local_mode: bool = False) -> ClusterSpec:
    """The cluster a log ran on, as of `job`'s submission: its executors (not the driver's), their
    hosts and cores, which hosts share a machine (`machines`), the Spark version and the
    scheduler keys of its properties. With `local_mode`, a log whose only executor is the
    driver (`local[N]`) runs on it."""
    where = log.path
    executors = [e for e in log.executors if e.executor_id != "driver"]
    if not executors and local_mode:
        executors = [e for e in log.executors if e.executor_id == "driver"]
    if not executors:
        raise UserError(f"{where}: no executor was added in this log")
    version = _version(log.spark_version, where)
    config = {k: v for k, v in log.properties.items() if SchedulerConf.is_modelled_key(k)}
    config.setdefault("spark.executor.cores", str(max(e.cores for e in executors)))
    hosts = list(dict.fromkeys(e.host for e in executors))
    slots = Counter()
    for e in executors:
        slots[e.host] += e.cores
    return ClusterSpec.make(
        version, config,
        # The measured job waits until every executor has registered before it submits; how
        # long before is what their JVMs' warm-up still has to do (`executor_warmup_s`).
        [ExecutorSpec(e.executor_id, e.host, e.cores, 0.0, registered_before(e, job)) for e in executors],
        _machines(hosts, slots, machines), where=where)


def measured_run(log: EventLog, machines: MachineMap, workload: PySparkWorkload | None,
                 partitioner: str | None = None) -> MeasuredRun:
    """The run a log recorded, as the model simulates it. `partitioner` is how its partitionBy split
    the keys (its index row's, `sparkdelay run --partitioner`); None: the workload's (hash by default)."""
    where = log.path
    measured = measured_job(log)
    if measured is None:
        raise UserError(f"{where}: no successful parallelize -> partitionBy job (a job with a shuffle) in the log")
    job, result, maps = measured.job, measured.result, measured.maps
    if len(maps) != 1:
        raise UserError(f"{where}: job {job.job_id} has {len(maps)} map stages; only one shuffle is modelled "
                        f"(`sparkdelay whatif` models any job shape)")
    cluster = logged_cluster(log, machines, job)

    reduce_tasks = [t for t in log.tasks if t.stage_id == result.stage_id and t.stage_attempt == result.attempt
                    and t.succeeded]
    # Without a workload file: the study's keys with the workload defaults (seed 0, CPython 3.11).
    assumed = workload or PySparkWorkload(KeySpec.parse(STUDY_KEYS).keys)
    seed_text = log.properties.get("spark.executorEnv.PYTHONHASHSEED")
    seed = int(seed_text) if seed_text is not None and seed_text.isdigit() else assumed.python_hash_seed
    records = sum(t.shuffle_records_read for t in reduce_tasks)
    nbytes = sum(t.shuffle_read_bytes for t in reduce_tasks)
    # A workload file that does not state the item size leaves it to the log's shuffle bytes.
    item_bytes = assumed.item_bytes or int(nbytes / len(assumed.keys))
    run_workload = PySparkWorkload(assumed.keys, seed, assumed.python_version, maps[0].num_tasks,
                                   max(item_bytes, 1), blas_threads(log, workload), source=assumed.source,
                                   partitioner=partitioner or assumed.partitioner)
    pyjob = PySparkJob(run_workload, result.num_tasks)
    _check_items(where, pyjob, reduce_tasks, records, workload is not None)

    counts = {h: 0 for h in cluster.hosts}
    locality = Counter()
    for t in reduce_tasks:
        counts[t.host] = counts.get(t.host, 0) + 1
        locality[t.locality] += 1
    placement = Placement(counts, jain_index(counts.values()), max(counts.values()), dict(locality))
    wait = log.properties.get("spark.locality.wait", spark_default("spark.locality.wait"))
    return MeasuredRun(where, log.app_id or where, cluster, JobSpec(pyspark=pyjob, where=where),
                       measured.duration_ms / 1000.0, placement, wait)


def _check_items(where: str, job: PySparkJob, reduce_tasks, records: int, explicit: bool) -> None:
    """Refuse a log whose reduce tasks did not read the items the assumed keys hash to."""
    if not records:
        return  # nothing recorded to compare with
    expected = [len(m) for m in job.reduce_members]
    # PySpark batches pickled records, so records read can be fewer than items; an empty
    # partition reads nothing, which is the part that must agree.
    empty_measured = sorted(t.index for t in reduce_tasks if t.shuffle_records_read == 0)
    empty_expected = [i for i, n in enumerate(expected) if n == 0]
    if empty_measured != empty_expected:
        hint = f" (keys from {job.workload.source})" if explicit else " (pass --workload with the job's keys)"
        raise UserError(f"{where}: the keys assumed do not match the log: empty reduce partitions "
                        f"{empty_measured} measured, {empty_expected} expected{hint}")
    # Batching only merges items, so no partition reads more records than it holds items:
    # more means the workload names fewer keys than the job had.
    for t in reduce_tasks:
        if t.index < len(expected) and t.shuffle_records_read > expected[t.index]:
            hint = f" (keys from {job.workload.source})" if explicit else " (pass --workload with the job's keys)"
            raise UserError(f"{where}: the keys assumed do not match the log: reduce partition {t.index} read "
                            f"{t.shuffle_records_read} records, more than the {expected[t.index]} items its "
                            f"keys hash to{hint}")


def run_range(run: MeasuredRun) -> dict:
    """What a run's configuration spans, in the terms of a model's `calibrated_range`."""
    return {"machine_cores": sorted({m.cores for m in run.cluster.machines}),
            "threads": [run.job.pyspark.workload.threads],
            "executors": [len(run.cluster.executors)] * 2,
            "partitions": [run.job.pyspark.partitions] * 2}


def calibrated_range(runs: list[MeasuredRun]) -> dict:
    """The configurations a model was fitted on: machine sizes and task threads seen (sets), and
    the executor and partition counts (ranges). A prediction outside them is an extrapolation."""
    ranges = [run_range(r) for r in runs]
    if not ranges:
        return {}
    return {"machine_cores": sorted({c for r in ranges for c in r["machine_cores"]}),
            "threads": sorted({c for r in ranges for c in r["threads"]}),
            "executors": [min(r["executors"][0] for r in ranges), max(r["executors"][1] for r in ranges)],
            "partitions": [min(r["partitions"][0] for r in ranges), max(r["partitions"][1] for r in ranges)]}


def outside_range(run: MeasuredRun, calibrated: dict) -> list[str]:
    """How a run lies outside the model's calibrated range (empty: inside, or no range known)."""
    if not calibrated:
        return []
    mine = run_range(run)
    out = []
    for key, what in (("machine_cores", "machines of {} cores"), ("threads", "{} threads per task")):
        new = [v for v in mine[key] if v not in calibrated.get(key, mine[key])]
        out += [what.format(v) for v in new]
    for key, what in (("executors", "executors"), ("partitions", "partitions")):
        lo, hi = calibrated.get(key, mine[key])
        v = mine[key][0]
        if not lo <= v <= hi:
            out.append(f"{v} {what} (calibrated {lo}-{hi})")
    return out


def _mode(vectors: list[tuple]) -> list:
    # Most frequent; ties go to the first seen, so the result does not depend on dict order.
    counts = Counter(vectors)
    best = max(counts.values())
    return list(next(v for v in vectors if counts[v] == best))


def _by_frequency(vectors: list[tuple[int, ...]]) -> list[tuple[list[int], int]]:
    """Distinct vectors, most frequent first (ties: first seen first, as `_mode`)."""
    counts = Counter(vectors)
    first = {v: i for i, v in reversed(list(enumerate(vectors)))}
    return [(list(v), n) for v, n in sorted(counts.items(), key=lambda vn: (-vn[1], first[vn[0]]))]


def predictive_set(vectors: list[tuple[list[int], int]], mass: float = 0.9) -> list[list[int]]:
    """The fewest most-likely vectors whose simulated frequency reaches `mass` of all runs."""
    total = sum(n for _, n in vectors)
    chosen, covered = [], 0
    for v, n in vectors:
        if covered >= mass * total:
            break
        chosen.append(v)
        covered += n
    return chosen


def locality_key(counts: dict) -> tuple:
    """Tasks per locality level as a comparable value (levels with no task left out)."""
    return tuple(sorted((k, int(round(v))) for k, v in counts.items() if round(v)))


def compare(run: MeasuredRun, model: CostModel, reps: int = 20, seed: int = 0) -> RunComparison:
    durations, vectors, fairness, maxes, localities = [], [], [], [], []
    per_host = Counter()
    locality = Counter()
    for rep in range(reps):
        result = simulate(run.cluster, run.job, model, seed=seed + rep)
        m = result.metrics()
        durations.append(result.job_duration_s)
        vectors.append(tuple(sorted(m["tasks_per_host"].values(), reverse=True)))
        localities.append(locality_key(m["locality_counts"]))
        fairness.append(m["fairness_index"])
        maxes.append(m["max_tasks_per_host"])
        per_host.update(m["tasks_per_host"])
        locality.update(m["locality_counts"])
    mean = statistics.fmean(durations)
    sd = statistics.stdev(durations) if len(durations) > 1 else 0.0
    mode = _mode(vectors)
    predicted = Placement({h: per_host[h] / reps for h in run.cluster.hosts}, statistics.fmean(fairness),
                          statistics.fmean(maxes), {k: v / reps for k, v in locality.items()})
    return RunComparison(
        run.log, run.app_id, len(run.cluster.hosts), run.job.pyspark.partitions, run.wait,
        run.cluster.spark_version, run.duration_s, mean, sd, abs(mean - run.duration_s) / run.duration_s,
        run.placement, predicted, mode, mode == run.placement.sorted_counts, reps,
        _by_frequency(vectors), dict(_mode(localities)))


def error_summary(comparisons: list[RunComparison]) -> dict:
    """Median and p90 of the absolute percentage error of job duration, and the share of runs
    whose sorted tasks-per-host vector the model predicted (its most likely one)."""
    if not comparisons:
        return {"runs": 0, "median_ape": math.nan, "p90_ape": math.nan, "placement_match": math.nan}
    apes = sorted(c.ape for c in comparisons)
    return {
        "runs": len(comparisons),
        "median_ape": statistics.median(apes),
        "p90_ape": percentile(apes, 90),
        "placement_match": sum(c.placement_match for c in comparisons) / len(comparisons),
    }


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default) of already sorted values."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def load_runs(paths: list[Path], machines: MachineMap, workload: PySparkWorkload | None,
              partitioners: dict[Path, str] | None = None) -> list[MeasuredRun]:
    """The runs of `paths`; `partitioners` (resolved log -> hash | even, `recorded_partitioners`)
    says how each run's partitionBy split its keys where an index row recorded it."""
    partitioners = partitioners or {}
    return [measured_run(read_eventlog(p), machines, workload, partitioners.get(Path(p).resolve())) for p in paths]


__all__ = ["MeasuredRun", "Placement", "RunComparison", "compare", "load_runs", "measured_run", "percentile",
           "error_summary"]

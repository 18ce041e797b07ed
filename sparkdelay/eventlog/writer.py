"""Write a simulated run as a Spark event log, so Spark's own tools (and this tool) can read it.

The events and field names are Spark's (`JsonProtocol`), in the order a real application
writes them: SparkListenerLogStart, SparkListenerEnvironmentUpdate (the configuration used,
plus `spark.sparkdelay.simulated=true` and the seed), SparkListenerApplicationStart, one
SparkListenerExecutorAdded per executor (host, cores, registration time), SparkListenerJobStart,
then per stage SparkListenerStageSubmitted, every task's SparkListenerTaskStart and
SparkListenerTaskEnd in time order (Task Info: task id, index, attempt, executor, host,
locality, launch and finish time), SparkListenerStageCompleted, and SparkListenerJobEnd and
SparkListenerApplicationEnd. Of the task metrics only what the model knows is written:
"Executor Run Time" (launch to finish) and, for reduce tasks, the shuffle records and bytes
read; everything else the model does not know is 0, never invented.

Times are epoch milliseconds: the simulated t = 0 (the action) is `start_ms`, so runs written
with one `start_ms` line up; the default is a fixed instant, so the same run always writes the
same bytes. `write_eventlog` writes plain JSON lines, or zstd-compressed as Spark does
(`spark.eventLog.compression.codec=zstd`, suffix `.zstd`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import zstandard

from sparkdelay.ground.errors import UserError
from sparkdelay.sim.model.cluster import ClusterSpec
from sparkdelay.sim.model.result import SimResult

DEFAULT_START_MS = 1_767_225_600_000   # 2026-01-01T00:00:00Z
SIMULATED_KEY = "spark.sparkdelay.simulated"   # spark.*: kept by every reader, shown in the UI's Environment tab
CODECS = ("none", "zstd")


def _ms(start_ms: int, seconds: float) -> int:
    return start_ms + int(round(seconds * 1000.0))


def _stage_info(stage_id: int, name: str, num_tasks: int, parents: list[int], submitted: int | None = None,
                completed: int | None = None) -> dict:
    rdd = "ShuffledRDD" if parents else "PythonRDD"
    info = {"Stage ID": stage_id, "Stage Attempt ID": 0, "Stage Name": name, "Number of Tasks": num_tasks,
            "RDD Info": [{"RDD ID": stage_id, "Name": rdd, "Parent IDs": [], "Number of Partitions": num_tasks,
                          "Number of Cached Partitions": 0, "Memory Size": 0, "Disk Size": 0,
                          "Storage Level": {"Use Disk": False, "Use Memory": False, "Use Off Heap": False,
                                            "Deserialized": False, "Replication": 1}}],
            "Parent IDs": parents, "Details": "", "Resource Profile Id": 0, "Accumulables": []}
    if submitted is not None:
        info["Submission Time"] = submitted
    if completed is not None:
        info["Completion Time"] = completed
    return info


def events(result: SimResult, cluster: ClusterSpec, app_id: str = "sim-0000", app_name: str = "sparkdelay simulation",
           start_ms: int = DEFAULT_START_MS, properties: dict[str, str] | None = None,
           item_bytes: int = 0, stage_names: list[str] | None = None) -> Iterator[dict]:
    """The run's listener events, in order (see the module docstring). `stage_names` (one per
    stage) replace the model's, e.g. a real run's call sites for its simulated twin."""
    ms = lambda s: _ms(start_ms, s)
    if stage_names is not None and len(stage_names) != len(result.stage_names):
        raise ValueError(f"{len(stage_names)} stage names for {len(result.stage_names)} stages")
    names = list(stage_names) if stage_names is not None else result.stage_names
    props = {k: str(v) for k, v in cluster.config.items()}
    props.update({"spark.app.id": app_id, "spark.app.name": app_name, SIMULATED_KEY: "true",
                  "spark.sparkdelay.seed": str(result.seed)})
    props.update(properties or {})
    yield {"Event": "SparkListenerLogStart", "Spark Version": result.spark_version}
    yield {"Event": "SparkListenerEnvironmentUpdate", "JVM Information": {}, "Spark Properties": props,
           "Hadoop Properties": {}, "System Properties": {}, "Metrics Properties": {}, "Classpath Entries": {}}
    yield {"Event": "SparkListenerApplicationStart", "App Name": app_name, "App ID": app_id,
           "Timestamp": start_ms, "User": "sparkdelay"}
    for e in cluster.executors:
        yield {"Event": "SparkListenerExecutorAdded", "Timestamp": ms(e.registers_at), "Executor ID": e.id,
               "Executor Info": {"Host": e.host, "Total Cores": e.cores, "Log Urls": {}, "Attributes": {},
                                 "Resources": {}, "Resource Profile Id": 0}}
    n_stages = len(result.stage_names)
    counts = [0] * n_stages
    for t in result.tasks:
        counts[t.stage_id] += 1
    # A result from before the DAG form (or a chain) has no parents recorded: stage i reads i-1.
    parents = result.stage_parents or [[i - 1] if i else [] for i in range(n_stages)]
    job_of = result.stage_jobs or [0] * n_stages
    job_starts = result.job_submit_s or [0.0]
    job_ends = result.job_end_s or [result.job_duration_s]
    last_stage = {j: max(i for i in range(n_stages) if job_of[i] == j) for j in set(job_of)}
    # Every job, stage and task event in time order; at equal times a job starts before its
    # stages are submitted, a stage is submitted before its tasks start, tasks end before their
    # stage completes, and a job ends after its stages.
    timeline = []
    for j, (start, end) in enumerate(zip(job_starts, job_ends)):
        timeline.append((ms(start), -1, j, None))
        timeline.append((ms(end), 4, j, None))
    for i in range(n_stages):
        timeline.append((ms(result.stage_submit_s[i]), 0, i, None))
        timeline.append((ms(result.stage_finish_s[i]), 3, i, None))
    for t in result.tasks:
        timeline.append((ms(t.launch_time), 1, t.stage_id, t))
        timeline.append((ms(t.finish_time), 2, t.stage_id, t))
    timeline.sort(key=lambda e: (e[0], e[1], e[3].task_id if e[3] is not None else e[2]))
    for at, kind, sid, t in timeline:
        if kind == -1:
            ids = [i for i in range(n_stages) if job_of[i] == sid]
            yield {"Event": "SparkListenerJobStart", "Job ID": sid, "Submission Time": at,
                   "Stage Infos": [_stage_info(i, names[i], counts[i], parents[i]) for i in ids],
                   "Stage IDs": ids, "Properties": {}}
        elif kind == 4:
            yield {"Event": "SparkListenerJobEnd", "Job ID": sid, "Completion Time": at,
                   "Job Result": {"Result": "JobSucceeded"}}
        elif kind == 0:
            yield {"Event": "SparkListenerStageSubmitted",
                   "Stage Info": _stage_info(sid, names[sid], counts[sid], parents[sid], submitted=at),
                   "Properties": {}}
        elif kind == 3:
            yield {"Event": "SparkListenerStageCompleted",
                   "Stage Info": _stage_info(sid, names[sid], counts[sid], parents[sid],
                                             ms(result.stage_submit_s[sid]), at)}
        else:
            info = {"Task ID": t.task_id, "Index": t.index, "Attempt": t.attempt, "Partition ID": t.index,
                    "Launch Time": ms(t.launch_time), "Executor ID": t.executor_id, "Host": t.host,
                    "Locality": t.locality, "Speculative": False, "Getting Result Time": 0,
                    "Finish Time": at if kind == 2 else 0, "Failed": False, "Killed": False, "Accumulables": []}
            if kind == 1:
                yield {"Event": "SparkListenerTaskStart", "Stage ID": sid, "Stage Attempt ID": 0, "Task Info": info}
                continue
            reduce = bool(parents[sid])
            metrics = {"Executor Deserialize Time": 0, "Executor Deserialize CPU Time": 0,
                       "Executor Run Time": at - ms(t.launch_time), "Executor CPU Time": 0,
                       "Peak Execution Memory": 0, "Result Size": 0, "JVM GC Time": 0,
                       "Result Serialization Time": 0, "Memory Bytes Spilled": 0, "Disk Bytes Spilled": 0,
                       "Shuffle Read Metrics": {"Remote Blocks Fetched": 0, "Local Blocks Fetched": 0,
                                                "Fetch Wait Time": 0, "Remote Bytes Read": 0,
                                                "Local Bytes Read": t.items * item_bytes if reduce else 0,
                                                "Total Records Read": t.items if reduce else 0},
                       "Shuffle Write Metrics": {"Shuffle Bytes Written": 0, "Shuffle Write Time": 0,
                                                 "Shuffle Records Written": 0 if reduce else t.items},
                       "Input Metrics": {"Bytes Read": 0, "Records Read": 0},
                       "Output Metrics": {"Bytes Written": 0, "Records Written": 0},
                       "Updated Blocks": []}
            yield {"Event": "SparkListenerTaskEnd", "Stage ID": sid, "Stage Attempt ID": 0,
                   "Task Type": "ResultTask" if sid == last_stage[job_of[sid]] else "ShuffleMapTask",
                   "Task End Reason": {"Reason": "Success"}, "Task Info": info, "Task Executor Metrics": {},
                   "Task Metrics": metrics}
    yield {"Event": "SparkListenerApplicationEnd", "Timestamp": ms(result.job_duration_s)}


def write_eventlog(result: SimResult, cluster: ClusterSpec, folder: str | Path, app_id: str = "sim-0000",
                   codec: str = "none", **kwargs) -> Path:
    """Write the run as `<folder>/<app_id>[.zstd]`, as Spark names a finished log; return its path."""
    if codec not in CODECS:
        raise UserError(f"--event-log-codec: expected one of {', '.join(CODECS)}, got {codec!r}")
    folder = Path(folder)
    path = folder / (app_id + (".zstd" if codec == "zstd" else ""))
    text = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events(result, cluster, app_id, **kwargs))
    data = text.encode()
    if codec == "zstd":
        data = zstandard.ZstdCompressor().compress(data)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".inprogress")
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as exc:
        raise UserError(f"{exc.filename or folder}: cannot write the event log: {exc.strerror or exc}") from None
    return path

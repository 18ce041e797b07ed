"""The measured job of a run: the successful job that read a shuffle, its stages, its duration.

The study's job is `parallelize -> partitionBy -> mapPartitions -> collect`: one Spark job whose
result stage (its highest stage id: Spark creates parent stages first) has parents, i.e. reads the
shuffle its other stages, the map side, wrote. Stages are taken at their latest attempt.

Measured job duration, the one definition used by the run index (`job_duration_ms`), validation
and the held-out tests: from the job's SparkListenerJobStart "Submission Time" to its
SparkListenerJobEnd "Completion Time" (epoch ms, both stamped by the driver's DAGScheduler), for
the first job whose "Job Result" -> "Result" is "JobSucceeded" and that read a shuffle. It spans
the scheduling the model simulates (locality waits included) but not SparkContext start-up or
executor registration, and a log holding other jobs too does not stretch it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sparkdelay.ground.errors import UserError

from sparkdelay.eventlog.log import EventLog, Job, Stage, Task


@dataclass(frozen=True)
class ShuffleJob:
    job: Job
    result: Stage          # the reduce side: reads the shuffle, returns the job's results
    maps: list[Stage]      # the job's other stages, which wrote the shuffle

    @property
    def duration_ms(self) -> int:
        return self.job.completion_ms - self.job.submission_ms


def shuffle_job_stages(log: EventLog, job: Job) -> tuple[Stage, list[Stage]] | None:
    """(result stage, map stages) of a job, latest attempts, or None if it is not a shuffle job."""
    ran = [s for sid in job.stage_ids if (s := log.stage(sid)) is not None and s.submission_ms is not None]
    if not ran:
        return None
    result = max(ran, key=lambda s: s.stage_id)
    if not result.parent_ids:
        return None
    return result, [s for s in ran if s is not result]


def measured_job(log: EventLog) -> ShuffleJob | None:
    """The first successful shuffle job whose start and end are both in the log; None if none is."""
    for job in log.jobs:
        if job.result != "JobSucceeded" or job.submission_ms is None or job.completion_ms is None:
            continue
        stages = shuffle_job_stages(log, job)
        if stages is not None:
            # Its tasks ran between the two stamps, so they cannot be equal; the reader already
            # refused an end before the start. Durations divide errors: 0 would be a ZeroDivisionError.
            if job.completion_ms <= job.submission_ms:
                raise UserError(f"{log.path}: job {job.job_id}: \"Completion Time\" equals its \"Submission Time\" "
                                f"({job.submission_ms}): a shuffle job cannot take 0 ms")
            return ShuffleJob(job, *stages)
    return None


def succeeded_tasks(log: EventLog, stage: Stage) -> list[Task]:
    """The successful tasks of one stage attempt, in log order."""
    return [t for t in log.tasks if t.stage_id == stage.stage_id and t.stage_attempt == stage.attempt and t.succeeded]

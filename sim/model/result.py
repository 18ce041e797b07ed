"""What one simulated run produced: the task trace, job and stage times, and the placement
metrics of a stage (the result stage unless told otherwise, which is what the study counted)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sparkdelay.sim.model.metrics import placement_metrics
from sparkdelay.sim.model.records import TaskRecord


@dataclass
class SimResult:
    """Times are seconds since the application started (the action is called at t=0)."""

    tasks: list[TaskRecord]
    job_duration_s: float
    stage_names: list[str]
    stage_submit_s: list[float]
    stage_finish_s: list[float]
    hosts: list[str]
    seed: int
    spark_version: str
    # Per stage: its job (action) and parent stage ids; per job: action and end times.
    stage_jobs: list[int] = field(default_factory=list)
    job_submit_s: list[float] = field(default_factory=list)
    job_end_s: list[float] = field(default_factory=list)
    stage_parents: list[list[int]] = field(default_factory=list)

    @property
    def stage_durations_s(self) -> list[float]:
        return [f - s for s, f in zip(self.stage_submit_s, self.stage_finish_s)]

    @property
    def result_stage_id(self) -> int:
        return len(self.stage_names) - 1

    def stage_tasks(self, stage_id: int | None = None) -> list[TaskRecord]:
        """Tasks of one stage; None means the result (last) stage, which the study counted."""
        sid = self.result_stage_id if stage_id is None else stage_id
        return [t for t in self.tasks if t.stage_id == sid]

    def metrics(self, stage_id: int | None = None) -> dict:
        return placement_metrics(self.stage_tasks(stage_id), self.hosts)

    def summary(self) -> dict:
        """The `--json` object: durations, placement of the result stage, seed."""
        m = self.metrics()
        return {
            "job_duration_s": self.job_duration_s,
            "stage_durations_s": self.stage_durations_s,
            "stage_names": self.stage_names,
            "tasks_per_host": m["tasks_per_host"],
            "fairness_index": m["fairness_index"],
            "max_tasks_per_host": m["max_tasks_per_host"],
            "hosts_used": m["hosts_used"],
            "items_per_host": m["items_per_host"],
            "locality_counts": m["locality_counts"],
            "num_tasks": len(self.tasks),
            "seed": self.seed,
            "spark_version": self.spark_version,
        } | ({"job_durations_s": self.job_durations_s} if len(self.job_end_s) > 1 else {})

    @property
    def job_durations_s(self) -> list[float]:
        """Each job's span, from its action to its end (the first job's action is t = 0)."""
        return [e - s for s, e in zip(self.job_submit_s, self.job_end_s)]

"""Replay of scheduler scenarios (`scenario.Scenario`): Spark's test cases, step by step.

Each step drives the policy exactly as Spark's suites drive theirs: a TaskSetManager directly
(level `taskset`, where the new timer mode never resets), a TaskScheduler round (level
`scheduler`), the reduce-locality rule over map outputs (`shuffle`), or PySpark's hashing and
slicing (`pyspark`), through the policy's public hooks only. Every step yields a `StepResult`;
a step with no expectation passes when it runs. A step that cannot run (a task or taskset the
scenario never created) is a `UserError` naming the file and the step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sparkdelay.app.scenario import Scenario, Step, Where
from sparkdelay.sim.policy.executors import ExecutorRegistry
from sparkdelay.sim.policy.map_output import MapStatus, preferred_hosts_for_shuffle
from sparkdelay.sim.policy.pyspark_partitioning import parallelize_slices, partition_of, portable_hash
from sparkdelay.sim.policy.scheduler import TaskScheduler
from sparkdelay.sim.policy.taskset_manager import TaskSetManager


@dataclass(frozen=True)
class StepResult:
    number: int
    op: str
    passed: bool
    expected: Any = None
    actual: Any = None


class _Replay:
    """The policy a scenario drives, its manual clock (milliseconds), and one method per op."""

    def __init__(self, scenario: Scenario, seed: int):
        self.sc = scenario
        self.now = scenario.clock_start
        self.scheduler = TaskScheduler(scenario.config, seed=seed, racks=scenario.racks)
        self.registry: ExecutorRegistry = self.scheduler.registry
        for executor_id, host, _cores in scenario.executors:
            self.registry.add(executor_id, host)
        self.tsm: TaskSetManager | None = None   # level taskset: the one manager, no scheduler round
        if scenario.level == "taskset":
            self.tsm = TaskSetManager("ts0", 0, scenario.taskset_prefs, scenario.config, self.registry, self.now)

    def _taskset(self, args: dict, where: Where) -> TaskSetManager:
        if self.tsm is not None:
            return self.tsm
        if "taskset" not in args:
            where.fail("missing field taskset")
        tsm = self.scheduler.taskset(args["taskset"])
        if tsm is None:
            where.fail(f"unknown taskset {args['taskset']!r} (not submitted before this step)")
        return tsm

    def run(self, step: Step) -> StepResult:
        where = Where(self.sc.path, step.number, step.op)
        return getattr(self, f"_{step.op}")(step.number, step.args, where)

    @staticmethod
    def _check(number, op, expected: dict, actual: dict) -> StepResult:
        shown = {k: actual[k] for k in expected}
        return StepResult(number, op, shown == expected, expected, shown)

    def _offer(self, number, a, w):
        index, locality, reject = self.tsm.resource_offer(a["executor"], a["host"], a["max_locality"], self.now)
        actual = {"task": index, "locality": None if locality is None else str(locality), "reject": reject}
        return self._check(number, "offer", a["expect"], actual)

    def _advance(self, number, a, w):
        self.now += a["ms"]
        return StepResult(number, "advance", True)

    def _add_executor(self, number, a, w):
        if self.tsm is not None:
            self.registry.add(a["executor"], a["host"])
            self.tsm.executor_added()
        else:
            self.scheduler.add_executor(a["executor"], a["host"])
        return StepResult(number, "add_executor", True)

    def _lose_executor(self, number, a, w):
        if self.tsm is not None:
            self.registry.remove(a["executor"])
            self.tsm.executor_lost(a["executor"])
        else:
            self.scheduler.executor_lost(a["executor"], self.now)
        return StepResult(number, "lose_executor", True)

    def _task_outcome(self, number, a, w, op, succeeded: bool):
        tsm = self._taskset(a, w)
        index = a["index"]
        if index >= tsm.num_tasks:
            w.fail(f"task {index} does not exist (the taskset has {tsm.num_tasks} tasks)")
        if tsm.copies_running[index] == 0:
            # The model did not launch what the scenario expects to be running.
            return StepResult(number, op, False, f"task {index} running", "not running")
        if self.tsm is not None:
            (tsm.handle_successful_task if succeeded else tsm.handle_failed_task)(index)
        elif succeeded:
            self.scheduler.task_finished(tsm.taskset_id, index, self.now)
        else:
            self.scheduler.task_failed(tsm.taskset_id, index, self.now)
        return StepResult(number, op, True)

    def _fail_task(self, number, a, w):
        return self._task_outcome(number, a, w, "fail_task", succeeded=False)

    def _finish_task(self, number, a, w):
        return self._task_outcome(number, a, w, "finish_task", succeeded=True)

    def _set_zombie(self, number, a, w):
        self.tsm.mark_zombie()
        return StepResult(number, "set_zombie", True)

    def _exclude(self, number, a, w):
        excl = self.tsm.ensure_excludelist()
        if "index" in a:
            # Per-task exclusion: as if the task had failed there often enough.
            if "executor" in a:
                excl.exclude_executor_for_task(a["executor"], a["index"])
            if "host" in a:
                excl.exclude_node_for_task(a["host"], a["index"])
        else:
            if "executor" in a:
                excl.exclude_executor_for_taskset(a["executor"])
            if "host" in a:
                excl.exclude_node_for_taskset(a["host"])
        return StepResult(number, "exclude", True)

    def _expect_levels(self, number, a, w):
        tsm = self._taskset(a, w)
        expected, actual = {}, {}
        if "levels" in a:
            expected["levels"] = [str(lv) for lv in a["levels"]]
            actual["levels"] = [str(lv) for lv in tsm.levels]
        if "current_level" in a:
            expected["current_level"] = str(a["current_level"])
            actual["current_level"] = str(tsm.allowed_locality(self.now))
        return self._check(number, "expect_levels", expected, actual)

    def _submit(self, number, a, w):
        if self.scheduler.taskset(a["id"]) is not None:
            w.fail(f"taskset {a['id']!r} was already submitted")
        self.scheduler.submit_taskset(a["id"], a["stage"], a["prefs"], self.now,
                                      priority=a["priority"], cpus_per_task=a["cpus"])
        return StepResult(number, "submit", True)

    def _round(self, number, a, w):
        launches = self.scheduler.resource_offers(a["offers"], a["all_free"], self.now, shuffle=a["shuffle"])
        expect = a["expect"]
        expected, actual = {}, {}
        if "count" in expect:
            expected["count"], actual["count"] = expect["count"], len(launches)
        if "launched" in expect:
            want = expect["launched"]
            got_all = [{"taskset": t.taskset_id, "index": t.index, "executor": t.executor_id,
                        "locality": str(t.locality)} for t in launches]
            got = [{k: g[k] for k in item} for item, g in zip(want, got_all)] + got_all[len(want):]
            expected["launched"], actual["launched"] = want, got
        return self._check(number, "round", expected, actual)

    def _map_outputs(self, number, a, w):
        statuses = [MapStatus(e, h, tuple(s)) for e, h, s in a["statuses"]]
        prefs = preferred_hosts_for_shuffle(statuses, a["partitions"], fraction=a["fraction"],
                                            reduce_locality_enabled=self.sc.config.reduce_locality_enabled)
        if "prefs" not in a["expect"]:
            return StepResult(number, "map_outputs", True)
        expected = a["expect"]["prefs"]   # sorted: Spark's tests compare host sets
        actual = [sorted(p) for p in prefs]
        return StepResult(number, "map_outputs", expected == actual, expected, actual)

    def _portable_hash(self, number, a, w):
        value = portable_hash(a["key"], a["seed"], a["python_version"])
        if "expect" not in a:
            return StepResult(number, "portable_hash", True)
        return StepResult(number, "portable_hash", value == a["expect"], a["expect"], value)

    def _partition_of(self, number, a, w):
        value = partition_of(a["key"], a["partitions"], a["seed"], a["python_version"])
        if "expect" not in a:
            return StepResult(number, "partition_of", True)
        return StepResult(number, "partition_of", value == a["expect"], a["expect"], value)

    def _parallelize(self, number, a, w):
        glom = [list(s) for s in parallelize_slices(a["data"], a["slices"])]
        if "glom" not in a["expect"]:
            return StepResult(number, "parallelize", True)
        expected = a["expect"]["glom"]
        return StepResult(number, "parallelize", glom == expected, expected, glom)


def replay(scenario: Scenario, seed: int = 0) -> list[StepResult]:
    """Run every step; a step that cannot run (e.g. an unknown taskset) raises UserError."""
    runner = _Replay(scenario, seed)
    return [runner.run(step) for step in scenario.steps]

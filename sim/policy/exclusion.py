"""Per-taskset exclusion after task failures (Spark's TaskSetExcludelist).

Only active with `spark.excludeOnFailure.enabled`. Spark's defaults: a task that failed once on
an executor is not retried there (maxTaskAttemptsPerExecutor = 1), nor on a host where it
failed twice (maxTaskAttemptsPerNode = 2); an executor on which two different tasks of the
stage failed is excluded for the whole taskset (stage.maxFailedTasksPerExecutor = 2), and a host
with two such executors too (stage.maxFailedExecutorsPerNode = 2). Application-wide exclusion
is not modelled.
"""

from __future__ import annotations

from collections import defaultdict

MAX_TASK_ATTEMPTS_PER_EXECUTOR = 1
MAX_TASK_ATTEMPTS_PER_NODE = 2
MAX_FAILURES_PER_EXEC_STAGE = 2
MAX_FAILED_EXEC_PER_NODE_STAGE = 2


class TaskSetExcludelist:
    """Which executors and hosts a taskset's tasks may no longer run on, from its failures."""

    def __init__(self) -> None:
        # executor -> task index -> failures of that task there
        self._exec_failures: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self._node_execs_with_failures: dict[str, set[str]] = defaultdict(set)
        self._node_excluded_tasks: dict[str, set[int]] = defaultdict(set)
        self.excluded_executors: set[str] = set()
        self.excluded_nodes: set[str] = set()

    def update_for_failed_task(self, host: str, executor_id: str, index: int) -> None:
        failures = self._exec_failures[executor_id]
        failures[index] += 1
        execs_on_node = self._node_execs_with_failures[host]
        execs_on_node.add(executor_id)
        # Spark counts attempts on the node, not executors with failures.
        if sum(self._exec_failures[e].get(index, 0) for e in execs_on_node) >= MAX_TASK_ATTEMPTS_PER_NODE:
            self._node_excluded_tasks[host].add(index)
        if len(failures) >= MAX_FAILURES_PER_EXEC_STAGE and executor_id not in self.excluded_executors:
            self.excluded_executors.add(executor_id)
            if len(execs_on_node & self.excluded_executors) >= MAX_FAILED_EXEC_PER_NODE_STAGE:
                self.excluded_nodes.add(host)

    def is_task_excluded(self, index: int, executor_id: str, host: str) -> bool:
        failures = self._exec_failures.get(executor_id)
        if failures is not None and failures.get(index, 0) >= MAX_TASK_ATTEMPTS_PER_EXECUTOR:
            return True
        return index in self._node_excluded_tasks.get(host, ())

    def is_offer_excluded(self, executor_id: str, host: str) -> bool:
        return executor_id in self.excluded_executors or host in self.excluded_nodes

    # What Spark's suites mock (isExecutorExcludedForTask... returning true), set directly.
    def exclude_executor_for_task(self, executor_id: str, index: int) -> None:
        """Task `index` may not run on the executor again, as if it had failed there."""
        failures = self._exec_failures[executor_id]
        failures[index] = max(failures[index], MAX_TASK_ATTEMPTS_PER_EXECUTOR)

    def exclude_node_for_task(self, host: str, index: int) -> None:
        """Task `index` may not run on the host again."""
        self._node_excluded_tasks[host].add(index)

    def exclude_executor_for_taskset(self, executor_id: str) -> None:
        """No task of the taskset runs on the executor."""
        self.excluded_executors.add(executor_id)

    def exclude_node_for_taskset(self, host: str) -> None:
        """No task of the taskset runs on the host."""
        self.excluded_nodes.add(host)

"""The cost and contention mechanisms a calibration can switch on, one at a time.

Each term is 0 (or 1 for the parallel share) by default, and the golden traces pin that the
defaults change nothing. Here each mechanism is shown doing what its docstring says: threads
share a machine's cores per thread, a background load per executor takes cores from tasks,
oversubscription loses throughput, an executor's first Python task starts its daemon and the
tasks launched meanwhile wait for it, workers are reused oldest-first across stages and pay
the start-up once per stage function, forks cost extra, and time off the CPU does not share
the cores.
"""

from __future__ import annotations

import pytest
import simpy

from sparkdelay.ground.errors import UserError
from sparkdelay.sim.model.cluster import ClusterSpec, ExecutorSpec, MachineSpec
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.engine import simulate
from sparkdelay.sim.model.job import JobSpec, StageSpec
from sparkdelay.sim.model.machine import Machine

QUIET = dict(worker_startup_s=0.0, worker_startup_sd_s=0.0, task_overhead_s=0.0, task_overhead_sd_s=0.0,
             cpu_per_item_sd_s=0.0, submit_delay_s=0.0, stage_gap_s=0.0, collect_s=0.0)


def _finishes(cores: int, tasks: list[tuple[float, float, int, float]], **machine) -> dict[int, float]:
    """Finish time of each (start, work, threads, useful) task on one machine."""
    env = simpy.Environment()
    done: dict[int, float] = {}
    m = Machine(env, "m", cores, lambda task: done.__setitem__(task, env.now), None, **machine)

    def launch(i, start, work, threads, useful):
        yield env.timeout(start)
        if threads == 1 and useful == 1.0:
            m.start(i, work)
        else:
            m.start_threads(i, work, useful)

    for i, (start, work, threads, useful) in enumerate(tasks):
        env.process(launch(i, start, work, threads, useful))
    env.run()
    return done


def test_working_threads_share_the_cores_per_thread():
    # Alone on 2 cores, a 2-thread task whose threads both work runs twice as fast.
    assert _finishes(2, [(0, 2.0, 2, 2.0)])[0] == pytest.approx(1.0)
    # A 2-thread task next to a 1-thread one on 2 cores: 3 runnable threads, each at 2/3.
    done = _finishes(2, [(0, 1.0, 1, 1.0), (0, 10.0, 2, 2.0)])
    assert done[0] == pytest.approx(1.5)
    # Threads that do no work do not hold a core (OpenBLAS's idle threads sleep): a 2-thread task
    # doing one thread's worth is one runnable thread, and its neighbour runs at full speed.
    assert _finishes(2, [(0, 1.0, 1, 1.0), (0, 10.0, 2, 1.0)])[0] == pytest.approx(1.0)
    # Three such tasks on 2 cores share them as three single-threaded ones would.
    assert _finishes(2, [(0, 1.0, 2, 1.0)] * 3) == {i: pytest.approx(1.5) for i in range(3)}


def test_one_thread_per_task_is_classic_processor_sharing():
    done = _finishes(1, [(0, 1.0, 1, 1.0), (0, 1.0, 1, 1.0)])
    assert done == {0: pytest.approx(2.0), 1: pytest.approx(2.0)}


def test_oversubscription_penalty_loses_throughput():
    # 4 threads on 2 cores with penalty 1: each runs at 2 / (4 * (1 + 1 * 2 / 2)) = 0.25.
    done = _finishes(2, [(0, 1.0, 1, 1.0)] * 4, oversubscription_penalty=1.0)
    assert all(t == pytest.approx(4.0) for t in done.values())
    # Not oversubscribed: no penalty.
    assert _finishes(2, [(0, 1.0, 1, 1.0)] * 2, oversubscription_penalty=1.0)[0] == pytest.approx(1.0)


def _cluster(executors: int = 1, cores: int = 2, slots: int = 2) -> ClusterSpec:
    hosts = [f"127.0.0.{i + 2}" for i in range(executors)]
    return ClusterSpec.make("4.0", {"spark.locality.wait": "0s", "spark.executor.cores": str(slots)},
                            [ExecutorSpec(str(i), h, slots, 0.0) for i, h in enumerate(hosts)],
                            [MachineSpec("box", cores, tuple(hosts))])


def _job(*stages: tuple[int, float], threads: int = 1) -> JobSpec:
    return JobSpec(stages=tuple(StageSpec(f"s{i}", ((),) * n, (cpu,) * n, 0.0, True, threads)
                                for i, (n, cpu) in enumerate(stages)))


def _by_stage(result, stage: int) -> list:
    return sorted((t for t in result.tasks if t.stage_id == stage), key=lambda t: t.index)


def test_an_executor_starts_its_python_daemon_before_its_first_tasks_run():
    model = CostModel(**QUIET, executor_start_s=0.5)
    result = simulate(_cluster(), _job((2, 1.0)), model)
    tasks = _by_stage(result, 0)
    # Both tasks are launched at once, wait for the daemon (0.5 s alone on the box), then share 2 cores.
    assert [t.launch_time for t in tasks] == [0.0, 0.0]
    assert [t.finish_time for t in tasks] == [pytest.approx(1.5), pytest.approx(1.5)]
    # Without the term the same tasks end at 1.0: the default changes nothing.
    plain = simulate(_cluster(), _job((2, 1.0)), CostModel(**QUIET))
    assert [t.finish_time for t in _by_stage(plain, 0)] == [pytest.approx(1.0)] * 2


def test_an_executor_jvms_first_task_work_is_paid_once_per_executor_and_its_tasks_wait():
    # A JVM stage (python False): the first task's class loading (0.5 s alone on the box) holds
    # every task launched meanwhile; then the two tasks share the 2 cores.
    jvm = JobSpec(stages=(StageSpec("s0", ((),) * 2, (1.0,) * 2, 0.0, False, 1),
                          StageSpec("s1", ((),) * 2, (1.0,) * 2, 0.0, False, 1)))
    result = simulate(_cluster(), jvm, CostModel(**QUIET, executor_first_task_s=0.5))
    assert [t.finish_time for t in _by_stage(result, 0)] == [pytest.approx(1.5)] * 2
    # Once per executor: the next stage's tasks do not pay it again.
    assert [t.finish_time - t.launch_time for t in _by_stage(result, 1)] == [pytest.approx(1.0)] * 2
    # Two executors on the box pay it twice, side by side (each at one core): 0.5 s, then the work.
    two = simulate(_cluster(executors=2, slots=1), jvm, CostModel(**QUIET, executor_first_task_s=0.5))
    assert [t.finish_time for t in _by_stage(two, 0)] == [pytest.approx(1.5)] * 2
    # One executor, 1 core: its 1 s of first-task work, then two 1 s tasks sharing the core.
    one_core = simulate(_cluster(cores=1), jvm, CostModel(**QUIET, executor_first_task_s=1.0))
    assert [t.finish_time for t in _by_stage(one_core, 0)] == [pytest.approx(3.0)] * 2


def test_the_jvm_gate_comes_before_the_python_daemon_and_both_hold_python_tasks():
    model = CostModel(**QUIET, executor_first_task_s=0.5, executor_start_s=0.25)
    result = simulate(_cluster(), _job((2, 1.0)), model)
    # 0.5 s of JVM work, 0.25 s of daemon start (each alone on the box), then 1 s of work on 2 cores.
    assert [t.finish_time for t in _by_stage(result, 0)] == [pytest.approx(1.75)] * 2


def test_workers_are_reused_oldest_first_across_stages_and_pay_the_start_up_per_function():
    model = CostModel(**QUIET | {"worker_startup_s": 1.0}, worker_fork_s=0.25)
    # One slot: every task of both stages runs on one worker, forked once.
    result = simulate(_cluster(slots=1), _job((2, 1.0), (2, 1.0)), model)
    cpu = [t.cpu_s for t in sorted(result.tasks, key=lambda t: t.task_id)]
    # stage 0: fork + start-up, then warm; stage 1: the same worker pays its start-up once more.
    assert cpu == [pytest.approx(2.25), pytest.approx(1.0), pytest.approx(2.0), pytest.approx(1.0)]


def test_time_off_the_cpu_does_not_share_the_cores():
    model = CostModel(**QUIET, wait_per_task_s=2.0)
    result = simulate(_cluster(cores=1, slots=2), _job((2, 1.0)), model)
    # Two tasks share one core for their CPU work (2 s), then wait 2 s each, side by side.
    assert [t.finish_time for t in _by_stage(result, 0)] == [pytest.approx(4.0)] * 2


def test_background_load_per_executor_takes_cores_from_tasks():
    model = CostModel(**QUIET, executor_background_cores=0.5)
    # Two executors on a 2-core box leave 1 core to the tasks: two 1 s tasks take 2 s.
    result = simulate(_cluster(executors=2, cores=2, slots=1), _job((2, 1.0)), model)
    assert [t.finish_time for t in _by_stage(result, 0)] == [pytest.approx(2.0)] * 2


def test_a_just_registered_executor_warms_up_beside_its_tasks():
    model = CostModel(**QUIET, executor_warmup_s=0.5)
    # Two executors on a 1-core box, each with 0.5 s of JVM warm-up from registration and one
    # 1 s task: four threads share the core until the warm-ups end (at 2 s, each having had 0.5),
    # then the tasks have the core to themselves for their last 0.5 s each: done at 3 s.
    cluster = _cluster(executors=2, cores=1, slots=1)
    result = simulate(cluster, _job((2, 1.0)), model)
    assert [t.finish_time for t in _by_stage(result, 0)] == [pytest.approx(3.0)] * 2
    # An executor that registered long enough before the action has it behind it.
    warm = ClusterSpec(cluster.spark_version, cluster.config, cluster.machines,
                       tuple(ExecutorSpec(e.id, e.host, e.cores, 0.0, registered_before_s=0.5)
                             for e in cluster.executors))
    assert [t.finish_time for t in _by_stage(simulate(warm, _job((2, 1.0)), model), 0)] == [pytest.approx(2.0)] * 2


def test_threads_per_task_come_from_the_job():
    model = CostModel(**QUIET, thread_parallel_fraction=1.0)
    result = simulate(_cluster(cores=2, slots=1), _job((1, 2.0), threads=2), model)
    assert _by_stage(result, 0)[0].finish_time == pytest.approx(1.0)
    half = simulate(_cluster(cores=2, slots=1), _job((1, 2.0), threads=2), CostModel(**QUIET, thread_parallel_fraction=0.5))
    assert _by_stage(half, 0)[0].finish_time == pytest.approx(2.0 / 1.5)


def test_threads_are_read_and_bounded_in_job_files():
    job = JobSpec.from_dict({"pyspark": {"keys": {"format": "k{}", "count": 4}, "partitions": 2, "threads": 2}})
    assert job.pyspark.workload.threads == 2
    with pytest.raises(UserError, match=r"job: pyspark.threads: at most 1024 threads per task"):
        JobSpec.from_dict({"pyspark": {"keys": {"format": "k{}", "count": 4}, "threads": 4096}})
    with pytest.raises(UserError, match=r"thread_parallel_fraction: a share, at most 1"):
        CostModel(thread_parallel_fraction=1.5)

"""Invariants of the scheduling policy, checked after every step of random programs.

A program is a random sequence of taskset submissions, full and partial offer rounds, clock
advances, task completions and failures, executors appearing and being lost. A tiny backend
in the test keeps free cores the way Spark's CoarseGrainedSchedulerBackend does. After every
step: no task index has two running copies; no offer is given more CPUs than it had free; a
task launched less locally than the level its taskset was reset to is launched only after the
waits of the levels in between have elapsed (or those levels ran out of tasks); with all
waits 0 a full round leaves no free core idle while a task is pending; and the same seed gives
the same decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparkdelay.sim.policy.config import SchedulerConf
from sparkdelay.sim.policy.locality import TaskLocality, parse_task_location
from sparkdelay.sim.policy.scheduler import TaskScheduler, WorkerOffer

HOSTS = ["h0", "h1", "h2", "h3"]
EXECUTORS = {f"e{i}": HOSTS[i % len(HOSTS)] for i in range(6)}  # e4 shares h0, e5 shares h1

location = st.one_of(
    st.sampled_from(HOSTS),
    st.sampled_from([f"executor_{h}_{e}" for e, h in EXECUTORS.items()]),
)
prefs_strategy = st.lists(st.lists(location, max_size=2), min_size=1, max_size=12)

step = st.one_of(
    st.tuples(st.just("submit"), prefs_strategy, st.integers(0, 2)),
    st.tuples(st.just("full"), st.none(), st.none()),
    st.tuples(st.just("partial"), st.sampled_from(sorted(EXECUTORS)), st.none()),
    st.tuples(st.just("advance"), st.sampled_from([0, 500, 1000, 1500, 3000, 4000]), st.none()),
    st.tuples(st.just("finish"), st.integers(0, 10_000), st.none()),
    st.tuples(st.just("fail"), st.integers(0, 10_000), st.none()),
    st.tuples(st.just("add"), st.sampled_from(sorted(EXECUTORS)), st.none()),
    st.tuples(st.just("lose"), st.sampled_from(sorted(EXECUTORS)), st.none()),
)


@dataclass
class Backend:
    """Free cores per live executor, as CoarseGrainedSchedulerBackend keeps them."""

    cores: int
    free: dict[str, int] = field(default_factory=dict)
    running: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)  # (ts, index) -> (exec, cpus)


def run_program(program, conf: SchedulerConf, seed: int, check_timer: bool):
    sched = TaskScheduler(conf, seed=seed)
    backend = Backend(cores=3)
    for e in ("e0", "e1"):
        backend.free[e] = backend.cores
    now = 0.0
    decisions = []
    n_tasksets = 0
    baseline: dict[str, tuple[float, TaskLocality]] = {}  # taskset -> (last reset, level at reset)
    disturbed: set[str] = set()  # tasksets whose pending set grew (failures/loss): timer check off

    def offers_of(executors):
        return [WorkerOffer(e, EXECUTORS[e], backend.free[e]) for e in executors]

    def do_round(offers, all_free):
        for tsm in sched.tasksets():
            baseline.setdefault(tsm.taskset_id, (tsm.last_reset_ms, tsm.levels[tsm.current_index]))
        launches = sched.resource_offers(offers, all_free, now)
        offered = {o.executor_id: o.cores for o in offers}
        used: dict[str, int] = {}
        for launch in launches:
            key = (launch.taskset_id, launch.index)
            # No task index has two running copies.
            assert key not in backend.running, f"{key} launched twice"
            used[launch.executor_id] = used.get(launch.executor_id, 0) + launch.cpus
            backend.running[key] = (launch.executor_id, launch.cpus)
            backend.free[launch.executor_id] -= launch.cpus
            tsm = sched.taskset(launch.taskset_id)
            if check_timer and launch.taskset_id not in disturbed:
                check_wait_elapsed(tsm, launch, now, baseline)
            if conf.legacy_reset and launch.max_locality != TaskLocality.NO_PREF:
                baseline[launch.taskset_id] = (now, launch.locality)
            decisions.append((now, launch.taskset_id, launch.index, launch.executor_id, str(launch.locality)))
        # Cores handed out never exceed the free cores offered.
        for executor_id, cpus in used.items():
            assert cpus <= offered[executor_id], (executor_id, cpus, offered[executor_id])
        # In the 3.1+ mode the round itself may have reset the timer.
        for tsm in sched.tasksets():
            if tsm.last_reset_ms == now:
                baseline[tsm.taskset_id] = (now, tsm.levels[tsm.current_index])
        if all_free and conf.wait_process_ms == conf.wait_node_ms == conf.wait_rack_ms == 0:
            check_no_idle_core(sched, offers, used)
        return launches

    for op, arg, extra in program:
        if op == "submit":
            prefs = [[parse_task_location(p) for p in task] for task in arg]
            ts_id = f"ts{n_tasksets}"
            n_tasksets += 1
            sched.submit_taskset(ts_id, stage_id=n_tasksets, prefs=prefs, now_ms=now, priority=extra)
            do_round(offers_of(sorted(backend.free)), True)
        elif op == "full":
            do_round(offers_of(sorted(backend.free)), True)
        elif op == "partial" and arg in backend.free:
            do_round(offers_of([arg]), False)
        elif op == "advance":
            now += arg
        elif op in ("finish", "fail") and backend.running:
            key = sorted(backend.running)[arg % len(backend.running)]
            executor_id, cpus = backend.running.pop(key)
            backend.free[executor_id] += cpus
            if op == "finish":
                sched.task_finished(key[0], key[1], now)
                do_round(offers_of([executor_id]), False)
            else:
                sched.task_failed(key[0], key[1], now)
                disturbed.add(key[0])
                do_round(offers_of(sorted(backend.free)), True)
        elif op == "add" and arg not in backend.free:
            backend.free[arg] = backend.cores
            do_round(offers_of([arg]), False)
        elif op == "lose" and arg in backend.free and len(backend.free) > 1:
            del backend.free[arg]
            for key in [k for k, (e, _) in backend.running.items() if e == arg]:
                del backend.running[key]
                disturbed.add(key[0])
            sched.executor_lost(arg, now)
            do_round(offers_of(sorted(backend.free)), True)
    return decisions


def pending_levels(tsm, also: int) -> set[TaskLocality]:
    """Levels at which the taskset still has a task to run (counting task `also`, launched just
    now), from the tasks' own preferences rather than the manager's stacks."""
    levels = set()
    for index, prefs in enumerate(tsm.prefs):
        if index != also and (tsm.successful[index] or tsm.copies_running[index]):
            continue
        for loc in prefs:
            levels.add(TaskLocality.NODE_LOCAL)
            if loc.kind == "executor":
                levels.add(TaskLocality.PROCESS_LOCAL)
    return levels


def check_wait_elapsed(tsm, launch, now, baseline) -> None:
    """Less local than the level at the last reset => the waits in between have elapsed."""
    if launch.max_locality == TaskLocality.NO_PREF:
        return  # the NO_PREF pass does not consult the timer (SPEC §b.5)
    if launch.locality == TaskLocality.PROCESS_LOCAL:
        return
    reset_at, reset_level = baseline[tsm.taskset_id]
    still_pending = pending_levels(tsm, also=launch.index)
    owed = sum(tsm.conf.wait_ms(level) for level in tsm.levels
               if reset_level <= level < launch.locality and level in still_pending)
    assert now - reset_at >= owed, (
        f"{tsm.taskset_id} task {launch.index} launched {launch.locality} at {now} ms, "
        f"reset to {reset_level} at {reset_at} ms, owes {owed} ms of waits")


def check_no_idle_core(sched, offers, used) -> None:
    free_left = [o for o in offers if o.cores - used.get(o.executor_id, 0) >= 1]
    pending = [(t.taskset_id, i) for t in sched.tasksets() if not t.is_zombie
               for i in range(t.num_tasks) if not t.successful[i] and not t.copies_running[i]]
    assert not (free_left and pending), f"idle cores {free_left} while {pending[:5]} pend"


CONFS = {
    "4.0": SchedulerConf.from_spark_conf({}, "4.0"),
    "4.0-legacy": SchedulerConf.from_spark_conf({"spark.locality.wait.legacyResetOnTaskLaunch": "true"}, "4.0"),
    "2.4": SchedulerConf.from_spark_conf({}, "2.4"),
    "4.0-wait0": SchedulerConf.from_spark_conf({"spark.locality.wait": "0s"}, "4.0"),
    "2.1-wait0": SchedulerConf.from_spark_conf({"spark.locality.wait": "0s"}, "2.1"),
}
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(program=st.lists(step, max_size=40), seed=st.integers(0, 2**16), mode=st.sampled_from(sorted(CONFS)))
def test_invariants_hold_after_every_step(program, seed, mode):
    run_program(program, CONFS[mode], seed, check_timer=True)


@FAST
@given(program=st.lists(step, max_size=30), seed=st.integers(0, 2**16), mode=st.sampled_from(sorted(CONFS)))
def test_same_seed_same_decisions(program, seed, mode):
    first = run_program(program, CONFS[mode], seed, check_timer=False)
    assert run_program(program, CONFS[mode], seed, check_timer=False) == first


def test_timer_check_catches_a_scheduler_that_ignores_waits():
    """The wait invariant is not vacuous: a policy with its waits zeroed violates it."""
    conf = CONFS["4.0"]
    sched = TaskScheduler(conf, seed=0)
    sched.resource_offers([WorkerOffer("e0", "h0", 1), WorkerOffer("e1", "h1", 1)], True, 0)
    tsm = sched.submit_taskset("ts", 1, [[parse_task_location("h0")], [parse_task_location("h0")]], 0)
    tsm.waits = [0.0] * len(tsm.levels)  # sabotage
    launches = sched.resource_offers([WorkerOffer("e0", "h0", 1), WorkerOffer("e1", "h1", 1)], True, 0)
    bad = [l for l in launches if l.locality == TaskLocality.ANY]
    assert bad
    try:
        check_wait_elapsed(tsm, bad[0], 0.0, {"ts": (0.0, TaskLocality.NODE_LOCAL)})
    except AssertionError:
        return
    raise AssertionError("the invariant did not notice a launch before the wait")

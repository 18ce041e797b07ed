"""The trace fit recovers the terms that made a run, from the run's event log alone.

Runs are simulated with known cost terms on a 2-core box shared by the executors, written as
Spark event logs (`eventlog.writer`), read back with the tool's reader and fitted
(`calibration.trace_fit`). The replay serves every task exactly as the simulator's machine did,
so the terms come back: this is what makes a calibrated model transfer to configurations it was
not fitted on (the mechanism, not a curve through the runs). Also: worker reuse is replayed
oldest-first, the writer's logs read back into the same tasks, and cross-validation keeps a term
the runs need and drops one they do not.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from sparkdelay.app.presets import local_cluster, study_job
from sparkdelay.calibration.trace_fit import TERMS, calibrate_traces, fit_terms, select_terms, trace_run
from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.eventlog.writer import write_eventlog
from sparkdelay.sim.model.cluster import MachineMap, MachineSpec
from sparkdelay.sim.model.costs import CostModel
from sparkdelay.sim.model.engine import simulate

TRUTH = dict(worker_startup_s=1.5, task_overhead_s=0.3, cpu_per_item_s=0.4, map_task_overhead_s=0.6,
             map_cpu_per_item_s=0.0, executor_start_s=1.0, worker_fork_s=0.2, wait_per_item_s=0.1)
NOISELESS = dict(worker_startup_sd_s=0.0, task_overhead_sd_s=0.0, cpu_per_item_sd_s=0.0,
                 submit_delay_s=0.05, stage_gap_s=0.05, collect_s=0.01)


def _runs(tmp_path, model: CostModel, configs=((1, 4), (1, 20), (2, 9), (2, 20), (3, 40)), threads: int = 1):
    runs = []
    for n, p in configs:
        cluster = local_cluster(nodes=n, wait="0s", cores=2)
        job = study_job(partitions=p)
        if threads > 1:
            job = replace(job, pyspark=replace(job.pyspark, workload=replace(job.pyspark.workload, threads=threads)))
        result = simulate(cluster, job, model, seed=n * 100 + p)
        path = write_eventlog(result, cluster, tmp_path, app_id=f"sim-n{n}-p{p}", item_bytes=1000)
        hosts = tuple(e.host for e in cluster.executors)
        machines = MachineMap({h: MachineSpec("box", 2, hosts) for h in hosts})
        runs.append(trace_run(read_eventlog(path), machines, job.pyspark.workload))
    return runs


def test_the_log_reads_back_into_the_simulated_tasks(tmp_path):
    cluster = local_cluster(nodes=2, wait="3s", cores=2)
    result = simulate(cluster, study_job(partitions=9), CostModel(), seed=1)
    log = read_eventlog(write_eventlog(result, cluster, tmp_path, codec="zstd"))
    assert log.properties["spark.sparkdelay.simulated"] == "true"
    got = sorted((t.stage_id, t.index, t.executor_id, t.host, t.locality, t.launch_ms, t.finish_ms) for t in log.tasks)
    start = 1_767_225_600_000
    want = sorted((t.stage_id, t.index, t.executor_id, t.host, t.locality, start + round(t.launch_time * 1000),
                   start + round(t.finish_time * 1000)) for t in result.tasks)
    assert got == want
    assert [e.host for e in log.executors] == [e.host for e in cluster.executors]


def test_the_fit_recovers_the_terms_that_made_the_runs(tmp_path):
    model = CostModel(**TRUTH, **NOISELESS)
    runs = _runs(tmp_path, model)
    fit = fit_terms(runs, tuple(TRUTH))
    for term, value in TRUTH.items():
        if not term.startswith("map_"):
            assert fit.params[term] == pytest.approx(value, abs=0.01 + 0.02 * value), term
    # Every run has one map task of all 40 items: only the map task's total is identifiable.
    p = fit.params
    assert p["map_task_overhead_s"] + 40 * p["map_cpu_per_item_s"] == pytest.approx(0.6, abs=0.02)
    assert fit.span_error < 0.005


def test_the_fit_recovers_the_executors_warm_up(tmp_path):
    truth = TRUTH | {"executor_warmup_s": 2.0}
    runs = _runs(tmp_path, CostModel(**truth, **NOISELESS))
    fit = fit_terms(runs, tuple(truth))
    assert fit.params["executor_warmup_s"] == pytest.approx(2.0, rel=0.05)
    assert fit.span_error < 0.01


def test_the_fit_recovers_the_executors_jit_burst(tmp_path):
    """A JVM that starts running tasks burns CPU beside them; the more executors take tasks, the
    more of it a job pays (the N = 1-3 runs here activate 1-3 executors)."""
    truth = TRUTH | {"executor_jit_s": 1.2}
    runs = _runs(tmp_path, CostModel(**truth, **NOISELESS))
    fit = fit_terms(runs, tuple(truth))
    assert fit.params["executor_jit_s"] == pytest.approx(1.2, rel=0.05)
    assert fit.span_error < 0.01


def test_the_fit_recovers_how_much_of_a_tasks_threads_work(tmp_path):
    """Tasks of 2 BLAS threads, one and a half threads' worth of them working: the replay counts a
    task's working threads on the cores as the simulator does, so the fraction comes back, and
    threads that do no work (the fraction's off value, 0) take no core share."""
    truth = TRUTH | {"thread_parallel_fraction": 0.5}
    runs = _runs(tmp_path, CostModel(**truth, **NOISELESS), threads=2)
    assert {t.threads for r in runs for t in r.tasks if t.kind == "reduce"} == {2}
    fit = fit_terms(runs, tuple(truth))
    assert fit.params["thread_parallel_fraction"] == pytest.approx(0.5, abs=0.03)
    assert fit.span_error < 0.01
    assert fit_terms(runs, tuple(TRUTH)).params["thread_parallel_fraction"] == 0.0


def test_noise_spreads_are_demand_spreads_not_finish_errors(tmp_path):
    # 40 reduce tasks share 2 cores k-fold: a finish error is about k times the task's demand
    # error, so spreads taken from finish errors would come out several times too wide.
    sd = dict(worker_startup_sd_s=0.0, task_overhead_sd_s=0.1, cpu_per_item_sd_s=0.0)
    model = CostModel(**TRUTH, **(NOISELESS | sd))
    runs = _runs(tmp_path, model, configs=((2, 40), (3, 40), (1, 40), (2, 30)))
    cal = calibrate_traces(runs, {}, terms=tuple(TRUTH), platform={})   # simulated without a JIT burst
    spread = cal.model.task_overhead_sd_s + cal.model.worker_startup_sd_s
    assert 0.05 < spread < 0.2


def test_worker_reuse_is_replayed_oldest_first(tmp_path):
    run = _runs(tmp_path, CostModel(**TRUTH, **NOISELESS), configs=((1, 4),))[0]
    reduce = [t for t in run.tasks if t.kind == "reduce"]
    # One executor: the map task forked the first worker; the first reduce task reuses it (no
    # fork, but the reduce function's start-up); the other three fork their own.
    assert [t for t in run.tasks if t.kind == "map"][0].forked
    assert sum(not t.forked for t in reduce) == 1
    assert all(t.imports for t in reduce)


def test_cross_validation_keeps_what_the_runs_need(tmp_path):
    model = CostModel(**(TRUTH | {"executor_start_s": 0.0, "worker_fork_s": 0.0}), **NOISELESS)
    runs = _runs(tmp_path, model)
    kept, choices = select_terms(runs, candidates=("wait_per_item_s", "executor_background_cores"))
    assert "wait_per_item_s" in kept
    assert "executor_background_cores" not in kept
    assert {c.term for c in choices} == {"wait_per_item_s", "executor_background_cores"}
    assert set(kept) <= set(TERMS)


def test_validate_flags_runs_outside_the_calibrated_range(tmp_path):
    from sparkdelay.calibration.validate import calibrated_range, measured_run, outside_range

    def measured(n, p, cores):
        cluster = local_cluster(nodes=n, wait="0s", cores=cores)
        job = study_job(partitions=p)
        result = simulate(cluster, job, CostModel(), seed=0)
        log = read_eventlog(write_eventlog(result, cluster, tmp_path, app_id=f"r-{n}-{p}-{cores}"))
        hosts = tuple(e.host for e in cluster.executors)
        return measured_run(log, MachineMap({h: MachineSpec("box", cores, hosts) for h in hosts}),
                            job.pyspark.workload)

    fitted_on = [measured(1, 4, 2), measured(2, 20, 2)]
    rng = calibrated_range(fitted_on)
    assert rng == {"machine_cores": [2], "threads": [1], "executors": [1, 2], "partitions": [4, 20]}
    assert outside_range(measured(2, 9, 2), rng) == []
    assert outside_range(measured(3, 40, 4), rng) == ["machines of 4 cores", "3 executors (calibrated 1-2)",
                                                      "40 partitions (calibrated 4-20)"]
    assert outside_range(measured(3, 40, 4), {}) == []

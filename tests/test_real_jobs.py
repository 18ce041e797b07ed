"""The real jobs of `sparkdelay run --job NAME` (`real.workloads`), without Spark.

What each job's tasks do runs on the cluster (tests/test_real_cluster.py); here: the job table,
the worker environment each job asks Spark for, the per-item work of the jobs that need no
data, the LeNet network, and that naming jobs did not change the ids of runs recorded before.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pytest

from sparkdelay.eventlog.run_index import read_index
from sparkdelay.ground.errors import UserError
from sparkdelay.real import lenet, mnist
from sparkdelay.real.job import spark_conf
from sparkdelay.real.plan import JobShape
from sparkdelay.real.workloads import DEFAULT_JOB, JOBS, _pyloop, job_named, small_items
from sparkdelay.app.bundled import SHARED_RUNS, bundled


def _args(job: str) -> argparse.Namespace:
    return argparse.Namespace(master="spark://127.0.0.1:7077", app_name="t", cores=8, executor_memory="1g",
                              nodes=2, register_wait="120s", partitions=4, wait="3s", eventlog_dir="/tmp/x",
                              eventlog_codec="none", job=job)


def test_unknown_job_is_a_one_line_error():
    with pytest.raises(UserError, match=r"--job: unknown job 'mpl' \(known: mlp, mlp-blas, lenet, sleep, pyloop, wordcount, sqlagg\)"):
        job_named("mpl")


def test_each_job_asks_for_its_worker_environment():
    one_thread = spark_conf(_args("mlp"))
    assert one_thread["spark.executorEnv.OPENBLAS_NUM_THREADS"] == "1"
    assert one_thread["spark.executorEnv.OMP_NUM_THREADS"] == "1"
    default_threads = spark_conf(_args("mlp-blas"))
    assert not any(k.startswith("spark.executorEnv.") and "THREADS" in k for k in default_threads)


def test_runs_recorded_before_jobs_had_names_keep_their_ids():
    """The bundled sweep was recorded with the default job: its config id is still JobShape()'s."""
    rows = read_index(bundled(SHARED_RUNS) / "index.jsonl").rows
    assert {r.fields["config_id"] for r in rows} == {JobShape(job=DEFAULT_JOB).digest()}
    assert JobShape(job="sleep").digest() != JobShape().digest()


def test_jobs_without_data_carry_small_payloads():
    assert small_items(["a", "b"]) == [("a", 0), ("b", 1)]
    assert not JOBS["sleep"].uses_mnist and not JOBS["pyloop"].uses_mnist


def test_pyloop_work_grows_with_its_units():
    t0 = time.process_time(); _pyloop(1); one = time.process_time() - t0
    t0 = time.process_time(); _pyloop(4); four = time.process_time() - t0
    assert four > 2.5 * one


def test_lenet_trains_deterministically_and_classifies(tmp_path):
    data = mnist.load()
    x, y = data.x_train[:2000], data.y_train[:2000]
    w1, path, trained = lenet.load_or_train(x, y, tmp_path)
    w2, path2, trained2 = lenet.load_or_train(x, y, tmp_path)
    assert trained and not trained2 and path == path2
    assert all(np.array_equal(w1[k], w2[k]) for k in w1)
    fresh = lenet.train(x, y)
    assert all(np.array_equal(w1[k], fresh[k]) for k in w1)     # same data + seed, same weights
    net = lenet.build(w1)
    accuracy = float((lenet.predict(net, data.x_test[:200]) == data.y_test[:200]).mean())
    assert accuracy > 0.8

"""The multi-stage real jobs `wordcount` and `sqlagg` (`real.dag_jobs`).

Without Spark: their data is seeded and skewed, the plain-Python answer the driver checks Spark's
against is right and the check notices a wrong answer, the SQL settings that keep P visible,
which driver runs them, and that the options of the study's shape are refused for them. With a
real 2-worker cluster (`spark` mark): one small run of each job through `sparkdelay run`, its
index row, and its event log's jobs, stages, shuffles, task counts and locality levels; and
that `calibrate` refuses such a log with one line instead of fitting it.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from sparkdelay.app.cli import main as cli_main
from sparkdelay.eventlog import run_index as index
from sparkdelay.eventlog.codecs import decompress_bytes
from sparkdelay.ground.errors import UserError
from sparkdelay.real import dag_jobs as dag
from sparkdelay.real.plan import JobShape, RunPoint
from sparkdelay.real.runner import driver_command
from sparkdelay.real.workloads import JOBS, partition_function

SPARK_LOCALITY = {"PROCESS_LOCAL", "NODE_LOCAL", "NO_PREF", "RACK_LOCAL", "ANY"}


# ---------------------------------------------------------------------------------------------
# Data and answers, no Spark


def test_the_corpus_is_seeded_and_its_words_are_skewed():
    p = dag.WordcountParams()
    lines = dag.corpus(p)
    assert lines == dag.corpus(p)                                     # same seed, same text
    assert dag.corpus(dag.WordcountParams(seed=13)) != lines
    assert len(lines) == p.lines and all(len(line.split()) == p.words_per_line for line in lines)
    counts = Counter(w for line in lines for w in line.split())
    top, median = counts.most_common(1)[0][1], sorted(counts.values())[len(counts) // 2]
    assert top > 100 * median                                        # Zipf-like: one key dominates
    assert set(counts) <= {w for w, _ in dag.lexicon(p)}             # every word joins


def test_the_wordcount_answer_accounts_for_every_word():
    p = dag.WordcountParams(lines=200)
    answer = dag.wordcount_expected(p)
    words = [w for line in dag.corpus(p) for w in line.split()]
    assert sum(row[2] for row in answer) == len(words) == 200 * p.words_per_line    # occurrences
    assert sum(row[1] for row in answer) == len(set(words))                        # distinct words
    assert [row[0] for row in answer] == sorted({len(w) for w in words})           # one group per length
    assert max(row[3] for row in answer) == Counter(words).most_common(1)[0][1]


def test_the_sqlagg_answer_accounts_for_every_row():
    p = dag.SqlaggParams(rows=3000)
    answer = dag.sqlagg_expected(p)
    keys = Counter(dag.fact_key(i, p) for i in range(p.rows))
    assert sum(row[1] for row in answer) == p.rows
    assert sum(row[2] for row in answer) == sum(dag.fact_value(i) for i in range(p.rows))
    assert sum(row[3] for row in answer) == len(keys)
    assert keys.most_common(1)[0][0] == 0 and keys[0] > 10 * p.rows / p.keys      # skewed to key 0
    assert len(answer) == p.categories


def test_the_check_notices_a_wrong_answer_but_not_float_rounding():
    good = dag.sqlagg_expected(dag.SqlaggParams(rows=500))
    assert dag.same_answer(good, good)
    rounded = [(*r[:4], r[4] * (1 + 1e-13), r[5]) for r in good]     # Spark adds the means in its order
    assert dag.same_answer(rounded, good)
    one_row_off = [good[0][:1] + (good[0][1] + 1,) + good[0][2:]] + good[1:]
    assert not dag.same_answer(one_row_off, good)
    assert not dag.same_answer(good[1:], good)


def test_work_is_a_cpu_loop_that_grows_with_its_units():
    import time
    t0 = time.process_time(); dag.work(50); one = time.process_time() - t0
    t0 = time.process_time(); dag.work(200); four = time.process_time() - t0
    assert four > 2.5 * one


def _driver_args(job: str) -> argparse.Namespace:
    return argparse.Namespace(master="spark://127.0.0.1:7277", app_name="t", cores=8, executor_memory="1g",
                              nodes=2, register_wait="120s", partitions=5, wait="3s", eventlog_dir="/tmp/x",
                              eventlog_codec="none", job=job)


def test_the_sql_job_keeps_every_shuffle_at_p_partitions():
    conf = dag.dag_spark_conf(_driver_args("sqlagg"))
    assert conf["spark.sql.shuffle.partitions"] == "5"
    assert conf["spark.sql.adaptive.enabled"] == "false"            # no coalescing of partitions
    assert conf["spark.sql.autoBroadcastJoinThreshold"] == "-1"     # the join shuffles, no broadcast
    assert conf["spark.locality.wait"] == "3s" and conf["spark.cores.max"] == "16"
    assert "spark.sql.shuffle.partitions" not in dag.dag_spark_conf(_driver_args("wordcount"))


def test_the_dag_jobs_have_their_own_driver(tmp_path):
    assert {n for n, j in JOBS.items() if j.driver == "dag_jobs"} == {"wordcount", "sqlagg"}
    with pytest.raises(UserError, match=r"--job: wordcount is not the parallelize -> partitionBy shape"):
        partition_function(JOBS["wordcount"], 1)
    spec = RunPoint(JobShape(job="wordcount", work_repeat=2, map_slices=2), 2, 3, "0s", 1)
    cmd = driver_command(spec, "spark://h:1", tmp_path, tmp_path / "r.json", "zstd")
    assert cmd[1:3] == ["-m", "sparkdelay.real.dag_jobs"]
    assert "--items" not in cmd and "--key-format" not in cmd
    assert cmd[cmd.index("--work-repeat") + 1] == "2" and cmd[cmd.index("--map-slices") + 1] == "2"
    old = driver_command(RunPoint(JobShape(job="pyloop"), 2, 3, "0s", 1), "spark://h:1", tmp_path,
                         tmp_path / "r.json", "zstd")
    assert old[1:3] == ["-m", "sparkdelay.real.job"] and "--items" in old


def test_the_job_params_name_the_data():
    assert dag.job_params("wordcount")["lines"] == dag.WordcountParams().lines
    assert dag.job_params("sqlagg")["rows"] == dag.SqlaggParams().rows
    with pytest.raises(UserError, match=r"--job: 'pyloop' is not a multi-stage job"):
        dag.job_params("pyloop")


@pytest.mark.parametrize("option", [["--items", "10"], ["--key-format", "k{}"], ["--test-limit", "100"],
                                    ["--partitioner", "even"]])
def test_options_of_the_study_shape_are_refused_for_a_dag_job(option, tmp_path, capsys):
    rc = cli_main(["run", "--job", "wordcount", "--nodes", "1", "--partitions", "2",
                   "--out", str(tmp_path / "runs"), "--state-dir", str(tmp_path / "c"), *option])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.splitlines() == [f"sparkdelay: error: {option[0]}: does not apply to --job wordcount "
                                "(a multi-stage job with its own data)"]
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------------------------------------
# On a real cluster

MASTER_PORT, WORKER_PORT = 7277, 7278   # this suite's own ports, away from the default 7077


@pytest.fixture
def cluster(tmp_path):
    if shutil.which("java") is None:
        pytest.skip("java not installed (Spark needs Java 17)")
    from sparkdelay.real.cluster import Cluster, port_in_use
    busy = [p for p in (MASTER_PORT, WORKER_PORT, WORKER_PORT + 1)
            if any(port_in_use(h, p) for h in ("127.0.0.1", "127.0.0.2", "127.0.0.3"))]
    if busy:
        pytest.skip(f"ports {busy} in use (another cluster on this suite's ports)")
    state = tmp_path / "cluster"
    assert cli_main(["cluster", "start", "--workers", "2", "--state-dir", str(state), "--memory", "2g",
                     "--master-port", str(MASTER_PORT), "--webui-port", "0", "--worker-port", str(WORKER_PORT)]) == 0
    try:
        yield Cluster(state), f"spark://127.0.0.1:{MASTER_PORT}"
    finally:
        assert cli_main(["cluster", "stop", "--state-dir", str(state)]) == 0


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in decompress_bytes(path).decode().splitlines()]


@pytest.mark.spark
@pytest.mark.slow
def test_each_dag_job_records_one_run_with_its_shuffles(cluster, tmp_path, capsys):
    c, master = cluster
    out, P, M = tmp_path / "runs", 3, 1
    for name in ("wordcount", "sqlagg"):
        assert cli_main(["run", "--master", master, "--state-dir", str(c.dir), "--nodes", "2", "--wait", "0s",
                         "--partitions", str(P), "--job", name, "--work-repeat", "1", "--out", str(out),
                         "--no-progress"]) == 0, capsys.readouterr()
    rows = {r.fields["job"]: r.fields for r in index.read_index(out / "index.jsonl").rows}
    assert sorted(rows) == ["sqlagg", "wordcount"]
    for name, row in rows.items():
        assert row["status"] == "ok" and row["partitions"] == P and row["work_repeat"] == 1
        assert row["job_params"] == dag.job_params(name) and row["answer_rows"] > 0
        assert sorted(row["executors"]) == ["127.0.0.2", "127.0.0.3"]
        # Its duration is the application's job time; the one-shuffle field stays null, not reused.
        assert row["duration_field"] == "app_job_time_ms" and row["job_duration_ms"] is None
        assert 0 < row["app_job_time_ms"] < 1000 * row["wall_s"]
        assert "items" not in row and "key_format" not in row
        assert isinstance(row["loadavg_1m"], float) and row["app_id"] and row["spark_version"]

        evs = _events(out / row["event_log"])
        jobs = [e for e in evs if e["Event"] == "SparkListenerJobStart"]
        ends = [e for e in evs if e["Event"] == "SparkListenerJobEnd"]
        assert len(jobs) == 1 and ends[0]["Job Result"]["Result"] == "JobSucceeded"   # one action
        assert row["app_job_time_ms"] == ends[-1]["Completion Time"] - jobs[0]["Submission Time"]
        stages = {e["Stage Info"]["Stage ID"]: e["Stage Info"] for e in evs if e["Event"] == "SparkListenerStageCompleted"}
        tasks = [e for e in evs if e["Event"] == "SparkListenerTaskEnd"]
        writers = {e["Stage ID"] for e in tasks if e["Task Type"] == "ShuffleMapTask"}
        assert len(stages) == 4 and len(writers) == 3 == row["shuffles"]               # 3 shuffles
        readers = sorted(stages[s]["Number of Tasks"] for s in stages if stages[s]["Parent IDs"])
        if name == "wordcount":
            # reduceByKey and groupByKey read P partitions; the join's stage also runs the
            # lexicon RDD's M parallelize slices beside the P partitions of the counts.
            assert readers == [P, P, P + M]
        else:
            # the aggregate-join and the final groupBy read P shuffle partitions each
            assert readers == [P, P]
        assert {e["Task Info"]["Locality"] for e in tasks} <= SPARK_LOCALITY
        assert all(e["Task End Reason"]["Reason"] == "Success" for e in tasks)
        assert [s["stage_id"] for s in row["stages"]] == sorted(stages)

        # calibrate cannot fit a chain of shuffles: one line naming the job and stages, exit 2
        capsys.readouterr()
        assert cli_main(["calibrate", str(out / row["event_log"]), "-o", str(tmp_path / "m.json")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "job 0 has 3 map stages" in err[0] and "result stage 3" in err[0]
        assert not (tmp_path / "m.json").exists()

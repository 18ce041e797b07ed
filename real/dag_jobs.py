"""The multi-stage real jobs' driver program: `python -m sparkdelay.real.dag_jobs ...`.

The jobs of `real.workloads` whose `driver` is `dag_jobs` are not the study's one-shuffle shape;
each is one Spark action over several shuffles, every shuffle with P (`--partitions`) partitions:

- `wordcount` (RDD API, 3 shuffles): a seeded text corpus whose words follow a Zipf-like law
  (skewed keys on purpose), `parallelize(lines, M).flatMap(words).map((w, 1)).reduceByKey(add, P)`,
  `.join(lexicon, P)` with a second keyed RDD (word -> (length, class)), `.map` to a derived key
  (the word's length), `.groupByKey(P)`, a summary per group, `collect()`.
- `sqlagg` (DataFrame API, 3 shuffles): `spark.range(rows, numPartitions=M)` with a key drawn
  from a skewed law by a plain Python `udf` (no pandas/pyarrow here, so no pandas UDF), a
  `groupBy("k").agg(sum, count, avg)`, a join with a dimension table (k -> category), a second
  Python `udf` on each joined row, a `groupBy("category").agg(...)`, `collect()`.

Python work per record (`--work-repeat` units of a pure-Python loop, as `pyloop`'s) sits in the
map stage and in the later stages too, so the reduce-side Python workers matter. The driver
computes the same answer in plain Python (without the work loop, whose value is not part of the
answer) and exits `EXIT_INCOMPLETE` if Spark's differs. Result JSON and exit codes are
`real.job`'s, so `real.runner` starts either driver the same way; `logged_dag_run` reduces the
run's event log to its index fields (the application's total job time, its stages).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from sparkdelay.eventlog.log import EventLog
from sparkdelay.eventlog.reader import read_eventlog
from sparkdelay.ground.errors import UserError
from sparkdelay.real.job import EXIT_INCOMPLETE, EXIT_OK, await_executors, run_driver
from sparkdelay.real.workloads import JOBS, job_named


DAG_DRIVER = "dag_jobs"
WORK_ITERATIONS = 200     # one work unit: 200 iterations of the pure-Python loop (~10 us here)

# Which definition the row's duration follows: the one-shuffle rows' `job_duration_ms` is the
# measured shuffle job (`eventlog.shuffle_job`); these rows' is the whole application's job time.
DURATION_FIELD = "app_job_time_ms"
DURATION_DEFINITION = ("first SparkListenerJobStart \"Submission Time\" to last SparkListenerJobEnd "
                       "\"Completion Time\" of the application (all its jobs)")


@dataclass(frozen=True)
class WordcountParams:
    """The `wordcount` corpus and its work weights: everything that reproduces a run's data."""
    lines: int = 3_000
    words_per_line: int = 10
    vocabulary: int = 6_000
    zipf_s: float = 1.1           # P(rank r) ~ 1 / r^s: a few words dominate (skewed keys)
    seed: int = 12
    map_units: int = 1            # work units per word occurrence (map stage, M tasks)
    join_units: int = 10          # per distinct word after the join (P tasks)
    group_units: int = 10         # per word in its length group (P tasks)


@dataclass(frozen=True)
class SqlaggParams:
    """The `sqlagg` table and its work weights."""
    rows: int = 20_000
    keys: int = 1_000
    categories: int = 7
    skew: float = 3.0             # key = floor(keys * u^skew), u uniform: low keys dominate
    seed: int = 12
    row_units: int = 1            # work units per fact row (its key's udf, M tasks)
    key_units: int = 40           # per joined key row (the score udf, P tasks)


PARAMS = {"wordcount": WordcountParams(), "sqlagg": SqlaggParams()}


def job_params(name: str) -> dict:
    """A dag job's own parameters, as recorded in its index row."""
    if name not in PARAMS:
        raise UserError(f"--job: {name!r} is not a multi-stage job (those are: {', '.join(PARAMS)})")
    return asdict(PARAMS[name])


def work(units: int) -> int:
    """`units` x WORK_ITERATIONS iterations of pure-Python arithmetic (CPU-bound, no imports)."""
    acc = 0
    for i in range(units * WORK_ITERATIONS):
        acc = (acc * 31 + i) % 1_000_003
    return acc


# ------------------------------------------------------------------------------------------------
# wordcount: data, the job, the plain-Python answer


def vocabulary(p: WordcountParams) -> list[str]:
    """`p.vocabulary` distinct lower-case words of 2..10 letters, in rank order, from the seed."""
    rng = random.Random(f"vocabulary-{p.seed}")
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < p.vocabulary:
        w = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def corpus(p: WordcountParams) -> list[str]:
    """`p.lines` lines of `p.words_per_line` words drawn by rank with P(r) ~ 1/r^s (seeded)."""
    words = vocabulary(p)
    cum, total = [], 0.0
    for r in range(1, len(words) + 1):
        total += 1.0 / r ** p.zipf_s
        cum.append(total)
    rng = random.Random(f"corpus-{p.seed}")
    return [" ".join(rng.choices(words, cum_weights=cum, k=p.words_per_line)) for _ in range(p.lines)]


def lexicon(p: WordcountParams) -> list[tuple[str, tuple[int, str]]]:
    """The second keyed RDD: word -> (length, vowel class) for every vocabulary word."""
    return [(w, (len(w), "vowel" if w[0] in "aeiou" else "consonant")) for w in vocabulary(p)]


def word_summary(length: int, members) -> tuple:
    """One length group's answer: (length, distinct words, occurrences, top count, vowel-initial
    words, crc32 sum of the words mod 2^32); order-free, so Spark's grouping order does not matter."""
    members = list(members)
    crc = sum(zlib.crc32(w.encode()) for w, _, _ in members) % 2 ** 32
    return (length, len(members), sum(n for _, n, _ in members), max(n for _, n, _ in members),
            sum(1 for _, _, c in members if c == "vowel"), crc)


def wordcount_expected(p: WordcountParams) -> list[tuple]:
    """The job's answer computed in plain Python (no Spark, no work loop)."""
    counts = Counter(w for line in corpus(p) for w in line.split())
    lex = dict(lexicon(p))
    groups: dict[int, list] = defaultdict(list)
    for w, n in counts.items():
        length, cls = lex[w]
        groups[length].append((w, n, cls))
    return sorted(word_summary(k, v) for k, v in groups.items())


def run_wordcount(sc, p: WordcountParams, partitions: int, map_slices: int, repeat: int) -> list[tuple]:
    from operator import add
    map_units, join_units, group_units = p.map_units * repeat, p.join_units * repeat, p.group_units * repeat

    def words(line):
        for w in line.split():
            work(map_units)
            yield w

    def by_length(kv):
        word, (n, (length, cls)) = kv
        work(join_units)
        return length, (word, n, cls)

    def summarize(kv):
        length, members = kv
        members = list(members)
        for _ in members:
            work(group_units)
        return word_summary(length, members)

    counts = sc.parallelize(corpus(p), map_slices).flatMap(words).map(lambda w: (w, 1)).reduceByKey(add, partitions)
    lex = sc.parallelize(lexicon(p), map_slices)
    grouped = counts.join(lex, partitions).map(by_length).groupByKey(partitions)
    return sorted(grouped.map(summarize).collect())


# ------------------------------------------------------------------------------------------------
# sqlagg: data, the job, the plain-Python answer


def fact_key(i: int, p: SqlaggParams) -> int:
    """Row i's key: floor(keys x u^skew), u from a multiplicative hash of (seed, i): skewed, seeded."""
    u = ((i * 2654435761 + p.seed * 40503) % 2 ** 32) / 2 ** 32
    return min(p.keys - 1, int(p.keys * u ** p.skew))


def fact_value(i: int) -> int:
    """Row i's value (whole numbers, so sums are exact whatever order Spark adds them in)."""
    return (i * 7919) % 1000


def category(k: int, p: SqlaggParams) -> str:
    return f"cat{(k * 37 + p.seed) % p.categories}"


def key_score(k: int, n: int) -> int:
    return (k * 31 + n) % 97


def sqlagg_expected(p: SqlaggParams) -> list[tuple]:
    """(category, rows, sum of values, keys, sum of per-key means, sum of scores), in plain Python."""
    n, total = Counter(), Counter()
    for i in range(p.rows):
        k = fact_key(i, p)
        n[k] += 1
        total[k] += fact_value(i)
    out: dict[str, list] = defaultdict(lambda: [0, 0, 0, 0.0, 0])
    for k in n:
        acc = out[category(k, p)]
        acc[0] += n[k]; acc[1] += total[k]; acc[2] += 1; acc[3] += total[k] / n[k]; acc[4] += key_score(k, n[k])
    return sorted((c, *v) for c, v in out.items())


def run_sqlagg(spark, p: SqlaggParams, map_slices: int, repeat: int) -> list[tuple]:
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegerType, LongType
    row_units, key_units = p.row_units * repeat, p.key_units * repeat

    # Plain (pickled) Python UDFs: Arrow-based ones need pyarrow, which is not installed here.
    @F.udf(returnType=IntegerType())
    def key_of(i):
        work(row_units)
        return fact_key(i, p)

    @F.udf(returnType=LongType())
    def score_of(k, n):
        work(key_units)
        return key_score(k, n)

    facts = (spark.range(0, p.rows, 1, map_slices)
             .select(key_of("id").alias("k"), ((F.col("id") * 7919) % 1000).alias("v")))
    dims = spark.createDataFrame([(k, category(k, p)) for k in range(p.keys)], "k int, category string")
    per_key = facts.groupBy("k").agg(F.count("*").alias("n"), F.sum("v").alias("total"), F.avg("v").alias("mean"))
    joined = per_key.join(dims, "k").withColumn("score", score_of("k", "n"))
    out = joined.groupBy("category").agg(F.sum("n"), F.sum("total"), F.count("*"), F.sum("mean"), F.sum("score"))
    return sorted(tuple(r) for r in out.collect())


def same_answer(got: list[tuple], expected: list[tuple]) -> bool:
    """Equal row by row; floats (sums of means, added in Spark's order) to a relative 1e-9."""
    if len(got) != len(expected):
        return False
    for g, e in zip(got, expected):
        if len(g) != len(e):
            return False
        for a, b in zip(g, e):
            if isinstance(b, float) or isinstance(a, float):
                if not math.isclose(a, b, rel_tol=1e-9):
                    return False
            elif a != b:
                return False
    return True


def expected_answer(name: str) -> list[tuple]:
    return wordcount_expected(PARAMS[name]) if name == "wordcount" else sqlagg_expected(PARAMS[name])


def describe(name: str, repeat: int) -> str:
    """One line for the start of a sweep: the job and the size of its data."""
    p = PARAMS[name]
    if name == "wordcount":
        return (f"job wordcount: {JOBS[name].summary}; {p.lines} lines x {p.words_per_line} words over "
                f"{p.vocabulary} words (Zipf s={p.zipf_s}), work {repeat} x ({p.map_units}, {p.join_units}, "
                f"{p.group_units}) units per word / distinct word / group member")
    return (f"job sqlagg: {JOBS[name].summary}; {p.rows} rows over {p.keys} keys (skew {p.skew}), "
            f"{p.categories} categories, work {repeat} x ({p.row_units}, {p.key_units}) units per row / key")


# ------------------------------------------------------------------------------------------------
# The driver program


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m sparkdelay.real.dag_jobs", description=__doc__.split("\n\n")[0])
    p.add_argument("--master", required=True, help="spark://host:port")
    p.add_argument("--job", required=True, choices=[j.name for j in JOBS.values() if j.driver == DAG_DRIVER])
    p.add_argument("--nodes", type=int, required=True, help="executors to wait for (one per worker)")
    p.add_argument("--cores", type=int, default=8, help="spark.executor.cores")
    p.add_argument("--executor-memory", default="1g", help="spark.executor.memory")
    p.add_argument("--partitions", type=int, required=True, help="P: the partitions of every shuffle")
    p.add_argument("--wait", default="3s", help="spark.locality.wait")
    p.add_argument("--map-slices", type=int, default=1, help="M: numSlices of parallelize / partitions of range")
    p.add_argument("--work-repeat", type=int, default=1, help="work units per record, times each stage's weight")
    p.add_argument("--eventlog-dir", required=True)
    p.add_argument("--eventlog-codec", default="none", choices=["none", "zstd", "lz4"])
    p.add_argument("--register-wait", default="120s", help="spark.scheduler.maxRegisteredResourcesWaitingTime")
    p.add_argument("--app-name", default="sparkdelay-dag")
    p.add_argument("--result", required=True, help="write the result JSON here")
    return p.parse_args(argv)


def dag_spark_conf(args) -> dict[str, str]:
    """`real.job`'s settings (same placement-shaping keys), plus the SQL job's."""
    from sparkdelay.real.job import spark_conf
    conf = spark_conf(args)
    if args.job == "sqlagg":
        conf.update({
            "spark.sql.shuffle.partitions": str(args.partitions),
            # Adaptive execution would coalesce small shuffle partitions after the map side ran
            # (and re-plan joins), so the reduce stages would not have P tasks: P would be hidden.
            "spark.sql.adaptive.enabled": "false",
            # The 1,000-row dimension table is far under the 10 MB broadcast threshold: a broadcast
            # join is a job of its own and no shuffle; -1 keeps the join a sort-merge join on P.
            "spark.sql.autoBroadcastJoinThreshold": "-1",
        })
    return conf


def main(argv=None) -> int:
    return run_driver(parse_args, _run, argv)


def _run(args, result: dict, program_start: float) -> int:
    job = job_named(args.job)
    if args.work_repeat < 1:
        raise UserError(f"--work-repeat: must be at least 1, got {args.work_repeat}")
    result.update(job=job.name, job_params=job_params(job.name))
    expected = expected_answer(job.name)

    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    Path(args.eventlog_dir).mkdir(parents=True, exist_ok=True)
    conf = SparkConf().setAll(list(dag_spark_conf(args).items()))
    spark = SparkSession.builder.config(conf=conf).getOrCreate()
    sc = spark.sparkContext
    try:
        sc.setLogLevel("WARN")
        result.update(app_id=sc.applicationId, spark_version=sc.version)
        missing = await_executors(sc, args.nodes, result)
        if missing is not None:
            return missing
        result["collect_start"] = time.time()
        if job.name == "wordcount":
            got = run_wordcount(sc, PARAMS["wordcount"], args.partitions, args.map_slices, args.work_repeat)
        else:
            got = run_sqlagg(spark, PARAMS["sqlagg"], args.map_slices, args.work_repeat)
        result["collect_end"] = time.time()
    finally:
        spark.stop()
    result.update(answer=[list(r) for r in got], answer_rows=len(got),
                  driver_wall_s=result["collect_end"] - program_start,
                  collect_s=result["collect_end"] - result["collect_start"])
    if not same_answer(got, expected):
        result.update(status="incomplete", error=f"{job.name}: Spark's answer differs from the plain-Python one "
                                                 f"({len(got)} rows vs {len(expected)})")
        return EXIT_INCOMPLETE
    result["status"] = "ok"
    print(f"{result['app_id']}: job {job.name}, {len(got)} answer rows as expected, "
          f"{result['driver_wall_s']:.1f}s from program start", flush=True)
    return EXIT_OK


# ------------------------------------------------------------------------------------------------
# What the run's event log says, for its index row


@dataclass(frozen=True)
class LoggedStage:
    stage_id: int
    name: str
    tasks: int                       # "Number of Tasks" of the stage's latest attempt
    duration_ms: int | None          # its "Submission Time" to "Completion Time"
    parents: list[int]
    shuffle_read: bool               # its tasks read a shuffle (a reduce side)
    shuffle_write: bool              # its tasks wrote one (a map side: ShuffleMapTask)
    locality: dict[str, int]         # Spark's locality level -> successful tasks
    tasks_per_host: dict[str, int]


@dataclass(frozen=True)
class LoggedDagRun:
    app_job_time_ms: int | None      # DURATION_DEFINITION; None without a finished job
    spark_jobs: int
    job_results: list[str | None]
    shuffles: int                    # stages that wrote a shuffle
    stages: list[LoggedStage]        # stages that ran, by id (skipped ones are not in the log's tasks)
    executors_removed: list[str]


def logged_dag_run(path: Path) -> LoggedDagRun:
    return summarize_log(read_eventlog(path))


def summarize_log(log: EventLog) -> LoggedDagRun:
    submitted = [j.submission_ms for j in log.jobs if j.submission_ms is not None]
    completed = [j.completion_ms for j in log.jobs if j.completion_ms is not None]
    app_ms = max(completed) - min(submitted) if submitted and completed else None
    stages = []
    for sid in sorted({s.stage_id for s in log.stages}):
        s = log.stage(sid)
        if s is None or s.submission_ms is None:
            continue
        tasks = [t for t in log.tasks if t.stage_id == sid and t.stage_attempt == s.attempt and t.succeeded]
        locality, hosts = Counter(t.locality for t in tasks), Counter(t.host for t in tasks)
        stages.append(LoggedStage(
            sid, s.name, s.num_tasks,
            s.completion_ms - s.submission_ms if s.completion_ms is not None else None, list(s.parent_ids),
            shuffle_read=any(t.shuffle_records_read or t.shuffle_read_bytes for t in tasks),
            shuffle_write=any(t.task_type == "ShuffleMapTask" for t in tasks),
            locality=dict(sorted(locality.items())), tasks_per_host=dict(sorted(hosts.items()))))
    return LoggedDagRun(app_ms, len(log.jobs), [j.result for j in log.jobs], sum(s.shuffle_write for s in stages),
                        stages, [e.executor_id for e in log.executors if e.removed_ms is not None])


def dag_row_fields(logged: LoggedDagRun) -> dict:
    """The index fields of a dag run's event log (names as in `index.jsonl`)."""
    return {DURATION_FIELD: logged.app_job_time_ms, "spark_jobs": logged.spark_jobs, "shuffles": logged.shuffles,
            "stages": [asdict(s) for s in logged.stages], "executors_removed": logged.executors_removed}


if __name__ == "__main__":
    sys.exit(main())

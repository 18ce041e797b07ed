"""Write small real Spark event logs with the installed PySpark (one per codec/layout).

Run `python tests/data/eventlogs/make_eventlogs.py OUTDIR [VARIANT...]` to regenerate the committed
fixtures; `tests/test_eventlog_spark.py` imports `make_logs` to check that a log written by the
installed PySpark still parses. Each variant starts its own SparkContext because the event-log
settings are read only when a context starts; the JVM is reused, so all variants take ~20 s.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

VARIANTS = {
    "plain": {},
    "zstd": {"spark.eventLog.compress": "true", "spark.eventLog.compression.codec": "zstd"},
    "lz4": {"spark.eventLog.compress": "true", "spark.eventLog.compression.codec": "lz4"},
    "snappy": {"spark.eventLog.compress": "true", "spark.eventLog.compression.codec": "snappy"},
    "rolling": {"spark.eventLog.rolling.enabled": "true", "spark.eventLog.rolling.maxFileSize": "10m"},
}


def _job(sc) -> list:
    # The study's shape: keyed items, partitionBy, one Python pass per partition, collect.
    items = [(f"shard-{i:02d}", i) for i in range(12)]
    rdd = sc.parallelize(items, 2).partitionBy(3)
    return rdd.mapPartitions(lambda it: [sum(v for _, v in it)]).collect()


def make_logs(outdir: str | os.PathLike, variants=None) -> dict[str, Path]:
    """Run the tiny job once per variant; return {variant: path of the log file or folder}."""
    from pyspark import SparkConf, SparkContext

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    made = {}
    for name in variants or VARIANTS:
        logdir = Path(tempfile.mkdtemp(prefix=f"evlog-{name}-", dir=outdir))
        conf = (SparkConf().setMaster("local[2]").setAppName(f"sparkdelay-fixture-{name}")
                .set("spark.eventLog.enabled", "true").set("spark.eventLog.dir", logdir.as_uri())
                .set("spark.ui.enabled", "false").set("spark.ui.showConsoleProgress", "false"))
        # Spark 4 turns compression/rolling on by default; pin them off unless the variant sets them.
        conf.set("spark.eventLog.compress", "false").set("spark.eventLog.rolling.enabled", "false")
        for key, value in VARIANTS[name].items():
            conf.set(key, value)
        sc = SparkContext(conf=conf)
        sc.setLogLevel("ERROR")
        try:
            _job(sc)
        finally:
            sc.stop()
        (entry,) = list(logdir.iterdir())
        target = outdir / f"{name}-{entry.name}"
        shutil.move(str(entry), target)
        logdir.rmdir()
        made[name] = target
    return made


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for variant, path in make_logs(out, sys.argv[2:] or None).items():
        print(variant, path)

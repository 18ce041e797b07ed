"""Real Spark runs: a Spark Standalone cluster on this machine and the Chainer-on-MNIST job.

Modules: `spark_env` (pyspark's spark-class, Java check), `procs` (pid files, ending
exactly what was started), `cluster` (master + N workers, one loopback host each),
`mnist`/`model`/`items`/`evaluate` (the study's workload), `job` (the driver program,
`python -m sparkdelay.real.job`), `eventlog` (reading Spark event logs), `sweep`/`index`/`runner`
(what `sparkdelay run` expands to, its resumable index.jsonl, one run as a subprocess).
"""

"""Real Spark runs: a Spark Standalone cluster on this machine and the Chainer-on-MNIST job.

Modules: `spark_env` (pyspark's spark-class, Java check), `procs` (pid files, ending
exactly what was started), `cluster` (master + N workers, one loopback host each),
`mnist`/`model`/`items`/`evaluate` (the study's workload), `job` (the driver program,
`python -m sparkdelay.real.job`), `logged_run` (what a run's event log says, for its index
row), `plan`/`runner` (the runs `sparkdelay run` expands to, one run as a subprocess),
`history`/`history_links` (Spark's History Server on every log under its folders, at any depth).
"""

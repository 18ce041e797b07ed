"""Reading Spark event logs, fitting the model's task costs, validating predictions against real runs.

`codecs` decompresses a log file by its suffix (zstd, lz4-java block stream, snappy-java stream);
`eventlog` parses a file or rolling folder into the dataclasses of `records`; `discover` finds
logs in folders and `index.jsonl` files; `inputs` reads the cluster's machines and the PySpark
workload; `contention` recovers CPU demand under processor sharing and spots fresh Python
workers; `samples` turns a log into fitting samples; `fit` fits `sim.costs.CostModel`;
`pipeline.calibrate` chains them for `sparkdelay calibrate`.
"""

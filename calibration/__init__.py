"""Reading Spark event logs, fitting the model's task costs, validating predictions against real runs.

Event logs are read one floor down, by `sparkdelay.eventlog` (`reader` into the records of `log`,
`discover` for folders and `index.jsonl` files, `shuffle_job` for the measured job); the
cluster's machines and the PySpark workload are read by the model's own parsers (`sim.model.cluster.load_machines`, `sim.model.job.load_workload`);
`contention` recovers CPU demand under processor sharing and spots fresh Python
workers; `samples` turns a log into fitting samples; `fit` fits `sim.costs.CostModel`;
`pipeline.calibrate` chains them for `sparkdelay calibrate`; `validate` simulates each real run as
its log describes it, and `twins` writes one such simulation as the run's twin event log.
"""

"""sparkdelay: predict how Apache Spark places and times the tasks of a job, and check it against real runs.

The package holds what every part shares (the user-facing error type, Spark configuration
parsing) and the command-line interface; the model lives in `sim`, the real-cluster side in
`real`, event-log reading and fitting in `calibration`.
"""

__version__ = "0.1.0"

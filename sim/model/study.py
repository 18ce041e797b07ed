"""The 2017 study's workload, spelled once for the model, the real job and the report.

The study keyed 40 MNIST test-set shards and hashed them with `partitionBy`; its keys and
interpreter are not published, so the project's keys are "shard-00".."shard-39" hashed by
the default worker interpreter, CPython 3.11 (`sim.policy.pyspark_partitioning.
DEFAULT_PYTHON_VERSION`), with PYTHONHASHSEED 0 unless a run says otherwise. An item is one
shard; its pickled size on the shuffle is about 800 kB.
"""

from __future__ import annotations

STUDY_KEY_FORMAT = "shard-{:02d}"
STUDY_ITEMS = 40
STUDY_KEYS = {"format": STUDY_KEY_FORMAT, "count": STUDY_ITEMS}
STUDY_ITEM_BYTES = 800_000

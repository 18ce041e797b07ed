"""Write the lzf-compressed fixture: the same tiny job as `make_eventlogs.py`, with
`spark.eventLog.compression.codec=lzf` (Spark's LZFCompressionCodec, ning compress-lzf's
`LZFOutputStream`: "ZV" chunks).

Run `.venv/bin/python tests/data/eventlogs/make_lzf.py tests/data/eventlogs` (then delete the old copy).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from make_eventlogs import VARIANTS, make_logs  # noqa: E402

VARIANTS["lzf"] = {"spark.eventLog.compress": "true", "spark.eventLog.compression.codec": "lzf"}

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    for variant, path in make_logs(out, ["lzf"]).items():
        print(variant, path)

"""The platform's own costs: what Spark's JVM costs on a machine whatever job it runs.

Some costs belong to the software stack and the hardware, not to the job. An executor JVM that
starts running tasks burns CPU beside them for a while: its JIT compiler threads and class
loading for the task path. Measured with per-process CPU sampling beside real runs
(`data/cpu-probe`, 12 runs of two unlike jobs), it was 1.50 CPU-seconds per executor plus 0.054
per task, the same for a job that sleeps and one that loops in Python. The per-task share is in
each job's task overhead. The burst is the model's `executor_jit_s`.

An event log shows that burst only through the tasks it slows, and a calibration that chose
terms by held-out task errors took it on some workloads and not on others. So a calibration
holds it at the measured value (a platform file), unless told to fit it from the logs or to
leave it out. A platform file is JSON: {"format": "sparkdelay-platform/1", "executor_jit_s":
seconds, "source": "how it was measured"}. The bundled one, `data/platform.json`, is this
project's machine: 2 cores, Spark 4.0.1, Java 17. It holds for runs on that machine and layout.
Elsewhere, measure your own with `data/cpu-probe/record_cpu_probe.sh` and `analyse.py`, or pass
`--platform fit`.
"""

from __future__ import annotations

import json
import math
from importlib.resources import files
from pathlib import Path

from sparkdelay.ground.errors import UserError

FORMAT = "sparkdelay-platform/1"
PLATFORM_TERMS = ("executor_jit_s",)
_MAX_S = 600.0   # a JIT burst of ten minutes per executor is no measurement


def bundled_platform_path() -> Path:
    return Path(str(files("sparkdelay.data").joinpath("platform.json")))


def load_platform(path: str | Path | None = None) -> dict[str, float]:
    """The platform's terms from a platform file (default: the bundled one)."""
    path = Path(path) if path is not None else bundled_platform_path()
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise UserError(f"{path}: cannot read the platform file: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a JSON platform file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UserError(f"{path}: format: expected {FORMAT!r}, got "
                        f"{doc.get('format') if isinstance(doc, dict) else type(doc).__name__!r}")
    out = {}
    for term in PLATFORM_TERMS:
        value = doc.get(term)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not 0 <= value <= _MAX_S:
            raise UserError(f"{path}: {term}: expected CPU seconds between 0 and {_MAX_S:g}, got {value!r}")
        out[term] = float(value)
    unknown = sorted(set(doc) - set(PLATFORM_TERMS) - {"format", "source"})
    if unknown:
        raise UserError(f"{path}: {unknown[0]}: unknown platform term (known: {', '.join(PLATFORM_TERMS)})")
    return out

"""The data bundled with the package (`sparkdelay.data`, the repository's `data/` folder).

Commands take their default inputs from here, never from the current directory, so they run
the same from anywhere: the fitted cost model, the study's workload and the recorded real
sweeps. Installed as ordinary files (a wheel or an editable install), so a bundled path is a
real `Path` that can be handed to code that opens files.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGE = "sparkdelay.data"

MODEL = "model.json"                    # the cost model fitted to runs/shared (sparkdelay calibrate)
WORKLOAD = "study-workload.yaml"        # the job `sparkdelay run` executes: the study's 40 keyed shards
RUNS = "runs"                           # recorded sweeps: runs/shared, runs/pinned (index.jsonl + event logs)
SHARED_RUNS = "runs/shared"
PINNED_RUNS = "runs/pinned"


def bundled(name: str) -> Path:
    """Path of a bundled file or folder, e.g. `bundled(MODEL)`; it may be absent from a trimmed install."""
    return Path(str(files(PACKAGE).joinpath(*name.split("/"))))


def shown(path: str | Path) -> str:
    """A path as reports print it: bundled files under their repository name (`data/runs/shared`),
    so a report made from any directory or install reads the same; other paths as given."""
    try:
        rel = Path(path).resolve().relative_to(bundled("").resolve())
    except ValueError:
        return str(path)
    return "data" if rel == Path(".") else f"data/{rel.as_posix()}"

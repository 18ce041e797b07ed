"""The layout's floors hold: `lint-imports` checks the contracts in pyproject.toml.

Floors, lowest first: `sparkdelay.ground` (errors, Spark's configuration vocabulary, strict
YAML/JSON reading) < `sparkdelay.sim.policy` (Spark's rules, no clock) < `sparkdelay.sim.model`
(the SimPy layer) < `sparkdelay.eventlog` (Spark's event-log format, the run index) <
`sparkdelay.calibration`, `sparkdelay.real` (independent of each other) < `sparkdelay.app`.
Nothing imports upward, and the policy never imports SimPy.

The folders `sim/`, `real/` and `calibration/` are mapped into the `sparkdelay` namespace by
setuptools, but import-linter (grimp) finds a package's modules by walking the folder of its
root package. So the check runs on a mirror: a `sparkdelay/` folder of links to the real
files plus links named `sim`, `real` and `calibration` — the same tree the installed wheel has.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAPPED = {"sim": "sim", "real": "real", "calibration": "calibration"}   # sub-package -> folder


def mirror(tmp: Path) -> Path:
    """A folder on which `import sparkdelay` finds the whole distribution as installed."""
    pkg = tmp / "sparkdelay"
    pkg.mkdir()
    for entry in (ROOT / "sparkdelay").iterdir():
        if entry.name != "__pycache__":
            (pkg / entry.name).symlink_to(entry)
    for name, folder in MAPPED.items():
        (pkg / name).symlink_to(ROOT / folder)
    return tmp


def lint_imports(tmp_path: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is not installed: `make test` installs import-linter with the test extras")
    env = {**os.environ, "PYTHONPATH": str(mirror(tmp_path))}
    return subprocess.run([exe, str(ROOT / "pyproject.toml"), "--no-cache"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


def test_import_contracts_hold(tmp_path):
    proc = lint_imports(tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_contracts_can_fail(tmp_path):
    """A policy module that imports SimPy, or the model importing the app, is caught."""
    bad = ROOT / "sim" / "policy" / "_arch_probe.py"
    bad.write_text("import simpy\nimport sparkdelay.app.cli\n")
    try:
        proc = lint_imports(tmp_path)
    finally:
        bad.unlink()
    assert proc.returncode != 0
    assert "sparkdelay.sim.policy._arch_probe -> simpy" in proc.stdout
    assert "sparkdelay.sim.policy._arch_probe -> sparkdelay.app.cli" in proc.stdout


def test_no_generic_top_level_names_are_installed():
    """One import namespace: `sim`, `real` and `calibration` are not importable on their own."""
    code = ("import importlib.util, sys; sys.path = [p for p in sys.path if p not in ('', '.')]; "
            "print([n for n in ('sim', 'real', 'calibration') if importlib.util.find_spec(n)])")
    proc = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr

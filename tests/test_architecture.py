"""The layout's floors hold: `lint-imports` checks the contracts in pyproject.toml.

Floors, lowest first: `sparkdelay.ground` (errors, Spark's configuration vocabulary, strict
YAML/JSON reading) < `sparkdelay.sim.policy` (Spark's rules, no clock) < `sparkdelay.sim.model`
(the SimPy layer) < `sparkdelay.eventlog` (Spark's event-log format, the run index) <
`sparkdelay.calibration`, `sparkdelay.real` (independent of each other) < `sparkdelay.app`.
Nothing imports upward, and the policy never imports SimPy.

The folders `sim/`, `real/` and `calibration/` are mapped into the `sparkdelay` namespace by
setuptools; import-linter (grimp) finds a package's modules by walking its root package's folder,
so `sparkdelay/` holds links named `sim`, `real` and `calibration` to them: plain `lint-imports`
from the repository root sees the tree the installed wheel has.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def lint_imports() -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is not installed: `make test` installs import-linter with the test extras")
    return subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold():
    proc = lint_imports()
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_contracts_can_fail():
    """A policy module that imports SimPy, or the model importing the app, is caught."""
    bad = ROOT / "sim" / "policy" / "_arch_probe.py"
    bad.write_text("import simpy\nimport sparkdelay.app.cli\n")
    try:
        proc = lint_imports()
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

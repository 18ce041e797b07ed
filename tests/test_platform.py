"""The platform's own costs are held at a measured value, not chosen per workload (issue 11).

An executor JVM that starts running tasks burns CPU beside them: its JIT burst (`executor_jit_s`).
Per-process CPU sampled beside real runs measured it (`data/cpu-probe`). The bundled platform
file carries that value. A trace calibration holds the burst there, fits it from the logs
(`--platform fit`), or leaves it out (`--platform none`). A bad platform file is refused in one line.
"""

from __future__ import annotations

import json

import pytest

from sparkdelay.app.cli import main
from sparkdelay.calibration.platform import PLATFORM_TERMS, bundled_platform_path, load_platform
from sparkdelay.calibration.trace_fit import BASE_TERMS, calibrate_traces
from sparkdelay.sim.model.costs import CostModel

from test_trace_fit import NOISELESS, _runs   # simulated runs written as event logs and read back

BASE_TRUTH = dict(worker_startup_s=1.5, task_overhead_s=0.3, cpu_per_item_s=0.4, map_task_overhead_s=0.6,
                  map_cpu_per_item_s=0.0)


def test_the_bundled_platform_is_the_measured_jit_burst():
    assert load_platform() == {"executor_jit_s": 1.5}
    doc = json.loads(bundled_platform_path().read_text())
    assert "data/cpu-probe" in doc["source"]
    assert PLATFORM_TERMS == ("executor_jit_s",)


def test_a_calibration_holds_the_platform_fits_it_or_leaves_it_out(tmp_path):
    truth = BASE_TRUTH | {"executor_jit_s": 1.2}
    runs = _runs(tmp_path, CostModel(**truth, **NOISELESS))
    held = calibrate_traces(runs, {}, choose_terms=False, platform={"executor_jit_s": 1.2})
    assert held.held == {"executor_jit_s": 1.2}
    assert held.model.executor_jit_s == 1.2
    assert held.fit.terms == BASE_TERMS
    assert held.model.cpu_per_item_s == pytest.approx(0.4, rel=0.02)
    fitted = calibrate_traces(runs, {}, choose_terms=False, platform="fit")
    assert fitted.held == {}
    assert fitted.model.executor_jit_s == pytest.approx(1.2, rel=0.05)
    off = calibrate_traces(runs, {}, choose_terms=False, platform={})
    assert off.model.executor_jit_s == 0.0
    # Left out, the burst's CPU lands on the other terms and the replay fits worse.
    assert off.fit.task_error > 2 * held.fit.task_error
    by_default = calibrate_traces(runs, {}, choose_terms=False)
    assert by_default.held == load_platform()


@pytest.mark.parametrize("content, named", [
    ("not json", "not a JSON platform file"),
    ('{"format": "sparkdelay-model/1", "executor_jit_s": 1}', "format"),
    ('{"format": "sparkdelay-platform/1"}', "executor_jit_s"),
    ('{"format": "sparkdelay-platform/1", "executor_jit_s": -1}', "executor_jit_s"),
    ('{"format": "sparkdelay-platform/1", "executor_jit_s": true}', "executor_jit_s"),
    ('{"format": "sparkdelay-platform/1", "executor_jit_s": 1, "jit": 2}', "jit"),
])
def test_a_bad_platform_file_is_refused_in_one_line(tmp_path, capsys, content, named):
    bad = tmp_path / "platform.json"
    bad.write_text(content)
    log = str(next(bundled_platform_path().parent.glob("runs/shared/eventlogs/*")))
    code = main(["calibrate", log, "--method", "trace", "--platform", str(bad), "-o", str(tmp_path / "m.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert str(bad) in err[0] and named in err[0]
    assert not (tmp_path / "m.json").exists()


def test_platform_is_an_option_of_the_trace_fit_only(tmp_path, capsys):
    log = str(next(bundled_platform_path().parent.glob("runs/shared/eventlogs/*")))
    code = main(["calibrate", log, "--method", "linear", "--platform", "none", "-o", str(tmp_path / "m.json")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "--platform" in err and "--method linear" in err

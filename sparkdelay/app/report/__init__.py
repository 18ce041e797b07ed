"""Reports: the 2017 study re-made by the model, and model vs reality, as Markdown with PNG figures.

| module | one concept |
| --- | --- |
| `grids.py` | the simulated grids (study under 2.1 rules, 4.0 rules, even partitions) via `sparkdelay.app.sweep`, per-point stats |
| `findings.py` | F1..F13 of STUDY.md as computed checks: verdict, rule, numbers |
| `measured.py` | real sweeps read with `calibration.heldout.load_sweep`, in-sample predictions (`calibration.validate`), the held-out tests; `validation.csv`, `heldout.json`; each run's simulated twin (`calibration.twins`) in `twins/` |
| `measured_figures.py` | section 3's figures: predicted vs measured, error per configuration, tasks per host, real vs simulated timeline |
| `measured_text.py` | section 3's Markdown, its headline, the verdict on each held-out split vs the naive baseline, and each real run's and its twin's History Server links |
| `timeline.py` | per-task timelines (executor thread x time) of real runs, from an event log (drawn as `sparkdelay.app.gantt` draws the model's) |
| `captions.py` | every figure's file name, title and caption, in one table by figure id |
| `figures.py` | one function per figure: PNG, with its title and caption from `captions.py` |
| `markdown.py` | `README.md` of the report and `README_SECTION.md` for the top README |
| `build.py` | `build_report(ReportOptions)`: all of the above, one named step each, in order; returns the headline numbers |
"""

from sparkdelay.app.report.build import ReportOptions, ReportResult, build_report
from sparkdelay.app.report.grids import GridSpec

__all__ = ["GridSpec", "ReportOptions", "ReportResult", "build_report"]

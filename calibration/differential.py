"""Differential scoring: the model against real Spark on random cases, judged as a distribution.

Spark's placement of a case is partly chance (the offer shuffle of `resourceOffers`, which
executor's result arrives first), so one prediction cannot be right or wrong the way a time
can. Each held-out case is simulated `reps` times with different seeds, and scored by:

- `in_set90`: Spark's sorted tasks-per-host vector lies in the model's 90 % predictive set
  (the fewest most-likely simulated vectors that together cover 90 % of the simulations);
- `mode_match`: Spark's vector is the model's most likely one;
- `locality_match`: Spark's tasks per locality level equal the model's most likely counts;
- `ape`: job duration, absolute error of the mean prediction over the measured time.

The cost model is to be fitted on other cases only (`heldout.fit` on the calibrating third), so
every score is on data the fit never saw.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from sparkdelay.sim.model.costs import CostModel

from sparkdelay.calibration.heldout import Run
from sparkdelay.calibration.validate import RunComparison, compare, locality_key, percentile, predictive_set


@dataclass
class CaseScore:
    run: Run
    comparison: RunComparison

    @property
    def in_set90(self) -> bool:
        return self.comparison.measured.sorted_counts in predictive_set(self.comparison.predicted_vectors, 0.9)

    @property
    def mode_match(self) -> bool:
        return self.comparison.placement_match

    @property
    def locality_match(self) -> bool:
        return locality_key(self.comparison.measured.locality_counts) == \
            locality_key(self.comparison.predicted_locality_mode)

    def row(self) -> dict:
        c, r = self.comparison, self.run.row
        return {"run_id": r["run_id"], "nodes": r["nodes"], "cores": r["cores"], "map_slices": r["map_slices"],
                "partitions": r["partitions"], "items": r["items"], "hash_seed": r["python_hash_seed"],
                "wait": r["wait"], "measured_s": round(c.measured_duration_s, 3),
                "predicted_s": round(c.predicted_duration_s, 3), "ape": round(c.ape, 4),
                "measured_vector": c.measured.sorted_counts, "mode_vector": c.predicted_sorted_mode,
                "set90": predictive_set(c.predicted_vectors, 0.9), "in_set90": self.in_set90,
                "mode_match": self.mode_match,
                "measured_locality": dict(locality_key(c.measured.locality_counts)),
                "mode_locality": dict(locality_key(c.predicted_locality_mode)),
                "locality_match": self.locality_match, "loadavg_1m": r.get("loadavg_1m")}


def score(model: CostModel, test: list[Run], reps: int, seed: int) -> dict:
    """Score every `test` run against `model` (fitted on other runs); the per-case rows and summary."""
    cases = [CaseScore(run, compare(run.measured, model, reps, seed)) for run in test]
    apes = sorted(c.comparison.ape for c in cases)

    def share(flag: str) -> float:
        return sum(getattr(c, flag) for c in cases) / len(cases) if cases else math.nan

    return {"test_runs": len(test), "reps": reps,
            "in_set90": share("in_set90"), "mode_match": share("mode_match"),
            "locality_match": share("locality_match"),
            "median_ape": statistics.median(apes) if apes else math.nan,
            "p90_ape": percentile(apes, 90) if apes else math.nan,
            "cases": [c.row() for c in cases]}

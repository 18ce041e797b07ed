"""Fit the cost model (`sim.costs.CostModel`) to samples recovered from event logs.

Reduce tasks: cpu = worker_startup * [fresh worker] + task_overhead + items * cpu_per_item +
shuffle bytes * cpu_per_byte; map tasks: cpu = map_task_overhead + items * map_cpu_per_item, so
the map side's own (small: it imports no Chainer) worker start is part of its overhead. Both
kinds form one linear model, fitted by robust (soft-L1) least squares with every parameter >= 0,
on columns scaled to unit size so seconds-per-byte and seconds-per-task are solved together.
A column the data cannot tell apart from the others (bytes proportional to items, one item
count for every map task, no fresh worker seen) is not fitted: its parameter is 0, its
uncertainty null, and a note says why, so the rest absorb its cost as the data demand.
Spreads follow the simulator's noise: var = task_overhead_sd^2 + fresh * worker_startup_sd^2 +
items * cpu_per_item_sd^2, fitted by non-negative least squares on reduce tasks' squared residuals
(clipped at 3 robust standard deviations, so a few tasks slowed by outside load do not set the
spread of all). Driver
delays are medians over jobs. Standard errors are the usual s^2 (X'X)^-1 at the robust
solution (normal-approximation, a guide rather than a guarantee).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import least_squares, nnls

from sparkdelay.sim.model.costs import MODEL_FORMAT, CostModel
from sparkdelay.ground.errors import UserError

from sparkdelay.calibration.samples import DriverSample, TaskSample

PARAMS = ("task_overhead_s", "map_task_overhead_s", "worker_startup_s", "cpu_per_item_s", "cpu_per_byte_s",
          "map_cpu_per_item_s")
INTERCEPTS = ("task_overhead_s", "map_task_overhead_s")
DRIVER_PARAMS = ("submit_delay_s", "stage_gap_s", "collect_s")
# Redundant columns are dropped in this order; the two intercepts are always kept.
_DROP_ORDER = ("cpu_per_byte_s", "worker_startup_s", "cpu_per_item_s", "map_cpu_per_item_s")
_WHY = {"worker_startup_s": "every task or no task started a fresh worker",
        "cpu_per_item_s": "every reduce task had the same number of items",
        "cpu_per_byte_s": "shuffle bytes follow the item counts",
        "map_cpu_per_item_s": "every map task had the same number of items"}
_COLLINEAR_R2 = 0.999
_MIN_ROBUST_SCALE_S = 0.01  # timestamps are ms-granular: residuals this small count as exact


@dataclass
class LinearFit:
    params: dict[str, float]
    se: dict[str, float | None]
    predicted: np.ndarray
    residuals: np.ndarray
    notes: list[str] = field(default_factory=list)
    unidentified: tuple[str, ...] = ()   # columns left out as not identifiable (set to 0)


def _redundancy(col: np.ndarray, others: np.ndarray, intercepts: np.ndarray) -> float:
    """R^2 of explaining `col` by `others`, measured against its variation around the intercepts
    (1.0 = fully redundant, including a column constant within each kind of task)."""
    def resid(a, b):
        if b.shape[1] == 0:
            return a
        coef, *_ = np.linalg.lstsq(b, a, rcond=None)
        return a - b @ coef

    dev = resid(col, intercepts)
    ss_tot = float(dev @ dev)
    if ss_tot <= 1e-20 * max(1.0, float(col @ col)):
        return 1.0
    r = resid(col, others)
    return 1.0 - float(r @ r) / ss_tot


def fit_linear(X: np.ndarray, y: np.ndarray, names: tuple[str, ...], drop_order: tuple[str, ...] = (),
               why: dict[str, str] | None = None, intercepts: tuple[str, ...] = ()) -> LinearFit:
    """Non-negative robust least squares of y on the columns of X, after dropping redundant columns."""
    keep = [j for j in range(len(names)) if np.any(X[:, j])]
    notes = [f"{names[j]} not identifiable (no task exercises it); set to 0"
             for j in range(len(names)) if j not in keep]
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    icols = [names.index(n) for n in intercepts if names.index(n) in keep]
    for name in drop_order:
        j = names.index(name)
        if j not in keep:
            continue
        others = [k for k in keep if k != j]
        if _redundancy(Xs[:, j], Xs[:, others], Xs[:, icols]) > _COLLINEAR_R2:
            keep.remove(j)
            notes.append(f"{name} not identifiable ({(why or {}).get(name, 'collinear with the other terms')}); set to 0")
    A = Xs[:, keep]
    n, p = A.shape
    x0, _ = nnls(A, y)
    resid0 = A @ x0 - y
    mad = float(np.median(np.abs(resid0 - np.median(resid0)))) * 1.4826 if n else 0.0
    if n > p:
        sol = least_squares(lambda b: A @ b - y, x0, bounds=(0.0, np.inf), loss="soft_l1",
                            f_scale=max(mad, _MIN_ROBUST_SCALE_S))
        beta = sol.x
    else:
        beta = x0
    beta = np.where(beta < 1e-6 * max(1.0, float(np.abs(y).max(initial=0.0))), 0.0, beta)
    predicted = A @ beta
    residuals = y - predicted
    params = {name: 0.0 for name in names}
    se: dict[str, float | None] = {name: None for name in names}
    for b, k in zip(beta, keep):
        params[names[k]] = float(b / scale[k])
    if n > p:
        s2 = float(residuals @ residuals) / (n - p)
        try:
            cov = s2 * np.linalg.inv(A.T @ A)
            for i, k in enumerate(keep):
                se[names[k]] = float(math.sqrt(max(cov[i, i], 0.0)) / scale[k])
        except np.linalg.LinAlgError:
            notes.append("normal matrix singular: no standard errors")
    else:
        notes.append(f"{n} samples for {p} parameters: no standard errors")
    return LinearFit(params, se, predicted, residuals, notes, tuple(n for j, n in enumerate(names) if j not in keep))


def _spreads(residuals: np.ndarray, fresh: np.ndarray, items: np.ndarray, params: dict[str, float],
             nparams: int) -> dict[str, float]:
    """sd of task overhead, worker start-up and per-item cost from reduce tasks' squared residuals."""
    n = len(residuals)
    cols, names = [np.ones(n)], ["task_overhead_sd_s"]
    if params["worker_startup_s"] > 0 and fresh.any():
        cols.append(fresh.astype(float)); names.append("worker_startup_sd_s")
    if params["cpu_per_item_s"] > 0:
        cols.append(items.astype(float)); names.append("cpu_per_item_sd_s")
    out = {"task_overhead_sd_s": 0.0, "worker_startup_sd_s": 0.0, "cpu_per_item_sd_s": 0.0}
    if n <= len(cols):
        return out
    # A task slowed by something outside the model (another process on the machine) would
    # dominate a sum of squares: clip residuals at 3 robust standard deviations (MAD) first.
    robust_sd = 1.4826 * float(np.median(np.abs(residuals - np.median(residuals))))
    if robust_sd > 0:
        residuals = np.clip(residuals, -3 * robust_sd, 3 * robust_sd)
    # Residuals of a fit with p parameters under-state the noise by about (n - p) / n.
    total = max(n, nparams + 1)
    target = residuals ** 2 * (total / max(total - nparams, 1))
    var, _ = nnls(np.column_stack(cols), target)
    for name, v in zip(names, var):
        out[name] = float(math.sqrt(v))
    return out


def _driver(samples: list[DriverSample]) -> tuple[dict[str, float], dict[str, float | None]]:
    params, se = {}, {}
    for name in DRIVER_PARAMS:
        values = np.array([getattr(s, name) for s in samples if getattr(s, name) is not None], dtype=float)
        values = np.clip(values, 0.0, None)  # clocks are ms-granular: tiny negatives are 0
        params[name] = float(np.median(values)) if len(values) else 0.0
        # 1.2533 * sd / sqrt(n): the large-sample standard error of a median of normal data.
        se[name] = float(1.2533 * values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None
    return params, se


@dataclass
class ModelFit:
    model: CostModel
    uncertainty: dict[str, float | None]
    tasks: list[TaskSample]
    predicted: np.ndarray
    jobs: list[DriverSample]
    notes: list[str]
    # Terms these tasks cannot tell apart from the others (every reduce task of the same size,
    # say): the linear fit sets them to 0, and the trace fit holds them there too.
    unidentified: tuple[str, ...] = ()

    @property
    def residuals(self) -> np.ndarray:
        return np.array([t.cpu_s for t in self.tasks]) - self.predicted

    @property
    def rmse_s(self) -> float:
        r = self.residuals
        return float(math.sqrt(np.mean(r ** 2))) if len(r) else 0.0


def design_row(t: TaskSample) -> list[float]:
    """The task's column values, in `PARAMS` order."""
    fresh = float(t.fresh_worker)
    # No start-up column for map tasks: the brief's model has none (see the module docstring).
    if t.kind == "reduce":
        return [1.0, 0.0, fresh, float(t.items), float(t.shuffle_read_bytes), 0.0]
    return [0.0, 1.0, 0.0, 0.0, 0.0, float(t.items or 0)]


def fit_model(tasks: list[TaskSample], jobs: list[DriverSample]) -> ModelFit:
    """Fit every task parameter in one least-squares problem (map and reduce rows together)."""
    reduce = [t for t in tasks if t.kind == "reduce"]
    if not reduce:
        raise UserError("no successful reduce tasks of a PySpark shuffle job (partitionBy -> collect) in the logs")
    tasks = reduce + [t for t in tasks if t.kind == "map"]
    notes = []
    if any(t.items_source == "records" for t in reduce):
        notes.append("items per reduce task taken from shuffle records read (PySpark batches: give --workload for exact items)")
    if any(t.kind == "map" and t.items is None for t in tasks):
        notes.append("map items unknown (no --workload): map_task_overhead_s takes the whole map-task CPU")
    if len(tasks) == len(reduce):
        notes.append("no map tasks: map parameters set to 0")
    X = np.array([design_row(t) for t in tasks], dtype=float)
    y = np.array([t.cpu_s for t in tasks])
    lfit = fit_linear(X, y, PARAMS, _DROP_ORDER, _WHY, INTERCEPTS)
    params = dict(lfit.params)
    nparams = sum(1 for v in lfit.se.values() if v is not None) or len(PARAMS)
    nr = len(reduce)
    params.update(_spreads(lfit.residuals[:nr], X[:nr, 2], X[:nr, 3], params, nparams))
    uncertainty = dict(lfit.se)
    dparams, dse = _driver(jobs)
    params.update(dparams)
    uncertainty.update(dse)
    model = CostModel.from_params(params, where="fitted model")
    return ModelFit(model, uncertainty, tasks, lfit.predicted, jobs, notes + lfit.notes, lfit.unidentified)


def model_document(fit: ModelFit, logs: list[str], cluster: str | None, workload: str | None) -> dict:
    """The `sparkdelay-model/1` document: params, uncertainty, fit report, sources."""
    residuals = []
    for t, pred in zip(fit.tasks, fit.predicted):
        residuals.append({"app_id": t.app_id, "stage": t.stage_id, "index": t.index, "kind": t.kind,
                          "executor": t.executor_id, "fresh_worker": t.fresh_worker, "items": t.items,
                          "duration_s": round(t.duration_s, 4), "observed_cpu_s": round(t.cpu_s, 4),
                          "predicted_cpu_s": round(float(pred), 4)})
    reduce = [t for t in fit.tasks if t.kind == "reduce"]
    maps = [t for t in fit.tasks if t.kind == "map"]
    return {
        "format": MODEL_FORMAT,
        "params": asdict(fit.model),
        "uncertainty": {k: (v if v is not None and math.isfinite(v) else None)
                        for k in asdict(fit.model) if k in fit.uncertainty for v in [fit.uncertainty[k]]},
        "fit_report": {
            "tasks": len(fit.tasks),
            "reduce_tasks": len(reduce),
            "map_tasks": len(maps),
            "runs": len({t.app_id for t in fit.tasks}),
            "jobs": len(fit.jobs),
            "rmse_s": round(fit.rmse_s, 4),
            "notes": fit.notes,
            "residuals": residuals,
        },
        "source": {"logs": logs, "cluster": cluster, "workload": workload},
    }

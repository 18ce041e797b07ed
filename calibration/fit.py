"""Fit the cost model (`sim.costs.CostModel`) to samples recovered from event logs.

Reduce tasks: cpu = worker_startup * [fresh worker] + task_overhead + items * cpu_per_item +
shuffle bytes * cpu_per_byte; map tasks: cpu = map_task_overhead + items * map_cpu_per_item.
Each is a linear model fitted by robust (soft-L1) least squares with every parameter >= 0,
on columns scaled to unit size so seconds-per-byte and seconds-per-task are solved together.
A column the data cannot tell apart from the others (bytes proportional to items, one item
count for every map task, no fresh worker seen) is not fitted: its parameter is 0, its
uncertainty null, and a note says why, so the rest absorb its cost as the data demand.
Spreads follow the simulator's noise: var = task_overhead_sd^2 + fresh * worker_startup_sd^2 +
items * cpu_per_item_sd^2, fitted by non-negative least squares on squared residuals. Driver
delays are medians over jobs. Standard errors are the usual s^2 (X'X)^-1 at the robust
solution (normal-approximation, a guide rather than a guarantee).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares, nnls

from sim.costs import MODEL_FORMAT, CostModel

from .samples import DriverSample, TaskSample

REDUCE_PARAMS = ("worker_startup_s", "task_overhead_s", "cpu_per_item_s", "cpu_per_byte_s")
MAP_PARAMS = ("map_task_overhead_s", "map_cpu_per_item_s")
DRIVER_PARAMS = ("submit_delay_s", "stage_gap_s", "collect_s")
# Collinear columns are dropped in this order; the intercepts are always kept.
_REDUCE_DROP_ORDER = ("cpu_per_byte_s", "worker_startup_s", "cpu_per_item_s")
_MAP_DROP_ORDER = ("map_cpu_per_item_s",)
_COLLINEAR_R2 = 0.999
_MIN_ROBUST_SCALE_S = 0.01  # below timestamp resolution effects, residuals count as exact


@dataclass
class LinearFit:
    params: dict[str, float]
    se: dict[str, float | None]
    predicted: np.ndarray
    residuals: np.ndarray
    notes: list[str] = field(default_factory=list)


def _r2_against(col: np.ndarray, others: np.ndarray, has_intercept: bool) -> float:
    """R^2 of explaining `col` by the columns of `others` (1.0 = fully redundant)."""
    total = col - col.mean() if has_intercept else col
    ss_tot = float(total @ total)
    if ss_tot <= 1e-24 * max(1.0, float(col @ col)):
        return 1.0  # constant (or zero) column: nothing an intercept cannot do
    if others.shape[1] == 0:
        return 0.0
    coef, *_ = np.linalg.lstsq(others, col, rcond=None)
    resid = col - others @ coef
    return 1.0 - float(resid @ resid) / ss_tot


def fit_linear(X: np.ndarray, y: np.ndarray, names: tuple[str, ...], drop_order: tuple[str, ...],
               why: dict[str, str]) -> LinearFit:
    """Non-negative robust least squares of y on the columns of X (column 0 must not be dropped)."""
    keep = list(range(len(names)))
    notes = []
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    for name in drop_order:
        j = names.index(name)
        others = [k for k in keep if k != j]
        has_intercept = any(np.allclose(Xs[:, k], Xs[0, k]) and Xs[0, k] != 0 for k in others)
        if not np.any(X[:, j]) or _r2_against(Xs[:, j], Xs[:, others], has_intercept) > _COLLINEAR_R2:
            keep.remove(j)
            notes.append(f"{name} not identifiable ({why.get(name, 'collinear with the other terms')}); set to 0")
    A = Xs[:, keep]
    n, p = A.shape
    x0, _ = nnls(A, y)
    resid0 = A @ x0 - y
    mad = float(np.median(np.abs(resid0 - np.median(resid0)))) * 1.4826 if n else 0.0
    f_scale = max(mad, _MIN_ROBUST_SCALE_S)
    if n > p:
        sol = least_squares(lambda b: A @ b - y, x0 + 1e-12, bounds=(0.0, np.inf), loss="soft_l1", f_scale=f_scale,
                            x_scale="jac")
        beta = sol.x
    else:
        beta = x0
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
    return LinearFit(params, se, predicted, residuals, notes)


def _spreads(fit: LinearFit, fresh: np.ndarray, items: np.ndarray) -> dict[str, float]:
    """sd of task overhead, worker start-up and per-item cost from squared residuals."""
    n = len(fit.residuals)
    cols, names = [np.ones(n)], ["task_overhead_sd_s"]
    if fit.se.get("worker_startup_s") is not None or fit.params["worker_startup_s"] > 0:
        cols.append(fresh.astype(float)); names.append("worker_startup_sd_s")
    if fit.params["cpu_per_item_s"] > 0:
        cols.append(items.astype(float)); names.append("cpu_per_item_sd_s")
    out = {"task_overhead_sd_s": 0.0, "worker_startup_sd_s": 0.0, "cpu_per_item_sd_s": 0.0}
    p = sum(1 for v in fit.se.values() if v is not None) or 1
    if n <= len(cols):
        return out
    # Residuals of a fit with p parameters under-state the noise by (n - p) / n.
    target = fit.residuals ** 2 * (n / max(n - p, 1))
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
    reduce: LinearFit
    map: LinearFit | None
    tasks: list[TaskSample]
    jobs: list[DriverSample]
    notes: list[str]

    @property
    def rmse_s(self) -> float:
        res = np.concatenate([self.reduce.residuals] + ([self.map.residuals] if self.map else []))
        return float(math.sqrt(np.mean(res ** 2))) if len(res) else 0.0


def fit_model(tasks: list[TaskSample], jobs: list[DriverSample]) -> ModelFit:
    from sparkdelay.errors import UserError

    reduce = [t for t in tasks if t.kind == "reduce"]
    maps = [t for t in tasks if t.kind == "map"]
    if not reduce:
        raise UserError("no successful reduce tasks of a PySpark shuffle job (partitionBy -> collect) in the logs")
    notes = []
    if any(t.items_source == "records" for t in reduce):
        notes.append("items per reduce task taken from shuffle records read (PySpark batches: give --workload for exact items)")
    fresh = np.array([t.fresh_worker for t in reduce], dtype=float)
    items = np.array([t.items for t in reduce], dtype=float)
    X = np.column_stack([fresh, np.ones(len(reduce)), items, np.array([t.shuffle_read_bytes for t in reduce], float)])
    y = np.array([t.cpu_s for t in reduce])
    # Column order: keep the intercept first for fit_linear's contract.
    order = (1, 0, 2, 3)
    names = tuple(REDUCE_PARAMS[i] for i in order)
    why = {"worker_startup_s": "every task or no task started a fresh worker",
           "cpu_per_item_s": "every reduce task had the same number of items",
           "cpu_per_byte_s": "shuffle bytes follow the item counts"}
    rfit = fit_linear(X[:, order], y, names, _REDUCE_DROP_ORDER, why)
    params = dict(rfit.params)
    params.update(_spreads(rfit, fresh, items))
    uncertainty = dict(rfit.se)

    mfit = None
    if maps and all(t.items is not None for t in maps):
        mX = np.column_stack([np.ones(len(maps)), [t.items for t in maps]]).astype(float)
        mfit = fit_linear(mX, np.array([t.cpu_s for t in maps]), MAP_PARAMS, _MAP_DROP_ORDER,
                          {"map_cpu_per_item_s": "every map task had the same number of items"})
    elif maps:
        notes.append("map items unknown (no --workload): map_task_overhead_s is the mean map-task CPU")
        mX = np.column_stack([np.ones(len(maps)), np.zeros(len(maps))])
        mfit = fit_linear(mX, np.array([t.cpu_s for t in maps]), MAP_PARAMS, _MAP_DROP_ORDER,
                          {"map_cpu_per_item_s": "map items unknown"})
    else:
        notes.append("no map tasks: map parameters set to 0")
    if mfit:
        params.update(mfit.params)
        uncertainty.update(mfit.se)
    dparams, dse = _driver(jobs)
    params.update(dparams)
    uncertainty.update(dse)
    notes += rfit.notes + (mfit.notes if mfit else [])
    model = CostModel.from_params(params, where="fitted model")
    return ModelFit(model, uncertainty, rfit, mfit, tasks, jobs, notes)


def model_document(fit: ModelFit, logs: list[str], cluster: str | None, workload: str | None) -> dict:
    """The `sparkdelay-model/1` document: params, uncertainty, fit report, sources."""
    from dataclasses import asdict

    residuals = []
    reduce = [t for t in fit.tasks if t.kind == "reduce"]
    maps = [t for t in fit.tasks if t.kind == "map"]
    for group, lfit in ((reduce, fit.reduce), (maps, fit.map)):
        if lfit is None:
            continue
        for t, pred in zip(group, lfit.predicted):
            residuals.append({"app_id": t.app_id, "stage": t.stage_id, "index": t.index, "kind": t.kind,
                              "executor": t.executor_id, "fresh_worker": t.fresh_worker, "items": t.items,
                              "duration_s": round(t.duration_s, 4), "observed_cpu_s": round(t.cpu_s, 4),
                              "predicted_cpu_s": round(float(pred), 4)})
    return {
        "format": MODEL_FORMAT,
        "params": asdict(fit.model),
        "uncertainty": {k: v for k, v in fit.uncertainty.items()},
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

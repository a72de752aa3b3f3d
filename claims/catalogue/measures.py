"""Statistics shared by the catalogue's measurements: per-cell means with their Monte Carlo
covariance, and power-law (log-log slope) fits of those means by generalised least squares.

Claims that sweep width or depth over ensembles of networks record, per cell, the mean of a
statistic, its standard error and (when one cell holds several depths of the same networks) the
covariance of the means across the cell's rows (``covariance_columns``). ``slope_estimate`` fits
|E statistic| = exp(c) x^s to those means with their covariance (``power_law``) and returns the
claim's Estimate (the exponent s, its interval, a fit table with secondary statistics, a figure);
``depth_slope`` is its form for one statistic against depth, used through functools.partial by the
readings of the NFD claims. Used by claims/catalogue/nfd2025/, nfd2025_v1.py and coord_check.py.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Mapping, Sequence

import numpy as np
import statsmodels.api as sm
import torch
from scipy import stats as sps
from scipy.optimize import least_squares

from ..spec import Estimate, Table


def mean_se(x: torch.Tensor) -> tuple[float, float]:
    """Mean and standard error of the mean over the first axis (the cell's networks)."""
    x = x.double()
    return float(x.mean()), float(x.std() / math.sqrt(x.shape[0]))


def covariance_columns(rows: list[dict[str, Any]], key: str, m: torch.Tensor) -> None:
    """Per-row mean, se and the covariance of the means with every row of the cell (list)."""
    s = m.shape[0]
    mean = m.mean(0)
    cov = torch.cov(m.T).reshape(m.shape[1], m.shape[1]) / s
    for i, row in enumerate(rows):
        row[key] = float(mean[i])
        row[f"{key}_se"] = float(cov[i, i].clamp_min(0).sqrt())
        row[f"{key}_cov"] = [float(c) for c in cov[i]]


def block_cov(table: Table, key: str, order: Sequence[Any], by: str) -> np.ndarray:
    """Covariance of the rows' means: within a cell from ``key_cov`` (indexed by ``by`` in ``order``),
    zero across cells (independent seeds)."""
    rows = table.rows
    k = len(rows)
    cov = np.zeros((k, k))
    for i, ri in enumerate(rows):
        for j, rj in enumerate(rows):
            if ri["cell"] != rj["cell"]:
                continue
            if f"{key}_cov" in ri:
                cell_order = [r[by] for r in rows if r["cell"] == ri["cell"]]
                cov[i, j] = ri[f"{key}_cov"][cell_order.index(rj[by])]
            elif i == j:
                cov[i, j] = ri[f"{key}_se"] ** 2
    return cov


def gls(y: np.ndarray, design: np.ndarray, cov: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, float, float]:
    """GLS with the known Monte Carlo covariance of the means (S >= 512 networks per cell, so the
    covariance is well estimated) and normal quantiles. The parameters are those of the best
    approximation in the Sigma^-1 metric over the swept range (the pseudo-true parameter); with
    known Sigma their covariance is (X' Sigma^-1 X)^-1 whether or not the model is exact, so a
    misfit (Pearson chi^2/df >> 1, reported) does not widen the interval: it says that the exponent
    is an average over the sweep. Returns params, covariance, critical value, chi^2/df."""
    res = sm.GLS(y, design, sigma=cov).fit()
    df = len(y) - design.shape[1]
    resid = y - design @ res.params
    chi2 = float(resid @ np.linalg.solve(cov, resid))
    ratio = chi2 / df if df > 0 else math.nan
    crit = float(sps.norm.ppf(0.5 + level / 2))
    return np.asarray(res.params), np.asarray(res.normalized_cov_params), crit, ratio


def power_law(x: np.ndarray, mean: np.ndarray, cov: np.ndarray, level: float) -> dict[str, Any]:
    """Fit E = sign * exp(c + s log x) to means with Monte Carlo covariance ``cov`` by generalised
    nonlinear least squares (whitened residuals, scipy least_squares); covariance (J'J)^-1 with
    normal quantiles (the pseudo-true exponent over the sweep, as in ``gls``; chi^2/df reported).
    The sign is that of the precision-weighted mean; means of the other sign are just large
    residuals (no log of a negative number is taken)."""
    x = np.asarray(x, float)
    mean = np.asarray(mean, float)
    se = np.sqrt(np.diag(cov))
    sgn = 1.0 if np.sum(mean / se**2) >= 0 else -1.0
    empty = {"slope": math.nan, "ci": (-math.inf, math.inf), "sign": sgn, "ok": False, "chi2_df": math.nan,
             "params": None, "cov": None, "crit": math.nan}
    if len(np.unique(x)) < 2 or len(x) < 3:
        return empty
    y = sgn * mean
    chol = np.linalg.cholesky(cov + 1e-300 * np.eye(len(x)))
    lx = np.log(x)
    design = np.column_stack([np.ones_like(lx), lx])

    def resid(th: np.ndarray) -> np.ndarray:
        return np.linalg.solve(chol, y - np.exp(design @ th))

    def jac(th: np.ndarray) -> np.ndarray:
        return np.linalg.solve(chol, -(np.exp(design @ th)[:, None] * design))

    pos = np.maximum(y, 0.1 * np.max(np.abs(y)) + 1e-300)
    start = np.linalg.lstsq(design, np.log(pos), rcond=None)[0]
    sol = least_squares(resid, start, jac=jac, method="lm")
    jj = sol.jac.T @ sol.jac
    df = len(x) - 2
    ratio = float(2 * sol.cost / df) if df > 0 else math.nan
    try:
        pcov = np.linalg.inv(jj)
    except np.linalg.LinAlgError:
        return {**empty, "chi2_df": ratio}
    crit = float(sps.norm.ppf(0.5 + level / 2))
    half = crit * math.sqrt(max(pcov[1, 1], 0.0))
    if not (np.isfinite(half) and half > 0 and sol.success):  # a zero-width interval is a degenerate fit
        return {**empty, "chi2_df": ratio}
    params = sol.x
    return {"slope": float(params[1]), "ci": (float(params[1] - half), float(params[1] + half)), "sign": sgn,
            "ok": True, "chi2_df": ratio, "params": params, "cov": pcov, "crit": crit}


def _series(label: str, x: np.ndarray, mean: np.ndarray, se: np.ndarray, fit: Mapping[str, Any],
            predicted_slope: float | None = None) -> dict[str, Any]:
    """A figure series: the means |mean| per row and per x with 95% bars, the fitted line and band."""
    xs = sorted(set(x.tolist()))
    agg = [(float(np.mean(np.abs(mean[x == v]))), float(1.96 * np.sqrt(np.sum(se[x == v] ** 2)) / max(1, np.sum(x == v))))
           for v in xs]
    series: dict[str, Any] = {"label": label, "points": {"x": x.tolist(), "y": np.abs(mean).tolist()},
                              "mean": {"x": xs, "y": [a for a, _ in agg], "yerr": [b for _, b in agg]}}
    if fit.get("ok"):
        g = np.log(np.asarray(xs, float))
        design = np.column_stack([np.ones_like(g), g])
        pred = design @ fit["params"]
        band = fit["crit"] * np.sqrt(np.einsum("ij,jk,ik->i", design, fit["cov"], design))
        series["fit"] = {"x": xs, "y": np.exp(pred).tolist(), "lo": np.exp(pred - band).tolist(),
                         "hi": np.exp(pred + band).tolist()}
        if predicted_slope is not None:
            anchor = float(np.exp(pred[0]))
            series["predicted"] = {"x": xs, "y": [anchor * (v / xs[0]) ** predicted_slope for v in xs]}
    return series


def fit_row(label: str, fit: Mapping[str, Any], n: int, predicted: float | None) -> dict[str, Any]:
    """One row of an Estimate's fit table from a ``power_law`` fit."""
    return {"label": label, "slope": fit["slope"], "ci": list(fit["ci"]), "r2": None, "n": n,
            "predicted_slope": predicted, "chi2_df": fit["chi2_df"]}


def achieved(table: Table, key: str, by: str) -> str:
    """The per-row means and standard errors of ``key`` achieved, for an Estimate's notes."""
    return ", ".join(f"{by}={r[by]}: {r[key]:.3g} +- {r[key + '_se']:.2g}" for r in table.rows
                     if isinstance(r.get(key), float) and math.isfinite(r[key]))


def slope_estimate(table: Table, key: str, by: str, level: float, predicted: float, title: str, ylabel: str,
                   extra: Sequence[tuple[str, str, float | None]] = ()) -> Estimate:
    """Slope of log |E key| on log ``by`` (primary), plus secondary definitions in the fit table."""
    rows = [r for r in table.rows if math.isfinite(r.get(key, math.nan))]
    sub = Table(rows)
    x = sub.col(by).astype(float)
    mean = sub.col(key).astype(float)
    cov = block_cov(sub, key, sub.unique(by), by)
    fit = power_law(x, mean, cov, level)
    fit_table = [fit_row(f"{key} (primary)", fit, len(rows), predicted)]
    series = [_series(key, x, mean, np.sqrt(np.diag(cov)), fit, predicted)]
    notes = [f"achieved {key}: {achieved(sub, key, by)}",
             f"{key}: sign {'+' if fit['sign'] > 0 else '-'}, GLS chi2/df {fit['chi2_df']:.3g}"]
    for k2, lab, pred2 in extra:
        r2 = [r for r in table.rows if math.isfinite(r.get(k2, math.nan))]
        if not r2:
            continue
        t2 = Table(r2)
        x2 = t2.col(by).astype(float)
        f2 = power_law(x2, t2.col(k2).astype(float), block_cov(t2, k2, t2.unique(by), by), level)
        fit_table.append(fit_row(lab, f2, len(r2), pred2))
        series.append(_series(lab, x2, t2.col(k2).astype(float), np.array([r[k2 + "_se"] for r in r2]), f2, pred2))
        notes.append(f"{lab}: slope {f2['slope']:.3g}, CI [{f2['ci'][0]:.3g}, {f2['ci'][1]:.3g}]; "
                     f"achieved {achieved(t2, k2, by)}")
    figure = {"title": title, "xlabel": by, "ylabel": ylabel, "xlog": True, "ylog": True, "series": series}
    return Estimate(fit["slope"], [fit["ci"]], fit_table, figure, notes="; ".join(notes))


def with_notes(est: Estimate, extra: str) -> Estimate:
    """``est`` with ``extra`` appended to its notes."""
    return replace(est, notes="; ".join(n for n in (est.notes, extra) if n))


def depth_slope(table: Table, level: float, *, key: str, predicted: float, title: str, ylabel: str,
                extra: Sequence[tuple[str, str, float | None]] = ()) -> Estimate:
    """Slope of log |E key| on log L (one statistic of a reading; use through functools.partial);
    ``extra`` statistics go to the fit table."""
    return slope_estimate(table, key, "depth", level, predicted, title, ylabel, extra)

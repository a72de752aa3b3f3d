"""The shift of the theory's response curve that fits the measured one, with jackknife intervals.

Shared by the three response claims (argmax.py, weak_sigma.py, empirical_range.py): the rows of one
configuration (depth, sigma_w^2, c0) become cluster curves (independent groups of networks, each
measured at every alpha), ``shift_fit`` moves the theory curve along log alpha to fit them, and the
leave-one-cluster-out fits give its standard error (fischer2023.md section 6).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy.optimize import minimize_scalar

from ...spec import Table
from ...stats import t_quantile
from .response import SHIFT_BOUND, response_template

SHRINK = 0.1  # shrinkage of the shift fit's estimated covariance toward its diagonal


def clusters(table: Table) -> np.ndarray:
    """Cluster labels (cell, group): independent networks; rows of one cluster share them across alpha."""
    return np.array([f"{r['cell']}-{r.get('group', 0)}" for r in table.rows])


def curves(sub: Table) -> tuple[list[float], np.ndarray]:
    """(alphas, Y): Y[g, k] the mean response of cluster g at alphas[k] (every cluster is measured at
    every alpha of its cell: common random numbers along a row)."""
    labels = clusters(sub)
    names = sorted(set(labels))
    alphas = sub.unique("scale")
    out = np.full((len(names), len(alphas)), np.nan)
    for r, lab in zip(sub.rows, labels):
        out[names.index(lab), alphas.index(r["scale"])] = r["response"]
    if np.isnan(out).any():
        raise ValueError("a response cluster misses an alpha of its grid: every group must be measured at every alpha")
    return alphas, out


def jackknife_se(values: np.ndarray) -> float:
    """Leave-one-out jackknife standard error from the G leave-one-out values of a statistic."""
    g = len(values)
    return float(math.sqrt((g - 1) / g * np.sum((values - values.mean()) ** 2)))


def shift_fit(u: np.ndarray, y: np.ndarray, f: Callable[[np.ndarray], np.ndarray]) -> float:
    """The shift s (log alpha) of the template f that fits the measured response best.

    y (G, K) holds G independent clusters' responses at u = log alpha (K points, the same networks at
    every point). The model is log mean_g y[:, k] = a + f(u_k - s): the theory's curve moved by s along
    log alpha at a free level a (the measured argmax is the template's times e^s). Generalised least
    squares: the covariance of the log means is estimated from the clusters (delta method), shrunk by
    SHRINK toward its diagonal, and inverted (neighbouring alphas are strongly correlated, so the full
    covariance, not per-point weights, carries the precision); a is profiled out; s on a 0.01 grid over
    +-SHIFT_BOUND, then a bounded scalar search around the best grid point.
    """
    mean = y.mean(axis=0)
    if np.any(mean <= 0):
        raise ValueError("a mean response is not positive: the shift fit works on log chi")
    cov = np.cov(y / mean, rowvar=False) / y.shape[0]
    weight = np.linalg.pinv((1.0 - SHRINK) * cov + SHRINK * np.diag(np.diag(cov)), hermitian=True)
    ones = np.ones(len(u))
    ly = np.log(mean)

    def loss(shifts: np.ndarray) -> np.ndarray:
        r = ly[None, :] - f(u[None, :] - shifts[:, None])
        r = r - ((r @ weight @ ones) / (ones @ weight @ ones))[:, None]
        return np.einsum("sk,kl,sl->s", r, weight, r)

    grid = np.linspace(-SHIFT_BOUND, SHIFT_BOUND, int(round(200 * SHIFT_BOUND)) + 1)
    j = int(np.argmin(loss(grid)))
    lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, len(grid) - 1)]
    best = minimize_scalar(lambda v: float(loss(np.array([v]))[0]), bounds=(lo, hi), method="bounded",
                           options={"xatol": 1e-6})
    return float(best.x)


def shift_with_jackknife(u: np.ndarray, y: np.ndarray, f: Callable[[np.ndarray], np.ndarray],
                         ) -> tuple[float, np.ndarray]:
    """(s, leave-one-cluster-out values of s) of ``shift_fit``."""
    return shift_fit(u, y, f), np.array([shift_fit(u, np.delete(y, g, axis=0), f) for g in range(y.shape[0])])


def reading_params(table: Table) -> dict[str, Any]:
    """The reading's network parameters as the table carries them (constant within a run)."""
    row = table.rows[0]
    return {k: row[k] for k in ("block", "input_layer", "bias_var") if k in row}


def configurations(table: Table) -> list[tuple[int, float, float]]:
    """The (depth, sigma_w^2, c0) configurations of a response table, sorted."""
    return sorted({(int(r["depth"]), float(r["sigma_w2"]), float(r["c0"])) for r in table.rows})


def configuration_rows(table: Table, depth: int, s2: float, c0: float) -> Table:
    """The rows of one configuration."""
    return Table([r for r in table.rows if int(r["depth"]) == depth and float(r["sigma_w2"]) == s2
                  and float(r["c0"]) == c0])


def configuration_fit(sub: Table, depth: int, s2: float, c0: float, params: Mapping[str, Any],
                      ) -> tuple[float, np.ndarray, float, list[float], np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Shift fit of one configuration: (s, leave-one-out s, log theory argmax, alphas, Y, template)."""
    alphas, y = curves(sub)
    u = np.log(alphas)
    f, ustar = response_template(depth, s2, c0, params, float(np.mean(u)))
    s, loo = shift_with_jackknife(u, y, f)
    return s, loo, ustar, alphas, y, f


def response_series(label: str, alphas: Sequence[float], y: np.ndarray, f: Callable[[np.ndarray], np.ndarray],
                     shift: float) -> dict[str, Any]:
    """Figure series of one configuration: measured mean (95% t intervals over clusters), the theory curve
    (the template at its own level) and nothing else; the fitted shift is in the label."""
    mean = y.mean(axis=0)
    half = t_quantile(0.95, y.shape[0] - 1) * y.std(axis=0, ddof=1) / math.sqrt(y.shape[0])
    return {"label": f"{label} (shift {shift:+.3f})", "mean": {"x": list(alphas), "y": mean.tolist(),
                                                              "yerr": half.tolist()},
            "predicted": {"x": list(alphas), "y": np.exp(f(np.log(alphas))).tolist()}}


def response_figure(title: str, series: list[dict[str, Any]]) -> dict[str, Any]:
    """The figure of a response estimator: the response against alpha (log axis), one ``response_series``
    per configuration."""
    return {"title": title, "xlabel": "residual scale alpha", "ylabel": "response chi (dimensionless)", "xlog": True,
            "ylog": False, "series": series}

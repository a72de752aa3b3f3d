"""Fits, confidence sets and equivalence verdicts (statsmodels / scipy, not hand-rolled tests).

Every fit clusters its standard errors on the sweep cell that produced the rows, because rows of
one cell share random numbers (common random numbers across an inner axis) while different cells
are independent. Confidence sets may be unbounded or a union of two rays (Fieller's theorem for
a ratio); the verdict logic works on the set, never on a point estimate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
from scipy import stats as sps

Interval = tuple[float, float]


@dataclass(frozen=True)
class LinearFit:
    """An OLS fit with cluster-robust covariance: coefficients, covariance, t quantile, R^2, n."""

    params: np.ndarray
    cov: np.ndarray
    t_crit: float
    r2: float
    n: int
    clusters: int

    def ci(self, index: int) -> Interval:
        half = self.t_crit * math.sqrt(max(self.cov[index, index], 0.0))
        return (float(self.params[index] - half), float(self.params[index] + half))


def ols(design: np.ndarray, y: np.ndarray, groups: np.ndarray, level: float) -> LinearFit:
    """OLS of y on ``design``: cluster-robust (CR1) covariance with t(G-1) quantiles, or, when every
    cluster is a single row, HC3 with t(n-k) (CR1 = HC1 undercovers badly in small samples)."""
    groups = np.unique(np.asarray(groups), return_inverse=True)[1]
    n_clusters = int(groups.max()) + 1
    if n_clusters < 3 or len(y) <= design.shape[1]:
        raise ValueError(f"too few observations to fit: {len(y)} rows in {n_clusters} clusters")
    model = sm.OLS(y, design)
    if n_clusters == len(y):
        res, df = model.fit(cov_type="HC3", use_t=True), len(y) - design.shape[1]
    else:
        res, df = model.fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True), n_clusters - 1
    t_crit = float(sps.t.ppf(0.5 + level / 2, df=df))
    return LinearFit(np.asarray(res.params), np.asarray(res.cov_params()), t_crit, float(res.rsquared), len(y), n_clusters)


def loglog_slope(x: np.ndarray, y: np.ndarray, groups: np.ndarray, level: float) -> LinearFit:
    """Fit log y = c + s log x; params = (c, s). y must be positive."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if np.any(y <= 0) or np.any(x <= 0):
        raise ValueError("log-log fit needs positive x and y; got a non-positive value")
    design = np.column_stack([np.ones_like(x), np.log(x)])
    return ols(design, np.log(y), groups, level)


def fieller_ratio(num: float, den: float, v_nn: float, v_dd: float, v_nd: float, t_crit: float) -> list[Interval]:
    """Confidence set for theta = num / den: {theta : |num - theta den| <= t sd(num - theta den)}.

    Returns one interval, two rays (when den is not clearly non-zero), or the whole line.
    """
    a = den * den - t_crit**2 * v_dd
    b = num * den - t_crit**2 * v_nd
    c = num * num - t_crit**2 * v_nn
    disc = b * b - a * c
    if a > 0:
        if disc < 0:  # cannot happen for a valid covariance; be safe
            return []
        r = math.sqrt(disc)
        return [((b - r) / a, (b + r) / a)]
    if disc <= 0:
        return [(-math.inf, math.inf)]
    r = math.sqrt(disc)
    lo, hi = sorted(((b - r) / a, (b + r) / a))
    return [(-math.inf, lo), (hi, math.inf)]


def linear_root(fit: LinearFit, i_const: int, i_slope: int, centre: float = 0.0) -> tuple[float, list[Interval]]:
    """Root of s(b) = p[i_const] + p[i_slope] (b - centre), with its Fieller confidence set."""
    p, v = fit.params, fit.cov
    num, den = -p[i_const], p[i_slope]
    pieces = fieller_ratio(num, den, v[i_const, i_const], v[i_slope, i_slope], -v[i_const, i_slope], fit.t_crit)
    shift = [(lo + centre, hi + centre) for lo, hi in pieces]
    estimate = num / den + centre if den != 0 else math.nan
    return float(estimate), shift


def hull(pieces: list[Interval]) -> Interval:
    """The smallest interval containing a confidence set (nan, nan for an empty set)."""
    if not pieces:
        return (math.nan, math.nan)
    return (min(p[0] for p in pieces), max(p[1] for p in pieces))


def distance_range(pieces: list[tuple[float, float]]) -> tuple[float, float]:
    """(min, max) of |d| over a confidence set of d given as intervals."""
    if not pieces:
        return (math.nan, math.nan)
    pieces = [(min(a, b), max(a, b)) for a, b in pieces]
    lo = min(0.0 if a <= 0 <= b else min(abs(a), abs(b)) for a, b in pieces)
    hi = max(max(abs(a), abs(b)) for a, b in pieces)
    return lo, hi


def equivalence_verdict(pieces: list[Interval], prediction: float, tolerance: float) -> str:
    """holds if the set lies inside prediction +- tolerance, violated if it misses it, else inconclusive."""
    lo, hi = prediction - tolerance, prediction + tolerance
    if not pieces:
        return "inconclusive"
    if all(lo <= a and b <= hi for a, b in pieces):
        return "holds"
    if all(b < lo or a > hi for a, b in pieces):
        return "violated"
    return "inconclusive"


def bonferroni_level(level: float, examples: int) -> float:
    """Per-example confidence level so that ``examples`` tests keep family-wise level ``level``."""
    return 1.0 - (1.0 - level) / max(examples, 1)


def t_quantile(level: float, df: int) -> float:
    """The two-sided t quantile of ``level`` with ``df`` degrees of freedom."""
    return float(sps.t.ppf(0.5 + level / 2, df))


def mean_ci(values: np.ndarray, level: float) -> tuple[float, float]:
    """Mean and half-width of its t confidence interval."""
    values = np.asarray(values, float)
    if len(values) < 2:
        return float(values.mean()), math.inf
    sem = float(sps.sem(values))
    return float(values.mean()), float(sps.t.ppf(0.5 + level / 2, len(values) - 1) * sem)


# Checked before the exact alpha: a p-value this small cannot come from independent cells.
INDEPENDENCE_LEVEL = 1e-4


class DependenceError(RuntimeError):
    """The networks of an ensemble are not independent (replicate cells disagree with their SEs)."""


@dataclass(frozen=True)
class Heterogeneity:
    """Heterogeneity of replicate cells (``heterogeneity``): Q, its degrees of freedom, p = P(chi2_df > Q)."""

    q: float
    df: int
    p: float

    @property
    def ratio(self) -> float:
        """Q / df: the between-cell variance over what the within-cell standard errors predict."""
        return self.q / self.df if self.df else math.nan

    def describe(self, label: str) -> str:
        """One line for an estimate's notes."""
        return f"independence of {label}: between/within-cell variance Q/df = {self.ratio:.3g} (Q = {self.q:.4g}, df = {self.df}, p = {self.p:.2g})"


def heterogeneity(values: np.ndarray, ses: np.ndarray, points: np.ndarray) -> Heterogeneity:
    """Between-cell scatter against within-cell standard errors, summed over grid points: at each
    point the replicate cells' means (``values``) scatter around their mean with the variance their
    standard errors (``ses``) give when the cells are independent and so are the networks inside
    each cell. Q = sum (m_i - mean m)^2 / mean(se_i^2) per point, chi-square with (cells - 1) df:
    Cochran's Q with the pooled within-cell variance as the weight, because weights 1/se_i^2 from
    few networks of a skewed statistic correlate with the means and inflate Q (measured: Q/df 1.75
    instead of 1 for marion.gradient_dichotomy's 64-network cells)."""
    values, ses = np.asarray(values, float), np.asarray(ses, float)
    points = np.unique(np.asarray(points), return_inverse=True)[1]
    q, df = 0.0, 0
    for point in np.unique(points):
        v, s = values[points == point], ses[points == point]
        if len(v) < 2:
            continue
        q += float(np.sum((v - v.mean()) ** 2) / np.mean(s**2))
        df += len(v) - 1
    return Heterogeneity(q, df, float(sps.chi2.sf(q, df)) if df else math.nan)


def check_independent(table, value: str, se: str, point: tuple[str, ...], what: str = "",  # type: ignore[no-untyped-def]
                      shared: tuple[str, ...] = ()) -> Heterogeneity | None:
    """Raise DependenceError when the networks behind ``value`` are not independent: a zero
    within-cell standard error (every network the same), or replicate cells (rows with equal
    ``point`` columns) scattering more than their standard errors allow (``heterogeneity``, p below
    INDEPENDENCE_LEVEL). ``shared`` columns are inner axes whose values the same networks serve
    (common random numbers): each of their values is tested on its own and the smallest p-value is
    multiplied by their number (Bonferroni, valid under any correlation between them). Any estimator
    can call it on its table; returns the figures of the least homogeneous group, None when no grid
    point has two replicate cells (nothing to compare)."""
    values, ses = table.col(value).astype(float), table.col(se).astype(float)
    label = f"{value}{f' ({what})' if what else ''}"
    if np.any(~(ses > 0)):
        raise DependenceError(f"networks in this ensemble are not independent: {label} has zero spread across the "
                              f"networks of {int(np.sum(~(ses > 0)))} cell(s) (within-cell standard error 0); "
                              "build must draw S distinct networks")
    keys = np.array(["|".join(repr(r[c]) for c in point) for r in table.rows])
    groups = np.array(["|".join(repr(r[c]) for c in shared) for r in table.rows])
    tested = [heterogeneity(values[groups == g], ses[groups == g], keys[groups == g]) for g in np.unique(groups)]
    tested = [h for h in tested if h.df]
    if not tested:
        return None
    worst = min(tested, key=lambda h: h.p)
    het = Heterogeneity(worst.q, worst.df, min(1.0, worst.p * len(tested)))
    if not het.p >= INDEPENDENCE_LEVEL:
        raise DependenceError(
            f"networks in this ensemble are not independent: replicate cells of {label} scatter {het.ratio:.3g} times "
            f"the variance their within-cell standard errors allow (Q = {het.q:.4g}, df = {het.df}, "
            f"p = {het.p:.2g} < {INDEPENDENCE_LEVEL:g}"
            + (f", Bonferroni over {len(tested)} values of {', '.join(shared)}" if len(tested) > 1 else "")
            + "); the standard errors, and every CI built on them, would be too narrow. Draw S distinct, "
            "independent networks from the generator")
    return het

"""Fischer, Dahmen, Helias: "Field theory for optimal signal propagation in ResNets" (arXiv 2305.07715).

The abstract (quoted in fischer2023.md) names the network family, not the network: a residual
branch with a scaling parameter alpha, a weight variance sigma_w^2. The response claims therefore
declare **readings** (the block forms and input layers a reader of the abstract could take), each
run separately; every prediction is derived (not quoted from the paper) from the mean-field
recursions in claims/theory/fischer.py, derivations in fischer2023.md. Readings (erf, no readout):

- ``Vphi``        h + alpha (V phi(h)),            no input layer   (alpha and sigma_w enter only as alpha sigma_w)
- ``Vphi+input``  the same after an input layer U x, U entries N(0, sigma_w^2 / d)
- ``Vphi+bias``   h + alpha (V phi(h) + b), b ~ N(0, 0.05)
- ``phiW``        h + alpha phi(V h)                 (sigma_w inside the nonlinearity)
- ``phiW+input``  the same after the input layer of variance sigma_w^2 / d

Response (pre-registered): chi = (c_L(c0 + dc) - c_L(c0 - dc)) / (2 dc), dc = 0.05, of the cosine
similarity c of the output states of one network for inputs of equal norm sqrt(q0 d), q0 = 1, with
exact pairwise correlations (Gram-Schmidt); c0 is swept where the claim says so. Where the argmax
of the response is measured, it is the **shift** of the theory's response curve: the
infinite-width response at the cell's depth, as a function of log alpha, fitted to the measured
mean response over every lattice point with a free shift s in log alpha and a free level (the
measured argmax is the theory's argmax times e^s), jackknife intervals over independent groups
of networks (fischer2023.md section 6).

Kinds (declared here until the Claim carries them): the two kernel claims and the response-argmax
claim test derived predictions of the paper's theory; the weak-sigma claim tests the paper's words
under each reading; the empirical-range claim checks the derived depth map on which the paper's
words are judged (its statement carries the finding).
"""
from __future__ import annotations

import math
from functools import lru_cache, partial
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from scipy.interpolate import CubicSpline
from scipy.optimize import minimize_scalar
from scipy import stats as sps

from reference_impl.protocol import Capability

from ..spec import CellContext, Claim, Estimate, Reading, Source, Sweep, Table, register
from ..stats import equivalence_verdict
from ..theory import fischer as theory
from . import fischer_controls  # noqa: F401  (registers the Fischer controls)

PAPER = "Fischer, Dahmen, Helias (2023/2025), Field theory for optimal signal propagation in ResNets"
ARXIV = "2305.07715"
DERIVED = "derived here (fischer2023.md), not quoted from the paper"

ACT = "erf"
Q0 = 1.0  # input variance per coordinate (before an input layer)
C0, DC = 0.9, 0.05  # default input correlation of the response and the half-width of its secant
LATTICE = 0.2  # spacing of the alpha lattice in log alpha
# the lattice points a response cell measures, relative to the one nearest the formula's optimum: 7 points
# 0.4 apart over [-1.8, +0.6] in log alpha (the small-alpha flank, where the response is least noisy,
# carries most of the information on the shift; fischer2023.md section 10)
GRID_OFFSETS = (-9, -7, -5, -3, -1, 1, 3)
SHIFT_BOUND = 3.0  # |s| searched by the shift fit, in log alpha
SHRINK = 0.1  # shrinkage of the shift fit's estimated covariance toward its diagonal
GROUPS = 16  # a response cell reports its S networks as GROUPS independent groups (the jackknife's units)
BIAS_READING = 0.05  # bias variance of the Vphi+bias reading

NETWORKS: dict[str, dict[str, Any]] = {  # reading name -> NetSpec-level parameters (reach ctx.params)
    "Vphi": {"block": "res1", "input_layer": False, "bias_var": 0.0},
    "Vphi+input": {"block": "res1", "input_layer": True, "bias_var": 0.0},
    "Vphi+bias": {"block": "res1", "input_layer": False, "bias_var": BIAS_READING},
    "phiW": {"block": "res1w", "input_layer": False, "bias_var": 0.0},
    "phiW+input": {"block": "res1w", "input_layer": True, "bias_var": 0.0},
}
SUPPORT = {
    "Vphi": "abstract: 'a scaling parameter for the residual branch'; the branch alpha W phi(x) of the signal-propagation "
            "literature, input taken as the first hidden state",
    "Vphi+input": "abstract: 'weight variance' as a network hyperparameter; an input layer drawn with the same "
                  "sigma_w^2 / d as every other layer (the usual mean-field convention)",
    "Vphi+bias": "abstract: 'other network hyperparameters, such as the weight variance' (plural); a bias variance is "
                 "the other standard mean-field hyperparameter",
    "phiW": "abstract: 'scaling parameter for the residual branch' fits alpha phi(W x) as well (the weight inside the "
            "nonlinearity, alpha outside)",
    "phiW+input": "the phiW branch after an input layer of variance sigma_w^2 / d (both conventions above together)",
}
SYMMETRIC = ("alpha V with V ~ N(0, sigma_w^2/n) has the law of (alpha sigma_w) V', V' ~ N(0, 1/n): every statistic "
             "depends on alpha only through alpha sigma_w, so alpha* ~ sigma_w^-1 before any data")


def network(params: Mapping[str, Any]) -> tuple[str, bool, float]:
    """(block form, input layer?, bias variance) of a reading's parameters (defaults: Vphi)."""
    return str(params.get("block", "res1")), bool(params.get("input_layer", False)), float(params.get("bias_var", 0.0))


def theory_args(params: Mapping[str, Any], sigma_w2: float) -> dict[str, Any]:
    """Keyword arguments of the theory functions for a reading at weight variance sigma_w2: the input layer
    multiplies the first hidden variance by sigma_w2 (q0 -> sigma_w2 q0)."""
    form, inp, bias = network(params)
    return {"q0": Q0 * (sigma_w2 if inp else 1.0), "bias_var": bias, "activation": ACT, "form": form}


# ----------------------------------------------------------------------------- predictions
@lru_cache(maxsize=1024)
def _continuum(depth: int, sigma_w2: float, c0: float, form: str, inp: bool, bias: float) -> float:
    args = theory_args({"block": form, "input_layer": inp, "bias_var": bias}, sigma_w2)
    return theory.continuum_alpha_star(depth, sigma_w2, c0=c0, dc=DC, **args)


def predicted_alpha_star(depth: int, sigma_w2: float, c0: float = C0,
                         params: Mapping[str, Any] | None = None) -> float:
    """The continuum formula alpha* = sqrt(tau* / (lam L)) of the secant response in a reading (derived)."""
    return _continuum(int(depth), float(sigma_w2), float(c0), *network(params or {}))


def finite_depth_alpha_star(depth: int, sigma_w2: float, c0: float = C0, params: Mapping[str, Any] | None = None,
                            ) -> float:
    """argmax of the infinite-width secant response at finite depth (the formula's O(1/L) reference)."""
    args = theory_args(params or {}, sigma_w2)
    return theory.alpha_star(depth, sigma_w2, c0=c0, dc=DC, **args)


def wrong_depth_exponent(anchor: int) -> Callable[..., float]:
    """A wrong alpha* formula for the negative control: exponent L^-1 instead of L^-1/2, agreeing at ``anchor``."""
    return lambda depth, sigma_w2, c0=C0, params=None: (predicted_alpha_star(anchor, sigma_w2, c0, params)
                                                        * anchor / depth)


def alpha_grid(depth: int, sigma_w2: float, c0: float = C0, params: Mapping[str, Any] | None = None,
               offsets: Sequence[int] = GRID_OFFSETS, step: float = LATTICE) -> tuple[float, ...]:
    """The lattice values exp(step (k0 + o)), o in ``offsets``, k0 the lattice point nearest the predicted argmax."""
    k0 = round(math.log(predicted_alpha_star(depth, sigma_w2, c0, params)) / step)
    return tuple(float(f"{math.exp(step * (k0 + o)):.6g}") for o in offsets)


@lru_cache(maxsize=256)
def _template(depth: int, sigma_w2: float, c0: float, form: str, inp: bool, bias: float, lo: float, hi: float,
              ) -> tuple[CubicSpline, float]:
    args = theory_args({"block": form, "input_layer": inp, "bias_var": bias}, sigma_w2)
    u = np.linspace(lo, hi, int(round((hi - lo) / 0.01)) + 1)
    chi = theory.correlation_response(args["q0"], c0, depth, np.exp(u), sigma_w2, args["bias_var"], ACT, DC,
                                      args["form"])
    top = theory.alpha_star(depth, sigma_w2, args["q0"], c0, args["bias_var"], ACT, DC, form=args["form"])
    return CubicSpline(u, np.log(chi)), math.log(top)


def response_template(depth: int, sigma_w2: float, c0: float, params: Mapping[str, Any], around: float,
                      ) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    """(f, u*): f(u) = log chi of the infinite-width secant response of the reading at this depth, as a
    function of u = log alpha, on around +- (1.5 + SHIFT_BOUND) (a cubic spline through steps of 0.01),
    and u* = log of its argmax (the finite-depth theory's alpha*)."""
    half = round(1.5 + SHIFT_BOUND, 2)
    centre = round(around, 1)
    return _template(int(depth), float(sigma_w2), float(c0), *network(params), centre - half, centre + half)


def cell_alphas(p: Mapping[str, Any]) -> list[float]:
    """The alphas a response cell measures: its lattice grid around the predicted argmax (computed per cell,
    so nothing is solved at import)."""
    return list(alpha_grid(int(p["depth"]), float(p["sigma_w2"]), float(p.get("c0", C0)), p))


# ----------------------------------------------------------------------------- measurements
def pair_inputs(ctx: CellContext, n: int, networks: int, c0: float) -> torch.Tensor:
    """Inputs (S, 3, n): x_a and two inputs at correlation c0 -+ dc with x_a, all of norm sqrt(q0 n)."""
    gen = ctx.generator(1)
    a = torch.randn(networks, n, generator=gen, dtype=torch.float64, device=gen.device)
    o = torch.randn(networks, n, generator=gen, dtype=torch.float64, device=gen.device)
    a = a / a.norm(dim=1, keepdim=True)
    o = o - (o * a).sum(1, keepdim=True) * a  # Gram-Schmidt: o orthogonal to a
    o = o / o.norm(dim=1, keepdim=True)
    xs = [a] + [c * a + math.sqrt(1.0 - c * c) * o for c in (c0 - DC, c0 + DC)]
    x = torch.stack(xs, dim=1) * math.sqrt(Q0 * n)
    return x.to(device=ctx.device, dtype=getattr(torch, ctx.dtype))


def secant_response(h_last: torch.Tensor) -> torch.Tensor:
    """Per-network (c_L(c0 + dc) - c_L(c0 - dc)) / (2 dc) from output states (S, 3, n)."""
    h = h_last.double()
    norm = h.norm(dim=-1)
    c = (h[:, :1] * h[:, 1:]).sum(-1) / (norm[:, :1] * norm[:, 1:])
    return (c[:, 1] - c[:, 0]) / (2.0 * DC)


def measure_response(ctx: CellContext) -> list[dict[str, Any]]:
    """Mean response over S networks at each alpha of this cell's grid (the same networks at every alpha)."""
    p = ctx.params
    n, depth, s2 = int(p["width"]), int(p["depth"]), float(p["sigma_w2"])
    c0 = float(p.get("c0", C0))
    form, inp, bias = network(p)
    x = pair_inputs(ctx, n, ctx.networks, c0)
    rows = []
    for alpha in cell_alphas(p):
        spec = ctx.spec(width=n, depth=depth, block=form, beta=0.0, scale=float(alpha), activation=ACT, sigma_w2=s2,
                        bias_var=bias, preact=True, input_dim=n if inp else None,
                        input_scale="sigma_w2" if inp else "unit")
        net = ctx.impl.build(spec, ctx.networks, ctx.generator(0))
        chi = secant_response(net.trace(x)[:, -1])
        for g, part in enumerate(chi.chunk(GROUPS)):  # independent networks: GROUPS clusters per cell
            rows.append({"scale": float(alpha), "c0": c0, "group": g, "response": float(part.mean())})
    return rows


def measure_kernel(ctx: CellContext) -> dict[str, float]:
    """N (mean K^_L - K_L^x) and N Var(K^_L) over S networks that all see ONE input x (fixed input), and
    that input's own derived coefficients kappa_L^x and V_L^x.

    x has i.i.d. N(0, q0) coordinates, drawn once per cell (replicate cells see independent inputs);
    K_L^x is the infinite-width recursion of x's own empirical measure, so the mean deviation is the
    1/N term of the finite-size theory at a fixed input; kappa_L^x and V_L^x are the one-loop
    coefficients conditional on x (``theory.input_coefficients``; they differ from input to input
    at O(n^-1/2)). S networks in chunks of <= 8192.
    """
    p = ctx.params
    n, depth, alpha, s2, q0 = int(p["width"]), int(p["depth"]), float(p["scale"]), float(p["sigma_w2"]), float(p["q0"])
    spec = ctx.spec(width=n, depth=depth, block="res1", beta=0.0, scale=alpha, activation=ACT, sigma_w2=s2,
                    bias_var=0.0, preact=True)
    gen_x = ctx.generator(1)
    x = torch.randn(n, generator=gen_x, dtype=torch.float64, device=gen_x.device) * math.sqrt(q0)
    x = x.to(getattr(torch, ctx.dtype)).double()  # the input the networks see, to the bit
    x_np = x.cpu().numpy()
    k_inf = float(theory.empirical_variance_recursion(x_np, depth, alpha, s2)[-1])
    kappa_x, v_x = (float(c[-1]) for c in theory.input_coefficients(x_np, depth, alpha, s2))
    x = x.to(device=ctx.device, dtype=getattr(torch, ctx.dtype))
    total, done, chunk_id, ks = ctx.networks, 0, 0, []
    while done < total:
        m = min(8192, total - done)
        net = ctx.impl.build(spec, m, ctx.generator(2 + chunk_id))
        ks.append(net.trace(x.expand(m, 1, n).clone())[:, -1, 0].double().pow(2).mean(-1).cpu())
        done += m
        chunk_id += 1
    k = torch.cat(ks)
    var = float(k.var())
    m4 = float((k - k.mean()).pow(4).mean())
    return {"n_dev": n * (float(k.mean()) - k_inf), "n_dev_se": n * math.sqrt(var / total), "n_var": n * var,
            "n_var_se": n * math.sqrt(max(m4 - var**2, 0.0) / total), "mean_k": float(k.mean()), "k_inf": k_inf,
            "kappa_x": kappa_x, "v_x": v_x, "networks_used": float(total)}


# ----------------------------------------------------------------------------- estimators
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


def _t(level: float, df: int) -> float:
    """The two-sided t quantile of ``level`` with ``df`` degrees of freedom."""
    return float(sps.t.ppf(0.5 + level / 2, df))


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


def _distance_range(pieces: list[tuple[float, float]]) -> tuple[float, float]:
    """(min, max) of |d| over a confidence set of d given as intervals."""
    if not pieces:
        return (math.nan, math.nan)
    pieces = [(min(a, b), max(a, b)) for a, b in pieces]
    lo = min(0.0 if a <= 0 <= b else min(abs(a), abs(b)) for a, b in pieces)
    hi = max(max(abs(a), abs(b)) for a, b in pieces)
    return lo, hi


def _params(table: Table) -> dict[str, Any]:
    """The reading's network parameters as the table carries them (constant within a run)."""
    row = table.rows[0]
    return {k: row[k] for k in ("block", "input_layer", "bias_var") if k in row}


def _configs(table: Table) -> list[tuple[int, float, float]]:
    return sorted({(int(r["depth"]), float(r["sigma_w2"]), float(r["c0"])) for r in table.rows})


def _sub(table: Table, depth: int, s2: float, c0: float) -> Table:
    return Table([r for r in table.rows if int(r["depth"]) == depth and float(r["sigma_w2"]) == s2
                  and float(r["c0"]) == c0])


def _shifted(sub: Table, depth: int, s2: float, c0: float, params: Mapping[str, Any],
             ) -> tuple[float, np.ndarray, float, list[float], np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """Shift fit of one configuration: (s, leave-one-out s, log theory argmax, alphas, Y, template)."""
    alphas, y = curves(sub)
    u = np.log(alphas)
    f, ustar = response_template(depth, s2, c0, params, float(np.mean(u)))
    s, loo = shift_with_jackknife(u, y, f)
    return s, loo, ustar, alphas, y, f


def _response_series(label: str, alphas: Sequence[float], y: np.ndarray, f: Callable[[np.ndarray], np.ndarray],
                     shift: float) -> dict[str, Any]:
    """Figure series of one configuration: measured mean (95% t intervals over clusters), the theory curve
    (the template at its own level) and nothing else; the fitted shift is in the label."""
    mean = y.mean(axis=0)
    half = _t(0.95, y.shape[0] - 1) * y.std(axis=0, ddof=1) / math.sqrt(y.shape[0])
    return {"label": f"{label} (shift {shift:+.3f})", "mean": {"x": list(alphas), "y": mean.tolist(),
                                                              "yerr": half.tolist()},
            "predicted": {"x": list(alphas), "y": np.exp(f(np.log(alphas))).tolist()}}


def argmax_deviation(formula: Callable[..., float]) -> Callable[[Table, float], Estimate]:
    """Estimator: max over (L, sigma_w2, c0) of |log alpha^ - log formula|, simultaneous confidence set.

    alpha^ = the theory's finite-depth argmax times e^s, s the shift fit of that configuration
    (``shift_fit``); each d = log alpha^ - log formula gets a jackknife t interval (G - 1 degrees of
    freedom, G independent clusters) at the Bonferroni level 1 - (1 - level) / D; the set of possible
    values of max |d| given every d in its interval is [max min|d|, max max|d|].
    """
    return partial(_argmax_estimate, formula)  # picklable: worker processes receive the claim


def _argmax_estimate(formula: Callable[..., float], table: Table, level: float) -> Estimate:
    """argmax_deviation's estimator for ``formula``."""
    params = _params(table)
    configs = _configs(table)
    per_level = 1 - (1 - level) / len(configs)
    los, his, values, rows, series = [], [], [], [], []
    for depth, s2, c0 in configs:
        s, loo, ustar, alphas, y, f = _shifted(_sub(table, depth, s2, c0), depth, s2, c0, params)
        ref = math.log(formula(depth, s2, c0, params))
        d = ustar + s - ref
        half = _t(per_level, y.shape[0] - 1) * jackknife_se(loo)
        lo, hi = _distance_range([(d - half, d + half)])
        los.append(lo)
        his.append(hi)
        values.append(abs(d))
        label = f"L={depth}, s2={s2:g}, c0={c0:g}"
        rows.append({"label": label, "argmax": math.exp(ustar + s), "ci": [math.exp(ustar + s - half),
                                                                            math.exp(ustar + s + half)],
                     "predicted": math.exp(ref), "log_ratio": d, "shift": s, "finite_depth_theory": math.exp(ustar),
                     "clusters": int(y.shape[0])})
        series.append(_response_series(label, alphas, y, f, s))
    notes = "; ".join(f"{r['label']}: argmax {r['argmax']:.4g} (CI {r['ci'][0]:.3g}..{r['ci'][1]:.3g}) vs "
                      f"formula {r['predicted']:.4g} (theory at this depth {r['finite_depth_theory']:.4g})"
                      for r in rows)
    return Estimate(max(values), [(max(los), max(his))], rows, {
        "title": "Response (secant d c_L / d c_0) against alpha, one curve per (L, sigma_w^2, c0); lines: theory",
        "xlabel": "residual scale alpha", "ylabel": "response chi (dimensionless)", "xlog": True, "ylog": False,
        "series": series}, notes=notes)


def estimate_sigma_spread(table: Table, level: float) -> Estimate:
    """log(max alpha* / min alpha*) over the sweep's sigma_w^2 values, grouped-jackknife t interval.

    Each alpha* is the theory's finite-depth argmax at that sigma_w^2 times e^s (``shift_fit``); the
    spread's standard error is the jackknife over every cluster (a cluster moves only its own
    sigma_w^2's alpha*; the groups are independent), with min G - 1 degrees of freedom; the interval
    is clipped at 0 (a spread is non-negative).
    """
    params = _params(table)
    configs = _configs(table)
    fits = [(cfg, _shifted(_sub(table, *cfg), *cfg, params)) for cfg in configs]
    verts = np.array([ustar + s for _, (s, _loo, ustar, *_rest) in fits])
    spread = float(verts.max() - verts.min())
    var, rows, series = 0.0, [], []
    for j, ((depth, s2, c0), (s, loo, ustar, alphas, y, f)) in enumerate(fits):
        moved = np.repeat(verts[None, :], len(loo), axis=0)
        moved[:, j] = ustar + loo
        var += jackknife_se(moved.max(axis=1) - moved.min(axis=1)) ** 2
        half_j = _t(level, y.shape[0] - 1) * jackknife_se(loo)
        rows.append({"label": f"sigma_w2={s2:g}", "argmax": math.exp(ustar + s),
                     "ci": [math.exp(ustar + s - half_j), math.exp(ustar + s + half_j)],
                     "finite_depth_theory": math.exp(ustar), "shift": s,
                     "predicted": predicted_alpha_star(depth, s2, c0, params)})
        series.append(_response_series(f"sigma_w2={s2:g}", alphas, y, f, s))
    half = _t(level, min(len(loo) for _, (_s, loo, *_rest) in fits) - 1) * math.sqrt(var)
    derived = math.log(max(r["finite_depth_theory"] for r in rows) / min(r["finite_depth_theory"] for r in rows))
    notes = (f"measured log(max/min alpha*) = {spread:.3f}; derived for this reading at this depth: {derived:.3f}; "
             "argmaxes " + ", ".join(f"{r['label']}: {r['argmax']:.3g} (theory {r['finite_depth_theory']:.3g})"
                                    for r in rows))
    return Estimate(spread, [(max(0.0, spread - half), spread + half)], rows, {
        "title": f"Response against alpha at depth {configs[0][0]}, one curve per weight variance; lines: theory",
        "xlabel": "residual scale alpha", "ylabel": "response chi (dimensionless)", "xlog": True, "ylog": False,
        "series": series}, notes=notes)


MAP_C0 = (0.7, 0.8, 0.85, 0.9, 0.94)  # c0 + dc <= 1
MAP_DEPTHS = tuple(int(round(x)) for x in np.geomspace(5, 5000, 49))


def range_map(params: Mapping[str, Any], sigma_w2: float = 1.0) -> dict[float, list[float]]:
    """Derived (continuum limit) min over alpha in EMPIRICAL_RANGE of the gain share, per c0 (MAP_C0) and
    depth (MAP_DEPTHS); nan where the response has no interior maximum."""
    return _range_map(*network(params), sigma_w2)


@lru_cache(maxsize=16)
def _range_map(form: str, inp: bool, bias: float, sigma_w2: float) -> dict[float, list[float]]:
    args = theory_args({"block": form, "input_layer": inp, "bias_var": bias}, sigma_w2)
    out: dict[float, list[float]] = {}
    for c0 in MAP_C0:
        log_chi, lam = theory.continuum_log_response(sigma_w2, args["q0"], c0, args["bias_var"], ACT, DC, form)
        try:
            top = predicted_alpha_star(MAP_DEPTHS[0], sigma_w2, c0, {"block": form, "input_layer": inp, "bias_var": bias})
        except ValueError:  # no interior optimum: no range of maximal sensitivity
            out[c0] = [math.nan] * len(MAP_DEPTHS)
            continue
        chi_max = math.exp(log_chi(top**2 * lam * MAP_DEPTHS[0]))
        out[c0] = [min((math.exp(log_chi(a * a * lam * d)) - 1.0) / (chi_max - 1.0) for a in EMPIRICAL_RANGE)
                   for d in MAP_DEPTHS]
    return out


def _window(depths: Sequence[int], shares: Sequence[float]) -> str:
    inside = [d for d, v in zip(depths, shares) if v >= 0.5]
    return f"L in [{min(inside)}, {max(inside)}]" if inside else "none"


def derived_shares(depth: int, params: Mapping[str, Any], sigma_w2: float = 1.0, c0: float = C0,
                   shift: float = 0.0) -> np.ndarray:
    """The gain shares (chi(alpha) - 1) / (max chi - 1) at alpha in EMPIRICAL_RANGE of the infinite-width
    response at this depth, or of that response moved by ``shift`` in log alpha (chi(alpha e^-shift))."""
    args = theory_args(params, sigma_w2)
    return theory.response_gain(depth, np.array(EMPIRICAL_RANGE) * math.exp(-shift), sigma_w2, args["q0"], c0,
                                args["bias_var"], ACT, DC, args["form"])


def derived_window(params: Mapping[str, Any], sigma_w2: float = 1.0, c0: float = C0, max_depth: int = 3000,
                   ) -> tuple[float, float]:
    """(first, last) depth L <= max_depth at which both alphas of EMPIRICAL_RANGE reach half of the maximal gain
    of the infinite-width response at depth L; (nan, nan) if none does. One pass of the recursion over a
    log-alpha grid (steps of 0.01 on [0.01, 5], plus the two alphas) gives the response at every depth."""
    return _derived_window(*network(params), float(sigma_w2), float(c0), int(max_depth))


@lru_cache(maxsize=16)
def _derived_window(form: str, inp: bool, bias: float, sigma_w2: float, c0: float, max_depth: int,
                    ) -> tuple[float, float]:
    args = theory_args({"block": form, "input_layer": inp, "bias_var": bias}, sigma_w2)
    alphas = np.concatenate([np.exp(np.arange(math.log(0.01), math.log(5.0), 0.01)), EMPIRICAL_RANGE])
    chi = 0.0
    for sign in (1.0, -1.0):  # the secant: c_l(c0 + dc) - c_l(c0 - dc), every layer l at once
        k, k12 = theory.pair_recursion(args["q0"], c0 + sign * DC, max_depth, alphas, sigma_w2, args["bias_var"], ACT,
                                       args["form"])
        chi = chi + sign * k12 / k / (2.0 * DC)
    chi = chi[1:]  # depths 1..max_depth (depth 0 is the identity: no gain)
    share = (chi[:, -len(EMPIRICAL_RANGE):] - 1.0) / (chi.max(axis=1, keepdims=True) - 1.0)  # (L, 2)
    inside = np.flatnonzero(share.min(axis=1) >= 0.5) + 1
    return (float(inside[0]), float(inside[-1])) if inside.size else (math.nan, math.nan)


def estimate_range_shift(table: Table, level: float) -> Estimate:
    """max over depths of |s_L|, s_L the shift (log alpha) of the theory's response curve that fits the
    measured one at depth L (``shift_fit``), jackknife t intervals at the Bonferroni level over depths.

    The derived gain shares at alpha in EMPIRICAL_RANGE and the derived depth window move with the curve:
    the measured curve at depth L has the shares of the theory at alpha e^-s_L, and since the response
    depends on alpha and L through alpha^2 L (continuum), the window of depths moves by the factor e^-2s.
    """
    params = _params(table)
    s2, c0 = float(table.rows[0]["sigma_w2"]), float(table.rows[0]["c0"])
    depths = table.unique("depth")
    per_level = 1 - (1 - level) / len(depths)
    lo_win, hi_win = derived_window(params, s2, c0)
    values, los, his, rows, series = [], [], [], [], []
    for depth in depths:
        s, loo, ustar, alphas, y, f = _shifted(_sub(table, depth, s2, c0), depth, s2, c0, params)
        half = _t(per_level, y.shape[0] - 1) * jackknife_se(loo)
        lo, hi = _distance_range([(s - half, s + half)])
        values.append(abs(s))
        los.append(lo)
        his.append(hi)
        shares = derived_shares(depth, params, s2, c0)
        moved = derived_shares(depth, params, s2, c0, s)
        rows.append({"label": f"L={depth}", "shift": s, "ci": [s - half, s + half],
                     "gain_share_theory": [float(v) for v in shares], "gain_share_measured_curve": [float(v) for v in moved],
                     "window_theory": [lo_win, hi_win],
                     "window_measured_curve": [lo_win * math.exp(-2 * s), hi_win * math.exp(-2 * s)]})
        series.append(_response_series(f"L={depth}", alphas, y, f, s))
    grid = range_map(params, s2)
    notes = ("; ".join(f"{r['label']}: shift {r['shift']:+.3f} [{r['ci'][0]:+.3f}, {r['ci'][1]:+.3f}], gain shares at "
                       f"alpha = {EMPIRICAL_RANGE}: theory {r['gain_share_theory'][0]:.3f} / {r['gain_share_theory'][1]:.3f}, "
                       f"measured curve {r['gain_share_measured_curve'][0]:.3f} / {r['gain_share_measured_curve'][1]:.3f}, "
                       f"half-gain window L in [{r['window_measured_curve'][0]:.0f}, {r['window_measured_curve'][1]:.0f}]"
                       for r in rows)
             + f"; derived window (finite depth, c0 = {c0:g}): L in [{lo_win:.0f}, {hi_win:.0f}]; continuum, per c0: "
             + "; ".join(f"c0={c:g}: {_window(MAP_DEPTHS, grid[c])}" for c in MAP_C0))
    return Estimate(max(values), [(max(los), max(his))], rows, {
        "title": f"Response against alpha at practical depths (sigma_w^2 = {s2:g}, c0 = {c0:g}); lines: theory, whose "
                 f"half-gain window for alpha in {EMPIRICAL_RANGE} is L in [{lo_win:.0f}, {hi_win:.0f}]",
        "xlabel": "residual scale alpha", "ylabel": "response chi (dimensionless)", "xlog": True, "ylog": False,
        "series": series}, notes=notes)


def _coefficient_estimator(column: str, predicted: str, derived: Callable[[Mapping[str, Any], int], float],
                           what: str) -> Callable[[Table, float], Estimate]:
    """Estimator: max over depths of |mean over cells of column / predicted - 1|, simultaneous t intervals.

    Each cell has its own input and the row carries that input's own derived coefficient
    (``predicted``), so the ratio removes the O(n^-1/2) input-to-input variation of the coefficient;
    per depth, the mean ratio over the R replicate cells with its t(R - 1) interval at the
    Bonferroni level over depths. ``derived`` (the coefficient averaged over Gaussian inputs) is shown.
    """
    return partial(_coefficient_estimate, column, predicted, derived, what)  # picklable


def _coefficient_estimate(column: str, predicted: str, derived: Callable[[Mapping[str, Any], int], float],
                          what: str, table: Table, level: float) -> Estimate:
    """_coefficient_estimator's estimator."""
    depths = table.unique("depth")
    per_level = 1 - (1 - level) / len(depths)
    fixed = table.rows[0]
    los, his, values, rows, means, errs = [], [], [], [], [], []
    for depth in depths:
        sub = table.where(depth=depth)
        ratio = sub.col(column) / sub.col(predicted)
        m = float(np.mean(ratio))
        half = _t(per_level, len(ratio) - 1) * float(np.std(ratio, ddof=1)) / math.sqrt(len(ratio))
        lo, hi = _distance_range([(m - half - 1.0, m + half - 1.0)])
        los.append(lo)
        his.append(hi)
        values.append(abs(m - 1.0))
        means.append(m)
        errs.append(half)
        rows.append({"label": f"L={depth}", "ratio": m, "ci": [m - half, m + half],
                     "measured": float(np.mean(sub.col(column))), "predicted_mean": float(np.mean(sub.col(predicted))),
                     "derived_gaussian_inputs": derived(fixed, depth), "inputs": len(ratio)})
    return Estimate(max(values), [(max(los), max(his))], rows, {
        "title": f"{what} over each input's own one-loop coefficient, at one fixed input per cell, against depth",
        "xlabel": "depth L", "ylabel": f"{what} / derived", "xlog": True, "ylog": False,
        "series": [{"label": "measured / derived (mean over inputs)",
                    "mean": {"x": [float(d) for d in depths], "y": means, "yerr": errs}},
                   {"label": "derived", "predicted": {"x": [float(d) for d in depths], "y": [1.0] * len(depths)}}]},
        notes="; ".join(f"{r['label']}: ratio {r['ratio']:.4f} [{r['ci'][0]:.4f}, {r['ci'][1]:.4f}]; measured "
                        f"{r['measured']:.4g}, mean derived per input {r['predicted_mean']:.4g}, derived over "
                        f"Gaussian inputs {r['derived_gaussian_inputs']:.4g}" for r in rows))


def _kappa(p: Mapping[str, Any], depth: int) -> float:
    return float(theory.finite_width_correction(float(p["q0"]), depth, float(p["scale"]), float(p["sigma_w2"]),
                                                0.0, ACT, fixed_input=True)[-1])


def _nvar(p: Mapping[str, Any], depth: int) -> float:
    return float(theory.finite_width_variance(float(p["q0"]), depth, float(p["scale"]), float(p["sigma_w2"]),
                                              0.0, ACT, fixed_input=True)[-1])


# ----------------------------------------------------------------------------- the claims
RESPONSE_DEF = (f"chi = (c_L(c0 + dc) - c_L(c0 - dc)) / (2 dc), dc = {DC}, erf, q0 = {Q0}; "
                "c = cosine similarity of the output states of one network")


def _readings(names: Sequence[str], sweeps: Callable[[Mapping[str, Any]], dict[str, Sweep]],
              degenerate: Mapping[str, str] | None = None) -> tuple[Reading, ...]:
    """The network readings ``names``, each with its own sweeps (the alpha grid follows its prediction)."""
    return tuple(Reading(name, SUPPORT[name], params=NETWORKS[name], sweeps=sweeps(NETWORKS[name]),
                         degenerate=(degenerate or {}).get(name, "")) for name in names)


# 1. kernel recursion: the 1/N coefficients at a fixed input ----------------------------------------
KERNEL_FIXED = {"width": 32, "scale": 0.5, "sigma_w2": 2.0, "q0": 0.03, "beta": 0.0, "block": "res1",
                "activation": ACT, "preact": True}
KERNEL_DEPTHS = {"smoke": (10,), "default": (10, 20), "thorough": (10, 20, 40)}


def _kernel_sweeps(nets: Mapping[str, int], reps: Mapping[str, int]) -> dict[str, Sweep]:
    return {b: Sweep(axes={"depth": KERNEL_DEPTHS[b]}, replicates=reps[b], networks=nets[b], fixed=KERNEL_FIXED)
            for b in KERNEL_DEPTHS}


KERNEL_SOURCE = Source(PAPER, ARXIV, "abstract ('systematic finite-size field theory'); the 1/N coefficients are "
                       + DERIVED)
KERNEL = register(Claim(
    id="fischer.kernel_recursion_finite_n",
    kind="paper",
    kind_why="Fischer et al.'s finite-size theory: the derived one-loop 1/N coefficient of the mean kernel",
    statement="At a fixed input, the mean kernel of a width-N network deviates from the infinite-width recursion by "
              "kappa_L / N with the one-loop coefficient kappa_L of the finite-size theory.",
    source=KERNEL_SOURCE,
    quantity="N (mean over networks of |h_L|^2 / N - K_L^x), one input x per cell shared by all its networks, K_L^x "
             "the recursion of x's empirical measure, over kappa_L^x, that input's own one-loop coefficient; N = 32, "
             "q0 = 0.03, alpha^2 sigma_w^2 = 0.5",
    estimand="max over depths of |mean over inputs of N (E K^_L - K_L^x) / kappa_L^x - 1| (simultaneous CI)",
    prediction=0.0, tolerance=0.3,
    tolerance_why="The one-loop coefficient is exact as N -> infinity; at N = 32 the O(1/N^2) term moves it by up to "
                  "10% (exact-law Monte Carlo per input, fischer2023.md section 4). 0.3 (30%) covers that and rejects "
                  "the fresh-input coefficient (40% larger), a weight variance off by O(1/n) and every O(1) change "
                  "of the recursion (variance, branch constant, activation).",
    prediction_origin="derived",
    sweeps=_kernel_sweeps({"smoke": 8192, "default": 8192, "thorough": 16384}, {"smoke": 6, "default": 24,
                                                                               "thorough": 24}),
    measure=measure_kernel, estimate=_coefficient_estimator("n_dev", "kappa_x", _kappa, "N (E K^_L - K_L^x)"),
    controls=("scale-twice", "fan-in-plus-one", "weight-variance-2", "sigma-ignored", "branch-constant",
              "erf-half-argument"),
    requires=Capability.FORWARD_TRACE,
    paper_numbers=(
        {"what": "order of the leading finite-size correction", "paper": "1/N (systematic finite-size theory, abstract)",
         "ours": "one-loop kappa_L^x at each fixed input (derived); measured per depth in the fit table"},
    ),
))

KERNEL_VARIANCE = register(Claim(
    id="fischer.kernel_fluctuation_finite_n",
    kind="paper",
    kind_why="Fischer et al.'s finite-size theory: the derived one-loop kernel fluctuations",
    statement="At a fixed input, the kernel of a width-N network fluctuates across networks with variance "
              "V_L / N, V_L the one-loop value of the finite-size theory for that input.",
    source=KERNEL_SOURCE,
    quantity="N Var over networks of |h_L|^2 / N at one fixed input per cell, over V_L^x, that input's own one-loop "
             "coefficient; N = 32, q0 = 0.03, alpha^2 sigma_w^2 = 0.5",
    estimand="max over depths of |mean over inputs of N Var(K^_L) / V_L^x - 1| (simultaneous CI)",
    prediction=0.0, tolerance=0.15,
    tolerance_why="One-loop V_L^x is exact as N -> infinity; the O(1/N) relative correction at N = 32 is ~1% here "
                  "(exact-law Monte Carlo per input, fischer2023.md section 4) and a few percent per unit of "
                  "depth-accumulated coupling elsewhere (q0 = 1, L = 8: 8%). 0.15 covers it and rejects every O(1) "
                  "change of the recursion (variance, branch constant, activation).",
    prediction_origin="derived",
    sweeps=_kernel_sweeps({"smoke": 1024, "default": 1024, "thorough": 4096}, {"smoke": 6, "default": 16,
                                                                             "thorough": 16}),
    measure=measure_kernel, estimate=_coefficient_estimator("n_var", "v_x", _nvar, "N Var(K^_L)"),
    # shared-weights (one draw for every network) is caught before any cell by the identical-network
    # check of plug-in validation (verdict error), so it cannot show this claim's own power
    controls=("scale-twice", "weight-variance-2", "sigma-ignored", "branch-constant", "erf-half-argument"),
    requires=Capability.FORWARD_TRACE,
    paper_numbers=(
        {"what": "kernel fluctuations", "paper": "O(1/N) (finite-size theory, abstract)",
         "ours": "one-loop V_L^x at each fixed input (derived); measured per depth in the fit table"},
    ),
))

# 2. response argmax against the continuum formula -----------------------------------------------------
ARGMAX_GRID = {"smoke": ((50,), (0.5,), (0.9,)), "default": ((50, 100), (0.5,), (0.9,)),
               "thorough": ((50, 100, 200), (0.5, 2.0, 8.0), (0.85, 0.9))}
ARGMAX_SIZE = {"smoke": (2, 128, 128), "default": (4, 144, 128), "thorough": (8, 144, 256)}  # replicates, S, width
# sigma_w is not a relabelling in these; phiW has the mean field of Vphi+input (fischer2023.md section 3)
ARGMAX_READINGS = ("Vphi+input", "Vphi+bias", "phiW+input")


def _argmax_sweeps(params: Mapping[str, Any]) -> dict[str, Sweep]:
    out = {}
    for b, (depths, sigmas, c0s) in ARGMAX_GRID.items():
        reps, nets, width = ARGMAX_SIZE[b]
        out[b] = Sweep(axes={"depth": depths, "sigma_w2": sigmas, "c0": c0s}, replicates=reps, networks=nets,
                       fixed={"width": width, "beta": 0.0, "activation": ACT, "preact": True, **params})
    return out


ARGMAX = register(Claim(
    id="fischer.response_argmax",
    kind="paper",
    kind_why="Fischer et al.'s analytical optimum alpha* of the response",
    statement="The network's response to its input peaks, as a function of the residual scale alpha, at the "
              "analytical optimum alpha* of the theory, across depths, weight variances and input correlations.",
    source=Source(PAPER, ARXIV, "abstract ('analytical expressions for the response function' and 'an analytical "
                  "expression for the optimal scaling parameter'); response definition and formula " + DERIVED),
    quantity=f"response {RESPONSE_DEF}, at alpha = exp(0.2 (k0 + o)), o in {GRID_OFFSETS}, k0 nearest the formula; "
             "its argmax as the theory's finite-depth argmax times e^s, s the shift of the theory curve that fits the "
             "data",
    estimand="max over (L, sigma_w^2, c0) of |log argmax_measured - log alpha*_formula| (simultaneous CI)",
    prediction=0.0, tolerance=0.2,
    tolerance_why="0.2 in log alpha (22%): the response is within 3% of its top over +-0.2 in log alpha, so this is "
                  "the precision to which an optimum is meaningful; the continuum formula's O(1/L) error is <= 0.056 "
                  "at L >= 50 (computed on the theory curve) and the shift fit is unbiased on it by construction. "
                  "At sigma_w^2 = 0.5 a wrong depth exponent, the branch constant off by sqrt 2, erf(x / sqrt 2) and "
                  "the weight variance doubled (= sigma_w ignored) move the argmax by >= 0.28 (derived, section 9.3).",
    prediction_origin="derived",
    sweeps=_argmax_sweeps(NETWORKS["phiW+input"]),
    measure=measure_response, estimate=argmax_deviation(predicted_alpha_star),
    # sigma-ignored builds sigma_w^2 = 1 = 2 x 0.5: the same network as weight-variance-2 at this sweep
    controls=("fischer-hidden-depth-scaling", "branch-constant", "erf-half-argument", "weight-variance-2"),
    requires=Capability.FORWARD_TRACE,
    readings=_readings(ARGMAX_READINGS, _argmax_sweeps),
    paper_numbers=(
        {"what": "alpha* formula", "paper": "'analytical expression' (abstract); the expression is not available",
         "ours": "continuum alpha* = sqrt(tau*(q0, c0) / (lam L)), lam = sigma_w^2 (Vphi) or 1 (phiW); "
                 f"Vphi, c0 = 0.9: tau* = {theory.continuum_tau_star(Q0, C0):.4g} for the derivative response"},
    ),
))

# 3. weak dependence on sigma_w^2 --------------------------------------------------------------------------
SIGMA_DEPTH = 25
SIGMAS = {"smoke": (0.5, 16.0), "default": (0.5, 4.0, 16.0), "thorough": (0.5, 1.41, 4.0, 16.0)}
SIGMA_SIZE = {"smoke": (2, 64, 128), "default": (3, 64, 128), "thorough": (8, 128, 256)}  # replicates, S, width
# replicates per budget of the readings whose derived spread is far from the band (near-relabellings: 1.34, 1.73,
# 1.34 against 0.866) and of the degenerate one (shown, not counted): sized for their margins (section 10)
SIGMA_REPLICATES = {"Vphi": {"smoke": 1, "default": 1, "thorough": 4},
                    **{name: {"smoke": 2, "default": 2, "thorough": 6} for name in ("Vphi+input", "Vphi+bias", "phiW")}}
NAIVE_SPREAD = 0.5 * math.log(32.0)  # log(max/min alpha*) of alpha* ~ sigma_w^-1 over sigma_w^2 in [0.5, 16]


def _sigma_sweeps(params: Mapping[str, Any]) -> dict[str, Sweep]:
    name = next((k for k, v in NETWORKS.items() if dict(v) == dict(params)), "")
    out = {}
    for b, sigmas in SIGMAS.items():
        reps, nets, width = SIGMA_SIZE[b]
        out[b] = Sweep(axes={"sigma_w2": sigmas}, replicates=SIGMA_REPLICATES.get(name, {}).get(b, reps),
                       networks=nets, fixed={"width": width, "depth": SIGMA_DEPTH, "c0": C0, "beta": 0.0,
                                             "activation": ACT, "preact": True, **params})
    return out


SIGMA = register(Claim(
    id="fischer.alpha_star_weak_sigma_dependence",
    kind="paper",
    kind_why="Fischer et al.'s statement that alpha* depends only weakly on the weight variance",
    statement="The optimal residual scale alpha* depends only weakly on the weight variance: over sigma_w^2 from "
              "0.5 to 16 it moves by less than half (in log) of what alpha* ~ 1/sigma_w would give. Derived: only "
              "the phiW+input reading is weak (0.65); Vphi+input, Vphi+bias and phiW are near-relabellings of "
              "alpha sigma_w (1.34, 1.72, 1.34 of 1.73), so the headline cannot hold: it is reading-dependent at best.",
    source=Source(PAPER, ARXIV, "abstract ('optimal scaling parameter that depends only weakly on other network "
                  "hyperparameters, such as the weight variance'); the numerical band is " + DERIVED),
    quantity=f"argmax of the response ({RESPONSE_DEF}, c0 = {C0}) at depth {SIGMA_DEPTH} per sigma_w^2, as the "
             "theory's argmax times e^s, s the shift of the theory curve that fits the data (the argmax claim's grid)",
    estimand="log(max alpha* / min alpha*) over sigma_w^2 in [0.5, 16] (grouped-jackknife CI)",
    prediction=0.0, tolerance=round(NAIVE_SPREAD / 2, 3),
    tolerance_why=f"'Weak' made numerical: at most half of the log-spread {NAIVE_SPREAD:.3f} (factor 5.7) that "
                  "alpha* ~ sigma_w^-1 gives over sigma_w^2 in [0.5, 16], the range a practitioner uses; i.e. alpha* "
                  "moves by less than a factor 2.4 (the previous criterion |d log alpha* / d log sigma_w^2| <= 1/4, "
                  "integrated over the range).",
    prediction_origin="derived",
    sweeps=_sigma_sweeps(NETWORKS["phiW+input"]),
    measure=measure_response, estimate=estimate_sigma_spread,
    controls=("fischer-weight-outside",),
    requires=Capability.FORWARD_TRACE,
    readings=_readings(tuple(NETWORKS), _sigma_sweeps, degenerate={"Vphi": SYMMETRIC}),
    paper_numbers=(
        {"what": "dependence of alpha* on sigma_w^2", "paper": "'only weakly' (abstract)",
         "ours": "derived log-spread per reading in the notes; measured in the estimate"},
    ),
))

# 4. the derived depth map of the empirical range's gain share ------------------------------------------
EMPIRICAL_RANGE = (0.1, 0.3)
RANGE_DEPTHS = {"smoke": (25, 100), "default": (25, 100), "thorough": (25, 100, 400)}
RANGE_SIZE = {"smoke": (2, 128, 128), "default": (4, 128, 128), "thorough": (8, 128, 256)}  # replicates, S, width
RANGE_READINGS = ("Vphi", "Vphi+bias", "phiW")  # at sigma_w^2 = 1 the input layer changes nothing in the mean field


def _range_sweeps(params: Mapping[str, Any]) -> dict[str, Sweep]:
    out = {}
    for b, depths in RANGE_DEPTHS.items():
        reps, nets, width = RANGE_SIZE[b]
        out[b] = Sweep(axes={"depth": depths}, replicates=reps, networks=nets,
                       fixed={"width": width, "sigma_w2": 1.0, "c0": C0, "beta": 0.0, "activation": ACT,
                              "preact": True, **params})
    return out


RANGE = register(Claim(
    id="fischer.empirical_range_is_max_sensitivity",
    kind="paper",
    kind_why="Fischer et al.'s response theory at practical depths, on which their statement about the empirical "
             "range is judged (the statement carries the finding)",
    statement=f"The empirically beneficial residual scales alpha in {EMPIRICAL_RANGE} lie in the range of maximal "
              "sensitivity (both reach half of the maximal response gain) only in the window of depths the derived "
              "response map gives, L ~ 480-1170 blocks (540-930 with a bias; c0 = 0.9), not at the tens to a hundred "
              "blocks of networks in use: the measured response curves at practical depths are the derived ones "
              "within 0.2 in log alpha, which moves that window by at most a factor 1.5.",
    source=Source(PAPER, ARXIV, "abstract ('for deep networks the empirically found values for the scaling parameter "
                  "lie within the range of maximal sensitivity'); range 0.1-0.3 from Szegedy et al. 2017 "
                  "(Inception-ResNet residual scaling); depths, the half-gain criterion and the map " + DERIVED),
    quantity=f"shift s_L (log alpha) of the theory's response curve that fits the measured one at depth L, "
             f"{RESPONSE_DEF}, c0 = {C0}, sigma_w^2 = 1, the argmax claim's grid",
    estimand="max over depths of |s_L| (simultaneous CI)",
    prediction=0.0, tolerance=0.2,
    tolerance_why="0.2 in log alpha, the argmax claim's precision (the response is within 3% of its top over +-0.2). "
                  "The response depends on alpha and L through alpha^2 L (continuum), so a curve moved by s in log "
                  "alpha moves the half-gain window of depths by e^-2s: 0.2 keeps the derived window [477, 1167] "
                  "inside [320, 1740], far above practical depths (a holding verdict carries the finding), and covers "
                  "the finite-width shift of the curve (|s| <= 0.075 in the pilot). The branch constant off by "
                  "sqrt 2, erf(x / sqrt 2) and the weight variance doubled move the curve by >= 0.31 (derived, "
                  "section 9.5).",
    prediction_origin="derived",
    sweeps=_range_sweeps(NETWORKS["Vphi"]),
    measure=measure_response, estimate=estimate_range_shift,
    # scale-twice (alpha^2) moves the curve too (+0.37 at L = 100), but the sweep declares no single alpha, so the
    # probe network of the control checks would not change (the reason the argmax claim does not list it either)
    controls=("branch-constant", "erf-half-argument", "weight-variance-2"),
    requires=Capability.FORWARD_TRACE,
    readings=_readings(RANGE_READINGS, _range_sweeps),
    paper_numbers=(
        {"what": "empirically beneficial alpha range", "paper": "'empirically found values' (abstract); used: 0.1-0.3 "
                                                                 "(Szegedy et al. 2017)",
         "ours": "derived half-gain window of depths in the notes and figure title; measured shifts per depth and the "
                 "window they imply in the fit table"},
    ),
))


def verdict_with_formula(table: Table, formula: Callable[..., float], level: float = 0.95,
                         tolerance: float | None = None) -> str:
    """The response-argmax verdict had ``formula`` been the prediction (used for the wrong-formula control)."""
    est = argmax_deviation(formula)(table, level)
    return equivalence_verdict(est.ci, ARGMAX.prediction, ARGMAX.tolerance if tolerance is None else tolerance)


__all__ = ["KERNEL", "KERNEL_VARIANCE", "ARGMAX", "SIGMA", "RANGE", "NETWORKS", "predicted_alpha_star",
           "finite_depth_alpha_star", "wrong_depth_exponent", "verdict_with_formula", "range_map", "shift_fit",
           "derived_shares", "response_template"]

"""Fischer, Dahmen, Helias: "Field theory for optimal signal propagation in ResNets" (arXiv 2305.07715).

The network is the reference's res1 pre-activation block with a depth-independent branch scale:
    h_{l+1} = h_l + alpha (V_l erf(h_l) + b_l),   V_l entries N(0, sigma_w2 / n),   h_0 = x
(NetSpec block="res1", preact=True, beta=0, scale=alpha, activation="erf", bias_var=0).
Only the paper's abstract could be read in this session, so every prediction below is *derived*
from the mean-field recursion in claims/theory/fischer.py; fischer2023.md has the derivations,
the definitions chosen (response function, input correlation, "near-maximal") and what the
abstract says. Definitions shared by the response claims (pre-registered, not tuned):

- response chi(alpha): the secant slope of the output correlation against the input correlation,
  (c_L(c0 + dc) - c_L(c0 - dc)) / (2 dc) with c0 = 0.9, dc = 0.05, for three inputs of equal
  norm sqrt(q0 n), q0 = 1, whose pairwise correlations are exact (Gram-Schmidt); measured per
  network with common random weights (the three inputs pass through the same network);
- alpha*: argmax over alpha of chi, predicted by the infinite-width recursion (same secant);
- measured argmax: vertex of a quadratic fit of log chi in log alpha over 7 points of a lattice
  exp(0.2 k) centred on the prediction; standard errors clustered on the sweep cell (common
  random numbers across alpha within a cell), Fieller confidence set for the vertex.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
import torch

from reference_impl.protocol import Capability

from ..spec import CellContext, Claim, Estimate, Source, Sweep, Table, register
from ..stats import LinearFit, equivalence_verdict, fieller_ratio, hull, loglog_slope, mean_ci, ols
from ..theory import fischer as theory
from . import fischer_controls  # noqa: F401  (registers the Fischer controls)

PAPER = "Fischer, Dahmen, Helias (2023/2025), Field theory for optimal signal propagation in ResNets"
ARXIV = "2305.07715"
NOT_READ = "not readable in this session (only the abstract was available)"

ACT = "erf"
Q0 = 1.0  # input variance per coordinate
C0, DC = 0.9, 0.05  # input correlation of the response and the half-width of its secant
LATTICE = 0.2  # spacing of the alpha lattice in log alpha
WINDOW = 3  # lattice points each side of the predicted argmax
BUDGETS = ("smoke", "default", "thorough")


# ----------------------------------------------------------------------------- theory helpers
@lru_cache(maxsize=256)
def predicted_alpha_star(depth: int, sigma_w2: float) -> float:
    """alpha* of the measured (secant) response from the infinite-width recursion (derived)."""
    return theory.alpha_star(depth, sigma_w2, Q0, C0, 0.0, ACT, dc=DC)


def formula_alpha_star(depth: int, sigma_w2: float) -> float:
    """The continuum formula sqrt(tau*(q0, c0) / (sigma_w2 L)) for the derivative response (derived)."""
    return theory.alpha_star_formula(depth, sigma_w2, Q0, C0, 0.0, ACT)


def wrong_depth_exponent(anchor: int) -> Callable[[int, float], float]:
    """A wrong alpha* formula for the negative control: exponent L^-1 instead of L^-1/2, agreeing at ``anchor``."""
    return lambda depth, sigma_w2: predicted_alpha_star(anchor, sigma_w2) * anchor / depth


def alpha_window(depth: int, sigma_w2: float) -> tuple[float, ...]:
    """The 2 WINDOW + 1 lattice values exp(0.2 k) nearest the predicted argmax (log-symmetric)."""
    k0 = round(math.log(predicted_alpha_star(depth, sigma_w2)) / LATTICE)
    return tuple(float(f"{math.exp(LATTICE * k):.6g}") for k in range(k0 - WINDOW, k0 + WINDOW + 1))


def alpha_union(configs: Sequence[tuple[int, float]]) -> tuple[float, ...]:
    """Every lattice alpha some configuration of a sweep uses (the sweep's inner axis)."""
    return tuple(sorted({a for d, s in configs for a in alpha_window(d, s)}))


# ----------------------------------------------------------------------------- measurements
def pair_inputs(ctx: CellContext, n: int, networks: int) -> torch.Tensor:
    """Inputs (S, 3, n): x_a and two inputs at correlation c0 -+ dc with x_a, all of norm sqrt(q0 n)."""
    gen = ctx.generator(1)
    a = torch.randn(networks, n, generator=gen, dtype=torch.float64, device=gen.device)
    o = torch.randn(networks, n, generator=gen, dtype=torch.float64, device=gen.device)
    a = a / a.norm(dim=1, keepdim=True)
    o = o - (o * a).sum(1, keepdim=True) * a  # Gram-Schmidt: o orthogonal to a
    o = o / o.norm(dim=1, keepdim=True)
    xs = [a] + [c * a + math.sqrt(1.0 - c * c) * o for c in (C0 - DC, C0 + DC)]
    x = torch.stack(xs, dim=1) * math.sqrt(Q0 * n)
    return x.to(device=ctx.device, dtype=getattr(torch, ctx.dtype))


def secant_response(h_last: torch.Tensor) -> torch.Tensor:
    """Per-network (c_L(c0 + dc) - c_L(c0 - dc)) / (2 dc) from output states (S, 3, n)."""
    h = h_last.double()
    norm = h.norm(dim=-1)
    c = (h[:, :1] * h[:, 1:]).sum(-1) / (norm[:, :1] * norm[:, 1:])
    return (c[:, 1] - c[:, 0]) / (2.0 * DC)


def measure_response(ctx: CellContext) -> list[dict[str, Any]]:
    """Mean response over S networks at each alpha of this cell's window (the same networks at every alpha)."""
    p = ctx.params
    n, depth, s2 = int(p["width"]), int(p["depth"]), float(p["sigma_w2"])
    wanted = set(alpha_window(depth, s2)) if p.get("window", True) else None
    x = pair_inputs(ctx, n, ctx.networks)
    rows = []
    for alpha in p["scale"]:
        if wanted is not None and alpha not in wanted:
            continue
        spec = ctx.spec(width=n, depth=depth, block="res1", beta=float(p.get("beta", 0.0)), scale=float(alpha),
                        activation=ACT, sigma_w2=s2, bias_var=0.0, preact=True)
        net = ctx.impl.build(spec, ctx.networks, ctx.generator(0))
        chi = secant_response(net.trace(x)[:, -1])
        rows.append({"scale": float(alpha), "response": float(chi.mean()), "response_sd": float(chi.std())})
    return rows


KERNEL_REF_WIDTH = 16  # networks per cell grow as width / 16: the deviation kappa/N needs S ~ N


def measure_kernel(ctx: CellContext) -> dict[str, float]:
    """Mean of K^_L = |h_L|^2 / n over S networks minus the infinite-width K_L (one input per network).

    h_0 has i.i.d. N(0, q0) coordinates (a fresh input per network), the setting of the derived 1/N
    correction. S = networks * width / 16 (in chunks of <= 8192), so the mean deviation kappa / N
    stays resolved at every width.
    """
    p = ctx.params
    n, depth, alpha, s2 = int(p["width"]), int(p["depth"]), float(p["scale"]), float(p["sigma_w2"])
    q0 = float(p["q0"])
    spec = ctx.spec(width=n, depth=depth, block="res1", beta=0.0, scale=alpha, activation=ACT, sigma_w2=s2,
                    bias_var=0.0, preact=True)
    total = ctx.networks * max(1, n // KERNEL_REF_WIDTH)
    done, acc, acc2, chunk_id = 0, 0.0, 0.0, 0
    while done < total:
        m = min(8192, total - done)
        gen_x = ctx.generator(2 * chunk_id + 1)
        x = torch.randn(m, 1, n, generator=gen_x, dtype=torch.float64, device=gen_x.device) * math.sqrt(q0)
        x = x.to(device=ctx.device, dtype=getattr(torch, ctx.dtype))
        net = ctx.impl.build(spec, m, ctx.generator(2 * chunk_id + 2))
        k_hat = net.trace(x)[:, -1, 0].double().pow(2).mean(-1)
        acc += float(k_hat.sum())
        acc2 += float(k_hat.pow(2).sum())
        done += m
        chunk_id += 1
    mean = acc / total
    k_inf = float(theory.variance_recursion(q0, depth, alpha, s2, 0.0, ACT)[-1])
    dev = mean - k_inf
    se = math.sqrt(max(acc2 / total - mean**2, 0.0) / total)
    return {"dev": dev, "abs_dev": abs(dev), "n_dev": n * dev, "dev_se": se, "mean_k": mean, "k_inf": k_inf,
            "networks_used": float(total)}


# ----------------------------------------------------------------------------- estimators
def _vertex_fit(sub: Table, level: float) -> tuple[LinearFit, float]:
    """OLS of log chi on (1, u, u^2), u = log alpha - centre, clustered on cell; returns (fit, centre)."""
    la = np.log(sub.col("scale"))
    centre = float(np.mean(np.unique(la)))
    u = la - centre
    y = np.log(np.clip(sub.col("response"), 1e-12, None))
    return ols(np.column_stack([np.ones_like(u), u, u * u]), y, sub.col("cell"), level), centre


def _vertex(fit: LinearFit, centre: float) -> tuple[float, list[tuple[float, float]], float]:
    """Vertex log alpha^ = centre - b1 / (2 b2): value, Fieller set, delta-method standard error."""
    b, v = fit.params, fit.cov
    pieces = fieller_ratio(-b[1], 2 * b[2], v[1, 1], 4 * v[2, 2], -2 * v[1, 2], fit.t_crit)
    value = centre - b[1] / (2 * b[2]) if b[2] != 0 else math.nan
    grad = np.array([0.0, -1 / (2 * b[2]), b[1] / (2 * b[2] ** 2)]) if b[2] != 0 else np.full(3, math.nan)
    se = float(math.sqrt(max(grad @ v @ grad, 0.0)))
    return float(value), [(lo + centre, hi + centre) for lo, hi in pieces], se


def _distance_range(pieces: list[tuple[float, float]]) -> tuple[float, float]:
    """(min, max) of |d| over a confidence set of d given as intervals."""
    if not pieces:
        return (math.nan, math.nan)
    lo = min(0.0 if a <= 0 <= b else min(abs(a), abs(b)) for a, b in pieces)
    hi = max(max(abs(a), abs(b)) for a, b in pieces)
    return lo, hi


def _response_series(sub: Table, label: str, fit: LinearFit | None, centre: float, depth: int, s2: float,
                     ) -> dict[str, Any]:
    alphas = sub.unique("scale")
    means = [mean_ci(sub.where(scale=a).col("response"), 0.95) for a in alphas]
    series: dict[str, Any] = {
        "label": label,
        "points": {"x": sub.col("scale").tolist(), "y": sub.col("response").tolist()},
        "mean": {"x": list(alphas), "y": [m for m, _ in means], "yerr": [h for _, h in means]},
        "predicted": {"x": list(alphas), "y": theory.correlation_response(Q0, C0, depth, np.array(alphas), s2,
                                                                          0.0, ACT, DC).tolist()},
    }
    if fit is not None:
        u = np.log(np.asarray(alphas, float)) - centre
        design = np.column_stack([np.ones_like(u), u, u * u])
        pred = design @ fit.params
        se = np.sqrt(np.einsum("ij,jk,ik->i", design, fit.cov, design))
        series["fit"] = {"x": list(alphas), "y": np.exp(pred).tolist(), "lo": np.exp(pred - fit.t_crit * se).tolist(),
                         "hi": np.exp(pred + fit.t_crit * se).tolist()}
    return series


def argmax_deviation(formula: Callable[[int, float], float]) -> Callable[[Table, float], Estimate]:
    """Estimator: max over depths of |log alpha^_L - log formula(L)|, with a simultaneous confidence set.

    Each depth's vertex gets a Fieller set at the Bonferroni level 1 - (1 - level) / D; the set of
    possible values of max_L |d_L| given every d_L in its set is [max_L min|d_L|, max_L max|d_L|].
    The claim holds if every depth is within tolerance, and is violated as soon as one depth is
    clearly outside (a conjunction over depths).
    """
    def estimate(table: Table, level: float) -> Estimate:
        depths = table.unique("depth")
        s2 = float(table.unique("sigma_w2")[0])
        per_level = 1 - (1 - level) / len(depths)
        los, his, values, rows, series = [], [], [], [], []
        for depth in depths:
            sub = table.where(depth=depth)
            fit, centre = _vertex_fit(sub, per_level)
            value, pieces, se = _vertex(fit, centre)
            ref = math.log(formula(depth, s2))
            dev_pieces = [(a - ref, b - ref) for a, b in pieces]
            lo, hi = _distance_range(dev_pieces)
            los.append(lo)
            his.append(hi)
            values.append(abs(value - ref))
            ci = hull(pieces)
            rows.append({"label": f"L={depth}", "argmax": math.exp(value), "ci": [math.exp(ci[0]), math.exp(ci[1])],
                         "predicted": formula(depth, s2), "log_ratio": value - ref, "se_log": se,
                         "continuum_formula": formula_alpha_star(depth, s2), "r2": fit.r2, "n": fit.n})
            series.append(_response_series(sub, f"L={depth}", fit, centre, depth, s2))
        notes = "; ".join(f"{r['label']}: argmax {r['argmax']:.4g} (CI {r['ci'][0]:.3g}..{r['ci'][1]:.3g}) vs "
                          f"predicted {r['predicted']:.4g}" for r in rows)
        return Estimate(max(values), [(max(los), max(his))], rows, {
            "title": f"Response d c_L / d c_0 (secant at c0 = {C0}) against alpha, one curve per depth",
            "xlabel": "residual scale alpha", "ylabel": "response chi (dimensionless)", "xlog": True, "ylog": False,
            "series": series}, notes=notes)

    return estimate


def estimate_kernel_slope(table: Table, level: float) -> Estimate:
    """Log-log slope of |mean K^_L - K_L| against width, SEs clustered on the cell (one row each)."""
    widths, dev = table.col("width"), table.col("dev")
    fit = loglog_slope(widths, np.abs(dev), table.col("cell"), level)
    lo, hi = fit.ci(1)
    sub = table
    ws = sub.unique("width")
    kappa = float(theory.finite_width_correction(float(sub.unique("q0")[0]), int(sub.unique("depth")[0]),
                                                 float(sub.unique("scale")[0]), float(sub.unique("sigma_w2")[0]),
                                                 0.0, ACT)[-1])
    means = [mean_ci(sub.where(width=w).col("n_dev"), 0.95) for w in ws]
    rows = [{"label": f"n={w}", "n_times_dev": m, "ci": [m - h, m + h], "kappa_derived": kappa}
            for w, (m, h) in zip(ws, means)]
    grid = np.log(np.asarray(ws, float))
    design = np.column_stack([np.ones_like(grid), grid])
    pred = design @ fit.params
    se = np.sqrt(np.einsum("ij,jk,ik->i", design, fit.cov, design))
    dmeans = [mean_ci(np.abs(sub.where(width=w).col("dev")), 0.95) for w in ws]
    figure = {"title": "Deviation of the finite-width mean kernel from the infinite-width recursion",
              "xlabel": "width n", "ylabel": "|E K^_L - K_L|", "xlog": True, "ylog": True,
              "series": [{"label": "measured", "points": {"x": widths.tolist(), "y": np.abs(dev).tolist()},
                          "mean": {"x": list(ws), "y": [m for m, _ in dmeans], "yerr": [h for _, h in dmeans]},
                          "fit": {"x": list(ws), "y": np.exp(pred).tolist(), "lo": np.exp(pred - fit.t_crit * se).tolist(),
                                  "hi": np.exp(pred + fit.t_crit * se).tolist()},
                          "predicted": {"x": list(ws), "y": [abs(kappa) / w for w in ws]}}]}
    sign = "all negative" if np.all(dev < 0) else ("all positive" if np.all(dev > 0) else "mixed signs")
    return Estimate(float(fit.params[1]), [(lo, hi)], rows, figure,
                    notes=f"deviations {sign}; derived one-loop kappa_L = {kappa:.4g} (E K^_L = K_L + kappa_L / n)")


def estimate_sigma_slope(table: Table, level: float) -> Estimate:
    """Slope of log alpha^ against log sigma_w^2 across the sweep's sigma_w^2 values (delta method)."""
    sigmas = table.unique("sigma_w2")
    depth = int(table.unique("depth")[0])
    verts, ses, tcrits, rows, series = [], [], [], [], []
    for s2 in sigmas:
        sub = table.where(sigma_w2=s2)
        fit, centre = _vertex_fit(sub, level)
        value, pieces, se = _vertex(fit, centre)
        verts.append(value)
        ses.append(se)
        tcrits.append(fit.t_crit)
        ci = hull(pieces)
        rows.append({"label": f"sigma_w2={s2:g}", "argmax": math.exp(value), "ci": [math.exp(ci[0]), math.exp(ci[1])],
                     "predicted": predicted_alpha_star(depth, s2), "se_log": se})
        series.append(_response_series(sub, f"sigma_w2={s2:g}", fit, centre, depth, s2))
    x = np.log(np.asarray(sigmas, float))
    w = 1.0 / np.asarray(ses) ** 2
    xm = np.sum(w * x) / np.sum(w)
    sxx = np.sum(w * (x - xm) ** 2)
    slope = float(np.sum(w * (x - xm) * np.asarray(verts)) / sxx)
    se = float(math.sqrt(1.0 / sxx))
    t = max(tcrits)  # the most conservative per-sigma t quantile (fewest clusters)
    derived = -0.5
    notes = (f"measured d log alpha* / d log sigma_w^2 = {slope:.3f} +- {t * se:.3f}; derived for this network: "
             f"{derived} (alpha enters only as alpha sigma_w); argmaxes "
             + ", ".join(f"{r['label']}: {r['argmax']:.3g}" for r in rows))
    return Estimate(slope, [(slope - t * se, slope + t * se)], rows, {
        "title": f"Response against alpha at depth {depth}, one curve per weight variance",
        "xlabel": "residual scale alpha", "ylabel": "response chi (dimensionless)", "xlog": True, "ylog": False,
        "series": series}, notes=notes)


def estimate_gain_share(table: Table, level: float) -> Estimate:
    """min over the empirical alphas of (chi(alpha) - 1) / (max_grid chi - 1), jackknife CI over cells.

    chi is the mean over all cells of the same alpha grid (common random numbers within a cell); the
    confidence interval is the leave-one-cell-out jackknife standard error times a t(C - 1) quantile.
    """
    from scipy import stats as sps

    cells = table.unique("cell")
    alphas = table.unique("scale")
    emp = [a for a in alphas if a in EMPIRICAL_RANGE]
    resp = np.array([[table.where(cell=c, scale=a).col("response")[0] for a in alphas] for c in cells])  # (C, A)
    idx = [alphas.index(a) for a in emp]

    def share(block: np.ndarray) -> float:
        curve = block.mean(axis=0)
        return float(np.min((curve[idx] - 1.0) / (curve.max() - 1.0)))

    value = share(resp)
    n_cells = len(cells)
    loo = np.array([share(np.delete(resp, i, axis=0)) for i in range(n_cells)])
    se = float(math.sqrt((n_cells - 1) / n_cells * np.sum((loo - loo.mean()) ** 2)))
    half = float(sps.t.ppf(0.5 + level / 2, n_cells - 1)) * se
    depth, s2 = int(table.unique("depth")[0]), float(table.unique("sigma_w2")[0])
    theory_share = float(np.min(theory.response_gain(depth, np.array(emp), s2, Q0, C0, 0.0, ACT, DC)))
    region = theory.near_max_region(depth, 0.5, s2, Q0, C0, 0.0, ACT, DC)
    curve = resp.mean(axis=0)
    rows = [{"label": f"alpha={a:g}", "response": float(curve[i]), "gain_share": float((curve[i] - 1) / (curve.max() - 1)),
             "gain_share_theory": float(theory.response_gain(depth, a, s2, Q0, C0, 0.0, ACT, DC))}
            for i, a in enumerate(alphas)]
    return Estimate(value, [(value - half, value + half)], rows, {
        "title": f"Response against alpha at depth {depth}; empirical range {EMPIRICAL_RANGE}",
        "xlabel": "residual scale alpha", "ylabel": "response chi (dimensionless)", "xlog": True, "ylog": False,
        "series": [_response_series(table, f"L={depth}", None, 0.0, depth, s2)]},
        notes=f"theory: gain share {theory_share:.3f}; half-gain region alpha in [{region[0]:.3g}, {region[1]:.3g}]")


# ----------------------------------------------------------------------------- the claims
RESPONSE_DEF = (f"chi = (c_L(c0 + dc) - c_L(c0 - dc)) / (2 dc), c0 = {C0}, dc = {DC}, erf, q0 = {Q0}, no bias; "
                "c = cosine similarity of the output states of one network")

# 1. kernel recursion: 1/N deviation -------------------------------------------------------------
KERNEL_FIXED = {"depth": 10, "scale": 0.5, "sigma_w2": 2.0, "q0": 0.03, "beta": 0.0, "block": "res1",
                "activation": ACT, "preact": True}
KERNEL = register(Claim(
    id="fischer.kernel_recursion_finite_n",
    statement="The mean kernel of a finite-width network deviates from the infinite-width kernel recursion "
              "by O(1/N): |E K^_L - K_L| ~ N^-1 (the leading finite-size correction of a systematic 1/N theory).",
    source=Source(PAPER, ARXIV, "abstract ('systematic finite-size field theory'); 1/N coefficient derived here "
                  "(fischer2023.md), the paper's own expression " + NOT_READ),
    quantity="E[|h_L|^2 / n] - K_L over widths n, K_L from the erf kernel recursion (closed form)",
    estimand="log-log slope of |E K^_L - K_L| against width n",
    prediction=-1.0, tolerance=0.2,
    tolerance_why="The one-loop expansion gives slope -1 exactly as n -> infinity; at n = 16..64 the O(1/n^2) "
                  "term makes the fitted slope shallower by 0.02..0.1 (Monte Carlo with 3e6/n networks: n (E K^ - K) "
                  "= -1.14, -1.24, -1.30, -1.14 at n = 16..128 against the derived kappa = -1.16). 0.2 covers "
                  "that and still rejects the natural alternatives: O(n^-1/2) (a fluctuation-sized bias) and O(1) "
                  "(a wrong recursion, e.g. the controls), 2.5 and 5 tolerances away.",
    prediction_origin="derived",
    sweeps={
        "smoke": Sweep(axes={"width": (16, 32, 64)}, replicates=4, networks=2048, fixed=KERNEL_FIXED),
        "default": Sweep(axes={"width": (16, 32, 64)}, replicates=8, networks=8192, fixed=KERNEL_FIXED),
        "thorough": Sweep(axes={"width": (32, 64, 128)}, replicates=12, networks=16384, fixed=KERNEL_FIXED),
    },
    measure=measure_kernel, estimate=estimate_kernel_slope,
    controls=("scale-twice", "sigma-ignored", "weight-variance-2"),
    requires=Capability.FORWARD_TRACE,
    paper_numbers=(
        {"what": "order of the leading finite-size correction", "paper": "1/N (systematic finite-size theory, abstract)",
         "ours": "see estimate (slope)"},
        {"what": "1/N coefficient kappa_L (E K^_L = K_L + kappa_L / N), q0 = 0.03, L = 10, alpha^2 sigma_w^2 = 0.5",
         "paper": NOT_READ, "ours": "derived one-loop value in notes; N (E K^_L - K_L) per width in the fit table"},
    ),
))

# 2. response argmax at several depths -------------------------------------------------------------
ARGMAX_S2 = 2.0
ARGMAX_DEPTHS = {"smoke": (50,), "default": (25, 100), "thorough": (25, 50, 100, 200)}


def _argmax_sweep(budget: str, reps: int, nets: int, width: int) -> Sweep:
    depths = ARGMAX_DEPTHS[budget]
    return Sweep(axes={"depth": depths}, replicates=reps, networks=nets,
                 inner={"scale": alpha_union([(d, ARGMAX_S2) for d in depths])},
                 fixed={"width": width, "sigma_w2": ARGMAX_S2, "beta": 0.0, "block": "res1", "activation": ACT,
                        "preact": True})


ARGMAX = register(Claim(
    id="fischer.response_argmax",
    statement="The network's response to its input, as a function of the residual scale alpha, peaks at the "
              "optimal alpha* given by the theory, at every depth.",
    source=Source(PAPER, ARXIV, "abstract ('analytical expressions for the response function' and 'for the optimal "
                  "scaling parameter'); response definition and alpha* derived here, paper's formula " + NOT_READ),
    quantity=f"response {RESPONSE_DEF}; sigma_w^2 = {ARGMAX_S2}",
    estimand="max over depths of |log argmax_measured - log alpha*_predicted| (simultaneous CI)",
    prediction=0.0, tolerance=0.2,
    tolerance_why="0.2 in log alpha (22%): the response is flat at the top (within 3% of its maximum over "
                  "+-0.2 in log alpha), so this is the precision to which an 'optimal' alpha is meaningful; the "
                  "quadratic-vertex estimator is biased by +0.02..0.04 on the 7-point lattice (computed on the "
                  "theory curve) and the finite-width shift at n = 256 is below 0.03 (pilot). A wrong depth exponent, "
                  "alpha applied twice, or sigma_w ignored move the argmax by 0.35..1.4 and are rejected.",
    prediction_origin="derived",
    sweeps={"smoke": _argmax_sweep("smoke", 8, 64, 128), "default": _argmax_sweep("default", 10, 64, 256),
            "thorough": _argmax_sweep("thorough", 16, 128, 512)},
    measure=measure_response, estimate=argmax_deviation(predicted_alpha_star),
    controls=("scale-twice", "sigma-ignored", "weight-variance-2", "fischer-hidden-depth-scaling"),
    requires=Capability.FORWARD_TRACE,
    paper_numbers=(
        {"what": "alpha* formula", "paper": NOT_READ,
         "ours": "argmax of the infinite-width recursion; continuum limit alpha* = sqrt(tau*(c0) / (sigma_w^2 L)), "
                 f"tau*(0.9) = {theory.continuum_tau_star(Q0, C0):.4g}"},
        {"what": "alpha* at sigma_w^2 = 2, L = 25 / 100 (secant response)", "paper": NOT_READ,
         "ours": f"{predicted_alpha_star(25, ARGMAX_S2):.4g} / {predicted_alpha_star(100, ARGMAX_S2):.4g} predicted; "
                 "measured in the fit table"},
    ),
))

# 3. weak dependence on sigma_w^2 -------------------------------------------------------------
SIGMA_DEPTH = 50
SIGMAS = (0.5, 2.0)


def _sigma_sweep(reps: int, nets: int, width: int) -> Sweep:
    return Sweep(axes={"sigma_w2": SIGMAS}, replicates=reps, networks=nets,
                 inner={"scale": alpha_union([(SIGMA_DEPTH, s) for s in SIGMAS])},
                 fixed={"width": width, "depth": SIGMA_DEPTH, "beta": 0.0, "block": "res1", "activation": ACT,
                        "preact": True})


SIGMA = register(Claim(
    id="fischer.alpha_star_weak_sigma_dependence",
    statement="The optimal residual scale alpha* depends only weakly on the weight variance sigma_w^2: "
              "|d log alpha* / d log sigma_w^2| <= 1/4, half the naive exponent 1/2 of alpha sigma_w = const.",
    source=Source(PAPER, ARXIV, "abstract ('optimal scaling parameter that depends only weakly on other network "
                  "hyperparameters, such as the weight variance'); the numerical criterion is ours, the paper's "
                  + NOT_READ),
    quantity=f"argmax of the response ({RESPONSE_DEF}) at depth {SIGMA_DEPTH} for sigma_w^2 in {SIGMAS}",
    estimand="slope d log alpha* / d log sigma_w^2",
    prediction=0.0, tolerance=0.25,
    tolerance_why="'Weak' made numerical: at most half of the exponent -1/2 that alpha sigma_w = const would give, "
                  "i.e. alpha* moves by less than 19% per doubling of sigma_w^2. For the network pinned down here "
                  "alpha and sigma_w enter only as alpha sigma_w (no bias), so the derived exponent is exactly -1/2 "
                  "and the claim is expected to be violated (a finding, see fischer2023.md).",
    prediction_origin="derived",
    sweeps={"smoke": _sigma_sweep(6, 40, 128), "default": _sigma_sweep(8, 48, 256), "thorough": _sigma_sweep(16, 96, 512)},
    measure=measure_response, estimate=estimate_sigma_slope,
    controls=("fischer-sigma-squared",),
    requires=Capability.FORWARD_TRACE,
    paper_numbers=(
        {"what": "dependence of alpha* on sigma_w^2", "paper": "'only weakly' (abstract); figure values " + NOT_READ,
         "ours": "derived exponent -1/2 (alpha* proportional to 1/sigma_w); measured slope in the estimate"},
    ),
))

# 4. empirical range inside the near-maximal response region -------------------------------------------
EMPIRICAL_RANGE = (0.1, 0.3)
RANGE_DEPTH = 700


def _range_grid() -> tuple[float, ...]:
    top = predicted_alpha_star(RANGE_DEPTH, 1.0)
    return tuple(sorted({*EMPIRICAL_RANGE, *(float(f"{top * f:.6g}") for f in (0.8, 1.0, 1.25))}))


def _theory_share(depth: int) -> float:
    """min over the empirical alphas of the derived gain share at ``depth`` (sigma_w^2 = 1)."""
    return float(np.min(theory.response_gain(depth, np.array(EMPIRICAL_RANGE), 1.0, Q0, C0, 0.0, ACT, DC)))


def _range_sweep(reps: int, nets: int, width: int) -> Sweep:
    return Sweep(axes={"depth": (RANGE_DEPTH,)}, replicates=reps, networks=nets, inner={"scale": _range_grid()},
                 fixed={"width": width, "sigma_w2": 1.0, "beta": 0.0, "block": "res1", "activation": ACT,
                        "preact": True, "window": False})


RANGE = register(Claim(
    id="fischer.empirical_range_is_max_sensitivity",
    statement=f"For deep networks the empirically beneficial residual scales alpha in {EMPIRICAL_RANGE} lie in the "
              f"range of maximal sensitivity: both reach at least half of the maximal response gain (L = {RANGE_DEPTH}).",
    source=Source(PAPER, ARXIV, "abstract ('for deep networks the empirically found values for the scaling parameter "
                  "lie within the range of maximal sensitivity'); range 0.1-0.3 from Szegedy et al. 2017 "
                  "(Inception-ResNet residual scaling), the paper's own quoted range " + NOT_READ),
    quantity=f"gain share (chi(alpha) - 1) / (max chi - 1) at alpha = {EMPIRICAL_RANGE}, {RESPONSE_DEF}, sigma_w^2 = 1",
    estimand="min over the two empirical alphas of the gain share",
    prediction=1.0, tolerance=0.5,
    tolerance_why="'Range of maximal sensitivity' made numerical as the half-gain region (gain share >= 1/2, the "
                  "usual full-width-at-half-maximum convention): the band [0.5, 1.5] is 'at least half the gain' "
                  "(the share cannot exceed 1 except by noise). The depth is the geometric middle of the depths "
                  "(about 480..1170, 700 is near their geometric middle) where the derived theory puts both "
                  "alphas in that region; outside it the statement fails in theory (fischer2023.md).",
    prediction_origin="derived",
    # default: 16 replicates (8 gave 1 inconclusive in 10 calibration seeds: estimate sd 0.05 around 0.66,
    # CI half-width about 0.08 against the band's lower edge 0.5)
    sweeps={"smoke": _range_sweep(4, 8, 128), "default": _range_sweep(16, 20, 256), "thorough": _range_sweep(16, 40, 512)},
    measure=measure_response, estimate=estimate_gain_share,
    controls=("scale-twice",),
    requires=Capability.FORWARD_TRACE,
    paper_numbers=(
        {"what": "empirically beneficial alpha range", "paper": NOT_READ + "; used: 0.1-0.3 (Szegedy et al. 2017)",
         "ours": f"theory gain share at L = {RANGE_DEPTH}: {_theory_share(RANGE_DEPTH):.3f}; measured in the estimate"},
    ),
))


def verdict_with_formula(table: Table, formula: Callable[[int, float], float], level: float = 0.95,
                         tolerance: float | None = None) -> str:
    """The response-argmax verdict had ``formula`` been the prediction (used for the wrong-formula control)."""
    est = argmax_deviation(formula)(table, level)
    return equivalence_verdict(est.ci, ARGMAX.prediction, ARGMAX.tolerance if tolerance is None else tolerance)


__all__ = ["KERNEL", "ARGMAX", "SIGMA", "RANGE", "predicted_alpha_star", "formula_alpha_star", "wrong_depth_exponent",
           "verdict_with_formula"]

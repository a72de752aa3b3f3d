"""Depth-wise learning-rate transfer: the optimal SGD rate after T steps does not move with depth.

Why practitioners use depth-muP (Tensor Programs VI, arXiv 2310.02244; Bordelon et al., arXiv
2309.16620): tune the learning rate on a shallow network and reuse it at depth. NFD v1 (arXiv
2512.21075v1) says plain depth-muP loses this in two-layer blocks and that its depth-aware
learning-rate correction "empirically restores depth-wise HP transfer". Design, derivations of the
controls' slopes, pilot and sizing: transfer.md (same folder).

Measurement (one cell, common random numbers): S networks drawn once, depth-coupled (depth 2L refines
depth L), trained at every depth L of the sweep and every rate lr * g of a log-spaced grid from the
same initial weights (Run.lr_factor = g); the statistic of a network is its training loss after T
steps (capped at LOSS_CAP: a diverged network counts as LOSS_CAP).

Estimator: per depth the curve m_L(g) = log of the mean loss over the networks; its minimum on the
grid picks a window of WINDOW points (the minimum in the middle, shifted inward at the grid's ends);
a quadratic in log g fitted to the window by least squares gives log lr*(L) (its vertex) and the log
loss at lr*. A minimum at an end of the grid, a window that is not convex, or a vertex outside the
window leaves lr*(L) undetermined. The estimand is the OLS slope of log lr*(L) on log L. CI: the
percentile bootstrap over networks (BOOTSTRAP resamples of the S networks, the same resample at every
(L, g), so the common random numbers are kept); a resample with an undetermined optimum counts as -inf
for the lower quantile and +inf for the upper one (an unbracketed optimum widens the interval).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from reference_impl.training import Run

from ..spec import CellContext, Claim, Estimate, Reading, Source, Sweep, Table, register
from . import transfer_controls  # noqa: F401  (registers the controls the claims list, before any digest)
from .nfd2025.setting import BASE, REQUIRES, run_training

NFD = "Yao, Wu, Gao (2025), Understanding Scaling Laws in Deep Neural Networks via Feature Learning Dynamics (NFD v1)"
TP6 = "Yang, Yu, Zhu, Hayou (2023), Tensor Programs VI: Feature Learning in Infinite-Depth Neural Networks"
LOSS_CAP = 1e6  # training loss of a diverged network (inf / nan or larger)
WINDOW = 5  # grid points of the quadratic fit around the measured minimum
BOOTSTRAP = 1000  # resamples of the networks
BOOTSTRAP_SEED = 0  # the estimator's own stream: the same data give the same interval
FIGURE_CEILING = 3.0  # the figure leaves out rates whose mean loss exceeds this times that at the smallest rate


# ------------------------------------------------------------------------------------------------
# measurement
# ------------------------------------------------------------------------------------------------
def measure_transfer(ctx: CellContext) -> list[dict[str, Any]]:
    """Per (depth, rate factor g): the per-network training losses after T steps (capped), their mean
    and standard error; every run starts from the cell's one draw of S depth-coupled networks."""
    p = ctx.params
    depths = [int(d) for d in p["depth"]]
    grid = [float(g) for g in p["lr_factor"]]
    runs = [Run(f"L{d}/g{i}", d, lr_factor=g) for d in depths for i, g in enumerate(grid)]
    out, trained_with = run_training(ctx, max(depths), runs, block=p.get("block", "res1"))
    rows = []
    for d in depths:
        for i, g in enumerate(grid):
            loss = out[f"L{d}/g{i}"].loss[:, -1].double()
            loss = torch.where(torch.isfinite(loss), loss, torch.full_like(loss, LOSS_CAP)).clamp(max=LOSS_CAP)
            rows.append({"depth": d, "lr_factor": g, "rate": float(p["lr"]) * g, "loss": float(loss.mean()),
                         "loss_se": float(loss.std() / math.sqrt(loss.shape[0])), "losses": loss.tolist(),
                         "trained_with": trained_with})
    return rows


# ------------------------------------------------------------------------------------------------
# estimation
# ------------------------------------------------------------------------------------------------
def optimum(log_rate: np.ndarray, log_loss: np.ndarray) -> tuple[float, float, int]:
    """(log lr*, log loss at lr*, first window index) of one curve; nan where undetermined."""
    g = len(log_rate)
    finite = np.isfinite(log_loss)
    if g < WINDOW or not finite.any():
        return math.nan, math.nan, -1
    k = int(np.nanargmin(np.where(finite, log_loss, np.inf)))
    lo = min(max(k - WINDOW // 2, 0), g - WINDOW)
    if k in (0, g - 1):
        return math.nan, math.nan, lo
    x, y = log_rate[lo:lo + WINDOW], log_loss[lo:lo + WINDOW]
    keep = np.isfinite(y)
    if keep.sum() < 3:
        return math.nan, math.nan, lo
    c2, c1, c0 = np.polyfit(x[keep], y[keep], 2)
    if not c2 > 0:
        return math.nan, math.nan, lo
    xs = -c1 / (2 * c2)
    if not x[0] <= xs <= x[-1]:
        return math.nan, math.nan, lo
    return float(xs), float(c0 + c1 * xs + c2 * xs * xs), lo


def _curves(table: Table) -> tuple[list[int], np.ndarray, np.ndarray, list[int]]:
    """Depths, log rates (G,), per-network losses (N, D, G) with the cells' networks stacked, and the
    networks per cell."""
    depths, rates = table.unique("depth"), table.unique("rate")
    cells = table.unique("cell")
    blocks = []
    for c in cells:
        sub = {(r["depth"], r["rate"]): r["losses"] for r in table.rows if r["cell"] == c}
        blocks.append(np.array([[sub[d, g] for g in rates] for d in depths]).transpose(2, 0, 1))
    return depths, np.log(np.asarray(rates, float)), np.concatenate(blocks, 0), [b.shape[0] for b in blocks]


def _weights(n_per_cell: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """Bootstrap weights (BOOTSTRAP, N): networks resampled within each cell, cells weighted equally."""
    parts = [rng.multinomial(n, np.full(n, 1.0 / n), size=BOOTSTRAP) / (n * len(n_per_cell)) for n in n_per_cell]
    return np.concatenate(parts, 1)


def _fit_depths(log_depth: np.ndarray, log_rate: np.ndarray, means: np.ndarray) -> dict[str, Any]:
    """Optima per depth of mean curves (D, G) and the slopes of log lr* and log loss* on log L."""
    opt = [optimum(log_rate, np.log(m)) for m in means]
    xs = np.array([o[0] for o in opt])
    ys = np.array([o[1] for o in opt])
    ok = bool(np.all(np.isfinite(xs)))
    slope = float(np.polyfit(log_depth, xs, 1)[0]) if ok else math.nan
    loss_slope = float(np.polyfit(log_depth, ys, 1)[0]) if ok else math.nan
    return {"x": xs, "y": ys, "window": [o[2] for o in opt], "slope": slope, "loss_slope": loss_slope, "ok": ok}


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile interval (order statistics, no interpolation); undetermined (nan) resamples count as
    -inf below and +inf above."""
    a = (1 - level) / 2
    return (float(np.quantile(np.where(np.isnan(values), -np.inf, values), a, method="lower")),
            float(np.quantile(np.where(np.isnan(values), np.inf, values), 1 - a, method="higher")))


def estimate_transfer(table: Table, level: float) -> Estimate:
    """Slope of log lr*(L) on log L with a bootstrap CI over networks; the fit table holds lr*(L) and
    the loss at lr*(L) per depth and the slope of log loss* on log L (deeper is not worse: <= 0)."""
    depths, log_rate, losses, n_per_cell = _curves(table)
    log_depth = np.log(np.asarray(depths, float))
    flat = losses.reshape(losses.shape[0], -1)
    point = _fit_depths(log_depth, log_rate, _cell_mean(flat, n_per_cell).reshape(losses.shape[1:]))
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    boot_means = (_weights(n_per_cell, rng) @ flat).reshape(BOOTSTRAP, *losses.shape[1:])
    boots = [_fit_depths(log_depth, log_rate, m) for m in boot_means]
    slopes = np.array([b["slope"] for b in boots])
    lo, hi = _interval(slopes, level)
    failed = float(np.mean(np.isnan(slopes)))
    bx = np.array([b["x"] for b in boots])  # (B, D)
    by = np.array([b["y"] for b in boots])
    fit_table, notes = [], []
    for j, d in enumerate(depths):
        xlo, xhi = _interval(bx[:, j], level)
        ylo, yhi = _interval(by[:, j], level)
        fit_table.append({"label": f"lr*(L = {d})", "slope": float(np.exp(point["x"][j])),
                          "ci": [float(np.exp(xlo)), float(np.exp(xhi))], "r2": None, "n": int(losses.shape[0]),
                          "predicted_slope": None})
        fit_table.append({"label": f"training loss at lr*(L = {d})", "slope": float(np.exp(point["y"][j])),
                          "ci": [float(np.exp(ylo)), float(np.exp(yhi))], "r2": None, "n": int(losses.shape[0]),
                          "predicted_slope": None})
    llo, lhi = _interval(np.array([b["loss_slope"] for b in boots]), level)
    fit_table.append({"label": "log loss at lr* against log L (deeper not worse: <= 0)", "slope": point["loss_slope"],
                      "ci": [llo, lhi], "r2": None, "n": len(depths), "predicted_slope": None})
    fit_table.insert(0, {"label": "log lr* against log L (primary)", "slope": point["slope"], "ci": [lo, hi],
                         "r2": None, "n": len(depths), "predicted_slope": 0.0})
    rates = np.exp(log_rate)
    notes.append("lr*(L): " + ", ".join(f"L={d}: {math.exp(x):.3g}" if math.isfinite(x) else f"L={d}: not bracketed"
                                         for d, x in zip(depths, point["x"])))
    notes.append(f"fit windows start at rates {', '.join(f'{rates[w]:.3g}' if w >= 0 else '-' for w in point['window'])}"
                 f" ({WINDOW} points); {BOOTSTRAP} bootstrap resamples over {losses.shape[0]} networks, "
                 f"{100 * failed:.1f}% with an undetermined optimum")
    figure = _figure(table, depths, rates, log_rate, point, table.rows[0].get("block", "res1"))
    return Estimate(point["slope"], [(lo, hi)], fit_table, figure, notes="; ".join(notes))


def _cell_mean(flat: np.ndarray, n_per_cell: Sequence[int]) -> np.ndarray:
    """Mean over cells of the cells' network means (cells weighted equally)."""
    edges = np.cumsum([0, *n_per_cell])
    return np.mean([flat[a:b].mean(0) for a, b in zip(edges[:-1], edges[1:])], 0)


def _figure(table: Table, depths: Sequence[int], rates: np.ndarray, log_rate: np.ndarray, point: Mapping[str, Any],
            block: str) -> dict[str, Any]:
    """Loss after T steps against the rate, one series per depth with its fitted quadratic (rates whose
    mean loss exceeds FIGURE_CEILING times that at the smallest rate left out: diverged), and the
    fitted optima (lr*(L), loss at lr*(L))."""
    series = []
    for j, d in enumerate(depths):
        rows = sorted((r for r in table.rows if r["depth"] == d), key=lambda r: r["rate"])
        rows_rates = sorted({r["rate"] for r in rows})
        mean = [float(np.mean([r["loss"] for r in rows if r["rate"] == g])) for g in rows_rates]
        err = [float(1.96 * np.sqrt(np.mean([r["loss_se"] ** 2 for r in rows if r["rate"] == g]))) for g in rows_rates]
        shown = [i for i, m in enumerate(mean) if m <= FIGURE_CEILING * mean[0]]  # leave out diverged rates
        s: dict[str, Any] = {"label": f"L = {d}", "mean": {"x": [rows_rates[i] for i in shown],
                                                           "y": [mean[i] for i in shown], "yerr": [err[i] for i in shown]}}
        w = point["window"][j]
        if math.isfinite(point["x"][j]) and w >= 0:
            x = log_rate[w:w + WINDOW]
            c = np.polyfit(x, np.log(mean[w:w + WINDOW]), 2)
            xx = np.linspace(x[0], x[-1], 25)
            s["fit"] = {"x": np.exp(xx).tolist(), "y": np.exp(np.polyval(c, xx)).tolist()}
        series.append(s)
    ok = [j for j in range(len(depths)) if math.isfinite(point["x"][j])]
    series.append({"label": "fitted optimum lr*(L) and its loss",
                   "mean": {"x": [float(np.exp(point["x"][j])) for j in ok], "y": [float(np.exp(point["y"][j])) for j in ok],
                            "yerr": [0.0 for _ in ok]}})
    return {"title": f"Loss after T steps against the SGD rate per depth ({block})",
            "xlabel": "SGD rate", "ylabel": "mean training loss after T steps", "xlog": True, "ylog": True,
            "series": series}


# ------------------------------------------------------------------------------------------------
# the claims
# ------------------------------------------------------------------------------------------------
STEPS = 4  # SGD steps before the loss is read
GRID = tuple(2.0 ** (k / 2) for k in range(-4, 13))  # rate factors 0.25 .. 64, half an octave apart
SMOKE_GRID = tuple(2.0 ** (k / 2) for k in range(-4, 11))  # 0.25 .. 32 (depths up to 16)
THOROUGH_CELLS = 4
TRANSFER_FIXED = {**BASE, "n_train": 4, "input_dim": 4, "steps": STEPS, "path": "dense"}


def _sweeps(block: str, sizes: Mapping[str, tuple[int, int, tuple[int, ...], tuple[float, ...]]],
            **fixed: Any) -> dict[str, Sweep]:
    """One cell per budget (S networks, common random numbers over depths x rates); thorough splits its
    networks into THOROUGH_CELLS replicate cells (independent draws, pooled by the estimator's
    stratified bootstrap) so that worker processes or a Dask cluster share it."""
    return {b: Sweep(axes={}, replicates=THOROUGH_CELLS if b == "thorough" else 1,
                     networks=s // THOROUGH_CELLS if b == "thorough" else s, inner={"depth": depths, "lr_factor": grid},
                     fixed={**TRANSFER_FIXED, "width": w, "block": block, **fixed})
            for b, (s, w, depths, grid) in sizes.items()}


TOL_WHY = ("0.25 is half the distance to +1/2, the slope of the nearer negative control (TP VI's Adam rule L^-1/2 "
           "applied to SGD, lr-depth-factor); standard parametrization (-1) is further. Over L = 4..32 a slope of "
           "0.25 moves lr* by 8^0.25 = 1.7x, one and a half steps of the half-octave grid.")

ONE_LAYER = register(Claim(
    id="nfd.lr_transfer_across_depth",
    kind="paper",
    kind_why="depth-muP's promise to practitioners (TP VI, Bordelon et al.; the NFD setting): the optimal SGD rate "
             "transfers across depth; it is not an identity (finite-depth corrections can move lr*)",
    statement="Under depth-muP with one-layer residual blocks the loss-minimising SGD learning rate does not move "
              "with depth: a rate tuned on a shallow network is optimal at depth.",
    source=Source(TP6, "2310.02244", "Depth-muP's depth-wise hyperparameter transfer (TP VI; Bordelon et al., "
                  "arXiv 2309.16620, 'Depthwise Hyperparameter Transfer in Residual Networks'), the setting of NFD "
                  "(2512.21075); its statistic here is derived (transfer.md)"),
    quantity=f"training loss after T = {STEPS} depth-muP SGD steps on the seeded 4-input regression task, res1 "
             "tanh blocks, width 32, over a log-spaced rate grid at every depth (common random numbers)",
    estimand="OLS slope of log lr*(L) against log L, lr*(L) the vertex of a quadratic in log rate fitted to the "
             "log mean loss around its measured minimum",
    prediction=0.0, tolerance=0.25, prediction_origin="derived", tolerance_why=TOL_WHY,
    sweeps=_sweeps("res1", {"smoke": (32, 16, (4, 8, 16), SMOKE_GRID),
                            "default": (32, 32, (4, 8, 16, 32), GRID),
                            "thorough": (512, 64, (4, 8, 16, 32, 64), GRID + (2.0 ** 6.5, 2.0 ** 7))}),
    measure=measure_transfer, estimate=estimate_transfer,
    controls=("standard-parametrization", "lr-depth-factor"), requires=REQUIRES,
))

CORRECTION = ("NFD v1 abstract: 'a simple depth-aware learning-rate correction that counteracts this collapse and "
              "empirically restores depth-wise HP transfer'")
TWO_LAYER = register(Claim(
    id="nfd.lr_transfer_two_layer",
    kind="paper",
    kind_why="NFD v1's statement that its depth-aware correction restores depth-wise HP transfer in two-layer blocks",
    statement="With two-layer residual blocks depth-muP loses depth-wise learning-rate transfer, and the depth-aware "
              "learning-rate correction of the first internal layer restores it: the loss-minimising SGD rate does "
              "not move with depth.",
    source=Source(NFD, "2512.21075", CORRECTION + "; 'two-layer residual blocks ... feature-learning collapse in the "
                  "first internal layer at large depth'. The correction's formula is not readable: the suite's "
                  "derived one (W's rate times L^1/2, nfd2025.md section 10) is the counted reading"),
    quantity=f"training loss after T = {STEPS} SGD steps, two-layer blocks h + a V phi(W h), tanh, width 32, V and W "
             "trained, the rate grid multiplying both, at every depth (common random numbers)",
    estimand="OLS slope of log lr*(L) against log L (as nfd.lr_transfer_across_depth)",
    prediction=0.0, tolerance=0.25, prediction_origin="derived", tolerance_why=TOL_WHY,
    sweeps=_sweeps("res3", {"smoke": (16, 32, (4, 8, 16), SMOKE_GRID),
                            "default": (32, 32, (4, 8, 16, 32), GRID),
                            "thorough": (512, 64, (4, 8, 16, 32, 64), GRID + (2.0 ** 6.5, 2.0 ** 7))},
                   first_layer_lr_exponent=0.5),  # the corrected network; the plain reading removes the correction
    measure=measure_transfer, estimate=estimate_transfer,
    controls=("standard-parametrization",), positive_controls=("depth-invariant-training",), requires=REQUIRES,
    blocks=("res3",),  # two-layer blocks: the correction is derived for the first internal layer of res3
    readings=(
        Reading("suite-correction", CORRECTION + "; the correction read as the suite's derived one: W's SGD rate times "
                "L^1/2, cancelling the L^-1/2 the chain rule puts on W's gradient (nfd2025.md section 10)",
                derived=-0.5,
                quantity=f"training loss after T = {STEPS} SGD steps, res3 tanh blocks, width 32, W's rate times "
                         "L^1/2 (the suite's correction), rate grid on both V and W"),
        Reading("plain", "NFD v1: under plain depth-muP two-layer blocks collapse and transfer breaks (the "
                "uncorrected network, shown beside the corrected one)",
                params={"first_layer_lr_exponent": 0.0},
                degenerate="configures the negative control uncorrected-first-layer-lr (the correction declared but "
                           "not applied), so it is no reading of the corrected claim; shown for the paper's 'transfer "
                           "breaks without the correction'",
                quantity=f"training loss after T = {STEPS} SGD steps, res3 tanh blocks, width 32, plain depth-muP "
                         "(no correction)"),
    ),
))

"""Implementation check: the plug-in's own initialisation against the law its NetSpec declares.

Every other claim reads exponents or a plug-in-independent statistic, and a plug-in that draws its
weights with the suite's law (draw_block_weights, ``draw=``) is measured on that law, not on its own.
This check builds the networks with whatever ``build`` draws, the plug-in's own initialiser included,
and compares them with the declared NetSpec (design and sizing: init_check.md):

* weights (with Capability.WEIGHTS): each layer's entry variance against sigma_w2 / fan_in (the log of
  the ratio), the mean of the entries in units of the declared standard deviation, and the entrywise
  correlation of consecutive layers and of two networks (independence, predicted 0);
* states: ||h_k||^2 / n at every depth k against the mean-field recursion of the declared spec from
  the network's own ||h_0||^2 / n, and with Capability.GRAD_TRACE ||g_k||^2 / ||g_L||^2 (g_k =
  dLoss/dh_k, g_L ~ N(0, I)) against its recursion (the log of the ratio): with a = scale L^-beta,
  pre-activation blocks, z ~ N(0, q) for res1 and u ~ N(0, sigma_w2 q) for res3,
      res1: q_{k+1} = q_k + a^2 sigma_w2 E[phi(z)^2],          r_k = r_{k+1} (1 + a^2 sigma_w2 E[phi'(z)^2])
      res3: q_{k+1} = q_k + a^2 sigma_w2 E[phi(u)^2],          r_k = r_{k+1} (1 + a^2 sigma_w2^2 E[phi'(u)^2])
  exact in expectation at infinite width (the branch is a sum of n independent terms given h_k); the
  1/n correction is what fischer.kernel_recursion_finite_n measures, O(a^2 L / n) here.

Every statistic is a deviation predicted 0; the check holds when every one lies within the tolerance
(family-wise, Bonferroni over the statistics), and reports the worst one.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from scipy.stats import norm

from reference_impl.protocol import Capability

from ..checked import Declined
from ..spec import CellContext, Claim, Estimate, Source, Sweep, Table, register
from ..theory.gaussian import dphi_dphi, phi_phi

INIT_TOL = 0.1
INIT_WIDTH, INIT_DEPTH, INIT_SIGMA_W2 = 128, 8, 2.0
INIT_ACTIVATIONS = ("relu", "erf")  # erf: the activation whose argument convention is a common mistake


def mean_field(q0: np.ndarray, depth: int, a: float, sigma_w2: float, activation: str,
               block: str) -> tuple[np.ndarray, np.ndarray]:
    """(q_k, r_k) for k = 0..L (module docstring): forward variances from q0 (any shape) and backward
    ratios r_k = E||g_k||^2 / ||g_L||^2, each of shape (L + 1, *q0.shape)."""
    gain = sigma_w2 if block == "res3" else 1.0  # variance of the activation's argument per unit q
    qs = [np.asarray(q0, float)]
    for _ in range(depth):
        k = gain * qs[-1]
        qs.append(qs[-1] + a * a * sigma_w2 * phi_phi(activation, k, k, k))
    r = [np.ones_like(qs[0])]
    for q in reversed(qs[:-1]):
        k = gain * q
        r.append(r[-1] * (1.0 + a * a * sigma_w2 * gain * dphi_dphi(activation, k, k, k)))
    return np.stack(qs), np.stack(r[::-1])


def _mean_se(values: torch.Tensor) -> tuple[float, float]:
    v = values.double()
    return float(v.mean()), float(v.std() / math.sqrt(v.numel()))


def _log_ratio(ratios: torch.Tensor) -> tuple[float, float]:
    """log of the mean ratio over networks, and its standard error (delta method)."""
    m, se = _mean_se(ratios)
    return math.log(m), se / m


def _corr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Entrywise (uncentred) correlation of matching matrices, over the last two dimensions."""
    return (a * b).sum((-2, -1)) / ((a * a).sum((-2, -1)) * (b * b).sum((-2, -1))).sqrt()


def weight_rows(weights: dict[str, torch.Tensor], sigma_w2: float) -> list[dict[str, Any]]:
    """Per block weight (V, and W for res3): each layer's log variance ratio against sigma_w2 / fan_in,
    the standardised mean, the correlation of consecutive layers and of network pairs."""
    rows = []
    for name in ("V", "W"):
        if name not in weights:
            continue
        w = weights[name].double()  # (S, L, n_out, n_in)
        sd = math.sqrt(sigma_w2 / w.shape[-1])
        for layer in range(w.shape[1]):
            value, se = _log_ratio(w[:, layer].pow(2).mean((-2, -1)) / sd**2)
            rows.append({"stat": f"{name}_{layer + 1} log variance / (sigma_w2 / fan_in)", "value": value, "value_se": se})
        value, se = _mean_se(w.mean((-3, -2, -1)) / sd)
        rows.append({"stat": f"{name} mean / declared std", "value": value, "value_se": se})
        if w.shape[1] > 1:
            value, se = _mean_se(_corr(w[:, :-1], w[:, 1:]).mean(1))
            rows.append({"stat": f"{name} correlation of consecutive layers", "value": value, "value_se": se})
        pairs = w.shape[0] // 2
        if pairs > 1:
            value, se = _mean_se(_corr(w[0:2 * pairs:2], w[1:2 * pairs:2]).mean(1))
            rows.append({"stat": f"{name} correlation of two networks", "value": value, "value_se": se})
    return rows


def measure_init(ctx: CellContext) -> list[dict[str, Any]]:
    """The statistics of the module docstring for each activation of the cell the plug-in builds (an
    activation it declines is left out; all declined: the claim is not applicable)."""
    p = ctx.params
    n, depth, sigma_w2, block = int(p["width"]), int(p["depth"]), float(p["sigma_w2"]), p.get("block", "res1")
    s, dt = ctx.networks, getattr(torch, ctx.dtype)
    x = torch.randn(s, 1, n, generator=ctx.generator(1), dtype=dt, device=ctx.device)
    g_out = torch.randn(s, 1, n, generator=ctx.generator(2), dtype=dt, device=ctx.device)
    rows: list[dict[str, Any]] = []
    declined: Declined | None = None
    for activation in p["activation"]:
        spec = ctx.spec(width=n, depth=depth, beta=float(p["beta"]), block=block, activation=activation,
                        sigma_w2=sigma_w2)
        try:
            net = ctx.impl.build(spec, s, ctx.generator(0))
        except Declined as exc:  # the plug-in declines this activation
            declined = exc
            continue
        grad = Capability.GRAD_TRACE in ctx.impl.capabilities
        h, g = net.grad_trace(x, g_out) if grad else (net.trace(x), None)
        hn = h[:, :, 0].double().pow(2).sum(-1) / n  # (S, L+1)
        q, r = mean_field(hn[:, 0].cpu().numpy(), depth, spec.branch_multiplier, sigma_w2, activation, block)
        found = []
        for k in range(1, depth + 1):
            value, se = _log_ratio(hn[:, k] / torch.from_numpy(q[k]).to(hn))
            found.append({"stat": f"forward ||h_{k}||^2/n, log ratio to mean field", "value": value, "value_se": se})
        if g is not None:
            gn = g[:, :, 0].double().pow(2).sum(-1)  # (S, L+1)
            for k in range(depth):
                value, se = _log_ratio(gn[:, k] / gn[:, -1] / torch.from_numpy(r[k]).to(gn))
                found.append({"stat": f"backward ||g_{k}||^2/||g_L||^2, log ratio to mean field", "value": value,
                              "value_se": se})
        if Capability.WEIGHTS in ctx.impl.capabilities:
            found += weight_rows(net.layer_weights(), sigma_w2)
        rows += [{"activation": activation, **row} for row in found]
    if not rows and declined is not None:
        raise declined
    return rows


def worst_deviation(table: Table, level: float) -> Estimate:
    """Each statistic pooled over the replicate cells (mean of the cell means, standard error
    sqrt(sum se^2) / R), its interval at the Bonferroni level over all statistics; the one reported is
    the first that misses the band, else the first that crosses its edge, else the largest |value|
    (so the verdict is the family-wise one: holds when every interval lies inside the band)."""
    groups: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for row in table.rows:
        groups.setdefault((row["activation"], row["stat"]), []).append((row["value"], row["value_se"]))
    z = float(norm.ppf(1 - (1 - level) / (2 * len(groups))))
    fit = []
    for (activation, stat), cells in groups.items():
        value = float(np.mean([v for v, _ in cells]))
        se = math.sqrt(sum(e * e for _, e in cells)) / len(cells)
        fit.append({"label": f"{activation}: {stat}", "estimate": value, "se": se, "ci": [value - z * se, value + z * se]})
    outside = [f for f in fit if f["ci"][0] > INIT_TOL or f["ci"][1] < -INIT_TOL]
    crossing = [f for f in fit if f["ci"][0] < -INIT_TOL or f["ci"][1] > INIT_TOL]
    pick = max(outside or crossing or fit, key=lambda f: abs(f["estimate"]))
    notes = (f"{len(fit)} statistics, each predicted 0 within +-{INIT_TOL:g} at family-wise level {level:g} "
             f"(z = {z:.3g}); reported: {pick['label']}; {len(outside)} outside the band, {len(crossing)} crossing it")
    return Estimate(pick["estimate"], [tuple(pick["ci"])], fit_table=fit, notes=notes)


def _sweep(replicates: int, networks: int) -> Sweep:
    return Sweep(axes={}, replicates=replicates, networks=networks, inner={"activation": INIT_ACTIVATIONS},
                 fixed={"width": INIT_WIDTH, "depth": INIT_DEPTH, "sigma_w2": INIT_SIGMA_W2, "beta": 0.5})


INIT_WHY = ("Every statistic is a log ratio, a mean in units of the declared std, or a correlation, all 0 for a "
            "correct implementation up to the O(a^2 L / n) = O(1/128) finite-width correction of the mean-field "
            "recursion. 0.1 (10% in variance) is well inside the smallest effect of the listed mistakes at "
            "sigma_w2 = 2, depth 8 (a branch constant 1/sqrt 2: about -0.5 in log ||h_L||^2; sigma_w2 ignored or "
            "doubled: log 2 = 0.69 in every weight variance and more in the states; erf(x / sqrt 2): about -0.2 "
            "forward at depth 8 and -0.5 backward).")

INIT = register(Claim(
    id="init.netspec_law",
    kind="implementation check",
    kind_why="any implementation that draws the declared weight law and computes the declared block passes by "
             "construction: a check of the plug-in's own initialiser and constants, no evidence about a paper",
    statement="The networks the plug-in builds follow the declared NetSpec at initialisation: weight variance "
              "sigma_w2 / fan_in, zero mean, independent layers and networks, and hidden-state and gradient "
              "variances at every depth as the mean-field recursion of the declared spec gives them.",
    source=Source("NetSpec (reference_impl/protocol.py) with the infinite-width variance recursion of Fischer, "
                  "Dahmen, Helias (2023)", "2305.07715", "mean-field kernel recursion at initialisation"),
    quantity="deviations at init, each predicted 0: log(E||h_k||^2 / n / q_k), log(E[||g_k||^2 / ||g_L||^2] / r_k) "
             f"at every depth, and per block weight the log variance ratio per layer, standardised mean and "
             f"correlations; width {INIT_WIDTH}, depth {INIT_DEPTH}, sigma_w2 {INIT_SIGMA_W2:g}, beta 1/2, relu and erf",
    estimand="the largest deviation among the statistics (family-wise)",
    prediction=0.0, tolerance=INIT_TOL, tolerance_why=INIT_WHY, prediction_origin="derived",
    sweeps={"smoke": _sweep(2, 64), "default": _sweep(8, 128), "thorough": _sweep(16, 256)},  # init_check.md: pilot
    measure=measure_init, estimate=worst_deviation,
    controls=("branch-constant", "weight-variance-2", "sigma-ignored", "erf-half-argument"),
    requires=Capability.FORWARD_TRACE, honours=("block",), blocks=("res1", "res3"),
))

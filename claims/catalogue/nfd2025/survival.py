"""nfd.sgd_coupling_survives_width: the SGD-time coupling has a non-zero infinite-width limit.

A_T(n) = sum_l L^-1/2 E[c_l(T)], the accumulated reused-weight component of the backward pass after
T = 2 steps (nfd2025.md section 2), measured by init_coupling.measure_width at L = 4 over widths and
fitted as A_inf + b/n by GLS; the estimand is log10 |A_inf|.
"""
from __future__ import annotations

import math

import numpy as np

from ...spec import Claim, Estimate, Source, Table, register
from ..measures import achieved, fit_row, gls, power_law
from .init_coupling import WIDTHS, measure_width
from .setting import ARXIV, PAPER, REQUIRES, SRC_ABS, sweep


def estimate_survival(table: Table, level: float) -> Estimate:
    """log10 |A_inf|, A_inf the n -> infinity level of A_T(n) from a GLS fit A_T(n) = A_inf + b / n."""
    steps = int(table.rows[0]["steps"])
    key = f"A{steps}"
    x = table.col("width").astype(float)
    mean = table.col(key).astype(float)
    cov = np.diag(table.col(f"{key}_se").astype(float) ** 2)
    design = np.column_stack([np.ones_like(x), 1.0 / x])
    params, pcov, crit, ratio = gls(mean, design, cov, level)
    lo, hi = params[0] - crit * math.sqrt(pcov[0, 0]), params[0] + crit * math.sqrt(pcov[0, 0])
    value = math.log10(abs(params[0])) if params[0] != 0 else -math.inf
    if lo > 0 or hi < 0:
        ci = (math.log10(min(abs(lo), abs(hi))), math.log10(max(abs(lo), abs(hi))))
    else:
        ci = (-math.inf, math.log10(max(abs(lo), abs(hi))))
    init = power_law(x, table.col("D1").astype(float), np.diag(table.col("D1_se").astype(float) ** 2), level)
    a0 = table.col("A0").astype(float)
    notes = (f"A_inf = {params[0]:.4g}, {100 * level:g}% CI [{lo:.4g}, {hi:.4g}] (GLS A_T(n) = A_inf + b/n, b = "
             f"{params[1]:.4g}, chi2/df {ratio:.3g}); achieved {key}: {achieved(table, key, 'width')}; "
             f"at init A_0 = {', '.join(f'{v:.2g}' for v in a0)} (mean zero); output-level D_1 width slope "
             f"{init['slope']:.3g} CI [{init['ci'][0]:.3g}, {init['ci'][1]:.3g}]")
    xs = sorted(set(x.tolist()))
    series = [{"label": f"|A_{steps}| (reused-weight backward coupling after {steps} steps)",
               "points": {"x": x.tolist(), "y": np.abs(mean).tolist()},
               "mean": {"x": xs, "y": [float(np.mean(np.abs(mean[x == v]))) for v in xs],
                        "yerr": [float(1.96 * np.sqrt(np.mean(np.diag(cov)[x == v]))) for v in xs]},
               "fit": {"x": xs, "y": [abs(params[0] + params[1] / v) for v in xs],
                       "lo": [abs(params[0] + params[1] / v) - crit * math.sqrt(pcov[0, 0]) for v in xs],
                       "hi": [abs(params[0] + params[1] / v) + crit * math.sqrt(pcov[0, 0]) for v in xs]}}]
    fit_table = [{"label": "A_inf (n -> infinity level)", "slope": float(params[0]), "ci": [float(lo), float(hi)],
                  "r2": None, "n": len(x), "predicted_slope": None},
                 fit_row("D_1 output-level init coupling, width slope", init, len(x), -1.0)]
    figure = {"title": "SGD-time coupling against width", "xlabel": "width", "ylabel": f"|A_{steps}|",
              "xlog": True, "ylog": True, "series": series}
    return Estimate(value, [ci], fit_table, figure, notes=notes)


SURVIVE = register(Claim(
    id="nfd.sgd_coupling_survives_width",
    kind="paper",
    kind_why="NFD's statement that an SGD-time coupling survives the infinite-width limit",
    statement="During SGD training a forward-backward correlation term appears that survives the infinite-width "
              "limit (at fixed depth), unlike the init coupling.",
    source=Source(PAPER, ARXIV, SRC_ABS + ": 'During training, however, SGD induces a nontrivial forward-backward "
                  "correlation term that survives the infinite-width limit'"),
    quantity="A_T(n) = sum_l L^-1/2 E[c_l(T)]: accumulated reused-weight component of the backward pass after "
             "T = 2 SGD steps, L = 4, fitted as A_inf + b/n",
    estimand="log10 |A_inf| (n -> infinity level of the coupling, readout-scale gradient units)",
    prediction=-1.0, tolerance=1.0, prediction_origin="derived",
    tolerance_why="The claim is qualitative (a non-zero limit). Pre-registered band [-2, 0] in log10: at least 1% "
                  "of the readout-scale backward signal (smaller is a negligible correction) and at most its "
                  "full size. At init A_0 has mean zero at every n, so the same estimand is far below the band.",
    sweeps={"smoke": sweep({"width": WIDTHS["smoke"]}, 2048, depth=4, steps=2),
            "default": sweep({"width": WIDTHS["default"]}, 2048, depth=4, steps=2),
            "thorough": sweep({"width": WIDTHS["thorough"]}, 8192, reps=2, depth=4, steps=2)},
    measure=measure_width, estimate=estimate_survival,
    controls=("gia-backward", "transpose-bug"), requires=REQUIRES,
    paper_numbers=({"what": "SGD coupling as n -> inf", "paper": "non-zero (no value given)",
                    "ours": "see estimate"},),
))

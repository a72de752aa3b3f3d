"""Fischer claim 4: alpha* depends only weakly on the weight variance (fischer.alpha_star_weak_sigma_dependence).

Per reading, the argmax at each sigma_w^2 is the theory's argmax times e^s (shift.py); the estimand
is the log-spread log(max alpha* / min alpha*) over sigma_w^2 in [0.5, 16], against half the spread
alpha* ~ 1/sigma_w would give (fischer2023.md sections 7 and 10).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from reference_impl.protocol import Capability

from ...spec import Claim, Estimate, Source, Sweep, Table, register
from ...stats import t_quantile
from .networks import ACT, ARXIV, C0, DERIVED, NETWORKS, PAPER, SYMMETRIC, network_readings
from .response import RESPONSE_DEF, measure_response, predicted_alpha_star
from .shift import (configuration_fit, configuration_rows, configurations, jackknife_se, reading_params,
                    response_figure, response_series)

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


def estimate_sigma_spread(table: Table, level: float) -> Estimate:
    """log(max alpha* / min alpha*) over the sweep's sigma_w^2 values, grouped-jackknife t interval.

    Each alpha* is the theory's finite-depth argmax at that sigma_w^2 times e^s (``shift_fit``); the
    spread's standard error is the jackknife over every cluster (a cluster moves only its own
    sigma_w^2's alpha*; the groups are independent), with min G - 1 degrees of freedom; the interval
    is clipped at 0 (a spread is non-negative).
    """
    params = reading_params(table)
    configs = configurations(table)
    fits = [(cfg, configuration_fit(configuration_rows(table, *cfg), *cfg, params)) for cfg in configs]
    verts = np.array([ustar + s for _, (s, _loo, ustar, *_rest) in fits])
    spread = float(verts.max() - verts.min())
    var, rows, series = 0.0, [], []
    for j, ((depth, s2, c0), (s, loo, ustar, alphas, y, f)) in enumerate(fits):
        moved = np.repeat(verts[None, :], len(loo), axis=0)
        moved[:, j] = ustar + loo
        var += jackknife_se(moved.max(axis=1) - moved.min(axis=1)) ** 2
        half_j = t_quantile(level, y.shape[0] - 1) * jackknife_se(loo)
        rows.append({"label": f"sigma_w2={s2:g}", "argmax": math.exp(ustar + s),
                     "ci": [math.exp(ustar + s - half_j), math.exp(ustar + s + half_j)],
                     "finite_depth_theory": math.exp(ustar), "shift": s,
                     "predicted": predicted_alpha_star(depth, s2, c0, params)})
        series.append(response_series(f"sigma_w2={s2:g}", alphas, y, f, s))
    half = t_quantile(level, min(len(loo) for _, (_s, loo, *_rest) in fits) - 1) * math.sqrt(var)
    derived = math.log(max(r["finite_depth_theory"] for r in rows) / min(r["finite_depth_theory"] for r in rows))
    notes = (f"measured log(max/min alpha*) = {spread:.3f}; derived for this reading at this depth: {derived:.3f}; "
             "argmaxes " + ", ".join(f"{r['label']}: {r['argmax']:.3g} (theory {r['finite_depth_theory']:.3g})"
                                    for r in rows))
    return Estimate(spread, [(max(0.0, spread - half), spread + half)], rows, response_figure(
        f"Response against alpha at depth {configs[0][0]}, one curve per weight variance; lines: theory", series),
        notes=notes)


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
    readings=network_readings(tuple(NETWORKS), _sigma_sweeps, degenerate={"Vphi": SYMMETRIC}),
    paper_numbers=(
        {"what": "dependence of alpha* on sigma_w^2", "paper": "'only weakly' (abstract)",
         "ours": "derived log-spread per reading in the notes; measured in the estimate"},
    ),
))

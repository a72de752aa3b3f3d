"""Depth coord check: muP's coordinate check (Tensor Programs V/VI) made a statistical test across depth.

Depth-muP (branch multiplier L^-1/2, SGD rate constant in L; reference_impl/training/) is built so
that after T steps every block's feature update and the output update are Theta(1) in depth (Tensor
Programs VI, arXiv 2310.02244, "Depth-muP"; the NFD setting, arXiv 2512.21075). Measured on the
network of the implementation under test, trained by the engine reference_impl/training/ through the
training contract (autograd through the plug-in's blocks) with depth-coupled weights (depth 2L refines
depth L), or, for a module plug-in given an optimizer, with that optimizer from the same weights:
then the claim tests whether the library's own learning-rate rule is depth-muP in this sense.

Derivation of the tolerance (derived, not quoted): a block's SGD update changes its branch by
lr a^2 sum_i chi_i ghat_i <x_i, x'>/n = O(a^2) = O(1/L), summed over L blocks O(1): slope 0. Without
the branch multiplier (standard parametrization, beta = 0) each block moves by O(1) and the sum by
O(L) against ||h_L(0)|| = O(sqrt(L)) or more: slope >= 1/2. An extra L^-1/2 on the rate gives
O(L^-3/2) per block, O(L^-1/2) summed: slope -1/2. The band is half the distance to the nearer
wrong rate, 1/4; finite-depth corrections O(1/L) move the local slope by well under that at L >= 4.
"""
from __future__ import annotations

from typing import Any

import torch

from ..spec import CellContext, Claim, Estimate, Source, Table, register
from .measures import covariance_columns, slope_estimate
from .nfd2025.setting import REQUIRES, sweep, train_cell

TP6 = "Yang, Yu, Zhu, Hayou (2023), Tensor Programs VI: Feature Learning in Infinite-Depth Neural Networks"


def measure_feature_updates(ctx: CellContext) -> list[dict[str, Any]]:
    """Per inner depth, after T steps: the relative update of the last block's output
    ||h_L(T) - h_L(0)|| / ||h_L(0)||, its mean over blocks, and |f(T) - f(0)| at the training input,
    each with its covariance across the cell's depth-coupled runs."""
    p = ctx.params
    depths = [int(d) for d in p["depth"]]
    steps = int(p["steps"])
    out, trained_with = train_cell(ctx, depths, steps, decoupled=False, fine=max(depths), record=False, features=True)
    cols = {"upd_last": [], "upd_mean": [], "dout": []}
    for d in depths:
        run = out[f"true{d}"]
        cols["upd_last"].append(run.features[:, steps, -1])
        cols["upd_mean"].append(run.features[:, steps].mean(1))
        cols["dout"].append((run.f_train[:, steps, 0] - run.f_train[:, 0, 0]).abs())
    rows: list[dict[str, Any]] = [{"depth": d, "trained_with": trained_with} for d in depths]
    for key, vals in cols.items():
        covariance_columns(rows, key, torch.stack(vals, 1).double())
    return rows


def estimate_feature_updates(table: Table, level: float) -> Estimate:
    return slope_estimate(table, "upd_last", "depth", level, 0.0,
                          "Depth coord check: feature update after T steps against depth",
                          "||h_L(T) - h_L(0)|| / ||h_L(0)||",
                          [("upd_mean", "mean over blocks of ||h_l(T) - h_l(0)|| / ||h_l(0)||", 0.0),
                           ("dout", "output update |f(T) - f(0)|", 0.0)])


DEPTHS = {"smoke": (4, 8, 16, 32), "default": (4, 8, 16, 32, 64), "thorough": (4, 8, 16, 32, 64, 128)}

COORD_DEPTH = register(Claim(
    id="nfd.feature_learning_depth_uniform",
    kind="implementation check",
    kind_why="depth-muP's defining property: per-block updates O(1/L) summed over L blocks are O(1) by the power "
             "counting, so any correct depth-muP implementation passes; it checks a plug-in's rate rule, not a "
             "paper",
    statement="Under depth-muP the feature update of every block and of the output after T SGD steps is "
              "Theta(1) in depth: it neither vanishes nor blows up as L grows.",
    source=Source(TP6, "2310.02244", "Depth-muP's defining property (the coordinate check across depth), the "
                  "setting of the NFD paper (2512.21075); derived here, module docstring"),
    quantity="||h_L(T) - h_L(0)|| / ||h_L(0)||, the relative update of the last block's output at the training "
             "input after T = 4 depth-muP SGD steps, width 64, depth-coupled weights; the mean over blocks and "
             "|f(T) - f(0)| in the fit table",
    estimand="log-log slope of E[||h_L(T) - h_L(0)|| / ||h_L(0)||] against depth L",
    prediction=0.0, tolerance=0.25, prediction_origin="derived",
    tolerance_why="Theta(1) in L means slope 0. Without the branch multiplier the update grows at least like "
                  "L^1/2, with an extra L^-1/2 on the rate it decays like L^-1/2 (derivation in "
                  "claims/catalogue/coord_check.py); 0.25 is half the distance to the nearer of them.",
    sweeps={"smoke": sweep({}, 256, inner={"depth": DEPTHS["smoke"]}, width=64, steps=4, decoupled=False),
            # default sized from a pilot at seed 1000: CI half-width 0.0035 of the tolerance at 2 x 512 networks (30 s),
            # 0.013 at 2 x 32 (2 s), far below a third either way; the cut keeps replicate cells and the controls' margin
            "default": sweep({}, 32, reps=2, inner={"depth": DEPTHS["default"]}, width=64, steps=4, decoupled=False),
            "thorough": sweep({}, 1024, reps=4, inner={"depth": DEPTHS["thorough"]}, width=128, steps=4,
                              decoupled=False)},
    measure=measure_feature_updates, estimate=estimate_feature_updates,
    controls=("no-depth-multiplier", "lr-depth-factor"), requires=REQUIRES,
))

"""nfd.preact_stable_postact_explodes: feature norms of pre- and post-activation ReLU ResNets in depth.

log E[|h_L|^2/|h_0|^2] at initialization (``measure_norms``, the forward trace) or after T steps of
depth-muP SGD (``measure_norms_training``), pre- and post-activation blocks, every inner depth;
the estimator contrasts the per-layer exponential rates (nfd2025.md sections 5 and 12).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from reference_impl.protocol import Capability
from reference_impl.training import Run

from ...spec import CellContext, Claim, Estimate, Reading, Source, Sweep, Table, register
from ..measures import gls, mean_se
from .setting import ARXIV, BASE, PAPER, run_training


def measure_norms(ctx: CellContext) -> list[dict[str, Any]]:
    """log E[||h_L||^2/||h_0||^2] for pre- and post-activation ReLU blocks at every inner depth."""
    p = ctx.params
    n, s = int(p["width"]), ctx.networks
    rows = []
    for depth in p["depth"]:
        for preact in (True, False):
            spec = ctx.spec(width=n, depth=int(depth), activation=p["activation"], beta=float(p["beta"]), preact=preact)
            x = torch.randn(s, 1, n, generator=ctx.generator(1), dtype=spec.torch_dtype).to(ctx.device)
            h = ctx.impl.build(spec, s, ctx.generator(0)).trace(x)
            ratio = (h[:, -1].double().pow(2).sum(-1) / h[:, 0].double().pow(2).sum(-1))[:, 0]
            m, se = mean_se(ratio)
            rows.append({"depth": int(depth), "preact": preact, "log_ratio": math.log(m), "log_ratio_se": se / m})
    return rows


def measure_norms_training(ctx: CellContext) -> list[dict[str, Any]]:
    """log E[|h_L(T)|^2/|h_0|^2] at the training input after T steps of depth-muP SGD (T = 0: at
    initialization), pre- and post-activation blocks (TrainConfig.post_branch_input), every inner depth."""
    gen = ctx.generator(0)
    rows = []
    for depth in ctx.params["depth"]:
        for preact in (True, False):
            run = Run("r", int(depth), record_norms=True)
            out, trained_with = run_training(ctx, int(depth), [run], gen, preact=preact)
            m, se = mean_se(out["r"].norm_ratio[:, -1])
            rows.append({"depth": int(depth), "preact": preact, "log_ratio": math.log(m), "log_ratio_se": se / m,
                         "trained_with": trained_with})
    return rows


def estimate_norms(table: Table, level: float) -> Estimate:
    """Contrast of per-layer exponential rates r_post - r_pre of the feature norm: one GLS of
    log E[ratio] on (architecture) x (1, L); per-architecture rates in the fit table."""
    pre = table.col("preact").astype(bool)
    x = table.col("depth").astype(float)
    y = table.col("log_ratio").astype(float)
    cov = np.diag(table.col("log_ratio_se").astype(float) ** 2)
    post = (~pre).astype(float)
    design = np.column_stack([pre.astype(float), post, pre * x, post * x])
    params, pcov, crit, ratio = gls(y, design, cov, level)
    contrast = np.array([0.0, 0.0, -1.0, 1.0])
    value = float(contrast @ params)
    half = crit * math.sqrt(float(contrast @ pcov @ contrast))
    rows, series = [], []
    for i, (label, mask) in enumerate((("pre-activation", pre), ("post-activation", ~pre))):
        r, r_half = float(params[2 + i]), crit * math.sqrt(pcov[2 + i, 2 + i])
        rows.append({"label": f"{label}: rate r", "slope": r, "ci": [r - r_half, r + r_half], "r2": None,
                     "n": int(mask.sum()), "predicted_slope": 0.0 if i == 0 else None, "chi2_df": ratio})
        xs = sorted(set(x[mask].tolist()))
        series.append({"label": label, "points": {"x": x[mask].tolist(), "y": y[mask].tolist()},
                       "mean": {"x": xs, "y": [float(np.mean(y[mask & (x == v)])) for v in xs],
                                "yerr": [float(1.96 * np.sqrt(np.mean(np.diag(cov)[mask & (x == v)]))) for v in xs]},
                       "fit": {"x": xs, "y": [float(params[i] + r * v) for v in xs],
                               "lo": [float(params[i] + (r - r_half) * v) for v in xs],
                               "hi": [float(params[i] + (r + r_half) * v) for v in xs]}})
    means: dict[tuple[int, bool], list[float]] = {}
    for row in table.rows:
        means.setdefault((row["depth"], row["preact"]), []).append(row["log_ratio"])
    notes = (f"GLS chi2/df {ratio:.3g}; log E[||h_L||^2/||h_0||^2]: " + "; ".join(
        f"{'pre' if p else 'post'} L={d}: {np.mean(v):.3f}" for (d, p), v in sorted(means.items())))
    figure = {"title": "Feature norm against depth, 1/sqrt(L) branches, ReLU", "xlabel": "depth L",
              "ylabel": "log E[||h_L||^2/||h_0||^2]", "xlog": True, "ylog": False, "series": series}
    return Estimate(value, [(value - half, value + half)], rows, figure, notes=notes)


NORM_STEPS = 4  # SGD steps of the trained readings
NORM_SRC = ("v1 via chatpaper.com/paper/221481: post-activation ResNets 'can exhibit divergent feature growth as depth "
            "increases ... exponential growth in expected feature norms'")
NORM_TRAIN_SWEEPS = {b: Sweep(axes={}, replicates=r, networks=s, inner={"depth": d},
                              fixed={**BASE, "width": w, "activation": "relu"})
                     for b, r, s, d, w in (("smoke", 1, 64, (8, 32, 128), 32),
                                           # default: about 22 s CPU per reading (lazy sampler, 1 thread)
                                           ("default", 2, 64, (8, 16, 32, 64, 128), 64),
                                           ("thorough", 2, 256, (8, 16, 32, 64, 128, 256), 128))}
POST_FORMS = (("post-h", "h", "phi(h + a V h), the block of reference_impl/blocks.py (the source's block form is not "
               "readable)"),
              ("post-phi", "phi", "phi(h + a V phi(h)), the branch reading phi(h) as in the pre-activation block"))


def _norm_readings() -> tuple[Reading, ...]:
    """Setting (initialization / after T steps of depth-muP SGD) x post-activation block form."""
    out = [Reading("init/post-h", f"{NORM_SRC}; {POST_FORMS[0][2]}")]
    for setting, steps in (("init", 0), ("trained", NORM_STEPS)):
        for name, branch, form in POST_FORMS:
            if (setting, name) == ("init", "post-h"):
                continue
            trained = (f"; v1 Fig. 1(b)-(c) trains 'depth-64 width-128 ResNets with ReLU on CIFAR-10 under SGD (LR 0.01, "
                       f"batch size 128)': here {steps} steps of depth-muP SGD on the seeded task") if steps else ""
            out.append(Reading(
                f"{setting}/{name}", f"{NORM_SRC}; {form}{trained}",
                params={"steps": steps, "post_branch_input": branch}, sweeps=NORM_TRAIN_SWEEPS,
                measure=measure_norms_training,
                quantity=f"log E[|h_L|^2/|h_0|^2] at the training input after {steps} depth-muP SGD steps, ReLU, "
                         f"post-activation block {form.split(',')[0]}, muP input layer"))
    return tuple(out)


NORMS = register(Claim(
    id="nfd.preact_stable_postact_explodes",
    kind="paper",
    kind_why="NFD v1's statement about post-activation feature growth",
    statement="Under 1/sqrt(L) branch scaling the pre-activation ResNet's feature norm stays bounded in depth "
              "while the post-activation ResNet with ReLU grows exponentially with depth.",
    source=Source(PAPER, ARXIV, "v1 (2512.21075v1) and companion material, as summarised in the project's "
                  "theory note; checked here at initialization"),
    quantity="log E[||h_L||^2/||h_0||^2] against L, ReLU, width 128, branch multiplier L^-1/2, at initialization",
    estimand="r_post - r_pre: difference of the per-layer exponential growth rates of the feature norm (slopes of "
             "the log-norm in L), post- minus pre-activation",
    prediction=0.505, tolerance=0.495, prediction_origin="derived",
    tolerance_why="'Exponential growth with depth' means log ||h_L||^2 ~ r L with r = Theta(1), and 'stable' "
                  "means r = 0; the band [0.01, 1] for r_post - r_pre counts any excess rate of at least e per 100 "
                  "layers (1 is about the most a ReLU block at multiplier 1 can do). Mean-field (derived, "
                  "nfd2025.md): both rates tend to 0 (q(1) = q(0) e^(1/2) pre, reflected Brownian motion with "
                  "q(1) = q(0) e / 2 post).",
    sweeps={b: Sweep(axes={}, replicates=r, networks=s, inner={"depth": d},
                     fixed={"width": w, "beta": 0.5, "activation": "relu"})
            for b, r, s, d, w in (("smoke", 1, 64, (8, 32, 128), 64),
                                  ("default", 2, 256, (8, 16, 32, 64, 128, 256), 128),
                                  ("thorough", 4, 1024, (8, 16, 32, 64, 128, 256, 512, 1024), 256))},
    measure=measure_norms, estimate=estimate_norms,
    controls=("post-activation",), requires=Capability.FORWARD_TRACE,
    readings=_norm_readings(),
))

"""NFD claims (arXiv 2512.21075): smoke verdicts on the reference, negative controls, the estimators.

The smoke budget cannot resolve every rate (nfd.init_coupling_* and nfd.depth_error are usually
inconclusive there), so these tests check what smoke does establish: the confidence sets contain
the rate, the two reproduced disagreements with the paper are violations, the controls are
rejected. The default budget's verdicts are in claims/catalogue/nfd2025.md.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from claims.catalogue.nfd2025 import norms, survival
from claims.catalogue.nfd_controls import NFD_CONTROLS, TrainingDefect, trainer_for
from claims.plugins import resolve
from claims.run import run_claim
from claims.spec import Table
from claims.registry import select
from reference_impl import make_reference
from reference_impl.controls import CONTROLS
from reference_impl.training import Run, TrainConfig, train

NFD = select(["nfd.*"])


@pytest.fixture(scope="module")
def smoke() -> dict:
    return {c.id: run_claim(c, make_reference(), "smoke", seed=0) for c in NFD}


def _ci(entry: dict) -> tuple[float, float]:
    lo, hi = entry["ci"]
    return (-math.inf if lo is None else lo, math.inf if hi is None else hi)


def test_the_nfd_claims_are_registered_with_sweeps_and_controls() -> None:
    assert {c.id for c in NFD} >= {  # the coord check (coord_check.py) shares the prefix
        "nfd.init_coupling_width", "nfd.init_coupling_depth_uniform", "nfd.sgd_coupling_survives_width",
        "nfd.sgd_coupling_depth", "nfd.depth_error", "nfd.preact_stable_postact_explodes",
        "nfd.gia_valid_at_infinite_depth", "nfd.two_layer_block_collapse", "nfd.depth_aware_lr_restores",
        "nfd.preact_norm_bounded_depth"}
    for c in NFD:  # a finding may list only a positive control
        assert (c.controls or c.positive_controls) and all(n in CONTROLS for n in c.controls + c.positive_controls)


# The readings as declared (name: prediction, tolerance, degenerate), amendments included (amendments.toml):
# the per-layer kappa readings removed, the extra-L^-1/2 readings degenerate (they configure lr-depth-factor),
# the GIA joint-limit reading added.
PINNED_READINGS = {
    "nfd.sgd_coupling_depth": {
        f"{conv}/{stat}_{t}": (pred, tol, conv == "lr-extra-sqrtL")
        for conv in ("lr-constant", "lr-extra-sqrtL")
        for stat, pred, tol in (("A", -1.5, 1.0), ("D", -2.0, 0.5)) for t in ((1, 2) if stat == "A" else (2,))},
    "nfd.preact_stable_postact_explodes": {
        name: (None, None, False) for name in ("init/post-h", "init/post-phi", "trained/post-h", "trained/post-phi")},
    "nfd.preact_norm_bounded_depth": {"init": (None, None, False), "trained": (None, None, False)},
    "nfd.gia_valid_at_infinite_depth": {
        name: (None, None, False)
        for name in ("independent/f", "independent/loss", "paired/f", "paired/loss", "joint/independent-f")},
    "nfd.two_layer_block_collapse": {"weight-update": (None, None, False), "total-change": (None, None, False)},
    "nfd.depth_aware_lr_restores": {"after-1-step": (None, None, False), "after-2-steps": (None, None, False)},
}


def test_readings_are_the_pinned_declaration() -> None:
    """A reading must not change after its verdict is seen: names, predictions, degenerate marks."""
    for claim_id, pinned in PINNED_READINGS.items():
        claim = select([claim_id])[0]
        got = {r.name: (r.prediction, r.tolerance, bool(r.degenerate)) for r in claim.readings}
        assert got == pinned, claim_id


def test_v1_claims_have_replicate_cells_at_default_and_thorough() -> None:
    for claim_id in ("nfd.gia_valid_at_infinite_depth", "nfd.two_layer_block_collapse", "nfd.depth_aware_lr_restores"):
        claim = select([claim_id])[0]
        assert all(claim.sweep(b).replicates >= 2 for b in ("default", "thorough")), claim_id


def test_init_coupling_decays_like_one_over_width(smoke: dict) -> None:
    lo, hi = _ci(smoke["nfd.init_coupling_width"])
    assert lo < -1.0 < hi and hi < 0.0, smoke["nfd.init_coupling_width"]["message"]


def test_init_coupling_does_not_grow_with_depth(smoke: dict) -> None:
    lo, hi = _ci(smoke["nfd.init_coupling_depth_uniform"])
    assert lo < 0.0 < hi, smoke["nfd.init_coupling_depth_uniform"]["message"]


def test_sgd_coupling_survives_infinite_width(smoke: dict) -> None:
    assert smoke["nfd.sgd_coupling_survives_width"]["verdict"] == "holds", smoke["nfd.sgd_coupling_survives_width"]["message"]


def _reading(entry: dict, name: str) -> dict:
    return next(r for r in entry["readings"] if r["reading"] == name)


def test_sgd_coupling_is_not_suppressed_in_depth(smoke: dict) -> None:
    """The reproduced disagreement under the SGD rate constant in L: the accumulated coupling does
    not decay like L^-2 (or at all), so the per-layer term A_t / L decays like L^-1, not L^-2; the
    headline is violated (the extra-L^-1/2 readings configure a control's defect: not counted)."""
    entry = smoke["nfd.sgd_coupling_depth"]
    accumulated = _reading(entry, "lr-constant/A_1")
    assert accumulated["verdict"] == "violated" and _ci(accumulated)[0] > -1.0, entry["message"]
    assert entry["verdict"] == "violated" and entry["counted_readings"]["violated"] == 3, entry["message"]


def test_depth_error_rate_is_one_over_depth(smoke: dict) -> None:
    lo, hi = _ci(smoke["nfd.depth_error"])
    assert lo < -1.0 < hi and hi < -0.5, smoke["nfd.depth_error"]["message"]


def test_first_internal_layer_update_collapses_and_the_correction_restores_it(smoke: dict) -> None:
    """The layer's own weight update collapses (the reading v1's words fit best); the correction holds."""
    collapse = smoke["nfd.two_layer_block_collapse"]
    assert _reading(collapse, "weight-update")["verdict"] == "holds", collapse["message"]
    assert smoke["nfd.depth_aware_lr_restores"]["verdict"] == "holds", smoke["nfd.depth_aware_lr_restores"]["message"]


def test_independent_backward_does_not_converge_to_true_backprop_in_depth(smoke: dict) -> None:
    """The reproduced disagreement with v1: the true-minus-GIA output gap does not vanish with L."""
    entry = smoke["nfd.gia_valid_at_infinite_depth"]
    for name in ("independent/f", "independent/loss"):
        reading = _reading(entry, name)
        assert reading["verdict"] == "violated" and _ci(reading)[0] > -0.5, entry["message"]


def test_total_feature_change_of_the_first_layer_does_not_collapse() -> None:
    """The reading under which the collapse claim fails: the layer's input changes by Theta(1)."""
    claim = select(["nfd.two_layer_block_collapse"])[0]
    entry = run_claim(claim.under(next(r for r in claim.readings if r.name == "total-change")), make_reference(),
                      "smoke", seed=0)
    assert entry["verdict"] == "violated", entry["message"]


def test_postactivation_log_norm_stays_bounded_in_depth(smoke: dict) -> None:
    """The finding: the post-activation log-norm does not grow linearly in L (exponent far below 1/2)."""
    entry = smoke["nfd.preact_stable_postact_explodes"]
    assert entry["verdict"] == "violated" and _ci(entry)[1] < 0.5, entry["message"]
    assert entry["counted_readings"]["violated"] == 4, entry["message"]


def test_preactivation_log_norm_stops_growing(smoke: dict) -> None:
    entry = smoke["nfd.preact_norm_bounded_depth"]
    assert entry["verdict"] == "holds", entry["message"]


def test_overflowing_depths_are_left_out_of_the_fits() -> None:
    """Without the multiplier the deeper trained networks overflow: those depths are dropped (the
    reading is undecided, not an error; the notes name them: test_norm_estimators_...), and the init
    reading still rejects the control."""
    impl, _ = resolve("no-depth-multiplier")
    claim = select(["nfd.preact_norm_bounded_depth"])[0]
    entry = run_claim(claim, impl, "smoke", seed=0)
    trained = _reading(entry, "trained")
    assert _reading(entry, "init")["verdict"] == "violated", entry["message"]
    assert trained["verdict"] in ("inconclusive", "violated"), trained["message"]


def test_same_seed_same_numbers() -> None:
    claim = select(["nfd.preact_stable_postact_explodes"])[0]
    a, b = (run_claim(claim, make_reference(), "smoke", seed=5) for _ in range(2))
    assert a["estimate"] == b["estimate"] and a["ci"] == b["ci"]


# ---------------------------------------------------------------------------------------------
# the estimators on synthetic data with a known answer
# ---------------------------------------------------------------------------------------------
def test_survival_estimator_separates_a_limit_from_pure_one_over_n() -> None:
    widths = [64, 128, 256, 512]

    def table(level: float, b: float) -> Table:
        rows = []
        for i, n in enumerate(widths):
            rows.append({"width": n, "steps": 2, "cell": i, "A2": level + b / n, "A2_se": 1e-3,
                         "D1": -0.01 / n, "D1_se": 1e-4 / n, "A0": 0.0})
        return Table(rows)

    survives = survival.estimate_survival(table(-0.02, -0.2), 0.95)
    assert -2 < survives.ci[0][0] and survives.ci[0][1] < 0  # log10 0.02 = -1.7
    vanishes = survival.estimate_survival(table(0.0, -0.5), 0.95)
    assert vanishes.ci[0][1] < -2  # no limit: below the band


def test_norm_estimators_tell_bounded_from_exponential_growth() -> None:
    depths = (8, 16, 32, 64, 128)

    def table(law) -> Table:  # noqa: ANN001
        return Table([{"depth": d, "log_ratio": law(d), "log_ratio_se": 0.01, "cell": i} for i, d in enumerate(depths)])

    bounded = table(lambda d: (d - 1) * math.log1p(0.5 / d))  # pre-activation mean field: -> 1/2
    linear = table(lambda d: 0.05 * (d - 1))  # exponential growth of the norm
    assert abs(norms.estimate_bounded(bounded, 0.95).value) < 0.04  # derived about 0.025 over these depths
    assert norms.estimate_bounded(linear, 0.95).value > 1.0
    assert norms.estimate_divergence(linear, 0.95).value == pytest.approx(1.0, abs=0.05)
    assert norms.estimate_divergence(bounded, 0.95).value < 0.1
    dropped = Table([*bounded.rows[:-1], {"depth": 128, "overflowed": 3.0, "cell": 4}])
    assert "L=128: 3" in norms.estimate_bounded(dropped, 0.95).notes


# ---------------------------------------------------------------------------------------------
# how the claims find training code, and the training-level control
# ---------------------------------------------------------------------------------------------
def test_trainer_dispatch() -> None:
    ref = make_reference()
    assert trainer_for(ref) == ref.train_runs  # the reference trains through the Protocol's TRAIN_STEP method
    assert trainer_for(object()) is None
    gia = NFD_CONTROLS["gia-backward"]
    assert isinstance(gia, TrainingDefect) and trainer_for(gia) == gia.train_runs


def test_gia_control_backprops_through_an_independent_copy() -> None:
    """gia-backward runs construction (b) in the slot that declares reuse: its reused-weight
    component c_l has mean zero, and its trained output differs from true backprop at O(1)."""
    from reference_impl.protocol import NetSpec

    spec = NetSpec(width=32, depth=4, activation="tanh", parametrization="depth_mup", dtype="float64")
    cfg = TrainConfig(steps=2, n_test=0)
    runs = [Run("true4", 4, record_coupling=True)]
    gia = NFD_CONTROLS["gia-backward"].train_runs(spec, cfg, 1024, torch.Generator().manual_seed(0), runs)
    ref = train(spec, cfg, 1024, torch.Generator().manual_seed(0), runs)
    c = gia["true4"].coupling[:, 2].mean(1)
    assert abs(float(c.mean())) < 4 * float(c.std()) / 1024**0.5
    gap = (gia["true4"].f_train[:, 1] - ref["true4"].f_train[:, 1]).abs().mean()
    assert gap > 0.01


def test_the_gia_joint_reading_trains_at_width_64_per_block() -> None:
    """joint/independent-f measures along n = 64 L: the cell at depth 4 trains width 256, and the
    reading's declared setting says so through width_per_depth."""
    from claims.catalogue.nfd2025_v1 import GIA, measure_gia
    from claims.spec import CellContext

    reading = next(r for r in GIA.readings if r.name == "joint/independent-f")
    sweep = GIA.under(reading).sweep("smoke")
    params = {**sweep.fixed, "depth": 4}
    row = measure_gia(CellContext(params, 0, 0, 2, make_reference(), "cpu", "float32"))
    assert row["trained_width"] == 256 == params["width_per_depth"] * 4
    assert math.isfinite(row["independent_f2"])

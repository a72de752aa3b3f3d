"""Fischer et al. claims: the declarations (readings pinned), the reference at the smoke budget, the
wrong alpha* formula contradicted, the shift estimator on the exact theory curve, the derived window,
and the erf-half-argument control's identity."""
import math

import numpy as np
import pytest
import torch

from claims.catalogue.fischer2023.argmax import ARGMAX, ARGMAX_READINGS, verdict_with_formula, wrong_depth_exponent
from claims.catalogue.fischer2023.depth_window import MAP_DEPTHS, derived_shares, derived_window, range_map
from claims.catalogue.fischer2023.empirical_range import RANGE, RANGE_READINGS
from claims.catalogue.fischer2023.kernel import KERNEL, KERNEL_VARIANCE
from claims.catalogue.fischer2023.networks import NETWORKS
from claims.catalogue.fischer2023.response import (GRID_OFFSETS, GROUPS, LATTICE, alpha_grid, finite_depth_alpha_star,
                                                   predicted_alpha_star, response_template)
from claims.catalogue.fischer2023.shift import jackknife_se, shift_fit, shift_with_jackknife
from claims.catalogue.fischer2023.weak_sigma import SIGMA
from claims.catalogue.fischer_controls import FISCHER_CONTROLS, HalfArgumentEnsemble, half_argument_spec
from claims.run import measure_cell, run_claim
from claims.registry import select
from claims.spec import Table
from claims.sweep import cells
from reference_impl import make_reference
from reference_impl.controls import CONTROLS
from reference_impl.ensemble import DenseEnsemble
from reference_impl.protocol import NetSpec

IDS = ["fischer.kernel_recursion_finite_n", "fischer.kernel_fluctuation_finite_n", "fischer.response_argmax",
       "fischer.alpha_star_weak_sigma_dependence", "fischer.empirical_range_is_max_sensitivity"]
CLAIMS = {c.id: c for c in (KERNEL, KERNEL_VARIANCE, ARGMAX, SIGMA, RANGE)}
# The readings as declared before measuring (commit f08b6b7; the argmax claim's phiW reading dropped for time in
# 7c56e50, fischer2023.md section 8); they must not change after verdicts.
READINGS = {
    "fischer.kernel_recursion_finite_n": [],
    "fischer.kernel_fluctuation_finite_n": [],
    "fischer.response_argmax": [("Vphi+input", False), ("Vphi+bias", False), ("phiW+input", False)],
    "fischer.alpha_star_weak_sigma_dependence": [("Vphi", True), ("Vphi+input", False), ("Vphi+bias", False),
                                                 ("phiW", False), ("phiW+input", False)],
    "fischer.empirical_range_is_max_sensitivity": [("Vphi", False), ("Vphi+bias", False), ("phiW", False)],
}


def test_the_claims_are_registered_with_controls_and_derived_predictions():
    assert [c.id for c in select(["fischer.*"])] == IDS
    for claim in CLAIMS.values():
        assert claim.controls and claim.prediction_origin == "derived" and claim.paper_numbers


@pytest.mark.parametrize("claim_id", IDS)
def test_readings_are_the_declared_ones(claim_id):
    got = [(r.name, bool(r.degenerate)) for r in CLAIMS[claim_id].readings]
    assert got == READINGS[claim_id]
    for r in CLAIMS[claim_id].readings:
        assert r.support and r.params == NETWORKS[r.name]


def test_the_alpha_sigma_symmetric_reading_is_degenerate_for_the_weak_sigma_claim_only():
    sym = [r for c in CLAIMS.values() for r in c.readings if r.degenerate]
    assert [r.name for r in sym] == ["Vphi"] and "alpha sigma_w" in sym[0].degenerate


def test_fischer_controls_are_registered_by_name():
    for name, control in FISCHER_CONTROLS.items():
        assert CONTROLS[name] is control


# ----------------------------------------------------------------------------- the reference at smoke
@pytest.mark.parametrize("claim_id, reading, allowed", [
    ("fischer.kernel_recursion_finite_n", None, {"holds"}),
    ("fischer.kernel_fluctuation_finite_n", None, {"holds"}),
    ("fischer.alpha_star_weak_sigma_dependence", "phiW+input", {"holds"}),
    ("fischer.alpha_star_weak_sigma_dependence", "Vphi+bias", {"violated"}),
    ("fischer.empirical_range_is_max_sensitivity", "phiW", {"holds", "inconclusive"}),
])
def test_reference_verdict_at_smoke_budget(claim_id, reading, allowed):
    claim = CLAIMS[claim_id]
    if reading is not None:
        claim = claim.under(next(r for r in claim.readings if r.name == reading))
    entry = run_claim(claim, make_reference(), "smoke", seed=0)
    assert entry["verdict"] in allowed, entry["message"]


@pytest.fixture(scope="module")
def argmax_table():
    """The response_argmax measurements at the smoke budget (depth 50, phiW+input), as the estimator sees them."""
    claim, impl = ARGMAX, make_reference()
    sweep = claim.sweep("smoke")
    rows = [r for cell in cells(claim.id, sweep, 0) for r in measure_cell(claim, impl, "cpu", "float32",
                                                                          sweep.networks, cell)]
    return Table(rows)


def test_wrong_depth_exponent_formula_is_contradicted(argmax_table):
    """alpha* ~ L^-1 (anchored to agree at L = 200) predicts a 4x larger alpha* at L = 50 than ~ L^-1/2."""
    wrong = wrong_depth_exponent(200)
    params = NETWORKS["phiW+input"]
    assert wrong(200, 2.0, 0.9, params) == pytest.approx(predicted_alpha_star(200, 2.0, 0.9, params))
    assert verdict_with_formula(argmax_table, wrong) == "violated"


def test_response_rows_carry_the_reading_and_independent_groups(argmax_table):
    assert set(argmax_table.col("block")) == {"res1w"} and set(argmax_table.col("input_layer")) == {True}
    assert sorted(set(argmax_table.col("group"))) == list(range(GROUPS))
    assert len(argmax_table.unique("scale")) == len(GRID_OFFSETS)


# ----------------------------------------------------------------------------- design, on the theory curve
@pytest.mark.parametrize("name", list(NETWORKS))
def test_alpha_grids_span_the_declared_offsets_around_the_prediction(name):
    params = NETWORKS[name]
    for depth, s2 in [(25, 0.5), (50, 4.0), (100, 16.0)]:
        window = np.log(alpha_grid(depth, s2, 0.9, params))
        k0 = math.log(predicted_alpha_star(depth, s2, 0.9, params)) / LATTICE
        np.testing.assert_allclose(window / LATTICE - round(k0), GRID_OFFSETS, atol=1e-4)


def _theory_clusters(depth, s2, params, shift, level, groups=24, noise=0.02, seed=0):
    """Cluster curves (G, K) on the claim's grid: the theory response moved by ``shift`` in log alpha, times
    ``level``, with a common-random-numbers-like noise (a random level and tilt per cluster plus a little
    independent noise)."""
    alphas = np.array(alpha_grid(depth, s2, 0.9, params))
    u = np.log(alphas)
    f, _ = response_template(depth, s2, 0.9, params, float(u.mean()))
    rng = np.random.default_rng(seed)
    tilt = rng.normal(0, noise, (groups, 1)) * (u - u.mean())
    common = rng.normal(0, noise, (groups, 1))
    y = level * np.exp(f(u - shift)) * np.exp(common + tilt + rng.normal(0, noise / 4, (groups, len(u))))
    return u, y, f


@pytest.mark.parametrize("shift, level", [(0.0, 1.0), (0.3, 1.04), (-0.35, 0.97)])
def test_shift_fit_recovers_a_known_shift_at_a_free_level(shift, level):
    params = NETWORKS["Vphi+input"]
    u, y, f = _theory_clusters(50, 0.5, params, shift, level)
    s, loo = shift_with_jackknife(u, y, f)
    se = jackknife_se(loo)
    assert abs(s - shift) < 3 * se + 0.01 and se < 0.05


def test_shift_fit_is_exact_on_the_theory_curve():
    params = NETWORKS["phiW+input"]
    alphas = np.array(alpha_grid(100, 0.5, 0.9, params))
    u = np.log(alphas)
    f, ustar = response_template(100, 0.5, 0.9, params, float(u.mean()))
    y = np.exp(f(u - 0.2))[None, :] * np.array([[0.99], [1.0], [1.01], [1.02]]) * (1 + 1e-3 * np.sin(np.arange(4)))[:, None]
    assert shift_fit(u, y, f) == pytest.approx(0.2, abs=2e-3)
    assert math.exp(ustar) == pytest.approx(finite_depth_alpha_star(100, 0.5, 0.9, params), rel=1e-6)


def test_formula_offset_at_the_argmax_depths_is_inside_the_tolerance_budget():
    """The continuum formula's O(1/L) error (the part of the estimand that is not noise) is <= 0.06 at L >= 50."""
    for name in ARGMAX_READINGS:
        params = NETWORKS[name]
        for depth in (50, 100):
            for s2 in (0.5, 4.0):
                gap = math.log(finite_depth_alpha_star(depth, s2, 0.9, params)
                               / predicted_alpha_star(depth, s2, 0.9, params))
                assert 0 < gap < 0.06


def test_practical_depths_are_outside_every_derived_window():
    """At L = 25 and 100 no c0 of the map puts alpha = 0.1 and 0.3 in the half-gain region; at c0 = 0.9 the
    window is several hundred blocks deep (finite depth: Vphi and phiW 477-1167, with bias 535-938)."""
    for name in RANGE_READINGS:
        grid = range_map(NETWORKS[name])
        for c0, shares in grid.items():
            for depth, share in zip(MAP_DEPTHS, shares):
                if depth <= 100:
                    assert not share >= 0.5, (name, c0, depth)
        lo, hi = derived_window(NETWORKS[name])
        assert 400 < lo < hi < 1200
        assert min(derived_shares(int(lo), NETWORKS[name])) >= 0.5 > min(derived_shares(int(lo) - 1, NETWORKS[name]))


def test_erf_half_argument_control_is_the_erf_of_half_the_argument_exactly():
    """The control's network (the erf network at a / sqrt 2 on x / sqrt 2, states times sqrt 2) equals
    h + a (V erf(h / sqrt 2) + b) and h + a erf((V h + b') / sqrt 2) computed directly with the same weights."""
    for block, inp in (("res1", True), ("res1w", False)):
        spec = NetSpec(width=16, depth=5, block=block, beta=0.0, scale=0.7, activation="erf", sigma_w2=2.0,
                       bias_var=0.1, input_dim=16 if inp else None, input_scale="sigma_w2" if inp else "unit",
                       dtype="float64")
        inner = DenseEnsemble(half_argument_spec(spec), 3, torch.Generator().manual_seed(1))
        x = torch.randn(3, 2, 16, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
        got = HalfArgumentEnsemble(inner).trace(x)
        w = inner.weights
        h = x if not inp else torch.bmm(x, w["in"].transpose(1, 2))
        for k in range(spec.depth):
            v = w["V"][:, k]
            if block == "res1":
                h = h + 0.7 * (torch.bmm(torch.erf(h / math.sqrt(2)), v.transpose(1, 2)) + inner.bias[:, k, None, :])
            else:
                pre = torch.bmm(h, v.transpose(1, 2)) + math.sqrt(2) * inner.bias[:, k, None, :]
                h = h + 0.7 * torch.erf(pre / math.sqrt(2))
        torch.testing.assert_close(got[:, -1], h, rtol=1e-10, atol=1e-10)

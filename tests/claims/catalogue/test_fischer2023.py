"""Fischer et al. claims: the declarations (readings pinned), the reference at the smoke budget, the
wrong alpha* formula contradicted, and the estimators' own bias on the exact theory curve."""
import math

import numpy as np
import pytest

from claims.catalogue import fischer2023 as FC
from claims.catalogue.fischer_controls import FISCHER_CONTROLS
from claims.run import measure_cell, run_claim
from claims.spec import Table, select
from claims.sweep import cells
from reference_impl import make_reference
from reference_impl.controls import CONTROLS

IDS = ["fischer.kernel_recursion_finite_n", "fischer.kernel_fluctuation_finite_n", "fischer.response_argmax",
       "fischer.alpha_star_weak_sigma_dependence", "fischer.empirical_range_is_max_sensitivity"]
CLAIMS = {c.id: c for c in (FC.KERNEL, FC.KERNEL_VARIANCE, FC.ARGMAX, FC.SIGMA, FC.RANGE)}
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
        assert r.support and r.params == FC.NETWORKS[r.name]


def test_the_alpha_sigma_symmetric_reading_is_degenerate_for_the_weak_sigma_claim_only():
    sym = [r for c in CLAIMS.values() for r in c.readings if r.degenerate]
    assert [r.name for r in sym] == ["Vphi"] and "alpha sigma_w" in sym[0].degenerate


def test_fischer_controls_are_registered_by_name():
    for name, control in FISCHER_CONTROLS.items():
        assert CONTROLS[name] is control


# ----------------------------------------------------------------------------- the reference at smoke
@pytest.mark.parametrize("claim_id, reading, allowed", [
    ("fischer.kernel_recursion_finite_n", None, {"holds", "inconclusive"}),
    ("fischer.kernel_fluctuation_finite_n", None, {"holds", "inconclusive"}),
    ("fischer.alpha_star_weak_sigma_dependence", "phiW+input", {"holds", "inconclusive"}),
    ("fischer.empirical_range_is_max_sensitivity", "Vphi", {"violated"}),
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
    claim, impl = FC.ARGMAX, make_reference()
    sweep = claim.sweep("smoke")
    rows = [r for cell in cells(claim.id, sweep, 0) for r in measure_cell(claim, impl, "cpu", "float32",
                                                                          sweep.networks, cell)]
    return Table(rows)


def test_wrong_depth_exponent_formula_is_contradicted(argmax_table):
    """alpha* ~ L^-1 (anchored to agree at L = 200) predicts a 4x larger alpha* at L = 50 than ~ L^-1/2."""
    wrong = FC.wrong_depth_exponent(200)
    params = FC.NETWORKS["phiW+input"]
    assert wrong(200, 2.0, 0.9, params) == pytest.approx(FC.predicted_alpha_star(200, 2.0, 0.9, params))
    assert FC.verdict_with_formula(argmax_table, wrong) == "violated"


def test_response_rows_carry_the_reading_and_independent_groups(argmax_table):
    assert set(argmax_table.col("block")) == {"res1w"} and set(argmax_table.col("input_layer")) == {True}
    assert sorted(set(argmax_table.col("group"))) == list(range(FC.GROUPS))


# ----------------------------------------------------------------------------- design, on the theory curve
@pytest.mark.parametrize("name", list(FC.NETWORKS))
def test_alpha_grids_are_centred_on_the_prediction(name):
    params = FC.NETWORKS[name]
    for depth, s2 in [(25, 0.5), (50, 4.0), (100, 16.0)]:
        window = np.log(FC.alpha_grid(depth, s2, 0.9, params))
        centre = math.log(FC.predicted_alpha_star(depth, s2, 0.9, params))
        assert len(window) == FC.GRID and abs(window.mean() - centre) <= FC.LATTICE / 2 + 1e-9


def test_quadratic_vertex_bias_on_the_lattice_is_within_the_tolerance_budget():
    """The estimator's own bias (7-point vertex on the exact finite-depth curve) plus the continuum
    formula's O(1/L) error stay well inside the 0.2 tolerance at the claim's depths."""
    for name in FC.ARGMAX_READINGS:
        params = FC.NETWORKS[name]
        args = FC.theory_args(params, 4.0)
        for depth in (50, 100):
            alphas = np.array(FC.alpha_grid(depth, 4.0, 0.9, params))
            y = np.log(FC.theory.correlation_response(args["q0"], 0.9, depth, alphas, 4.0, args["bias_var"], FC.ACT,
                                                      FC.DC, args["form"]))
            u = np.log(alphas) - np.log(alphas).mean()
            b = np.polyfit(u, y, 2)
            vertex = np.log(alphas).mean() - b[1] / (2 * b[0])
            assert abs(vertex - math.log(FC.predicted_alpha_star(depth, 4.0, 0.9, params))) < 0.1


def test_practical_depths_are_outside_every_derived_window():
    """At L = 25 and 100 no c0 of the map puts alpha = 0.1 and 0.3 in the half-gain region; at c0 = 0.9
    the window is several hundred blocks deep."""
    for name in FC.RANGE_READINGS:
        grid = FC.range_map(FC.NETWORKS[name])
        for c0, shares in grid.items():
            for depth, share in zip(FC.MAP_DEPTHS, shares):
                if depth <= 100:
                    assert not share >= 0.5, (name, c0, depth)
        inside = [d for d, v in zip(FC.MAP_DEPTHS, grid[0.9]) if v >= 0.5]
        assert inside and 400 < min(inside) < max(inside) < 1200

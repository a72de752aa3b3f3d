"""Fischer et al. claims at the smoke budget: the reference's verdicts, the controls rejected, the
wrong alpha* formula contradicted, and the claims' declarations consistent with the theory module."""
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

IDS = ["fischer.kernel_recursion_finite_n", "fischer.response_argmax", "fischer.alpha_star_weak_sigma_dependence",
       "fischer.empirical_range_is_max_sensitivity"]
CLAIMS = {c.id: c for c in (FC.KERNEL, FC.ARGMAX, FC.SIGMA, FC.RANGE)}
# On the reference: the three claims the derived theory supports must not be violated (smoke may be
# inconclusive); the weak-sigma claim is violated: alpha* ~ 1/sigma_w for this network (a finding).
EXPECTED_ON_REFERENCE = {
    "fischer.kernel_recursion_finite_n": {"holds", "inconclusive"},
    "fischer.response_argmax": {"holds", "inconclusive"},
    "fischer.alpha_star_weak_sigma_dependence": {"violated"},
    "fischer.empirical_range_is_max_sensitivity": {"holds", "inconclusive"},
}


def test_the_four_claims_are_registered_with_controls_and_derived_predictions():
    assert [c.id for c in select(["fischer.*"])] == IDS
    for claim in CLAIMS.values():
        assert claim.controls and claim.prediction_origin == "derived" and claim.paper_numbers


@pytest.fixture(scope="module")
def reference_entries():
    impl = make_reference()
    return {cid: run_claim(CLAIMS[cid], impl, "smoke", seed=0) for cid in IDS}


@pytest.mark.parametrize("claim_id", IDS)
def test_reference_verdict_at_smoke_budget(reference_entries, claim_id):
    entry = reference_entries[claim_id]
    assert entry["verdict"] in EXPECTED_ON_REFERENCE[claim_id], entry["message"]


def test_weak_sigma_claim_measures_the_derived_exponent(reference_entries):
    lo, hi = reference_entries["fischer.alpha_star_weak_sigma_dependence"]["ci"]
    assert lo < -0.5 < hi  # alpha enters only through alpha sigma_w: exponent -1/2


def test_fischer_controls_are_registered_by_name():
    for name, control in FISCHER_CONTROLS.items():
        assert CONTROLS[name] is control


@pytest.fixture(scope="module")
def argmax_table():
    """The response_argmax measurements at the smoke budget (depth 50), as the estimator sees them."""
    claim, impl = FC.ARGMAX, make_reference()
    sweep = claim.sweep("smoke")
    rows = [r for cell in cells(claim.id, sweep, 0) for r in measure_cell(claim, impl, "cpu", "float32",
                                                                          sweep.networks, cell)]
    return Table(rows)


def test_wrong_depth_exponent_formula_is_contradicted(argmax_table):
    """alpha* ~ L^-1 (anchored to agree at L = 25) predicts a 2x smaller alpha* at L = 50 than ~ L^-1/2."""
    wrong = FC.wrong_depth_exponent(25)
    assert wrong(25, 2.0) == pytest.approx(FC.predicted_alpha_star(25, 2.0))
    assert FC.verdict_with_formula(argmax_table, wrong) == "violated"
    assert FC.verdict_with_formula(argmax_table, FC.predicted_alpha_star) != "violated"


def test_alpha_windows_are_centred_on_the_prediction():
    for depth, s2 in [(25, 2.0), (50, 2.0), (100, 2.0), (50, 0.5)]:
        window = np.log(FC.alpha_window(depth, s2))
        centre = math.log(FC.predicted_alpha_star(depth, s2))
        assert len(window) == 7 and abs(window.mean() - centre) <= FC.LATTICE / 2 + 1e-9


def test_empirical_range_depth_is_inside_the_theoretical_window():
    """Both empirical alphas reach half the maximal gain at the claim's depth, and not at L = 100."""
    gain = lambda depth: FC.theory.response_gain(depth, np.array(FC.EMPIRICAL_RANGE), 1.0, FC.Q0, FC.C0, 0.0,  # noqa: E731
                                                 FC.ACT, FC.DC)
    assert np.all(gain(FC.RANGE_DEPTH) > 0.6)
    assert np.min(gain(100)) < 0.5


def test_quadratic_vertex_bias_on_the_lattice_is_within_the_tolerance_budget():
    """The estimator's own bias, computed on the exact theory curve, is far below the 0.2 tolerance."""
    for depth, s2 in [(25, 2.0), (50, 2.0), (100, 2.0), (200, 2.0), (50, 0.5)]:
        alphas = np.array(FC.alpha_window(depth, s2))
        y = np.log(FC.theory.correlation_response(FC.Q0, FC.C0, depth, alphas, s2, 0.0, FC.ACT, FC.DC))
        u = np.log(alphas) - np.log(alphas).mean()
        b = np.polyfit(u, y, 2)
        vertex = np.log(alphas).mean() - b[1] / (2 * b[0])
        assert abs(vertex - math.log(FC.predicted_alpha_star(depth, s2))) < 0.05

"""Readings that cannot hide a finding, checked at declaration time (no data):

- a reading must not configure what any negative control of any claim calls a defect
  (claims.readings.configured_defects), unless it is marked degenerate with that reason (shown, not
  counted);
- two counted readings of one claim that run on the same cells must estimate different statistics;
- a counted reading whose own derived value lies on or within one target CI half-width (a third of
  its tolerance, the decisive-budget target) of its band's edge cannot decide at any budget.
"""
import functools

import pytest

from claims.readings import configured_defects, setting
from claims.spec import KINDS, Reading
from claims.registry import all_claims
from reference_impl.controls import CONTROLS

CLAIMS = all_claims()
NEGATIVE = {name: CONTROLS[name] for name in sorted({n for c in CLAIMS for n in c.controls})}
READINGS = [(c, r) for c in CLAIMS for r in c.readings]
IDS = [f"{c.id}@{r.name}" for c, r in READINGS]


@pytest.mark.parametrize("claim, reading", READINGS, ids=IDS)
def test_no_counted_reading_configures_a_negative_controls_defect(claim, reading) -> None:
    hits = configured_defects(claim, reading, NEGATIVE)
    if hits:
        assert reading.degenerate and all(h in reading.degenerate for h in hits), (
            f"{claim.id}@{reading.name} configures the defect of negative control(s) {hits}: a reading must not "
            "configure what a control calls a bug; mark it degenerate naming the control, or drop it (and log the "
            "amendment)")


def test_the_lr_extra_sqrtl_readings_are_the_lr_depth_factor_control() -> None:
    claim = next(c for c in CLAIMS if c.id == "nfd.sgd_coupling_depth")
    extra = [r for r in claim.readings if r.name.startswith("lr-extra-sqrtL/")]
    assert extra and all(configured_defects(claim, r, NEGATIVE) == ["lr-depth-factor"] for r in extra)
    assert all(not configured_defects(claim, r, NEGATIVE) for r in claim.readings if r.name.startswith("lr-constant/"))


def test_the_comparison_sees_a_spec_defect_and_ignores_a_declared_network() -> None:
    claim = next(c for c in CLAIMS if c.id == "nfd.gia_valid_at_infinite_depth")
    no_multiplier = Reading("beta0", "a reading without the branch multiplier", params={"beta": 0.0})
    assert configured_defects(claim, no_multiplier, NEGATIVE) == ["no-depth-multiplier"]
    fischer = next(c for c in CLAIMS if c.id == "fischer.response_argmax")
    assert all(not configured_defects(fischer, r, NEGATIVE) for r in fischer.readings)  # own sweeps: own network
    assert setting({"lr_extra_depth_exponent": 0.5})["lr_depth_exponent"] == 0.5


# statistics of one measurement that are fixed transforms of one another (the same estimand): the depth slope of
# kappa_t = A_t / L is A_t's slope minus 1 exactly
SAME_ESTIMAND = {frozenset({"A", "kappa"}): "kappa_t = A_t / L: the same data, the slope shifted by exactly -1"}


def _statistic(reading: Reading) -> object:
    """What a reading estimates from its cells: the estimator's statistic key, else the estimator."""
    est = reading.estimate
    return est.keywords.get("key", est) if isinstance(est, functools.partial) else est


@pytest.mark.parametrize("claim", [c for c in CLAIMS if c.readings], ids=lambda c: c.id)
def test_counted_readings_on_the_same_cells_measure_different_things(claim) -> None:
    seen: dict[tuple, str] = {}
    for reading in claim.readings:
        if reading.degenerate:
            continue
        cells = (repr(sorted(reading.params.items())), id(reading.sweeps), id(reading.measure))
        stat = repr(_statistic(reading)) if reading.estimate is not None else "the claim's estimator"
        for other, name in seen.items():
            same = other[1] == stat or frozenset({other[1].strip("'0123456789"), stat.strip("'0123456789")}) \
                in SAME_ESTIMAND
            assert not (other[0] == cells and same), (
                f"{claim.id}: readings {name} and {reading.name} estimate the same thing from the same cells")
        seen[cells, stat] = reading.name


@pytest.mark.parametrize("claim, reading", [(c, r) for c, r in READINGS if r.derived is not None and not r.degenerate],
                         ids=lambda x: getattr(x, "id", getattr(x, "name", "")))
def test_a_counted_reading_can_decide_at_some_budget(claim, reading) -> None:
    prediction = claim.prediction if reading.prediction is None else reading.prediction
    tolerance = claim.tolerance if reading.tolerance is None else reading.tolerance
    distance = min(abs(reading.derived - (prediction - tolerance)), abs(reading.derived - (prediction + tolerance)))
    assert distance > tolerance / 3, (
        f"{claim.id}@{reading.name}: its derived value {reading.derived:g} lies within {distance:.3g} of its band's "
        f"edge (target CI half-width {tolerance / 3:.3g}): it cannot decide at any budget; mark it degenerate and say "
        "what would separate the paper's value from the derived one")


def test_the_degenerate_band_edge_readings_say_what_would_separate_them() -> None:
    claim = next(c for c in CLAIMS if c.id == "nfd.sgd_coupling_depth")
    for reading in claim.readings:
        if reading.derived is None:
            continue
        tolerance = reading.tolerance or claim.tolerance
        edges = ((reading.prediction or claim.prediction) - tolerance, (reading.prediction or claim.prediction) + tolerance)
        if min(abs(reading.derived - e) for e in edges) <= tolerance / 3:
            assert reading.degenerate and "separate" in reading.degenerate, reading.name


def test_every_claim_and_reading_declares_its_kind() -> None:
    for claim in CLAIMS:
        assert claim.kind in KINDS and claim.kind_why, claim.id
        for reading in claim.readings:
            assert reading.kind is None or (reading.kind in KINDS and reading.kind_why), f"{claim.id}@{reading.name}"
    checks = {c.id for c in CLAIMS if c.kind == "implementation check"}
    assert checks == {"nfd.depth_aware_lr_restores", "nfd.feature_learning_depth_uniform", "nfd.preact_norm_bounded_depth",
                      "init.netspec_law"}

"""Meta-tests of the statistics: coverage on synthetic power laws, verdict edges, Fieller sets."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from claims.stats import (bonferroni_level, distance_range, equivalence_verdict, fieller_ratio, hull, linear_root,
                          loglog_slope, ols, t_quantile)


def _power_law(rng, slope, n_x=5, reps=6, noise=0.1):
    x = np.repeat(2.0 ** np.arange(3, 3 + n_x), reps)
    y = 3.0 * x**slope * np.exp(noise * rng.standard_normal(len(x)))
    return x, y, np.arange(len(x))


def test_loglog_ci_covers_the_true_exponent_at_close_to_nominal_rate():
    rng = np.random.default_rng(0)
    trials, covered = 1000, 0
    for _ in range(trials):
        x, y, g = _power_law(rng, -1.0)
        lo, hi = loglog_slope(x, y, g, 0.95).ci(1)
        covered += lo <= -1.0 <= hi
    # binomial sd at 95% over 1000 trials is 0.7%; accept 93%..97%
    assert 0.93 <= covered / trials <= 0.97


@given(st.floats(-2.0, 1.0), st.integers(0, 10_000))
@settings(max_examples=30)
def test_a_wrong_prediction_is_rejected_and_the_right_one_holds(slope, seed):
    x, y, g = _power_law(np.random.default_rng(seed), slope, reps=10, noise=0.02)
    ci = [loglog_slope(x, y, g, 0.95).ci(1)]
    assert equivalence_verdict(ci, slope, 0.1) == "holds"
    assert equivalence_verdict(ci, slope + 0.5, 0.1) == "violated"


def test_too_few_samples_give_inconclusive_not_a_wrong_verdict():
    rng = np.random.default_rng(3)
    true_claim, false_claim = [], []
    for _ in range(200):
        x, y, g = _power_law(rng, -1.0, n_x=3, reps=1, noise=0.5)
        ci = [loglog_slope(x, y, g, 0.95).ci(1)]
        true_claim.append(equivalence_verdict(ci, -1.0, 0.1))
        false_claim.append(equivalence_verdict(ci, -1.5, 0.1))
    # the CI is mostly far wider than the band; wrong verdicts only at about the nominal 5% rate
    for verdicts, wrong in ((true_claim, "violated"), (false_claim, "holds")):
        assert verdicts.count("inconclusive") / len(verdicts) >= 0.8
        assert verdicts.count(wrong) / len(verdicts) <= 0.08


def test_fit_refuses_too_few_clusters():
    with pytest.raises(ValueError, match="too few"):
        ols(np.ones((2, 1)), np.ones(2), np.arange(2), 0.95)


def test_fieller_bounded_two_rays_and_whole_line():
    assert len(fieller_ratio(1.0, 2.0, 0.01, 0.01, 0.0, 2.0)) == 1
    rays = fieller_ratio(1.0, 0.05, 0.01, 0.01, 0.0, 2.0)
    assert len(rays) == 2 and rays[0][0] == -math.inf and rays[1][1] == math.inf
    assert fieller_ratio(0.01, 0.01, 1.0, 1.0, 0.0, 2.0) == [(-math.inf, math.inf)]


def test_root_of_linear_slope_covers_truth():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(300):
        b = np.repeat(np.linspace(0.3, 0.7, 5), 8)
        s = 1 - 2 * b + 0.03 * rng.standard_normal(len(b))
        fit = ols(np.column_stack([np.ones_like(b), b - 0.5]), s, np.arange(len(b)), 0.95)
        _, pieces = linear_root(fit, 0, 1, 0.5)
        covered += any(lo <= 0.5 <= hi for lo, hi in pieces)
    assert covered / 300 >= 0.92


def test_verdict_edges():
    assert equivalence_verdict([(0.46, 0.54)], 0.5, 0.05) == "holds"
    assert equivalence_verdict([(0.44, 0.54)], 0.5, 0.05) == "inconclusive"
    assert equivalence_verdict([(0.56, 0.6)], 0.5, 0.05) == "violated"
    assert equivalence_verdict([(-math.inf, 0.2), (0.9, math.inf)], 0.5, 0.05) == "violated"
    assert equivalence_verdict([(-math.inf, math.inf)], 0.5, 0.05) == "inconclusive"
    assert hull([(-math.inf, 0.2), (0.9, math.inf)]) == (-math.inf, math.inf)


def test_bonferroni_level():
    assert bonferroni_level(0.95, 5) == pytest.approx(0.99)


def test_t_quantile_is_scipys_two_sided_quantile():
    assert t_quantile(0.95, 9) == pytest.approx(2.2622, abs=1e-4)
    assert t_quantile(0.95, 10_000) == pytest.approx(1.96, abs=1e-3)


def test_distance_range_bounds_the_distance_of_a_set_from_zero():
    assert distance_range([(-0.1, 0.3)]) == (0.0, 0.3)  # contains 0
    assert distance_range([(0.5, 0.2)]) == (0.2, 0.5)  # ends in either order
    assert distance_range([(-0.4, -0.1), (0.2, 0.3)]) == (0.1, 0.4)
    assert all(math.isnan(v) for v in distance_range([]))

"""The catalogue's shared slope fits (claims/catalogue/measures.py) on synthetic data with a known answer."""
from __future__ import annotations

import numpy as np

from claims.catalogue.measures import power_law


def test_power_law_fit_recovers_the_exponent_and_covers() -> None:
    rng = np.random.default_rng(0)
    x = np.array([4.0, 8.0, 16.0, 32.0, 64.0])
    truth = -0.7 * x ** -1.3
    se = 0.08 * np.abs(truth)
    corr = 0.3 * np.ones((5, 5)) + 0.7 * np.eye(5)  # correlated means (same networks across depths)
    cov = corr * np.outer(se, se)
    chol = np.linalg.cholesky(cov)
    hits = 0
    for _ in range(400):
        fit = power_law(x, truth + chol @ rng.standard_normal(5), cov, 0.95)
        assert fit["ok"] and fit["sign"] == -1.0
        hits += fit["ci"][0] <= -1.3 <= fit["ci"][1]
    assert 0.91 <= hits / 400 <= 0.99


def test_power_law_tolerates_a_mean_of_the_other_sign_and_rejects_flat_noise() -> None:
    x = np.array([4.0, 8.0, 16.0, 32.0])
    mean = np.array([-0.05, 0.7, 1.4, 2.9])  # sign change at the smallest x: a residual, not a crash
    fit = power_law(x, mean, np.diag((0.02 * np.ones(4)) ** 2), 0.95)
    assert fit["ok"] and fit["slope"] > 0.5
    assert not power_law(x[:2], mean[:2], np.eye(2), 0.95)["ok"]  # too few points

import math

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from reference_impl.init import (
    CIRCULANT_FROM_DEPTH, circulant_draw, circulant_weights, draw_layer_weights, fbm_increment_correlation,
    mixing_factor, rbf_correlation,
)
from reference_impl.protocol import NetSpec


@given(st.floats(0.05, 0.95), st.integers(2, 64))
def test_fbm_increments_sum_to_variance_l_to_the_2h(hurst, depth):
    corr = fbm_increment_correlation(depth, hurst)
    assert torch.allclose(corr.diagonal(), torch.ones(depth, dtype=torch.float64))
    assert float(corr.sum()) == pytest.approx(depth ** (2 * hurst), rel=1e-9)


def test_fbm_half_is_iid_and_rbf_is_a_correlation():
    assert torch.allclose(fbm_increment_correlation(10, 0.5), torch.eye(10, dtype=torch.float64))
    r = rbf_correlation(20, 0.1)
    assert torch.allclose(r, r.T) and torch.allclose(r.diagonal(), torch.ones(20, dtype=torch.float64))


@pytest.mark.parametrize("init, param", [("gaussian", None), ("uniform", None), ("fbm", 0.8), ("rbf", 0.05)])
def test_every_family_has_entry_variance_sigma2_over_n(init, param):
    spec = NetSpec(width=32, depth=6, init=init, init_param=param, sigma_w2=2.0, dtype="float64")
    w = draw_layer_weights(spec, 200, (32, 32), torch.Generator().manual_seed(0))
    assert w.shape == (200, 6, 32, 32)
    assert float(w.var()) == pytest.approx(2.0 / 32, rel=0.03)


def test_fbm_weights_are_correlated_across_layers_as_declared():
    spec = NetSpec(width=16, depth=4, init="fbm", init_param=0.8, dtype="float64")
    w = draw_layer_weights(spec, 400, (16, 16), torch.Generator().manual_seed(1)).permute(1, 0, 2, 3).reshape(4, -1)
    measured = np.corrcoef(w.numpy())
    assert np.allclose(measured, fbm_increment_correlation(4, 0.8).numpy(), atol=0.02)


def test_same_seed_same_weights():
    spec = NetSpec(width=8, depth=3, init="rbf", init_param=0.1)
    a = draw_layer_weights(spec, 2, (8, 8), torch.Generator().manual_seed(5))
    b = draw_layer_weights(spec, 2, (8, 8), torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


@pytest.mark.parametrize("hurst", [0.2, 0.5, 0.55, 0.75, 0.95])
@pytest.mark.parametrize("depth", [2, 3, 17, 256, 1024])
def test_circulant_draw_has_exactly_the_fbm_increment_covariance(hurst, depth):
    """The draw is linear in its normals: pushing the identity through it gives the covariance exactly."""
    w = circulant_weights(hurst, depth)
    m = 2 * (w.shape[0] - 1)
    basis = circulant_draw(torch.eye(m, dtype=torch.float64), w, depth)  # row i: the draw from normal e_i
    torch.testing.assert_close(basis.T @ basis, fbm_increment_correlation(depth, hurst), atol=1e-10, rtol=0)


def test_deep_fbm_draws_use_the_circulant_path_with_the_declared_law():
    spec = NetSpec(width=4, depth=CIRCULANT_FROM_DEPTH, init="fbm", init_param=0.8, dtype="float64")
    w = draw_layer_weights(spec, 300, (4, 4), torch.Generator().manual_seed(2)).permute(1, 0, 2, 3).reshape(spec.depth, -1)
    lags = [0, 1, 2, 10]
    measured = [float((w[: spec.depth - d] * w[d:]).mean() * 4) for d in lags]
    exact = fbm_increment_correlation(11, 0.8)[0, lags].tolist()
    assert measured == pytest.approx(exact, abs=0.01)
    again = draw_layer_weights(spec, 300, (4, 4), torch.Generator().manual_seed(2))
    assert torch.equal(again.permute(1, 0, 2, 3).reshape(spec.depth, -1), w)


@pytest.mark.parametrize("variance", [0.001, 0.01, 0.1, 1.0])
@pytest.mark.parametrize("depth", [2, 16, 256])
def test_rbf_increments_telescope_and_the_low_rank_factor_is_exact(variance, depth):
    """sum_k V_k = (Z(1) - Z(0)) / sd: Var = (1 - e^(-1/(2v))) / (1 - e^(-1/(2 v L^2))) (init.py docstring)."""
    corr = rbf_correlation(depth, variance)
    expected = -math.expm1(-1 / (2 * variance)) / -math.expm1(-1 / (2 * variance * depth**2))
    assert float(corr.sum()) == pytest.approx(expected, rel=1e-9)
    factor = mixing_factor("rbf", variance, depth)
    torch.testing.assert_close(factor @ factor.T, corr, atol=1e-11, rtol=0)

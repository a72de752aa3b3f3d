import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from reference_impl.init import draw_layer_weights, fbm_increment_correlation, rbf_correlation
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

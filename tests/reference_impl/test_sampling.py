"""The exact init sampler agrees in distribution with dense weights (two-sample tests, fixed seeds)."""
import pytest
import torch
from scipy import stats

from reference_impl import NetSpec, make_reference, make_reference_dense
from reference_impl.sampling import conditional_vjp, gaussian_rows

ALPHA = 1e-3  # per test; with fixed seeds the outcome is deterministic, the level says how surprising a failure is


def _statistics(impl, spec, seed, s=3000):
    x = torch.randn(s, 2, spec.width, generator=torch.Generator().manual_seed(100 + seed), dtype=torch.float64)
    g = torch.randn(s, 2, spec.width, generator=torch.Generator().manual_seed(200 + seed), dtype=torch.float64)
    h, gr = impl.build(spec, s, torch.Generator().manual_seed(seed)).grad_trace(x, g)
    return {
        "forward ratio": (h[:, -1, 0].pow(2).sum(-1) / h[:, 0, 0].pow(2).sum(-1)).numpy(),
        "output overlap": ((h[:, -1, 0] * h[:, -1, 1]).sum(-1) / spec.width).numpy(),
        "backward ratio": (gr[:, 0, 0].pow(2).sum(-1) / gr[:, -1, 0].pow(2).sum(-1)).numpy(),
        "first coordinate": h[:, -1, 0, 0].numpy(),
    }


@pytest.mark.parametrize("block, preact, input_dim", [("res1", True, None), ("res3", True, None), ("res1", False, None),
                                                     ("res1w", True, None), ("res1w", True, 16)])
def test_fast_path_matches_dense_in_distribution(block, preact, input_dim):
    scale = "sigma_w2" if input_dim else "unit"
    spec = NetSpec(width=16, depth=6, block=block, preact=preact, bias_var=0.05, dtype="float64", sigma_w2=1.7,
                   input_dim=input_dim, input_scale=scale)
    fast, dense = _statistics(make_reference(), spec, 1), _statistics(make_reference_dense(), spec, 2)
    for name in fast:
        p = stats.ks_2samp(fast[name], dense[name]).pvalue
        assert p > ALPHA, f"{name}: KS p = {p:.2g} between fast and dense samplers"


def test_gaussian_rows_has_the_gram_covariance():
    x = torch.tensor([[[1.0, 0.0, 1.0], [0.0, 2.0, 0.0]]], dtype=torch.float64).expand(20000, 2, 3)
    z = gaussian_rows(x, 4, 0.5, torch.Generator().manual_seed(0))
    cov = torch.einsum("sbi,sci->bc", z, z) / (20000 * 4)
    assert torch.allclose(cov, 0.5 * x[0] @ x[0].T, atol=0.05)


def test_conditional_vjp_is_consistent_with_the_forward_product():
    """(D M) X^T = D (X M^T)^T = D Z^T exactly: the backward draw respects what the forward saw."""
    gen = torch.Generator().manual_seed(0)
    m = torch.randn(1, 5, 5, dtype=torch.float64, generator=gen)
    x = torch.randn(1, 2, 5, dtype=torch.float64, generator=gen)
    z = x @ m.transpose(1, 2)
    d = torch.randn(1, 3, 5, dtype=torch.float64, generator=gen)
    dm = conditional_vjp(x, z, d, 1.0, gen)
    assert torch.allclose(dm @ x.transpose(1, 2), d @ z.transpose(1, 2), atol=1e-9)
    assert not torch.allclose(dm, d @ m)  # the part orthogonal to X is a fresh draw


def test_one_input_shortcuts_equal_the_general_gram_algebra():
    from reference_impl.sampling import gram_factor, gram_pinv

    x = torch.randn(6, 1, 9, dtype=torch.float64)
    x[2] = 0.0  # a zero row: factor 0, pseudo-inverse 0
    gram = x @ x.transpose(1, 2)
    assert torch.allclose(gram_factor(x, 0.3) @ gram_factor(x, 0.3).transpose(1, 2), 0.3 * gram, atol=1e-12)
    assert torch.allclose(gram_pinv(x), torch.linalg.pinv(gram, hermitian=True), atol=1e-12)

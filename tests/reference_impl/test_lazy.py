"""The exact lazy conditional-Gaussian sampler against dense matrices (same statistics, same law)."""
from __future__ import annotations

import math

import pytest
import torch

from reference_impl.lazy import LazyGaussian


def _adaptive_sequence(mul, rmul, s: int, n: int) -> torch.Tensor:  # noqa: ANN001
    """An adaptive query sequence (each query depends on earlier products) -> statistics (S, 6)."""
    u1 = torch.zeros(s, n, 1, dtype=torch.float64)
    u1[:, 0, 0], u1[:, 1, 0] = 1.0, 0.5
    y1 = mul(u1)
    g1 = torch.tanh(y1) + 0.3
    c1 = rmul(g1)  # backward through the same matrix: correlated with y1
    u2 = torch.sin(c1) + u1
    y2 = mul(u2)
    g2 = y2**2
    c2 = rmul(g2)
    return torch.stack([
        y1[:, 0, 0] ** 2, (y1 * y2).sum((1, 2)), c1[:, 0, 0] * y1[:, 1, 0],
        (c2 * u2).sum((1, 2)), (c2**2).sum((1, 2)), (c1 * u1).sum((1, 2)),
    ], 1)


def test_adaptive_queries_match_dense_in_distribution() -> None:
    s, n = 40000, 5
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(s, n, n, generator=gen, dtype=torch.float64) / math.sqrt(n)
    dense = _adaptive_sequence(lambda u: w @ u, lambda g: w.transpose(1, 2) @ g, s, n)
    lazy_w = LazyGaussian(s, n, n, 1.0 / n, torch.Generator().manual_seed(1), capacity=1)
    lazy = _adaptive_sequence(lazy_w.matmul, lazy_w.rmatmul, s, n)
    for j in range(dense.shape[1]):
        diff = dense[:, j].mean() - lazy[:, j].mean()
        se = math.sqrt(dense[:, j].var() / s + lazy[:, j].var() / s)
        assert abs(float(diff)) < 4.5 * se, f"statistic {j}: dense {dense[:, j].mean():.4g} lazy {lazy[:, j].mean():.4g}"


def test_single_product_has_the_gaussian_law() -> None:
    s, n = 20000, 7
    lz = LazyGaussian(s, n, n, 2.0 / n, torch.Generator().manual_seed(3))
    u = torch.ones(s, n, 1, dtype=torch.float64)
    y = lz.matmul(u)[:, :, 0]  # entries N(0, |u|^2 * 2/n) = N(0, 2)
    assert abs(float(y.var()) - 2.0) < 0.05
    assert abs(float(y.mean())) < 0.02


def test_state_stays_consistent_and_repeats_are_exact() -> None:
    s, n = 64, 12
    lz = LazyGaussian(s, n, n, 1.0 / n, torch.Generator().manual_seed(4), capacity=2)
    gen = torch.Generator().manual_seed(5)
    u = torch.randn(s, n, 3, generator=gen, dtype=torch.float64)
    y = lz.matmul(u)
    g = torch.tanh(y)
    c = lz.rmatmul(g)
    y_again = lz.matmul(u[:, :, :1] * 2.0 - u[:, :, 1:2])  # in the span: no new randomness
    assert torch.allclose(y_again[:, :, 0], 2 * y[:, :, 0] - y[:, :, 1], atol=1e-10)
    c_again = lz.rmatmul(g[:, :, 2:3])
    assert torch.allclose(c_again[:, :, 0], c[:, :, 2], atol=1e-10)
    assert lz.consistency_error() < 1e-10
    # (g^T W u) computed forward and backward agree: the same matrix is seen from both sides
    lhs = (g[:, :, 0] * lz.matmul(u[:, :, 2:3])[:, :, 0]).sum(1)
    rhs = (c[:, :, 0] * u[:, :, 2]).sum(1)
    assert torch.allclose(lhs, rhs, atol=1e-10)
    assert lz.columns[0] > 2  # capacity grew past its initial 2 columns


def test_rectangular_and_bad_variance() -> None:
    lz = LazyGaussian(8, 3, 5, 1.0, torch.Generator().manual_seed(0))
    assert lz.matmul(torch.ones(8, 5, 2, dtype=torch.float64)).shape == (8, 3, 2)
    assert lz.rmatmul(torch.ones(8, 3, 1, dtype=torch.float64)).shape == (8, 5, 1)
    with pytest.raises(ValueError, match="var"):
        LazyGaussian(1, 2, 2, 0.0, torch.Generator())

"""Weight draws across layers: i.i.d. (Gaussian, uniform) and smooth (fBm increments, RBF GP).

Marion et al. (arXiv 2206.06929) index weights by layer k = 0..L-1 and, for smooth
initialisations, take each entry's sequence k -> V_k[i, j] from a stochastic process on [0, 1]
sampled at k/L. We normalise every family to marginal variance sigma_w2 / n per entry, so the
families differ only in their correlation across layers.
"""
from __future__ import annotations

import math

import torch

from .protocol import NetSpec


def fbm_increment_correlation(depth: int, hurst: float) -> torch.Tensor:
    """Correlation matrix (L, L) of unit-variance fBm increments on a regular grid.

    corr(k, j) = (|d+1|^2H - 2|d|^2H + |d-1|^2H) / 2 with d = k - j; H = 1/2 is the identity.
    Self-similarity makes the variance of a sum of L of them L^(2H), the fact the smooth claim uses.
    """
    d = torch.arange(depth, dtype=torch.float64)
    d = (d[:, None] - d[None, :]).abs()
    two_h = 2.0 * hurst
    return 0.5 * ((d + 1) ** two_h - 2 * d**two_h + (d - 1).abs() ** two_h)


def rbf_correlation(depth: int, bandwidth: float) -> torch.Tensor:
    """Correlation matrix (L, L) of an RBF Gaussian process on [0, 1] sampled at k/L."""
    t = torch.arange(depth, dtype=torch.float64) / depth
    return torch.exp(-((t[:, None] - t[None, :]) ** 2) / (2.0 * bandwidth**2))


def _psd_sqrt_factor(corr: torch.Tensor) -> torch.Tensor:
    """A factor F with F F^T = corr, robust to the near-singular RBF matrices (eigh, clipped)."""
    evals, evecs = torch.linalg.eigh(corr)
    return evecs * evals.clamp_min(0.0).sqrt()


def layer_correlation(spec: NetSpec) -> torch.Tensor | None:
    """Across-layer correlation of one weight entry, or None for i.i.d. families."""
    if spec.init == "fbm":
        return fbm_increment_correlation(spec.depth, float(spec.init_param))
    if spec.init == "rbf":
        return rbf_correlation(spec.depth, float(spec.init_param))
    return None


def draw_layer_weights(
    spec: NetSpec, n_networks: int, shape: tuple[int, int], generator: torch.Generator
) -> torch.Tensor:
    """Weights (S, L, rows, cols) with entry variance sigma_w2 / cols, correlated across L per spec.init."""
    std = math.sqrt(spec.sigma_w2 / shape[1])  # fan-in 1/n scaling: entries N(0, sigma_w^2 / n)
    full = (n_networks, spec.depth, *shape)
    dtype, device = spec.torch_dtype, spec.device
    if spec.init == "uniform":
        u = torch.rand(full, generator=generator, dtype=dtype, device=device)
        return (2.0 * u - 1.0) * (math.sqrt(3.0) * std)  # U[-sqrt(3) std, sqrt(3) std] has variance std^2
    z = torch.randn(full, generator=generator, dtype=dtype, device=device)
    corr = layer_correlation(spec)
    if corr is not None:
        factor = _psd_sqrt_factor(corr).to(dtype=dtype, device=device)
        z = torch.matmul(factor, z.reshape(n_networks, spec.depth, -1)).view(full)  # one batched GEMM (5x einsum)
    return z * std

"""Weight draws across layers: i.i.d. (Gaussian, uniform) and smooth (fBm increments, RBF GP increments).

Marion et al. (arXiv 2206.06929) index weights by layer k = 0..L-1 and, for smooth
initialisations, take each entry's sequence k -> V_k[i, j] as the increments of a stochastic
process on [0, 1] sampled on linspace(0, 1, L + 1). We normalise every family to marginal
variance sigma_w2 / n per entry, so the families differ only in their correlation across layers:

- ``fbm`` (init_param = Hurst index H): unit-variance fBm increments, correlation at lag d
  r(d) = (|d+1|^2H - 2|d|^2H + |d-1|^2H) / 2 (H = 1/2 is i.i.d.).
- ``rbf`` (init_param = v, the kernel variance Marion et al. call "regularity"; bandwidth sqrt(v)):
  increments dZ_k = Z((k+1)/L) - Z(k/L) of a GP with kernel exp(-(s - t)^2 / (2 v)), divided by
  their exact standard deviation sqrt(2 (1 - exp(-1/(2 v L^2)))). Marion et al.'s code divides by
  the empirical mean standard deviation over entries instead, a scalar that tends to this one; the
  laws agree up to that scalar. The increments telescope, so sum_k V_k = (Z(1) - Z(0)) / sd and
  Var(sum_k V_k) = (1 - e^(-1/(2v))) / (1 - e^(-x)), x = 1/(2 v L^2): the log-log slope of that in L
  is 2 x / (e^x - 1), which tends to 2 (smooth, neural-ODE regime) only once v L^2 >> 1.

Deep fBm draws use exact circulant embedding (Davies-Harte): O(L log L) per entry instead of the
O(L^2) mixing GEMM. The RBF correlation has numerical rank r << L, so its draws mix r normals per entry.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import torch

from .protocol import NetSpec

Autocorrelation = Callable[[torch.Tensor], torch.Tensor]
# fBm draws switch from the L x L mixing GEMM (L normals + 2 L^2 flops per entry) to circulant embedding
# (2 L normals + O(L log L)) at this depth: measured 0.34 s against 0.41 s at L = 512 and 0.98 s against
# 0.69 s at L = 1024 (8 networks of 32 x 32, one thread; docs/performance.md).
CIRCULANT_FROM_DEPTH = 768


def fbm_autocorrelation(hurst: float) -> Autocorrelation:
    """Lag d -> correlation of unit-variance fBm increments; sum of L of them has variance L^(2H)."""
    two_h = 2.0 * hurst
    return lambda d: 0.5 * ((d + 1).abs() ** two_h - 2 * d.abs() ** two_h + (d - 1).abs() ** two_h)


def rbf_autocorrelation(depth: int, variance: float) -> Autocorrelation:
    """Lag d -> correlation of the normalised RBF-GP increments on linspace(0, 1, L + 1) (module docstring).

    With k_d = exp(-d^2 / (2 v L^2)) and e(d) = k_d - k_(d+1) (computed with expm1, no cancellation),
    the increments' covariance is e(d) - e(d - 1) for d >= 1 and 2 e(0) at d = 0.
    """
    scale = 2.0 * variance * depth**2

    def e(d: torch.Tensor) -> torch.Tensor:
        return -torch.exp(-(d**2) / scale) * torch.expm1(-(2 * d + 1) / scale)

    def acf(d: torch.Tensor) -> torch.Tensor:
        d = d.abs()
        cov = torch.where(d == 0, 2 * e(d), e(d) - e((d - 1).clamp_min(0)))
        return cov / (2 * e(torch.zeros((), dtype=d.dtype)))

    return acf


def _toeplitz(acf: Autocorrelation, depth: int) -> torch.Tensor:
    d = torch.arange(depth, dtype=torch.float64)
    return acf(d[:, None] - d[None, :])


def fbm_increment_correlation(depth: int, hurst: float) -> torch.Tensor:
    """Correlation matrix (L, L) of unit-variance fBm increments on a regular grid."""
    return _toeplitz(fbm_autocorrelation(hurst), depth)


def rbf_correlation(depth: int, variance: float) -> torch.Tensor:
    """Correlation matrix (L, L) of the normalised RBF-GP increments (kernel variance ``variance``)."""
    return _toeplitz(rbf_autocorrelation(depth, variance), depth)


@lru_cache(maxsize=64)
def circulant_weights(hurst: float, depth: int) -> torch.Tensor:
    """Spectral weights w_k (m/2 + 1,) of the circulant embedding (size m = 2(L-1)) of the fBm
    increments' correlation, such that :func:`circulant_draw` is exact.

    The embedding's eigenvalues lam_k are the real DFT of the periodised autocorrelation, non-negative
    for fBm increments at every H (Davies and Harte 1987; Craigmile 2003); a real Hermitian draw with
    variance lam_k per frequency, inverse-transformed, has exactly the circulant covariance, whose
    top-left L x L block is the Toeplitz correlation.
    """
    m = 2 * max(depth - 1, 1)
    gamma = fbm_autocorrelation(hurst)(torch.arange(m // 2 + 1, dtype=torch.float64))
    lam = torch.fft.rfft(torch.cat([gamma, gamma[1:-1].flip(0)])).real
    if float(lam.min()) < -1e-9 * float(lam.max()):
        raise ValueError(f"fbm init_param={hurst} depth={depth}: circulant embedding has a negative eigenvalue "
                         f"{float(lam.min()):.3g}; expected H in (0, 1)")
    w = (lam.clamp_min(0.0) * m).sqrt()
    w[1 : m // 2] *= math.sqrt(0.5)  # complex frequencies: real and imaginary parts share the variance
    return w


@lru_cache(maxsize=64)
def mixing_factor(init: str, param: float, depth: int) -> torch.Tensor:
    """F (L, r) with F F^T the layer correlation: the full eigen-factor for fBm (r = L), and for RBF
    increments only the eigenvalues above 1e-13 of the largest (their spectrum falls off faster than
    geometrically, so r is a few dozen at any L; no covariance entry moves by more than ~1e-12)."""
    corr = fbm_increment_correlation(depth, param) if init == "fbm" else rbf_correlation(depth, param)
    evals, evecs = torch.linalg.eigh(corr)
    keep = evals > (1e-13 * float(evals[-1]) if init == "rbf" else -math.inf)
    return evecs[:, keep] * evals[keep].clamp_min(0.0).sqrt()


def circulant_draw(z: torch.Tensor, w: torch.Tensor, depth: int) -> torch.Tensor:
    """Map standard normals z (..., m) to draws (..., L) with the embedded Toeplitz correlation.

    z[..., :m/2+1] are the real parts of frequencies 0..m/2, z[..., m/2+1:] the imaginary parts of
    frequencies 1..m/2-1 (0 and m/2 are real), so m normals make one exact draw.
    """
    half = w.shape[0] - 1
    w = w.to(z.dtype)
    imag = torch.zeros_like(z[..., : half + 1])
    imag[..., 1:half] = z[..., half + 1 :]
    spectrum = torch.complex(z[..., : half + 1] * w, imag * w)
    return torch.fft.irfft(spectrum, n=2 * half)[..., :depth]


def normals64(shape: tuple[int, ...], std: float, generator: torch.Generator,
              device: str | torch.device = "cpu") -> torch.Tensor:
    """N(0, std^2) entries as float64, drawn in float32: float64 normals cost about three times as
    much on CPU, and float32 rounding (1e-7 relative) is far below any statistic the claims resolve."""
    return torch.empty(shape, device=device).normal_(0.0, std, generator=generator).double()


def draw_layer_weights(
    spec: NetSpec, n_networks: int, shape: tuple[int, int], generator: torch.Generator
) -> torch.Tensor:
    """Weights (S, L, rows, cols) with entry variance sigma_w2 / cols, correlated across L per spec.init.

    Draw order is network-major (network s's normals precede network s+1's).
    """
    std = math.sqrt(spec.sigma_w2 / shape[1])  # fan-in 1/n scaling: entries N(0, sigma_w^2 / n)
    full = (n_networks, spec.depth, *shape)
    dtype, device = spec.torch_dtype, spec.device
    # one in-place fill each (the stream of torch.rand / torch.randn, scaled in the same pass)
    if spec.init == "uniform":  # U[-sqrt(3) std, sqrt(3) std] has variance std^2
        bound = math.sqrt(3.0) * std
        return torch.empty(full, dtype=dtype, device=device).uniform_(-bound, bound, generator=generator)
    if spec.init not in ("fbm", "rbf") or spec.depth == 1:
        return torch.empty(full, dtype=dtype, device=device).normal_(0.0, std, generator=generator)
    entries = shape[0] * shape[1]
    if spec.init == "fbm" and spec.depth >= CIRCULANT_FROM_DEPTH:
        w = circulant_weights(float(spec.init_param), spec.depth).to(device)
        m = 2 * (w.shape[0] - 1)
        out = torch.empty(full, dtype=dtype, device=device)
        for s in range(n_networks):  # one network per call keeps the draw order network-major
            z = torch.randn(entries, m, generator=generator, dtype=dtype, device=device)
            out[s] = (circulant_draw(z, w, spec.depth).T * std).reshape(spec.depth, *shape)
        return out
    factor = mixing_factor(spec.init, float(spec.init_param), spec.depth).to(dtype=dtype, device=device)
    z = torch.randn(n_networks, factor.shape[1], entries, generator=generator, dtype=dtype, device=device)
    return torch.matmul(factor, z).view(full) * std  # one batched GEMM (5x einsum)

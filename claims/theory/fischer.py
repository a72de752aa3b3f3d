"""Mean-field theory of the residual network of Fischer, Dahmen & Helias (arXiv 2305.07715).

Network (reference_impl NetSpec block="res1", preact=True, beta=0, scale=alpha):

    h_{l+1} = h_l + alpha (V_l phi(h_l) + b_l),   V_l entries N(0, sigma_w2 / N),  b_l ~ N(0, bias_var),

with h_0 the input (i.i.d. N(0, q0) coordinates, or any input of squared norm q0 N whose
coordinates look Gaussian). Everything here is *derived* from this recursion (the paper's text
could not be read; see claims/catalogue/fischer2023.md for the derivations and what is quoted).

Infinite width. Given h_l the branch is Gaussian and independent of h_l, so cross terms vanish:
    K_{l+1}   = K_l   + alpha^2 (sigma_w2 E[phi(u)^2]    + bias_var)
    K12_{l+1} = K12_l + alpha^2 (sigma_w2 E[phi(u)phi(v)] + bias_var),   (u, v) ~ N(0, [[K, K12], [K12, K]]).

Response function (derived definition). The sensitivity of the output correlation
c_L = K12_L / K_L to the input correlation c_0 of two inputs of equal norm:
    chi = d c_L / d c_0 = (q0 / K_L) prod_{l<L} (1 + alpha^2 sigma_w2 E[phi'(u) phi'(v)])
(Price's theorem: d E[phi(u)phi(v)] / d K12 = E[phi'(u)phi'(v)]; the diagonal does not depend on c_0).

Optimal scaling. alpha* = argmax_alpha chi. In the continuum limit (t = alpha^2 sigma_w2 l) chi
depends on alpha, sigma_w2 and L only through tau = alpha^2 sigma_w2 L, so
    alpha* = sqrt(tau* / (sigma_w2 L)),
with tau* the point where the last layer's slope of the correlation map crosses one:
    K(tau) E[phi'(u) phi'(v)] = E[phi(u)^2] + bias_var / sigma_w2.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.integrate import solve_ivp

from .gaussian import dphi_dphi, fourth_cross, phi_phi, second_moment

Array = np.ndarray


def _check(depth: int, q0: float, sigma_w2: float, bias_var: float) -> None:
    if not (isinstance(depth, (int, np.integer)) and depth >= 1):
        raise ValueError(f"depth={depth!r} is invalid: expected a positive integer (number of residual blocks)")
    if not q0 > 0:
        raise ValueError(f"q0={q0!r} is invalid: expected a positive input variance per coordinate")
    if not sigma_w2 > 0:
        raise ValueError(f"sigma_w2={sigma_w2!r} is invalid: expected a positive weight variance")
    if not bias_var >= 0:
        raise ValueError(f"bias_var={bias_var!r} is invalid: expected a non-negative bias variance")


# ----------------------------------------------------------------------------- recursions
def variance_recursion(q0: float, depth: int, alpha: Any, sigma_w2: float = 1.0, bias_var: float = 0.0,
                       activation: str = "erf") -> Array:
    """Infinite-width K_l = lim (1/N) |h_l|^2 for l = 0..L: shape (L+1, *alpha.shape)."""
    _check(depth, q0, sigma_w2, bias_var)
    a2 = np.asarray(alpha, float) ** 2
    k = np.full(a2.shape, float(q0))
    out = [k]
    for _ in range(depth):
        k = k + a2 * (sigma_w2 * second_moment(activation, k) + bias_var)
        out.append(k)
    return np.stack(out)


def pair_recursion(q0: float, c0: float, depth: int, alpha: Any, sigma_w2: float = 1.0, bias_var: float = 0.0,
                   activation: str = "erf") -> tuple[Array, Array]:
    """(K_l, K12_l), l = 0..L, for two inputs of variance q0 and correlation c0; each (L+1, *alpha.shape)."""
    _check(depth, q0, sigma_w2, bias_var)
    if not -1.0 <= c0 <= 1.0:
        raise ValueError(f"c0={c0!r} is invalid: a correlation lies in [-1, 1]")
    a2 = np.asarray(alpha, float) ** 2
    k = np.full(a2.shape, float(q0))
    k12 = np.full(a2.shape, float(q0 * c0))
    ks, k12s = [k], [k12]
    for _ in range(depth):
        k, k12 = (k + a2 * (sigma_w2 * second_moment(activation, k) + bias_var),
                  k12 + a2 * (sigma_w2 * phi_phi(activation, k, k, k12) + bias_var))
        ks.append(k)
        k12s.append(k12)
    return np.stack(ks), np.stack(k12s)


def output_correlation(q0: float, c0: float, depth: int, alpha: Any, sigma_w2: float = 1.0, bias_var: float = 0.0,
                       activation: str = "erf") -> Array:
    """c_L = K12_L / K_L (shape of alpha)."""
    k, k12 = pair_recursion(q0, c0, depth, alpha, sigma_w2, bias_var, activation)
    return k12[-1] / k[-1]


def correlation_response(q0: float, c0: float, depth: int, alpha: Any, sigma_w2: float = 1.0, bias_var: float = 0.0,
                         activation: str = "erf", dc: float = 0.0) -> Array:
    """The response chi (shape of alpha).

    ``dc = 0``: chi = d c_L / d c_0 by the chain rule through the recursion,
        chi = (q0 / K_L) prod_{l<L} (1 + alpha^2 sigma_w2 E[phi'(u_l) phi'(v_l)]).
    ``dc > 0``: the secant (c_L(c0 + dc) - c_L(c0 - dc)) / (2 dc), what a finite input perturbation
    measures; it tends to the derivative as dc -> 0 (O(dc^2)).
    """
    if dc > 0:
        if not (-1.0 <= c0 - dc and c0 + dc <= 1.0):
            raise ValueError(f"c0 +- dc = {c0} +- {dc} leaves [-1, 1]")
        hi = output_correlation(q0, c0 + dc, depth, alpha, sigma_w2, bias_var, activation)
        lo = output_correlation(q0, c0 - dc, depth, alpha, sigma_w2, bias_var, activation)
        return (hi - lo) / (2.0 * dc)
    k, k12 = pair_recursion(q0, c0, depth, alpha, sigma_w2, bias_var, activation)
    a2 = np.asarray(alpha, float) ** 2
    log_prod = np.log1p(a2 * sigma_w2 * dphi_dphi(activation, k[:-1], k[:-1], k12[:-1])).sum(axis=0)
    return q0 / k[-1] * np.exp(log_prod)


# ----------------------------------------------------------------------------- optimal alpha
def alpha_star(depth: int, sigma_w2: float = 1.0, q0: float = 1.0, c0: float = 0.99, bias_var: float = 0.0,
               activation: str = "erf", dc: float = 0.0, lo: float = 1e-3, hi: float = 50.0) -> float:
    """argmax over alpha of the infinite-width response at finite depth.

    A log grid of 121 points on [lo, hi], then four zooms (41 points on the two cells around the
    best point each), then a parabola through the last three points: relative precision ~1e-8,
    with every step one vectorised pass of the recursion.
    """
    grid = np.geomspace(lo, hi, 121)
    chi = correlation_response(q0, c0, depth, grid, sigma_w2, bias_var, activation, dc)
    i = int(np.argmax(chi))
    if i in (0, len(grid) - 1):
        raise ValueError(f"the response has no interior maximum in alpha in [{lo:g}, {hi:g}] "
                         f"(depth={depth}, sigma_w2={sigma_w2}, c0={c0}); widen the range")
    for _ in range(4):
        grid = np.geomspace(grid[i - 1], grid[i + 1], 41)
        chi = correlation_response(q0, c0, depth, grid, sigma_w2, bias_var, activation, dc)
        i = min(max(int(np.argmax(chi)), 1), len(grid) - 2)
    x, y = np.log(grid[i - 1:i + 2]), np.log(chi[i - 1:i + 2])
    denom = y[0] - 2 * y[1] + y[2]
    step = x[1] - x[0]
    shift = 0.5 * step * (y[0] - y[2]) / denom if denom < 0 else 0.0
    return float(math.exp(x[1] + shift))


def continuum_tau_star(q0: float = 1.0, c0: float = 0.99, bias_ratio: float = 0.0, activation: str = "erf",
                       t_max: float = 1e5) -> float:
    """tau* of the continuum limit: the t where K E[phi'(u)phi'(v)] - E[phi(u)^2] - bias_ratio changes sign.

    ODE in t = alpha^2 sigma_w2 l: dK/dt = E[phi^2] + r, dK12/dt = E[phi(u)phi(v)] + r, r = bias_var / sigma_w2.
    """
    if not 0 < c0 < 1:
        raise ValueError(f"c0={c0!r} is invalid: the continuum optimum needs 0 < c0 < 1")

    def rhs(_t: float, y: Array) -> Array:
        k, k12 = y
        return np.array([second_moment(activation, k) + bias_ratio, phi_phi(activation, k, k, k12) + bias_ratio])

    def slope_minus_one(_t: float, y: Array) -> float:
        k, k12 = y
        return float(k * dphi_dphi(activation, k, k, k12) - second_moment(activation, k) - bias_ratio)

    if slope_minus_one(0.0, np.array([q0, c0 * q0])) <= 0:
        raise ValueError(f"chi decreases from alpha = 0 on for q0={q0}, c0={c0}: no interior optimum")
    slope_minus_one.terminal = True  # type: ignore[attr-defined]
    slope_minus_one.direction = -1  # type: ignore[attr-defined]
    sol = solve_ivp(rhs, (0.0, t_max), np.array([q0, c0 * q0]), events=slope_minus_one, rtol=1e-10, atol=1e-12)
    if not sol.t_events[0].size:
        raise ValueError(f"no optimum before t = {t_max:g} for q0={q0}, c0={c0}")
    return float(sol.t_events[0][0])


def alpha_star_formula(depth: int, sigma_w2: float = 1.0, q0: float = 1.0, c0: float = 0.99, bias_var: float = 0.0,
                       activation: str = "erf") -> float:
    """The continuum formula alpha* = sqrt(tau*(q0, c0, bias_var / sigma_w2) / (sigma_w2 L))."""
    _check(depth, q0, sigma_w2, bias_var)
    return math.sqrt(continuum_tau_star(q0, c0, bias_var / sigma_w2, activation) / (sigma_w2 * depth))


def _peak(depth: int, sigma_w2: float, q0: float, c0: float, bias_var: float, activation: str,
          dc: float) -> tuple[float, float]:
    top = alpha_star(depth, sigma_w2, q0, c0, bias_var, activation, dc)
    return top, float(correlation_response(q0, c0, depth, top, sigma_w2, bias_var, activation, dc))


def response_gain(depth: int, alpha: Any, sigma_w2: float = 1.0, q0: float = 1.0, c0: float = 0.99,
                  bias_var: float = 0.0, activation: str = "erf", dc: float = 0.0) -> Array:
    """(chi(alpha) - 1) / (max chi - 1): the share of the maximal response gain reached at alpha
    (chi = 1 at alpha = 0, the identity network; 1 at the optimum)."""
    _, chi_max = _peak(depth, sigma_w2, q0, c0, bias_var, activation, dc)
    return (correlation_response(q0, c0, depth, alpha, sigma_w2, bias_var, activation, dc) - 1.0) / (chi_max - 1.0)


def near_max_region(depth: int, fraction: float, sigma_w2: float = 1.0, q0: float = 1.0, c0: float = 0.99,
                    bias_var: float = 0.0, activation: str = "erf", dc: float = 0.0) -> tuple[float, float]:
    """The alpha interval where the gain share (see ``response_gain``) is at least ``fraction``.

    Bisection in log alpha on each side of the optimum; the upper end is inf when the gain never
    falls below ``fraction`` again (up to alpha = 1e3).
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction={fraction!r} is invalid: expected a number in (0, 1)")
    top, chi_max = _peak(depth, sigma_w2, q0, c0, bias_var, activation, dc)

    def excess(a: float) -> float:
        chi = float(correlation_response(q0, c0, depth, a, sigma_w2, bias_var, activation, dc))
        return (chi - 1.0) / (chi_max - 1.0) - fraction

    def edge(inside: float, outside: float) -> float:
        for _ in range(100):
            mid = math.sqrt(inside * outside)
            if excess(mid) >= 0:
                inside = mid
            else:
                outside = mid
            if abs(math.log(outside / inside)) < 1e-9:
                break
        return math.sqrt(inside * outside)

    upper = edge(top, 1e3) if excess(1e3) < 0 else math.inf
    return edge(top, 1e-6), upper


# ----------------------------------------------------------------------------- finite width
def finite_width_correction(q0: float, depth: int, alpha: float, sigma_w2: float = 1.0, bias_var: float = 0.0,
                            activation: str = "erf") -> Array:
    """kappa_l, l = 0..L, with E[(1/N)|h_l|^2] = K_l + kappa_l / N + O(1/N^2) (derived, one loop).

    Assumes h_0 has i.i.d. N(0, q0) coordinates. With Gaussian weights the update is exactly
    h_{l+1} = h_l + sqrt(a_l) z_l, a_l = alpha^2 (sigma_w2 Phi_l + bias_var), Phi_l = (1/N)|phi(h_l)|^2,
    so E K^_{l+1} = E K^_l + E a_l and kappa_l = alpha^2 sigma_w2 sum_{k<l} c_k, where
    E Phi_l = g(K_l) + c_l / N. c_l collects (derivation in claims/catalogue/fischer2023.md):
    the mean shift of earlier variances, the covariance of the common variance a_k with the
    empirical measure it acts on, and the curvature g'' times Var(a_k).
    """
    _check(depth, q0, sigma_w2, bias_var)
    L = depth
    e = alpha**2 * sigma_w2
    K = variance_recursion(q0, L, alpha, sigma_w2, bias_var, activation)  # (L+1,)
    g0 = second_moment(activation, K)
    g1 = second_moment(activation, K, 1)
    g2 = second_moment(activation, K, 2)
    i, j = np.meshgrid(np.arange(L + 1), np.arange(L + 1), indexing="ij")
    kmin, kmax = K[np.minimum(i, j)], K[np.maximum(i, j)]
    # N Cov(eps_i(phi^2), eps_j(phi^2)) for particles h^j = h^i + independent noise (i <= j)
    C = fourth_cross(activation, kmin, kmax, kmin) - g0[i] * g0[j]
    # R[j, l] = N Cov(eps_j(phi^2), eps_k(F_k^(l))) for j <= k < l: M22(K_j, K_l, K_j) - g(K_j) g'(K_l)
    R = fourth_cross(activation, K[i], K[j], K[i], d22=True) - g0[i] * g1[j]
    # w[k, j] = e prod_{m=j+1}^{k-1} (1 + e g'(K_m)),  j < k: A_k = sum_j w[k, j] eps_j(phi^2)
    logf = np.concatenate([[0.0], np.cumsum(np.log1p(e * g1))])  # logf[m] = sum_{m' < m} log(1 + e g1[m'])
    w = np.zeros((L + 1, L + 1))
    for k in range(1, L + 1):
        jj = np.arange(k)
        w[k, :k] = e * np.exp(logf[k] - logf[jj + 1])
    var_a = np.einsum("kj,ji,ki->k", w, C, w)  # N Var(A_k)
    cov_ea = np.einsum("kj,jk->k", w, C)  # N Cov(eps_k, A_k)
    var_da = e**2 * (np.diag(C) + 2 * g1 * cov_ea + g1**2 * var_a)  # N Var(delta a_k)
    wr = w @ R  # wr[k, l] = sum_j w[k, j] R[j, l]
    c = np.zeros(L + 1)
    for ell in range(1, L + 1):
        k = np.arange(ell)
        x = e * (R[k, ell] + g1[k] * wr[k, ell] + g2[ell] * cov_ea[k] + g1[k] * g2[ell] * var_a[k])
        c[ell] = np.sum(e * c[k] * g1[ell] + x + 0.5 * var_da[k] * g2[ell])
    return np.concatenate([[0.0], e * np.cumsum(c[:-1])])

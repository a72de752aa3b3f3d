"""Mean-field theory of the residual network of Fischer, Dahmen & Helias (arXiv 2305.07715).

Networks (reference_impl NetSpec preact=True, beta=0, scale=alpha; ``form`` selects the block):

    res1:  h_{l+1} = h_l + alpha (V_l phi(h_l) + b_l),   V_l entries N(0, sigma_w2 / N),  b_l ~ N(0, bias_var),
    res1w: h_{l+1} = h_l + alpha phi(V_l h_l + b_l),

with h_0 the input (i.i.d. N(0, q0) coordinates, or any input of squared norm q0 N whose
coordinates look Gaussian; an input layer of variance sigma_w2 / d makes q0 -> sigma_w2 q0).
Everything here is derived from these recursions, not quoted from the paper (derivations and
quotes: claims/catalogue/fischer2023.md). Formulas below are written for res1.

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
from typing import Any, Callable

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import erf as _erf

from .gaussian import dphi_dphi, erf_sq_shifted, fourth_cross, normal_rule, phi_phi, second_moment

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


# ----------------------------------------------------------------------------- block forms
FORMS = ("res1", "res1w")  # h + alpha (V phi(h) + b)  |  h + alpha phi(V h + b)


def branch_kernel(form: str, activation: str, k: Array, k12: Array, sigma_w2: float, bias_var: float,
                  ) -> tuple[Array, Array, Array]:
    """Per alpha^2: the branch's E[b_a^2], E[b_a b_b] and d E[b_a b_b] / d K12 at the kernel (K, K12).

    res1:  b = V phi(h) + b0:   sigma_w2 E[phi(u) phi(v)] + bias_var,  (u, v) ~ N(0, [[K, K12], [K12, K]]);
    res1w: b = phi(V h + b0):   E[phi(u) phi(v)],  (u, v) ~ N(0, sigma_w2 [[K, K12], [K12, K]] + bias_var).
    The slope is sigma_w2 E[phi'(u) phi'(v)] in both (Price's theorem; chain rule for res1w).
    """
    if form == "res1":
        return (sigma_w2 * second_moment(activation, k) + bias_var,
                sigma_w2 * phi_phi(activation, k, k, k12) + bias_var,
                sigma_w2 * dphi_dphi(activation, k, k, k12))
    if form == "res1w":
        kk, kc = sigma_w2 * k + bias_var, sigma_w2 * k12 + bias_var
        return second_moment(activation, kk), phi_phi(activation, kk, kk, kc), sigma_w2 * dphi_dphi(activation, kk, kk, kc)
    raise ValueError(f"form={form!r} is invalid; allowed: {', '.join(FORMS)}")


# ----------------------------------------------------------------------------- recursions
def variance_recursion(q0: float, depth: int, alpha: Any, sigma_w2: float = 1.0, bias_var: float = 0.0,
                       activation: str = "erf", form: str = "res1") -> Array:
    """Infinite-width K_l = lim (1/N) |h_l|^2 for l = 0..L: shape (L+1, *alpha.shape)."""
    return pair_recursion(q0, 1.0, depth, alpha, sigma_w2, bias_var, activation, form)[0]


def pair_recursion(q0: float, c0: float, depth: int, alpha: Any, sigma_w2: float = 1.0, bias_var: float = 0.0,
                   activation: str = "erf", form: str = "res1") -> tuple[Array, Array]:
    """(K_l, K12_l), l = 0..L, for two inputs of variance q0 and correlation c0; each (L+1, *alpha.shape)."""
    _check(depth, q0, sigma_w2, bias_var)
    if not -1.0 <= c0 <= 1.0:
        raise ValueError(f"c0={c0!r} is invalid: a correlation lies in [-1, 1]")
    a2 = np.asarray(alpha, float) ** 2
    k = np.full(a2.shape, float(q0))
    k12 = np.full(a2.shape, float(q0 * c0))
    ks, k12s = [k], [k12]
    for _ in range(depth):
        dk, dk12, _ = branch_kernel(form, activation, k, k12, sigma_w2, bias_var)
        k, k12 = k + a2 * dk, k12 + a2 * dk12
        ks.append(k)
        k12s.append(k12)
    return np.stack(ks), np.stack(k12s)


def output_correlation(q0: float, c0: float, depth: int, alpha: Any, sigma_w2: float = 1.0, bias_var: float = 0.0,
                       activation: str = "erf", form: str = "res1") -> Array:
    """c_L = K12_L / K_L (shape of alpha)."""
    k, k12 = pair_recursion(q0, c0, depth, alpha, sigma_w2, bias_var, activation, form)
    return k12[-1] / k[-1]


def correlation_response(q0: float, c0: float, depth: int, alpha: Any, sigma_w2: float = 1.0, bias_var: float = 0.0,
                         activation: str = "erf", dc: float = 0.0, form: str = "res1") -> Array:
    """The response chi (shape of alpha).

    ``dc = 0``: chi = d c_L / d c_0 by the chain rule through the recursion,
        chi = (q0 / K_L) prod_{l<L} (1 + alpha^2 sigma_w2 E[phi'(u_l) phi'(v_l)]).
    ``dc > 0``: the secant (c_L(c0 + dc) - c_L(c0 - dc)) / (2 dc), what a finite input perturbation
    measures; it tends to the derivative as dc -> 0 (O(dc^2)).
    """
    if dc > 0:
        if not (-1.0 <= c0 - dc and c0 + dc <= 1.0):
            raise ValueError(f"c0 +- dc = {c0} +- {dc} leaves [-1, 1]")
        hi = output_correlation(q0, c0 + dc, depth, alpha, sigma_w2, bias_var, activation, form)
        lo = output_correlation(q0, c0 - dc, depth, alpha, sigma_w2, bias_var, activation, form)
        return (hi - lo) / (2.0 * dc)
    k, k12 = pair_recursion(q0, c0, depth, alpha, sigma_w2, bias_var, activation, form)
    a2 = np.asarray(alpha, float) ** 2
    slope = branch_kernel(form, activation, k[:-1], k12[:-1], sigma_w2, bias_var)[2]
    return q0 / k[-1] * np.exp(np.log1p(a2 * slope).sum(axis=0))


# ----------------------------------------------------------------------------- optimal alpha
def alpha_star(depth: int, sigma_w2: float = 1.0, q0: float = 1.0, c0: float = 0.99, bias_var: float = 0.0,
               activation: str = "erf", dc: float = 0.0, lo: float = 1e-3, hi: float = 50.0, form: str = "res1") -> float:
    """argmax over alpha of the infinite-width response at finite depth.

    A log grid of 121 points on [lo, hi], then four zooms (41 points on the two cells around the
    best point each), then a parabola through the last three points: relative precision ~1e-8,
    with every step one vectorised pass of the recursion.
    """
    grid = np.geomspace(lo, hi, 121)
    chi = correlation_response(q0, c0, depth, grid, sigma_w2, bias_var, activation, dc, form)
    i = int(np.argmax(chi))
    if i in (0, len(grid) - 1):
        raise ValueError(f"the response has no interior maximum in alpha in [{lo:g}, {hi:g}] "
                         f"(depth={depth}, sigma_w2={sigma_w2}, c0={c0}); widen the range")
    for _ in range(4):
        grid = np.geomspace(grid[i - 1], grid[i + 1], 41)
        chi = correlation_response(q0, c0, depth, grid, sigma_w2, bias_var, activation, dc, form)
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


def continuum_log_response(sigma_w2: float = 1.0, q0: float = 1.0, c0: float = 0.9, bias_var: float = 0.0,
                           activation: str = "erf", dc: float = 0.0, form: str = "res1", t_max: float = 2e3,
                           ) -> tuple[Callable[[float], float], float]:
    """(log chi as a function of tau, lam) in the continuum limit t = alpha^2 lam l, lam = sigma_w2 (res1) or 1 (res1w).

    The recursion becomes the ODE dK/dt = E[b^2] / lam, dK12/dt = E[b_a b_b] / lam (``branch_kernel``);
    the response (the derivative: d log chi / dt = slope / lam - (dK/dt) / K; or the secant of
    c = K12 / K over c0 +- dc) depends on alpha, sigma_w2 and L only through tau = alpha^2 lam L.
    """
    _check(1, q0, sigma_w2, bias_var)
    lam = sigma_w2 if form == "res1" else 1.0
    c_lo, c_hi = (c0 - dc, c0 + dc) if dc > 0 else (c0, c0)

    def rhs(_t: float, y: Array) -> Array:
        k, k12a, k12b, _ = y
        dk, da, slope = branch_kernel(form, activation, k, k12a, sigma_w2, bias_var)
        db = branch_kernel(form, activation, k, k12b, sigma_w2, bias_var)[1]
        return np.array([dk, da, db, slope]) / lam

    y0 = np.array([q0, q0 * c_lo, q0 * c_hi, 0.0])
    sol = solve_ivp(rhs, (0.0, t_max), y0, dense_output=True, rtol=1e-9, atol=1e-11)

    def log_chi(tau: float) -> float:
        k, k12a, k12b, log_prod = sol.sol(tau)
        if dc > 0:
            return math.log(max((k12b - k12a) / k / (2.0 * dc), 1e-300))
        return math.log(q0 / k) + log_prod

    return log_chi, lam


def continuum_alpha_star(depth: int, sigma_w2: float = 1.0, q0: float = 1.0, c0: float = 0.9, bias_var: float = 0.0,
                         activation: str = "erf", dc: float = 0.0, form: str = "res1", t_max: float = 2e3) -> float:
    """alpha* of the continuum limit: sqrt(tau* / (lam L)), tau* = argmax over tau of the response
    (``continuum_log_response``; a log grid refined by a bounded scalar search)."""
    from scipy.optimize import minimize_scalar

    _check(depth, q0, sigma_w2, bias_var)
    log_chi, lam = continuum_log_response(sigma_w2, q0, c0, bias_var, activation, dc, form, t_max)
    grid = np.linspace(math.log(1e-2), math.log(t_max), 200)
    vals = np.array([log_chi(math.exp(g)) for g in grid])
    i = int(np.argmax(vals))
    if i in (0, len(grid) - 1):
        raise ValueError(f"the continuum response has no interior maximum for q0={q0}, c0={c0}, form={form}")
    best = minimize_scalar(lambda g: -log_chi(math.exp(g)), bounds=(grid[i - 1], grid[i + 1]), method="bounded",
                           options={"xatol": 1e-10})
    return math.sqrt(math.exp(best.x) / (lam * depth))


def _peak(depth: int, sigma_w2: float, q0: float, c0: float, bias_var: float, activation: str,
          dc: float, form: str = "res1") -> tuple[float, float]:
    top = alpha_star(depth, sigma_w2, q0, c0, bias_var, activation, dc, form=form)
    return top, float(correlation_response(q0, c0, depth, top, sigma_w2, bias_var, activation, dc, form))


def response_gain(depth: int, alpha: Any, sigma_w2: float = 1.0, q0: float = 1.0, c0: float = 0.99,
                  bias_var: float = 0.0, activation: str = "erf", dc: float = 0.0, form: str = "res1") -> Array:
    """(chi(alpha) - 1) / (max chi - 1): the share of the maximal response gain reached at alpha
    (chi = 1 at alpha = 0, the identity network; 1 at the optimum)."""
    _, chi_max = _peak(depth, sigma_w2, q0, c0, bias_var, activation, dc, form)
    chi = correlation_response(q0, c0, depth, alpha, sigma_w2, bias_var, activation, dc, form)
    return (chi - 1.0) / (chi_max - 1.0)


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
def _input_covariances(q0: float, K: Array, activation: str) -> tuple[Array, Array, Array]:
    """N times the input-driven parts of the sampling covariances, for the fixed-input correction.

    With one input x fixed across networks, a layer-k coordinate is x_i plus independent noise of
    variance K_k - K_0, so Cov over weights = Cov over weights and x minus the covariance over x of
    the conditional means. For x_i ~ N(0, q0) these are, with H_k(x) = E[phi(x + sqrt(K_k - K_0) z)^2]:
    Cov_x(H_i, H_j), Cov_x(H_j, dH_l/dK_l) and Cov_x(x^2, H_j) (erf: Owen's T, ``erf_sq_shifted``).
    """
    if activation != "erf":
        raise ValueError(f"activation={activation!r}: the fixed-input correction is implemented for erf only")
    x0, w = normal_rule(math.sqrt(q0), 0.0, 12)
    x0 = math.sqrt(q0) * x0
    s = (K - K[0])[:, None]
    H, dH = erf_sq_shifted(x0[None, :], s), erf_sq_shifted(x0[None, :], s, 1)
    mh, mdh = H @ w, dH @ w
    cov_hh = (H * w) @ H.T - np.outer(mh, mh)
    cov_hdh = (H * w) @ dH.T - np.outer(mh, mdh)
    cov_xh = H @ (w * x0**2) - q0 * mh
    return cov_hh, cov_hdh, cov_xh


def _population_moments(q0: float, depth: int, alpha: float, sigma_w2: float, bias_var: float, activation: str,
                        fixed_input: bool) -> dict[str, Array]:
    """The moments the one-loop coefficients are built from, for inputs with i.i.d. N(0, q0) coordinates.

    K_l the recursion, g_k = g(K_k) and its derivatives, and N times the sampling covariances of
    fischer2023.md section 4: C[i, j] = N Cov(eps_i(phi^2), eps_j(phi^2)), R[j, l] = N Cov(eps_j(phi^2),
    eps_j(F^(l))), X[j] = N Cov(eps_l(x^2), eps_j(phi^2)) (covariances over weights and input; over
    the weights alone for ``fixed_input``), and v_eps = N Var(eps_l(x^2)).
    """
    _check(depth, q0, sigma_w2, bias_var)
    K = variance_recursion(q0, depth, alpha, sigma_w2, bias_var, activation)  # (L+1,)
    g0 = second_moment(activation, K)
    i, j = np.meshgrid(np.arange(depth + 1), np.arange(depth + 1), indexing="ij")
    kmin, kmax = K[np.minimum(i, j)], K[np.maximum(i, j)]
    # N Cov(eps_i(phi^2), eps_j(phi^2)) for particles h^j = h^i + independent noise (i <= j)
    C = fourth_cross(activation, kmin, kmax, kmin) - g0[i] * g0[j]
    # R[j, l] = M22(K_j, K_l, K_j) - g(K_j) g'(K_l), used for j < l only
    g1 = second_moment(activation, K, 1)
    R = fourth_cross(activation, K[i], K[j], K[i], d22=True) - g0[i] * g1[j]
    # X[j]: E[x^2 phi(x)^2] - K g = 2 K^2 g'(K) (Stein), for any l >= j
    X = 2.0 * K**2 * g1
    s = K - q0
    v_eps = 2 * K**2
    if fixed_input:
        cov_hh, cov_hdh, cov_xh = _input_covariances(q0, K, activation)
        C, R, X = C - cov_hh, R - cov_hdh, X - cov_xh
        v_eps = 4 * q0 * s + 2 * s**2
    return {"K": K, "g1": g1, "g2": second_moment(activation, K, 2), "C": C, "R": R, "X": X, "v_eps": v_eps}


INPUT_NODES = 3  # Gauss-Legendre nodes per panel of the one-input moments' normal rule (1e-5 relative; 12: 1e-10)


def _input_moments(x: Array, depth: int, alpha: float, sigma_w2: float, weights: Array | None = None,
                   ) -> dict[str, Array]:
    """The one-loop moments of ``_population_moments`` conditional on ONE input x (erf, no bias).

    Given x, a layer-k coordinate is x_m + sqrt(S_k) z in the mean field (S_k of
    ``empirical_variance_recursion``), independently across m, so every expectation over the input
    coordinates of the fixed-input theory becomes the mean over x's own coordinates:
    g_k = mean_m H(x_m, S_k) (and its S-derivatives), C[i, j] = mean_m Cov(erf^2(y), erf^2(y')) with
    y = x_m + sqrt(S_i) z, y' = y + sqrt(S_j - S_i) z' (= E_z[erf^2(y) H(y, S_j - S_i)] - H_i H_j),
    R[i, j] the same with dH/dS for the second factor, X[j] = mean_m Cov(y^2, erf^2(y)) at layer j,
    v_eps = 4 q_x S_l + 2 S_l^2 (q_x = |x|^2 / n). One composite normal rule per (i, m) in z.
    ``weights`` (summing to 1) replace the plain mean over coordinates: with the nodes and weights of
    a quadrature of N(0, q0) this is the population fixed-input theory (the tests check it is).
    """
    x = np.asarray(x, float)
    if x.ndim != 1 or not x.size:
        raise ValueError(f"x of shape {x.shape} is invalid: expected one input, a non-empty vector")
    _check(depth, 1.0, sigma_w2, 0.0)
    wx = np.full(x.size, 1.0 / x.size) if weights is None else np.asarray(weights, float)
    K = empirical_variance_recursion(x, depth, alpha, sigma_w2, wx)
    S = K - K[0]  # (L+1,)
    Hx = [erf_sq_shifted(x[None, :], S[:, None], order) for order in (0, 1, 2)]  # (L+1, n)
    sd = np.sqrt(S)[:, None]  # (L+1, 1)
    safe = np.where(sd > 0, sd, 1.0)
    z, wz = normal_rule(np.broadcast_to(safe, (depth + 1, x.size)), -x[None, :] / safe, INPUT_NODES)  # (L+1, n, P)
    y = x[None, :, None] + sd[..., None] * z
    base = _erf(y) ** 2 * wz * wx[None, :, None]  # (L+1, n, P)
    C, R = np.zeros((depth + 1, depth + 1)), np.zeros((depth + 1, depth + 1))
    for i in range(depth + 1):  # E_z[erf^2(y) H(y, S_j - S_i)] for j >= i (the particle at j is y plus noise)
        lag = (S[i:] - S[i])[None, :, None]
        C[i, i:] = np.einsum("mp,mjp->j", base[i], erf_sq_shifted(y[i][:, None, :], lag))
        R[i, i:] = np.einsum("mp,mjp->j", base[i], erf_sq_shifted(y[i][:, None, :], lag, 1))
    upper = np.triu(np.ones((depth + 1, depth + 1), bool))
    C = np.where(upper, C - (Hx[0] * wx) @ Hx[0].T, 0.0)
    C = C + np.triu(C, 1).T  # symmetric: C[j, i] = C[i, j]
    R = np.where(upper, R - (Hx[0] * wx) @ Hx[1].T, 0.0)  # R[j, l] for j <= l (only j < l is used)
    X = (np.sum(y**2 * base, axis=-1) - (x[None, :] ** 2 + S[:, None]) * Hx[0] * wx) @ np.ones(x.size)
    return {"K": K, "g1": Hx[1] @ wx, "g2": Hx[2] @ wx, "C": C, "R": R, "X": X, "v_eps": 4 * K[0] * S + 2 * S**2}


def _one_loop(moments: dict[str, Array], alpha: float, sigma_w2: float) -> dict[str, Array]:
    """The first-order fluctuation structure of the exact finite-width law (fischer2023.md section 4)
    from its moments: the propagation weights w and N Var(A_k), N Cov(eps_k, A_k)."""
    K, g1, C = moments["K"], moments["g1"], moments["C"]
    L = len(K) - 1
    e = alpha**2 * sigma_w2
    # w[k, j] = e prod_{m=j+1}^{k-1} (1 + e g'(K_m)),  j < k: A_k = sum_j w[k, j] eps_j(phi^2)
    logf = np.concatenate([[0.0], np.cumsum(np.log1p(e * g1))])  # logf[m] = sum_{m' < m} log(1 + e g1[m'])
    w = np.zeros((L + 1, L + 1))
    for k in range(1, L + 1):
        jj = np.arange(k)
        w[k, :k] = e * np.exp(logf[k] - logf[jj + 1])
    return {**moments, "e": np.asarray(e), "w": w,
            "var_a": np.einsum("kj,ji,ki->k", w, C, w),  # N Var(A_k)
            "cov_ea": np.einsum("kj,jk->k", w, C)}  # N Cov(eps_k, A_k)


def _correction(f: dict[str, Array]) -> Array:
    """kappa_l, l = 0..L, from the one-loop structure ``f`` (``finite_width_correction``)."""
    e, g1, g2, C, R, w, var_a, cov_ea = (f[k] for k in ("e", "g1", "g2", "C", "R", "w", "var_a", "cov_ea"))
    L = len(g1) - 1
    var_da = e**2 * (np.diag(C) + 2 * g1 * cov_ea + g1**2 * var_a)  # N Var(delta a_k)
    wr = w @ R  # wr[k, l] = sum_j w[k, j] R[j, l]
    c = np.zeros(L + 1)
    for ell in range(1, L + 1):
        k = np.arange(ell)
        x = e * (R[k, ell] + g1[k] * wr[k, ell] + g2[ell] * cov_ea[k] + g1[k] * g2[ell] * var_a[k])
        c[ell] = np.sum(e * c[k] * g1[ell] + x + 0.5 * var_da[k] * g2[ell])
    return np.concatenate([[0.0], e * np.cumsum(c[:-1])])


def _variance(f: dict[str, Array]) -> Array:
    """N Var(K^_l), l = 0..L, from the one-loop structure ``f`` (``finite_width_variance``)."""
    return f["v_eps"] + 2 * (f["w"] @ f["X"]) + f["var_a"]


def finite_width_correction(q0: float, depth: int, alpha: float, sigma_w2: float = 1.0, bias_var: float = 0.0,
                            activation: str = "erf", fixed_input: bool = False) -> Array:
    """kappa_l, l = 0..L, with E[(1/N)|h_l|^2] = K_l + kappa_l / N + O(1/N^2) (derived, one loop).

    h_0 has i.i.d. N(0, q0) coordinates: drawn afresh for every network (``fixed_input=False``), or
    one such input held fixed while the weights are drawn (``fixed_input=True``, the expectation
    over weights alone, averaged over inputs; K_l then means the recursion for that input's
    empirical measure, see ``empirical_variance_recursion``; ``input_correction`` gives one input's
    own coefficient). With Gaussian weights the update is exactly
    h_{l+1} = h_l + sqrt(a_l) z_l, a_l = alpha^2 (sigma_w2 Phi_l + bias_var), Phi_l = (1/N)|phi(h_l)|^2,
    so E K^_{l+1} = E K^_l + E a_l and kappa_l = alpha^2 sigma_w2 sum_{k<l} c_k, where
    E Phi_l = g(K_l) + c_l / N. c_l collects (derivation in claims/catalogue/fischer2023.md):
    the mean shift of earlier variances, the covariance of the common variance a_k with the
    empirical measure it acts on, and the curvature g'' times Var(a_k).
    """
    moments = _population_moments(q0, depth, alpha, sigma_w2, bias_var, activation, fixed_input)
    return _correction(_one_loop(moments, alpha, sigma_w2))


def finite_width_variance(q0: float, depth: int, alpha: float, sigma_w2: float = 1.0, bias_var: float = 0.0,
                          activation: str = "erf", fixed_input: bool = False) -> Array:
    """N Var(K^_l), l = 0..L, to leading order in 1/N (derived; Gaussian weights).

    K^_l - K_l = eps_l(x^2) + A_l to first order: the sampling fluctuation of the layer-l particles
    plus the coherent variance shift A_l = sum_j w[l, j] eps_j(phi^2) (fischer2023.md section 4), so
    N Var = N Var(eps_l(x^2)) + 2 sum_j w[l, j] X[j] + N Var(A_l) with N Var(eps_l(x^2)) = 2 K_l^2
    (fresh inputs) or 4 q0 (K_l - q0) + 2 (K_l - q0)^2 (one fixed input, averaged over inputs).
    """
    moments = _population_moments(q0, depth, alpha, sigma_w2, bias_var, activation, fixed_input)
    return _variance(_one_loop(moments, alpha, sigma_w2))


def input_coefficients(x: Array, depth: int, alpha: float, sigma_w2: float = 1.0, weights: Array | None = None,
                       ) -> tuple[Array, Array]:
    """(kappa_l^x, V_l^x), l = 0..L, for networks that all see the one input x (n,) (res1, erf, no bias;
    derived, one loop, conditional on x): N (E K^_l - K_l^x) and N Var(K^_l) up to O(1/N).

    The input's own coefficients differ from input to input at O(n^-1/2) (fischer2023.md section 9.1);
    their mean over Gaussian inputs is the ``fixed_input`` coefficient of ``finite_width_correction``
    and ``finite_width_variance`` up to O(1/n). ``weights`` (summing to 1) replace the plain mean over
    x's coordinates: with a quadrature of N(0, q0) for x they give that population coefficient.
    """
    f = _one_loop(_input_moments(x, depth, alpha, sigma_w2, weights), alpha, sigma_w2)
    return _correction(f), _variance(f)


def empirical_variance_recursion(x: Array, depth: int, alpha: float, sigma_w2: float = 1.0,
                                 weights: Array | None = None) -> Array:
    """Infinite-width K_l for one fixed input x (n,) of a res1 erf network without bias, l = 0..L.

    Given x, the layer-l coordinates are x_i plus independent N(0, S_l) noise in the mean field,
    S_{l+1} = S_l + alpha^2 sigma_w2 mean_i E[erf(x_i + sqrt(S_l) z)^2]: the recursion of the input's
    empirical measure (which for a Gaussian input differs from the N(0, q0) recursion by O(n^-1/2)).
    ``weights`` (summing to 1) replace the plain mean over the coordinates.
    """
    x = np.asarray(x, float)
    wx = np.full(x.size, 1.0 / x.size) if weights is None else np.asarray(weights, float)
    e = alpha**2 * sigma_w2
    s_l, out = 0.0, [float(wx @ x**2)]
    for _ in range(depth):
        s_l += e * float(wx @ erf_sq_shifted(x, s_l))
        out.append(out[0] + s_l)
    return np.array(out)

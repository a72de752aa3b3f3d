"""Gaussian expectations of activations: closed forms (erf, ReLU) and Gauss-Hermite quadrature.

Notation: u, v are jointly Gaussian, centred, with covariance [[k11, k12], [k12, k22]]; K is a
single variance. The mean-field kernel recursions in :mod:`claims.theory.fischer` need

* ``phi_phi``      E[phi(u) phi(v)]              (the kernel map),
* ``dphi_dphi``    E[phi'(u) phi'(v)]            (its derivative in k12, Price's theorem),
* ``second_moment`` g(K) = E[phi(sqrt(K) z)^2] and its first two derivatives in K,
* ``fourth_cross`` E[phi(u)^2 phi(v)^2] and its derivative in k22 (for the 1/N correction).

Every function takes numpy arrays (broadcast against each other) and returns float64 arrays.
Closed forms are used for erf (phi = erf(x), as ``torch.erf``) and ReLU where they exist;
everything else is computed by (tensor-product) Gauss-Hermite quadrature, which is also what
the tests compare the closed forms against.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from scipy.special import erf as _erf
from scipy.special import owens_t

Array = np.ndarray
Fn = Callable[[Array], Array]

SQRT_PI = math.sqrt(math.pi)


@dataclass(frozen=True)
class Activation:
    """phi and its first two derivatives (numpy, elementwise)."""

    name: str
    phi: Fn
    dphi: Fn
    d2phi: Fn


def _gelu(x: Array) -> Array:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _gelu_d(x: Array) -> Array:
    return 0.5 * (1.0 + _erf(x / math.sqrt(2.0))) + x * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _gelu_d2(x: Array) -> Array:
    return (2.0 - x * x) * np.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


ACTIVATIONS: dict[str, Activation] = {
    # erf as in torch.erf (no rescaling of the argument): phi'(x) = 2/sqrt(pi) exp(-x^2)
    "erf": Activation("erf", _erf, lambda x: 2.0 / SQRT_PI * np.exp(-x * x),
                      lambda x: -4.0 / SQRT_PI * x * np.exp(-x * x)),
    "tanh": Activation("tanh", np.tanh, lambda x: 1.0 - np.tanh(x) ** 2,
                       lambda x: -2.0 * np.tanh(x) * (1.0 - np.tanh(x) ** 2)),
    "relu": Activation("relu", lambda x: np.maximum(x, 0.0), lambda x: (x > 0).astype(float),
                       lambda x: np.zeros_like(x)),
    "gelu": Activation("gelu", _gelu, _gelu_d, _gelu_d2),
    "linear": Activation("linear", lambda x: x, np.ones_like, np.zeros_like),
}


def get_activation(name: str) -> Activation:
    """The activation called ``name``; raises a ValueError listing the known names otherwise."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}") from None


@lru_cache(maxsize=8)
def hermite_rule(n: int) -> tuple[Array, Array]:
    """Probabilists' Gauss-Hermite nodes and weights normalised to sum 1: E f(z) ~ sum w f(x).

    Accurate for smooth integrands on the scale of z; a saturating activation at variance K >> 1
    has a kink of width 1/sqrt(K) in z that plain Gauss-Hermite misses (use ``normal_rule``).
    """
    x, w = hermegauss(n)
    return x, w / w.sum()


@lru_cache(maxsize=8)
def _legendre(n: int) -> tuple[Array, Array]:
    return np.polynomial.legendre.leggauss(n)


_Z_MAX = 9.0  # |z| beyond 9 carries < 1e-18 of the normal mass
_FIXED_EDGES = np.linspace(-_Z_MAX, _Z_MAX, 19)
_OFFSETS = np.array([0.0, 0.25, -0.25, 0.5, -0.5, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 5.0, -5.0, 8.0, -8.0, 13.0, -13.0])


def normal_rule(scale: Array, centre: Array | float = 0.0, n_gl: int = 10) -> tuple[Array, Array]:
    """Composite Gauss-Legendre rule for z ~ N(0, 1), refined where scale * (z - centre) is O(1).

    Panels: a fixed grid on [-9, 9] plus edges at centre + {0, 1/4, 1/2, 1, 2, 3, 5, 8, 13} / scale (both
    signs), so an activation evaluated at x = scale * (z - centre) is resolved on its own unit
    scale however large the variance. Returns nodes and weights (weights include the normal
    density; they sum to 1 - 2e-19), shape (*broadcast(scale, centre).shape, P).
    """
    scale, centre = np.broadcast_arrays(np.asarray(scale, float), np.asarray(centre, float))
    safe = np.where(scale > 0, scale, 1.0)
    extra = np.clip(centre[..., None] + _OFFSETS / safe[..., None], -_Z_MAX, _Z_MAX)
    fixed = np.broadcast_to(_FIXED_EDGES, scale.shape + _FIXED_EDGES.shape)
    edges = np.sort(np.concatenate([fixed, extra], axis=-1), axis=-1)
    lo, hi = edges[..., :-1, None], edges[..., 1:, None]
    x, w = _legendre(n_gl)
    nodes = 0.5 * (hi + lo) + 0.5 * (hi - lo) * x
    weights = 0.5 * (hi - lo) * w * np.exp(-0.5 * nodes**2) / math.sqrt(2.0 * math.pi)
    shape = scale.shape + (-1,)
    return nodes.reshape(shape), weights.reshape(shape)


# ----------------------------------------------------------------------------- quadrature
def expect_1d(f: Fn, var: Array, n_gl: int = 10) -> Array:
    """E[f(sqrt(var) z)], z ~ N(0, 1), by the composite rule (broadcast over var)."""
    sd = np.sqrt(np.asarray(var, float))
    z, w = normal_rule(sd, 0.0, n_gl)
    return np.sum(f(sd[..., None] * z) * w, axis=-1)


def expect_2d(f: Callable[[Array, Array], Array], k11: Array, k22: Array, k12: Array,
              n_gl: int = 6) -> Array:
    """E[f(u, v)] for the bivariate Gaussian (k11, k22, k12) by nested composite rules.

    u = a z1, v = b z1 + c z2 (Cholesky); the outer rule in z1 is refined where u ~ 0, the inner
    rule in z2 (one per outer node) where v ~ 0, so kinks of f in u or v are resolved.
    """
    k11, k22, k12 = np.broadcast_arrays(*(np.asarray(k, float) for k in (k11, k22, k12)))
    a = np.sqrt(k11)
    b = np.where(a > 0, k12 / np.where(a > 0, a, 1.0), 0.0)
    c = np.sqrt(np.clip(k22 - b * b, 0.0, None))
    z1, w1 = normal_rule(a, 0.0, n_gl)  # (..., P)
    u = a[..., None] * z1
    csafe = np.where(c > 0, c, 1.0)[..., None]
    z2, w2 = normal_rule(np.broadcast_to(c[..., None], z1.shape), -b[..., None] * z1 / csafe, n_gl)  # (..., P, Q)
    v = b[..., None, None] * z1[..., None] + c[..., None, None] * z2
    return np.einsum("...pq,...p,...pq->...", f(u[..., None], v), w1, w2)


# ----------------------------------------------------------------------------- closed forms
def erf_phi_phi(k11: Array, k22: Array, k12: Array) -> Array:
    """E[erf(u) erf(v)] = (2/pi) arcsin(2 k12 / sqrt((1 + 2 k11)(1 + 2 k22))) (Williams 1997)."""
    k11, k22, k12 = (np.asarray(k, float) for k in (k11, k22, k12))
    return 2.0 / math.pi * np.arcsin(2.0 * k12 / np.sqrt((1.0 + 2.0 * k11) * (1.0 + 2.0 * k22)))


def erf_dphi_dphi(k11: Array, k22: Array, k12: Array) -> Array:
    """E[erf'(u) erf'(v)] = (4/pi) / sqrt((1 + 2 k11)(1 + 2 k22) - 4 k12^2)."""
    k11, k22, k12 = (np.asarray(k, float) for k in (k11, k22, k12))
    return 4.0 / math.pi / np.sqrt((1.0 + 2.0 * k11) * (1.0 + 2.0 * k22) - 4.0 * k12 * k12)


def erf_second_moment(k: Array, order: int = 0) -> Array:
    """g(K) = E[erf(sqrt(K) z)^2] = (2/pi) arcsin(2K / (1 + 2K)) and its derivatives (order 0, 1, 2).

    g'(K) = 4 / (pi (1 + 2K) sqrt(1 + 4K)); g'' = -8 / pi * [(1+2K)^-2 (1+4K)^-1/2 + (1+2K)^-1 (1+4K)^-3/2].
    """
    k = np.asarray(k, float)
    if order == 0:
        return 2.0 / math.pi * np.arcsin(2.0 * k / (1.0 + 2.0 * k))
    if order == 1:
        return 4.0 / (math.pi * (1.0 + 2.0 * k) * np.sqrt(1.0 + 4.0 * k))
    if order == 2:
        a, b = 1.0 + 2.0 * k, 1.0 + 4.0 * k
        return -8.0 / math.pi * (a**-2 * b**-0.5 + a**-1 * b**-1.5)
    raise ValueError(f"order={order} is not available; allowed: 0, 1, 2")


def relu_phi_phi(k11: Array, k22: Array, k12: Array) -> Array:
    """E[relu(u) relu(v)] = sqrt(k11 k22) / (2 pi) (sin t + (pi - t) cos t), cos t = correlation (Cho & Saul)."""
    k11, k22, k12 = (np.asarray(k, float) for k in (k11, k22, k12))
    norm = np.sqrt(k11 * k22)
    c = np.clip(k12 / norm, -1.0, 1.0)
    t = np.arccos(c)
    return norm / (2.0 * math.pi) * (np.sin(t) + (math.pi - t) * c)


def relu_dphi_dphi(k11: Array, k22: Array, k12: Array) -> Array:
    """E[relu'(u) relu'(v)] = (pi - t) / (2 pi), cos t = correlation."""
    k11, k22, k12 = (np.asarray(k, float) for k in (k11, k22, k12))
    c = np.clip(k12 / np.sqrt(k11 * k22), -1.0, 1.0)
    return (math.pi - np.arccos(c)) / (2.0 * math.pi)


# ----------------------------------------------------------------------------- dispatchers
def phi_phi(activation: str, k11: Array, k22: Array, k12: Array) -> Array:
    """E[phi(u) phi(v)]: closed form for erf / relu / linear, quadrature otherwise."""
    if activation == "erf":
        return erf_phi_phi(k11, k22, k12)
    if activation == "relu":
        return relu_phi_phi(k11, k22, k12)
    if activation == "linear":
        return np.asarray(k12, float) * 1.0
    act = get_activation(activation)
    return expect_2d(lambda u, v: act.phi(u) * act.phi(v), k11, k22, k12)


def dphi_dphi(activation: str, k11: Array, k22: Array, k12: Array) -> Array:
    """E[phi'(u) phi'(v)] = d E[phi(u) phi(v)] / d k12 (Price's theorem)."""
    if activation == "erf":
        return erf_dphi_dphi(k11, k22, k12)
    if activation == "relu":
        return relu_dphi_dphi(k11, k22, k12)
    if activation == "linear":
        return np.ones(np.broadcast(np.asarray(k11), np.asarray(k12)).shape)
    act = get_activation(activation)
    return expect_2d(lambda u, v: act.dphi(u) * act.dphi(v), k11, k22, k12)


def second_moment(activation: str, k: Array, order: int = 0) -> Array:
    """g(K) = E[phi(sqrt(K) z)^2] (order 0) and dg/dK, d2g/dK2 (order 1, 2).

    Closed forms for erf / relu / linear; otherwise g' = E[phi'^2 + phi phi''] (Stein's lemma twice)
    and g'' by a central difference of g' (quadrature is smooth in K).
    """
    k = np.asarray(k, float)
    if activation == "erf":
        return erf_second_moment(k, order)
    if activation in ("relu", "linear"):
        c = 0.5 if activation == "relu" else 1.0
        return (c * k, c * np.ones_like(k), np.zeros_like(k))[order]
    act = get_activation(activation)
    if order == 0:
        return expect_1d(lambda x: act.phi(x) ** 2, k)
    d1 = lambda kk: expect_1d(lambda x: act.dphi(x) ** 2 + act.phi(x) * act.d2phi(x), kk)  # noqa: E731
    if order == 1:
        return d1(k)
    if order == 2:
        h = 1e-4 * np.maximum(k, 1e-2)
        return (d1(k + h) - d1(k - h)) / (2.0 * h)
    raise ValueError(f"order={order} is not available; allowed: 0, 1, 2")


def erf_sq_shifted(m: Array, s2: Array, order: int = 0) -> Array:
    """H(m, s2) = E[erf(m + sqrt(s2) z)^2] = 1 - 8 T(h, a) (order 0), dH/ds2 (order 1) or d2H/ds2^2 (order 2).

    Owen's T with h = sqrt(2) m / sqrt(1 + 2 s2), a = 1 / sqrt(1 + 4 s2): write erf(x) = 2 Phi(sqrt2 x) - 1,
    E Phi(h0 + k Z) = Phi(h0 / sqrt(1+k^2)), E Phi(h0 + k Z)^2 = Phi2(h, h; k^2/(1+k^2)) = Phi(h) - 2 T(h, a).
    Derivatives by the chain rule: T_h = -phi(h) erf(a h / sqrt2) / 2, T_a = E / (2 pi (1 + a^2)) with
    E = exp(-h^2 (1 + a^2) / 2); T_hh = h phi(h) erf(a h / sqrt2) / 2 - a phi(h) exp(-a^2 h^2 / 2) / sqrt(2 pi),
    T_ha = -h E / (2 pi), T_aa = -E a (h^2 (1 + a^2) + 2) / (2 pi (1 + a^2)^2);
    h' = -h / (1 + 2 s2), h'' = 3 h / (1 + 2 s2)^2, a' = -2 a^3, a'' = 12 a^5 (primes: d/ds2).
    """
    m, s2 = np.broadcast_arrays(np.asarray(m, float), np.asarray(s2, float))
    h = math.sqrt(2.0) * m / np.sqrt(1.0 + 2.0 * s2)
    a = 1.0 / np.sqrt(1.0 + 4.0 * s2)
    if order == 0:
        return 1.0 - 8.0 * owens_t(h, a)
    if order not in (1, 2):
        raise ValueError(f"order={order} is not available; allowed: 0, 1, 2")
    phi_h = np.exp(-0.5 * h * h) / math.sqrt(2.0 * math.pi)
    erf_ah = _erf(a * h / math.sqrt(2.0))
    e_ha = np.exp(-0.5 * h * h * (1.0 + a * a))
    t_h = -0.5 * phi_h * erf_ah
    t_a = e_ha / (2.0 * math.pi * (1.0 + a * a))
    h1, a1 = -h / (1.0 + 2.0 * s2), -2.0 * a**3
    if order == 1:
        return -8.0 * (t_h * h1 + t_a * a1)
    t_hh = 0.5 * h * phi_h * erf_ah - a * phi_h * np.exp(-0.5 * a * a * h * h) / math.sqrt(2.0 * math.pi)
    t_ha = -h * e_ha / (2.0 * math.pi)
    t_aa = -e_ha * a * (h * h * (1.0 + a * a) + 2.0) / (2.0 * math.pi * (1.0 + a * a) ** 2)
    h2, a2 = 3.0 * h / (1.0 + 2.0 * s2) ** 2, 12.0 * a**5
    return -8.0 * (t_hh * h1 * h1 + 2.0 * t_ha * h1 * a1 + t_aa * a1 * a1 + t_h * h2 + t_a * a2)


def fourth_cross(activation: str, k11: Array, k22: Array, k12: Array, d22: bool = False) -> Array:
    """M = E[phi(u)^2 phi(v)^2], or dM/dk22 = E[phi(u)^2 (phi'(v)^2 + phi(v) phi''(v))] if ``d22``.

    (d/dk22 E[f(u) g(v)] = E[f(u) g''(v)] / 2, and (phi^2)'' / 2 = phi'^2 + phi phi''.)
    erf: the inner expectation over v given u is closed form (``erf_sq_shifted``: v | u is
    N(k12 u / k11, k22 - k12^2 / k11) and d/dk22 acts on the conditional variance only), leaving
    a 1-D composite rule over u. Other activations: nested composite quadrature.
    """
    if activation == "erf":
        k11, k22, k12 = np.broadcast_arrays(*(np.asarray(k, float) for k in (k11, k22, k12)))
        sd = np.sqrt(k11)
        z, w = normal_rule(sd, 0.0, 12)
        u = sd[..., None] * z
        m = (k12 / k11)[..., None] * u
        s2 = np.clip(k22 - k12 * k12 / k11, 0.0, None)[..., None]
        inner = erf_sq_shifted(m, s2, 1 if d22 else 0)
        return np.sum(_erf(u) ** 2 * inner * w, axis=-1)
    act = get_activation(activation)
    if d22:
        return expect_2d(lambda u, v: act.phi(u) ** 2 * (act.dphi(v) ** 2 + act.phi(v) * act.d2phi(v)), k11, k22, k12)
    return expect_2d(lambda u, v: act.phi(u) ** 2 * act.phi(v) ** 2, k11, k22, k12)

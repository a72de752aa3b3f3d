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

Array = np.ndarray
Fn = Callable[[Array], Array]

SQRT_PI = math.sqrt(math.pi)
QUAD_NODES_1D = 96
QUAD_NODES_2D = 64


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
    """Probabilists' Gauss-Hermite nodes and weights normalised to sum 1: E f(z) ~ sum w f(x)."""
    x, w = hermegauss(n)
    return x, w / w.sum()


# ----------------------------------------------------------------------------- quadrature
def expect_1d(f: Fn, var: Array, n: int = QUAD_NODES_1D) -> Array:
    """E[f(sqrt(var) z)], z ~ N(0, 1), by n-point Gauss-Hermite quadrature (broadcast over var)."""
    var = np.asarray(var, float)
    x, w = hermite_rule(n)
    vals = f(np.sqrt(var)[..., None] * x)
    return vals @ w


def expect_2d(f: Callable[[Array, Array], Array], k11: Array, k22: Array, k12: Array,
              n: int = QUAD_NODES_2D) -> Array:
    """E[f(u, v)] for the bivariate Gaussian (k11, k22, k12), tensor Gauss-Hermite (Cholesky map)."""
    k11, k22, k12 = np.broadcast_arrays(*(np.asarray(k, float) for k in (k11, k22, k12)))
    x, w = hermite_rule(n)
    a = np.sqrt(k11)
    b = np.where(a > 0, k12 / np.where(a > 0, a, 1.0), 0.0)
    c = np.sqrt(np.clip(k22 - b * b, 0.0, None))
    z1 = x[:, None]
    z2 = x[None, :]
    u = a[..., None, None] * z1
    v = b[..., None, None] * z1 + c[..., None, None] * z2
    vals = f(u, v)
    return np.einsum("...ij,i,j->...", vals, w, w)


# ----------------------------------------------------------------------------- closed forms
def erf_phi_phi(k11: Array, k22: Array, k12: Array) -> Array:
    """E[erf(u) erf(v)] = (2/pi) arcsin(2 k12 / sqrt((1 + 2 k11)(1 + 2 k22))) (Williams 1997)."""
    return 2.0 / math.pi * np.arcsin(2.0 * np.asarray(k12) / np.sqrt((1.0 + 2.0 * np.asarray(k11)) * (1.0 + 2.0 * np.asarray(k22))))


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


def fourth_cross(activation: str, k11: Array, k22: Array, k12: Array, d22: bool = False) -> Array:
    """M = E[phi(u)^2 phi(v)^2], or dM/dk22 = E[phi(u)^2 (phi'(v)^2 + phi(v) phi''(v))] if ``d22``.

    (d/dk22 E[f(u) g(v)] = E[f(u) g''(v)] / 2, and (phi^2)'' / 2 = phi'^2 + phi phi''.)
    Quadrature for every activation.
    """
    act = get_activation(activation)
    if d22:
        return expect_2d(lambda u, v: act.phi(u) ** 2 * (act.dphi(v) ** 2 + act.phi(v) * act.d2phi(v)), k11, k22, k12)
    return expect_2d(lambda u, v: act.phi(u) ** 2 * act.phi(v) ** 2, k11, k22, k12)

"""The derived depth map of the empirical range: where alpha in (0.1, 0.3) reaches half the maximal gain.

The gain share of an alpha is (chi(alpha) - 1) / (max chi - 1) of the infinite-width response at
depth L; the empirical range lies in the range of maximal sensitivity at depth L when both its
alphas reach a share of one half. ``derived_window`` gives the window of such depths at finite depth,
``range_map`` the continuum map over c0 (fischer2023.md section 9.5); empirical_range.py tests the
curve this map is computed from.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np

from ...theory import fischer as theory
from .networks import ACT, C0, DC, network, theory_args
from .response import predicted_alpha_star

EMPIRICAL_RANGE = (0.1, 0.3)
MAP_C0 = (0.7, 0.8, 0.85, 0.9, 0.94)  # c0 + dc <= 1
MAP_DEPTHS = tuple(int(round(x)) for x in np.geomspace(5, 5000, 49))


def range_map(params: Mapping[str, Any], sigma_w2: float = 1.0) -> dict[float, list[float]]:
    """Derived (continuum limit) min over alpha in EMPIRICAL_RANGE of the gain share, per c0 (MAP_C0) and
    depth (MAP_DEPTHS); nan where the response has no interior maximum."""
    return _range_map(*network(params), sigma_w2)


@lru_cache(maxsize=16)
def _range_map(form: str, inp: bool, bias: float, sigma_w2: float) -> dict[float, list[float]]:
    args = theory_args({"block": form, "input_layer": inp, "bias_var": bias}, sigma_w2)
    out: dict[float, list[float]] = {}
    for c0 in MAP_C0:
        log_chi, lam = theory.continuum_log_response(sigma_w2, args["q0"], c0, args["bias_var"], ACT, DC, form)
        try:
            top = predicted_alpha_star(MAP_DEPTHS[0], sigma_w2, c0, {"block": form, "input_layer": inp, "bias_var": bias})
        except ValueError:  # no interior optimum: no range of maximal sensitivity
            out[c0] = [math.nan] * len(MAP_DEPTHS)
            continue
        chi_max = math.exp(log_chi(top**2 * lam * MAP_DEPTHS[0]))
        out[c0] = [min((math.exp(log_chi(a * a * lam * d)) - 1.0) / (chi_max - 1.0) for a in EMPIRICAL_RANGE)
                   for d in MAP_DEPTHS]
    return out


def window_text(depths: Sequence[int], shares: Sequence[float]) -> str:
    inside = [d for d, v in zip(depths, shares) if v >= 0.5]
    return f"L in [{min(inside)}, {max(inside)}]" if inside else "none"


def derived_shares(depth: int, params: Mapping[str, Any], sigma_w2: float = 1.0, c0: float = C0,
                   shift: float = 0.0) -> np.ndarray:
    """The gain shares (chi(alpha) - 1) / (max chi - 1) at alpha in EMPIRICAL_RANGE of the infinite-width
    response at this depth, or of that response moved by ``shift`` in log alpha (chi(alpha e^-shift))."""
    args = theory_args(params, sigma_w2)
    return theory.response_gain(depth, np.array(EMPIRICAL_RANGE) * math.exp(-shift), sigma_w2, args["q0"], c0,
                                args["bias_var"], ACT, DC, args["form"])


def derived_window(params: Mapping[str, Any], sigma_w2: float = 1.0, c0: float = C0, max_depth: int = 3000,
                   ) -> tuple[float, float]:
    """(first, last) depth L <= max_depth at which both alphas of EMPIRICAL_RANGE reach half of the maximal gain
    of the infinite-width response at depth L; (nan, nan) if none does. One pass of the recursion over a
    log-alpha grid (steps of 0.01 on [0.01, 5], plus the two alphas) gives the response at every depth."""
    return _derived_window(*network(params), float(sigma_w2), float(c0), int(max_depth))


@lru_cache(maxsize=16)
def _derived_window(form: str, inp: bool, bias: float, sigma_w2: float, c0: float, max_depth: int,
                    ) -> tuple[float, float]:
    args = theory_args({"block": form, "input_layer": inp, "bias_var": bias}, sigma_w2)
    alphas = np.concatenate([np.exp(np.arange(math.log(0.01), math.log(5.0), 0.01)), EMPIRICAL_RANGE])
    chi = 0.0
    for sign in (1.0, -1.0):  # the secant: c_l(c0 + dc) - c_l(c0 - dc), every layer l at once
        k, k12 = theory.pair_recursion(args["q0"], c0 + sign * DC, max_depth, alphas, sigma_w2, args["bias_var"], ACT,
                                       args["form"])
        chi = chi + sign * k12 / k / (2.0 * DC)
    chi = chi[1:]  # depths 1..max_depth (depth 0 is the identity: no gain)
    share = (chi[:, -len(EMPIRICAL_RANGE):] - 1.0) / (chi.max(axis=1, keepdims=True) - 1.0)  # (L, 2)
    inside = np.flatnonzero(share.min(axis=1) >= 0.5) + 1
    return (float(inside[0]), float(inside[-1])) if inside.size else (math.nan, math.nan)

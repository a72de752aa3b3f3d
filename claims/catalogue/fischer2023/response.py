"""The response of the Fischer claims: its measurement on an alpha lattice, and the theory curve it is compared with.

chi = (c_L(c0 + dc) - c_L(c0 - dc)) / (2 dc) of the cosine similarity of one network's output states
for three inputs of equal norm (networks.py: the readings). A cell measures chi at the lattice
points around the predicted argmax, the same networks at every alpha, and reports its S networks as
GROUPS independent groups; ``response_template`` is the infinite-width curve the shift fit moves
(shift.py).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from ...spec import CellContext
from ...theory import fischer as theory
from .networks import ACT, C0, DC, Q0, network, theory_args

LATTICE = 0.2  # spacing of the alpha lattice in log alpha
# the lattice points a response cell measures, relative to the one nearest the formula's optimum: 7 points
# 0.4 apart over [-1.8, +0.6] in log alpha (the small-alpha flank, where the response is least noisy,
# carries most of the information on the shift; fischer2023.md section 10)
GRID_OFFSETS = (-9, -7, -5, -3, -1, 1, 3)
SHIFT_BOUND = 3.0  # |s| searched by the shift fit, in log alpha
GROUPS = 16  # a response cell reports its S networks as GROUPS independent groups (the jackknife's units)
RESPONSE_DEF = (f"chi = (c_L(c0 + dc) - c_L(c0 - dc)) / (2 dc), dc = {DC}, erf, q0 = {Q0}; "
                "c = cosine similarity of the output states of one network")


@lru_cache(maxsize=1024)
def _continuum(depth: int, sigma_w2: float, c0: float, form: str, inp: bool, bias: float) -> float:
    args = theory_args({"block": form, "input_layer": inp, "bias_var": bias}, sigma_w2)
    return theory.continuum_alpha_star(depth, sigma_w2, c0=c0, dc=DC, **args)


def predicted_alpha_star(depth: int, sigma_w2: float, c0: float = C0,
                         params: Mapping[str, Any] | None = None) -> float:
    """The continuum formula alpha* = sqrt(tau* / (lam L)) of the secant response in a reading (derived)."""
    return _continuum(int(depth), float(sigma_w2), float(c0), *network(params or {}))


def finite_depth_alpha_star(depth: int, sigma_w2: float, c0: float = C0, params: Mapping[str, Any] | None = None,
                            ) -> float:
    """argmax of the infinite-width secant response at finite depth (the formula's O(1/L) reference)."""
    args = theory_args(params or {}, sigma_w2)
    return theory.alpha_star(depth, sigma_w2, c0=c0, dc=DC, **args)


def alpha_grid(depth: int, sigma_w2: float, c0: float = C0, params: Mapping[str, Any] | None = None,
               offsets: Sequence[int] = GRID_OFFSETS, step: float = LATTICE) -> tuple[float, ...]:
    """The lattice values exp(step (k0 + o)), o in ``offsets``, k0 the lattice point nearest the predicted argmax."""
    k0 = round(math.log(predicted_alpha_star(depth, sigma_w2, c0, params)) / step)
    return tuple(float(f"{math.exp(step * (k0 + o)):.6g}") for o in offsets)


@lru_cache(maxsize=256)
def _template(depth: int, sigma_w2: float, c0: float, form: str, inp: bool, bias: float, lo: float, hi: float,
              ) -> tuple[CubicSpline, float]:
    args = theory_args({"block": form, "input_layer": inp, "bias_var": bias}, sigma_w2)
    u = np.linspace(lo, hi, int(round((hi - lo) / 0.01)) + 1)
    chi = theory.correlation_response(args["q0"], c0, depth, np.exp(u), sigma_w2, args["bias_var"], ACT, DC,
                                      args["form"])
    top = theory.alpha_star(depth, sigma_w2, args["q0"], c0, args["bias_var"], ACT, DC, form=args["form"])
    return CubicSpline(u, np.log(chi)), math.log(top)


def response_template(depth: int, sigma_w2: float, c0: float, params: Mapping[str, Any], around: float,
                      ) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    """(f, u*): f(u) = log chi of the infinite-width secant response of the reading at this depth, as a
    function of u = log alpha, on around +- (1.5 + SHIFT_BOUND) (a cubic spline through steps of 0.01),
    and u* = log of its argmax (the finite-depth theory's alpha*)."""
    half = round(1.5 + SHIFT_BOUND, 2)
    centre = round(around, 1)
    return _template(int(depth), float(sigma_w2), float(c0), *network(params), centre - half, centre + half)


def cell_alphas(p: Mapping[str, Any]) -> list[float]:
    """The alphas a response cell measures: its lattice grid around the predicted argmax (computed per cell,
    so nothing is solved at import)."""
    return list(alpha_grid(int(p["depth"]), float(p["sigma_w2"]), float(p.get("c0", C0)), p))


def pair_inputs(ctx: CellContext, n: int, networks: int, c0: float) -> torch.Tensor:
    """Inputs (S, 3, n): x_a and two inputs at correlation c0 -+ dc with x_a, all of norm sqrt(q0 n)."""
    gen = ctx.generator(1)
    a = torch.randn(networks, n, generator=gen, dtype=torch.float64, device=gen.device)
    o = torch.randn(networks, n, generator=gen, dtype=torch.float64, device=gen.device)
    a = a / a.norm(dim=1, keepdim=True)
    o = o - (o * a).sum(1, keepdim=True) * a  # Gram-Schmidt: o orthogonal to a
    o = o / o.norm(dim=1, keepdim=True)
    xs = [a] + [c * a + math.sqrt(1.0 - c * c) * o for c in (c0 - DC, c0 + DC)]
    x = torch.stack(xs, dim=1) * math.sqrt(Q0 * n)
    return x.to(device=ctx.device, dtype=getattr(torch, ctx.dtype))


def secant_response(h_last: torch.Tensor) -> torch.Tensor:
    """Per-network (c_L(c0 + dc) - c_L(c0 - dc)) / (2 dc) from output states (S, 3, n)."""
    h = h_last.double()
    norm = h.norm(dim=-1)
    c = (h[:, :1] * h[:, 1:]).sum(-1) / (norm[:, :1] * norm[:, 1:])
    return (c[:, 1] - c[:, 0]) / (2.0 * DC)


def measure_response(ctx: CellContext) -> list[dict[str, Any]]:
    """Mean response over S networks at each alpha of this cell's grid (the same networks at every alpha)."""
    p = ctx.params
    n, depth, s2 = int(p["width"]), int(p["depth"]), float(p["sigma_w2"])
    c0 = float(p.get("c0", C0))
    form, inp, bias = network(p)
    x = pair_inputs(ctx, n, ctx.networks, c0)
    rows = []
    for alpha in cell_alphas(p):
        spec = ctx.spec(width=n, depth=depth, block=form, beta=0.0, scale=float(alpha), activation=ACT, sigma_w2=s2,
                        bias_var=bias, preact=True, input_dim=n if inp else None,
                        input_scale="sigma_w2" if inp else "unit")
        net = ctx.impl.build(spec, ctx.networks, ctx.generator(0))
        chi = secant_response(net.trace(x)[:, -1])
        for g, part in enumerate(chi.chunk(GROUPS)):  # independent networks: GROUPS clusters per cell
            rows.append({"scale": float(alpha), "c0": c0, "group": g, "response": float(part.mean())})
    return rows

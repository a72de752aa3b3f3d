"""Initial weights of S networks: frozen layers, the trained matrices' sources, decoupling draws.

Depth coupling: a call's runs are driven by one set of ``fine`` matrices per trained weight; a run of
depth L uses W_l^(L) = sum_{j<m} W_{m(l-1)+j+1}^(fine) / sqrt(m), m = fine / L, which has the law
N(0, 1/n) again for i.i.d. Gaussian weights, so depth 2L refines depth L. The paired decoupling noise
and the independent copies are coupled across depths the same way.

Sources of the reference's matrices (reference_impl.training.forms reads W_l(0) u and W_l(0)^T g):
"dense" materialises the fine matrices; "lazy" draws every product from its exact conditional law
(reference_impl.lazy), never forming W, so its draws happen while the runs train, in query order.
A plug-in's weights are its ``build``'s ``layer_weights()``, dense, drawn in groups of DRAW_GROUP
networks from generators seeded from the caller's, so results do not depend on the chunk size.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ..init import normals64
from ..lazy import LazyGaussian
from .config import Run, TrainConfig

DRAW_GROUP = 16  # networks drawn from one generator on the plug-in routes; a chunk is a whole number of groups


def coarse(w: torch.Tensor, depth: int) -> torch.Tensor:
    """(S, fine, ...) -> (S, depth, ...): sums of m = fine/depth consecutive layers / sqrt(m) (same law)."""
    s, fine = w.shape[:2]
    m = fine // depth
    if m == 1:
        return w
    return w.reshape(s, depth, m, *w.shape[2:]).sum(2) / math.sqrt(m)


class DenseSource:
    """S x fine materialised (n x n) matrices, entries N(0, 1/n); products at any coupled depth."""

    def __init__(self, s: int, fine: int, n: int, gen: torch.Generator, device: str) -> None:
        # one fill, scaled in place: the stream of torch.randn
        self.w = torch.empty(s, fine, n, n, dtype=torch.float64, device=device).normal_(0.0, n ** -0.5, generator=gen)
        self.by_depth: dict[int, torch.Tensor] = {}

    def at(self, depth: int) -> torch.Tensor:
        """The matrices of a run of ``depth`` (S, depth, n, n), formed once per depth."""
        if depth not in self.by_depth:
            self.by_depth[depth] = coarse(self.w, depth)
        return self.by_depth[depth]

    def fwd(self, depth: int, l: int, u: torch.Tensor) -> torch.Tensor:
        """W_l u for u (S, n, k)."""
        return self.at(depth)[:, l] @ u

    def bwd(self, depth: int, l: int, g: torch.Tensor) -> torch.Tensor:
        """W_l^T g for g (S, n, k)."""
        return self.at(depth)[:, l].transpose(1, 2) @ g


class LazySource:
    """S x fine exact lazy Gaussian (n x n) matrices, entries N(0, 1/n); products at any coupled depth."""

    def __init__(self, s: int, fine: int, n: int, gen: torch.Generator, device: str, capacity: int) -> None:
        self.mats = [LazyGaussian(s, n, n, 1.0 / n, gen, capacity=capacity, device=device) for _ in range(fine)]
        self.fine = fine

    def fwd(self, depth: int, l: int, u: torch.Tensor) -> torch.Tensor:
        """W_l u for u (S, n, k), drawn column by column."""
        return self._coupled(depth, l, lambda mat: mat.matmul(u))

    def bwd(self, depth: int, l: int, g: torch.Tensor) -> torch.Tensor:
        """W_l^T g for g (S, n, k), drawn column by column."""
        return self._coupled(depth, l, lambda mat: mat.rmatmul(g))

    def _coupled(self, depth: int, l: int, product: Callable[[LazyGaussian], torch.Tensor]) -> torch.Tensor:
        """The product with W_l^(depth) = sum of m = fine/depth fine matrices / sqrt(m), in fine order."""
        m = self.fine // depth
        out = product(self.mats[l * m])
        for j in range(1, m):
            out = out + product(self.mats[l * m + j])
        return out / math.sqrt(m)


def draw_frozen_layers(s: int, n: int, d: int, gen: torch.Generator, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """The frozen muP input layer U (S, n, d), entries N(0, 1/d), and readout v (S, n), entries N(0, 1)
    (used with multiplier 1/n); drawn first, before the hidden weights, from the run's generator."""
    u_in = torch.randn(s, n, d, generator=gen, dtype=torch.float64, device=device) / math.sqrt(d)
    v = torch.randn(s, n, generator=gen, dtype=torch.float64, device=device)
    return u_in, v


@dataclass
class Draw:
    """The random state of S networks: frozen layers, the trained weights (a source or a dense
    (S, fine, ...) tensor per name), paired decoupling noise and independent copies per stream."""

    u_in: torch.Tensor  # (S, n, d)
    v: torch.Tensor  # (S, n)
    w0: dict[str, Any]
    eps: dict[int, torch.Tensor]  # paired stream -> (S, fine, n, B)
    copies: dict[int, dict[str, Any]]  # independent stream -> weights like w0


def draw(s: int, fine: int, n: int, cfg: TrainConfig, runs: Sequence[Run], gen: torch.Generator, device: str,
         weights: Callable[[], dict[str, Any]]) -> Draw:
    """The one draw order: U and v, the weights (``weights()``), then each run's decoupling randomness
    in run order (a stream's noise or copy once)."""
    u_in, v = draw_frozen_layers(s, n, cfg.input_dim, gen, device)
    w0 = weights()
    eps: dict[int, torch.Tensor] = {}
    copies: dict[int, dict[str, Any]] = {}
    for r in runs:
        if r.backward == "paired" and r.stream not in eps:
            eps[r.stream] = normals64((s, fine, n, cfg.n_train), 1.0 / math.sqrt(n), gen, device)
        if r.backward == "independent" and r.stream not in copies:
            copies[r.stream] = weights()
    return Draw(u_in, v, w0, eps, copies)


def group_generator(base: int, group: int, device: str) -> torch.Generator:
    """The generator of draw group ``group`` (DRAW_GROUP networks) of a call whose caller drew ``base``."""
    seed = int(np.random.SeedSequence([base, group]).generate_state(1, np.uint64)[0]) % 2**63
    gen = torch.Generator(device=device if device.startswith("cuda") else "cpu")
    return gen.manual_seed(seed)


def cat(parts: list[Any]) -> Any:
    """Concatenate per-chunk values along the network dimension (tensors, dicts of them, None)."""
    if parts[0] is None:
        return None
    if isinstance(parts[0], dict):
        return {k: cat([p[k] for p in parts]) for k in parts[0]}
    return torch.cat(parts)


def cat_draws(parts: list[Draw]) -> Draw:
    """Draws of consecutive network groups as one draw."""
    return Draw(*(cat([getattr(d, f.name) for d in parts]) for f in fields(Draw)))

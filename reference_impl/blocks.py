"""The residual block, written once for every way of multiplying by a weight matrix.

A "multiplier" maps (layer k, matrix name "V" | "W", X (S, B, n)) to X @ M_k^T. The dense
ensemble multiplies stored matrices; the exact init sampler draws the product from its
conditional Gaussian law. Both then share this forward pass (and its cache for backward).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .activations import activation
from .protocol import NetSpec

Multiplier = Callable[[int, str, torch.Tensor], torch.Tensor]


@dataclass
class LayerCache:
    """What one block's backward pass needs: its input h, W h (res3) or V h + b (res1w), V's input X,
    pre-activation."""

    h: torch.Tensor
    u: torch.Tensor | None
    x: torch.Tensor
    pre: torch.Tensor


def residual_states(
    spec: NetSpec,
    h0: torch.Tensor,
    mul: Multiplier,
    bias: torch.Tensor | None,
    cache: list[LayerCache] | None = None,
) -> list[torch.Tensor]:
    """Hidden states [h_0, ..., h_L], each (S, B, n); fills ``cache`` when given.

    pre-activation: h' = h + a (V x + b), x = phi(h) (res1) or phi(W h) (res3);
    post-activation: h' = phi(h + a (V x + b)), x = h (res1) or phi(W h) (res3);
    res1w: h' = h + a phi(u), u = V h + b (the cache's ``u``), then phi again when post-activation.
    a = scale * L^-beta (Marion et al.'s alpha_L).
    """
    phi, _ = activation(spec.activation)
    a = spec.branch_multiplier
    h = h0
    states = [h0]
    for k in range(spec.depth):
        if spec.block == "res1w":
            x = h
            u = mul(k, "V", x) + (bias[:, k, None, :] if bias is not None else 0.0)
            z = phi(u)
        else:
            u = mul(k, "W", h) if spec.block == "res3" else None
            if u is not None:
                x = phi(u)
            else:
                x = phi(h) if spec.preact else h
            z = mul(k, "V", x)
            if bias is not None:
                z = z + bias[:, k, None, :]
        pre = h + a * z
        if cache is not None:
            cache.append(LayerCache(h=h, u=u, x=x, pre=pre))
        h = pre if spec.preact else phi(pre)
        states.append(h)
    return states


VJP = Callable[[int, str, torch.Tensor], torch.Tensor]


def residual_backward(spec: NetSpec, cache: list[LayerCache], g_out: torch.Tensor, vjp: VJP) -> torch.Tensor:
    """dLoss/dh_k for k = 0..L (S, L+1, B, n) given dLoss/dh_L, by the chain rule through ``cache``.

    ``vjp(k, name, delta)`` returns delta @ M_k (the backward product with the same matrix).
    """
    _, dphi = activation(spec.activation)
    a = spec.branch_multiplier
    g = g_out
    grads = [g_out]
    for k in reversed(range(spec.depth)):
        c = cache[k]
        d_pre = g if spec.preact else g * dphi(c.pre)
        if spec.block == "res1w":
            d_h = vjp(k, "V", a * d_pre * dphi(c.u))
        else:
            d_x = vjp(k, "V", a * d_pre)
            if c.u is not None:
                d_h = vjp(k, "W", d_x * dphi(c.u))
            else:
                d_h = d_x * dphi(c.h) if spec.preact else d_x
        g = d_pre + d_h
        grads.append(g)
    return torch.stack(grads[::-1], dim=1)

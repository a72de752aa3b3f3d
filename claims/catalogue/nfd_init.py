"""The NFD init coupling measured on a plug-in's own backward pass (grad_trace + layer_weights).

The statistic is the one of nfd2025.md section 2 after one SGD step from initialization (steps = 1):

  D_1 = f_1(true) - f_1(decoupled) at the first training input, where "true" updates every W_l with
        the gradient from the plug-in's ``grad_trace`` (its own backward pass) and "decoupled" with
        the gradient from the paired decoupled backward the suite builds from ``layer_weights()``:
        B_l = W_l (I - Q Q^T) + eps Q^T (Q an orthonormal basis of the initial training features
        x_l(0) = phi(h_{l-1}(0)), eps ~ N(0, I/n) drawn by the suite);
  A_0 = sum_l L^-1/2 c_l(0),  c_l(0) = mean_i <W_l q_{l,i}, ghat_{l,i}> / sqrt(n), ghat = n dF/dh_l
        from the plug-in's grad_trace, q = x(0)/|x(0)|;
  gain = ||h_L||^2 / ||h_0||^2 at the first training input: a function of the network alone, which
        the independence check (claims.stats.check_independent) uses.

Both runs' forward passes after the step, f_1 = <v, h_L(W + dW)>/n, are the suite's, from the
plug-in's weights; that these weights are the ones its trace uses is checked on every network
(the block outputs (h_l - h_{l-1}) / a must equal W_l phi(h_{l-1})). The network is the plug-in's
NetSpec with its muP input layer (input_dim = d, entries N(0, 1/d)); the readout v ~ N(0, I_n)
(multiplier 1/n) and eps are the suite's, from their own stream. For true backprop this has the
law of reference_impl.training's "reuse" and "paired" runs (same task, same SGD step), which is
how the fast reference, which has no weights, measures the same statistic (its exact lazy sampler).
"""
from __future__ import annotations

import math
from typing import Any

import torch

from reference_impl.activations import activation
from reference_impl.training import TrainConfig, draw_frozen_layers, make_task

from ..spec import CellContext

CHUNK_BYTES = 6e8  # weights of one build; a function of the sizes only, never of the machine
SUITE_STREAM = 3  # ctx.generator stream of the suite's readout and decoupling noise


def chunk_size(width: int, depth: int, itemsize: int) -> int:
    """Networks per build, so that one chunk's weights stay near CHUNK_BYTES."""
    return max(1, int(CHUNK_BYTES // (itemsize * depth * width * width)))


def _forward_after_step(w: torch.Tensor, gcols: torch.Tensor, xcols: torch.Tensor, h0: torch.Tensor, a: float,
                        phi: Any) -> torch.Tensor:
    """h_L with W_l + G_l X_l^T (S, L, n, n) + rank-B updates, from h_0 (S, B, n)."""
    h = h0
    for l in range(w.shape[1]):
        x = phi(h)
        z = x @ w[:, l].transpose(1, 2) + (x @ xcols[:, l]) @ gcols[:, l].transpose(1, 2)
        h = h + a * z
    return h


def _chunk(ctx: CellContext, spec: Any, cfg: TrainConfig, s: int, gen_net: torch.Generator,
           gen_suite: torch.Generator) -> dict[str, torch.Tensor]:
    """Per-network D_1, A_0 and gain for ``s`` networks built by the plug-in."""
    n, depth = spec.width, spec.depth
    phi, dphi = activation(spec.activation)
    task = make_task(cfg)
    xi, y = task.x_train.to(ctx.device), task.y_train.to(ctx.device)
    b = xi.shape[0]
    dt = spec.torch_dtype  # the run's dtype (float32 rounding is far below the Monte Carlo error of D_1)
    _, v = draw_frozen_layers(s, n, cfg.input_dim, gen_suite, ctx.device)  # the suite's readout (U is the plug-in's)
    v = v.to(dt)
    eps = (torch.randn(s, depth, n, b, generator=gen_suite, dtype=torch.float64, device=ctx.device) / math.sqrt(n)).to(dt)
    net = ctx.impl.build(spec, s, gen_net)
    x_in, y = xi.to(dt).expand(s, b, -1).contiguous(), y.to(dt)
    g_out = (v[:, None, :] / n).expand(s, b, n).contiguous()  # dF_i/dh_L, per input
    h, g = net.grad_trace(x_in, g_out)  # the plug-in's own backward pass: (S, L+1, B, n)
    ghat = n * g  # ghat = n dF/dh, O(1) coordinates
    w = net.layer_weights()["V"]  # (S, L, n, n)
    a = spec.branch_multiplier  # depth-muP: L^-1/2
    x0 = phi(h[:, :-1])  # (S, L, B, n): x_l(0) = phi(h_{l-1}(0))
    z0 = torch.einsum("slij,slbj->slbi", w, x0)  # W_l x_l(0)
    _check_weights(ctx, spec, (h[:, 1:] - h[:, :-1]) / a, z0)
    f0 = torch.einsum("sn,sbn->sb", v, h[:, -1]) / n
    chi = (f0 - y) / b if cfg.loss == "mse" else torch.full_like(f0, -1.0 / b)
    coef = -cfg.lr * a / n * chi  # SGD step: dW_l = -lr a / n sum_i chi_i ghat_{l,i} x_{l,i}^T
    xcols = x0.transpose(2, 3)  # (S, L, n, B)
    g_true = ghat[:, 1:].transpose(2, 3) * coef[:, None, None, :]
    # the paired decoupled backward through B_l = W_l (I - Q Q^T) + eps Q^T
    q, _ = torch.linalg.qr(xcols)
    wq = w @ q
    gh = v[:, :, None].expand(s, n, b)
    g_dec = torch.empty_like(g_true)
    for l in reversed(range(depth)):
        g_dec[:, l] = gh * coef[:, None, :]
        back = w[:, l].transpose(1, 2) @ gh + q[:, l] @ ((eps[:, l] - wq[:, l]).transpose(1, 2) @ gh)
        gh = gh + a * dphi(h[:, l].transpose(1, 2)) * back
    h0 = h[:, 0]
    f_true = torch.einsum("sn,sbn->sb", v, _forward_after_step(w, g_true, xcols, h0, a, phi)) / n
    f_dec = torch.einsum("sn,sbn->sb", v, _forward_after_step(w, g_dec, xcols, h0, a, phi)) / n
    unit = x0 / x0.norm(dim=3, keepdim=True)
    c0 = torch.einsum("slij,slbj,slbi->slb", w, unit, ghat[:, 1:]).mean(2) / math.sqrt(n)
    return {"D1": (f_true - f_dec)[:, 0].double(), "A0": c0.sum(1).double() * depth ** -0.5,
            "gain": h[:, -1, 0].double().pow(2).sum(-1) / h0[:, 0].double().pow(2).sum(-1)}


def _check_weights(ctx: CellContext, spec: Any, branch: torch.Tensor, z0: torch.Tensor) -> None:
    """The weights must be the ones the trace uses: (h_l - h_{l-1}) / a = W_l phi(h_{l-1})."""
    rtol = 1e-3 if spec.dtype == "float32" else 1e-8
    err = float((branch - z0).abs().max() / z0.abs().max().clamp_min(1e-30))
    if not err <= rtol:
        raise RuntimeError(f"plug-in {getattr(ctx.impl, 'name', ctx.impl)!r}: layer_weights()['V'] is not what trace() "
                           f"uses on {spec}: (h_l - h_(l-1)) / a differs from V_l phi(h_(l-1)) by {err:.3g} (relative)")


def measure_plugin_coupling(ctx: CellContext, keys: tuple[str, ...]) -> dict[str, float]:
    """Mean and standard error over the cell's networks of D_1, A_0, A_0^2 and the gain (module docstring);
    ``keys`` are the TrainConfig fields taken from the cell's parameters."""
    p = ctx.params
    cfg = TrainConfig(steps=1, **{k: p[k] for k in keys if k in p and k != "steps"})
    spec = ctx.spec(width=int(p["width"]), depth=int(p["depth"]), activation=p["activation"], beta=float(p["beta"]),
                    parametrization="depth_mup", input_dim=cfg.input_dim)
    gen_net, gen_suite = ctx.generator(0), ctx.generator(SUITE_STREAM)
    step = chunk_size(spec.width, spec.depth, spec.torch_dtype.itemsize)
    parts = [_chunk(ctx, spec, cfg, min(step, ctx.networks - i), gen_net, gen_suite)
             for i in range(0, ctx.networks, step)]
    per_net = {k: torch.cat([part[k] for part in parts]) for k in parts[0]}
    per_net["A0sq"] = per_net["A0"] ** 2
    row: dict[str, float] = {}
    for key, x in per_net.items():
        row[key] = float(x.mean())
        row[f"{key}_se"] = float(x.std() / math.sqrt(x.shape[0])) if x.shape[0] > 1 else 0.0
    return row

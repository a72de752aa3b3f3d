"""Depth-muP SGD for the block forms beyond the one-layer pre-activation block, true backprop only.

Same network, task, readout and SGD convention as reference_impl.training (module docstring there),
with the residual block chosen by the NetSpec and TrainConfig.post_branch_input:

    pre       h' = h + a V phi(h)                       block="res1", preact=True
    post      h' = phi(h + a V h)                       block="res1", preact=False, post_branch_input="h"
    post_phi  h' = phi(h + a V phi(h))                  block="res1", preact=False, post_branch_input="phi"
    res3      h' = h + a V phi(W h)                     block="res3", preact=True (reference_impl/blocks.py)

a = scale * L^-beta (depth-muP: beta = 1/2). Every V_l and W_l is trained; with g = dF/dh (F = f)
and chi = dLoss/df the SGD steps are

    V_l <- V_l - lr_L chi a d_l x_l^T,                 d_l = g (pre, res3) or g * phi'(pre-act) (post)
    W_l <- W_l - lr_L L^e chi (a phi'(u_l) * V_l^T g) h_{l-1}^T    (res3; e = first_layer_lr_exponent)

with lr_L = lr * L^-lr_depth_exponent. e = 0 is depth-muP for SGD; e = 1/2 is the depth-aware
correction of the first internal layer (claims/catalogue/nfd2025.md, section 9: the update of W_l h
carries one factor a = L^-1/2 and vanishes with depth unless its rate grows as L^1/2).

Recorded per step t (training inputs, before each step and after the last): the output and loss,
the feature-norm ratio |h_L|^2 / |h_0|^2, and for res3 the first internal layer's feature update
|(W_l(t) - W_l(0)) h_{l-1}(t)| / |W_l(0) h_{l-1}(t)| and its total change |u_l(t) - u_l(0)| / |u_l(0)|.
Weights come from the dense or lazy sources of reference_impl.training (every run its own draws;
no depth coupling).
"""
from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, Sequence

import torch

from .activations import activation
from .protocol import NetSpec, SpecError


def block_form(spec: NetSpec, cfg: Any) -> str:
    """The block form name (module docstring) of ``spec`` and the config's post-activation branch input."""
    if spec.block == "res3":
        if not spec.preact:
            raise SpecError("training supports res3 blocks in the pre-activation form h + a V phi(W h) (preact=True)")
        return "res3"
    if spec.preact:
        return "pre"
    return "post" if cfg.post_branch_input == "h" else "post_phi"


def train_blocks(spec: NetSpec, cfg: Any, n_networks: int, generator: torch.Generator, runs: Sequence[Any],
                 path: str = "lazy", chunk: int | None = None) -> dict[str, Any]:
    """Train S networks per run (each run of ``runs`` draws its own weights, in order) and return
    training.RunResult per run name with the feature records filled in."""
    from .training import RunResult, auto_chunk

    form = block_form(spec, cfg)
    for r in runs:
        if r.backward != "reuse":
            raise SpecError(f"run {r.name!r}: the {form!r} block trains with true backprop only (backward='reuse')")
    if path not in ("lazy", "dense"):
        raise ValueError(f"path={path!r} is invalid; allowed: lazy, dense")
    out: dict[str, Any] = {}
    for r in runs:
        mats = 2 if form == "res3" else 1
        step = chunk or auto_chunk(spec.width, r.depth * mats, cfg, 1, path)
        parts = [_run_block(spec, cfg, form, r.depth, min(step, n_networks - s0), generator, path)
                 for s0 in range(0, n_networks, step)]
        out[r.name] = RunResult(**{f.name: _cat([getattr(p, f.name) for p in parts]) for f in fields(RunResult)})
    return out


def _cat(parts: list[torch.Tensor | None]) -> torch.Tensor | None:
    return None if any(p is None for p in parts) else torch.cat(parts)  # type: ignore[arg-type]


class _Layer:
    """One trained matrix of every block: initial-weight products from a source plus rank-one updates."""

    def __init__(self, source: Any, depth: int, s: int, n: int, cols: int, device: str) -> None:
        self.source, self.depth = source, depth
        self.g = torch.zeros(s, depth, n, cols, dtype=torch.float64, device=device)  # dM_l = G_l X_l^T
        self.x = torch.zeros_like(self.g)

    def init_fwd(self, l: int, u: torch.Tensor) -> torch.Tensor:
        return self.source.fwd(self.depth, l, u)

    def update_fwd(self, l: int, u: torch.Tensor, k: int) -> torch.Tensor:
        return self.g[:, l, :, :k] @ (self.x[:, l, :, :k].transpose(1, 2) @ u) if k else torch.zeros_like(u)

    def bwd(self, l: int, g: torch.Tensor, k: int) -> torch.Tensor:
        back = self.source.bwd(self.depth, l, g)
        return back + self.x[:, l, :, :k] @ (self.g[:, l, :, :k].transpose(1, 2) @ g) if k else back


def _run_block(spec: NetSpec, cfg: Any, form: str, depth: int, s: int, gen: torch.Generator, path: str) -> Any:
    from .training import RunResult, _DenseSource, _LazySource, draw_frozen_layers, make_task

    phi, dphi = activation(spec.activation)
    n, dev, b, steps = spec.width, spec.device, cfg.n_train, cfg.steps
    task = make_task(cfg)
    u_in, v = draw_frozen_layers(s, n, cfg.input_dim, gen, dev)
    cap = (steps + 1) * (2 * b + cfg.n_test) + 4

    def layer() -> _Layer:
        src = _DenseSource(s, depth, n, gen, dev) if path == "dense" else _LazySource(s, depth, n, gen, dev, cap)
        return _Layer(src, depth, s, n, max(steps, 1) * b, dev)

    vmat = layer()
    wmat = layer() if form == "res3" else None
    a = spec.scale * depth ** (-spec.beta)  # branch multiplier; depth-muP: beta = 1/2
    lr = cfg.lr * depth ** (-cfg.lr_depth_exponent)
    lr_w = lr * depth ** cfg.first_layer_lr_exponent  # depth-aware correction on the first internal layer
    h0 = torch.einsum("snd,bd->snb", u_in, torch.cat([task.x_train, task.x_test]).to(dev))
    y = task.y_train.to(dev)
    k = 0
    u0: list[torch.Tensor] = []
    rec: dict[str, list[torch.Tensor]] = {"f": [], "ft": [], "loss": [], "norm": [], "upd": [], "chg": []}
    for t in range(steps + 1):
        # ---- forward (train + test inputs); cache what the backward pass needs ----
        h, cache = h0, []
        upd, chg = [], []
        for l in range(depth):
            u = None
            if wmat is not None:
                w0h = wmat.init_fwd(l, h)
                dwh = wmat.update_fwd(l, h, k)
                u = w0h + dwh
                if t == 0:
                    u0.append(u[:, :, :b])
                upd.append((dwh[:, :, :b].norm(dim=1) / w0h[:, :, :b].norm(dim=1)).mean(1))
                chg.append((u[:, :, :b] - u0[l]).norm(dim=1).div(u0[l].norm(dim=1)).mean(1))
                x = phi(u)
            else:
                x = h if form == "post" else phi(h)
            pre = h + a * (vmat.init_fwd(l, x) + vmat.update_fwd(l, x, k))
            cache.append((h, u, x, pre))
            h = phi(pre) if form in ("post", "post_phi") else pre
        f = torch.einsum("sn,snb->sb", v, h) / n  # muP readout: multiplier 1/n
        rec["f"].append(f[:, :b])
        rec["ft"].append(f[:, b:])
        rec["norm"].append((h[:, :, :b].pow(2).sum(1) / h0[:, :, :b].pow(2).sum(1)).mean(1))
        if wmat is not None:
            rec["upd"].append(torch.stack(upd, 1))
            rec["chg"].append(torch.stack(chg, 1))
        if cfg.loss == "mse":
            rec["loss"].append(0.5 * ((f[:, :b] - y) ** 2).mean(1))
            chi = (f[:, :b] - y) / b
        else:
            rec["loss"].append(-f[:, :b].mean(1))
            chi = torch.full_like(f[:, :b], -1.0 / b)
        if t == steps:
            break
        # ---- backward on the training inputs (ghat = n dF/dh) and the SGD step ----
        gh = v[:, :, None].expand(s, n, b).contiguous()
        coef_v, coef_w = ((-rate / n * chi)[:, None, :] for rate in (lr, lr_w))  # (S, 1, B)
        for l in reversed(range(depth)):
            hl, u, x, pre = (c[:, :, :b] if c is not None else None for c in cache[l])
            d = gh * dphi(pre) if form in ("post", "post_phi") else gh  # dF/d(pre-activation sum)
            back = vmat.bwd(l, d, k)  # V_l(t)^T d
            vmat.g[:, l, :, k:k + b] = a * d * coef_v
            vmat.x[:, l, :, k:k + b] = x
            if wmat is not None:
                du = a * back * dphi(u)  # dF/du_l
                wmat.g[:, l, :, k:k + b] = du * coef_w
                wmat.x[:, l, :, k:k + b] = hl
                gh = d + wmat.bwd(l, du, k)
            elif form == "post":
                gh = d + a * back
            else:
                gh = d + a * dphi(hl) * back
        k += b
    stack = lambda key: torch.stack(rec[key], 1) if rec[key] else None  # noqa: E731
    return RunResult(f_train=stack("f"), f_test=stack("ft"),
                     loss=stack("loss"), norm_ratio=stack("norm"), first_update=stack("upd"),
                     first_change=stack("chg"))

"""The reference's network in training: NetSpec's block forms on dense or lazy initial weights, with
the run's SGD updates kept as rank-B columns and the backward pass written out (true or decoupled).

Block forms (a = scale * L^-beta, depth-muP: beta = 1/2; TrainConfig.post_branch_input picks the
post-activation branch input):

    pre       h' = h + a V phi(h)                       block="res1", preact=True
    post      h' = phi(h + a V h)                       block="res1", preact=False, post_branch_input="h"
    post_phi  h' = phi(h + a V phi(h))                  block="res1", preact=False, post_branch_input="phi"
    res3      h' = h + a V phi(W h)                     block="res3", preact=True (reference_impl/blocks.py)

SGD (rates from reference_impl.training.updates, lr_V and lr_W): with g = dF/dh (F = f), chi = dLoss/df,
x_l V's input and d_l = g (pre, res3) or g * phi'(pre-activation) (post),

    V_l <- V_l - lr_V a sum_i chi_i d_{l,i} x_{l,i}^T
    W_l <- W_l - lr_W sum_i chi_i (a phi'(u_l) * V_l^T d_l)_i h_{l-1,i}^T      (res3, u_l = W_l h_{l-1})

kept as W_l(t) = W_l(0) + G_l X_l^T (columns appended each step). With g = ghat / n the V update of
the pre form is -lr a / n sum_i chi_i ghat_i x_i^T, so its effect on the next forward pass,
a dV x' = -lr a^2 sum_i chi_i ghat_i <x_i, x'>/n, is O(1/L) per block and O(1) over the L blocks:
muP in width (hidden SGD rate O(1) with readout multiplier 1/n, Tensor Programs V table 3) and
Depth-muP for SGD in depth (TP VI, arXiv 2310.02244). Input and readout layers are frozen: the
claims are about the hidden-layer dynamics, and freezing keeps dLoss/dh_L = chi v / n as in the NFD setting.

Backward passes of the pre form (Run.backward); the other forms train with true backprop:
  "reuse"       dLoss/dx_l = a V_l(t)^T g_l, the forward weights reused.
  "paired"      construction (a) of the note: B_l(0) = V_l(0)(I - Q Q^T) + eps Q^T, Q an orthonormal basis of
                this run's initial training features x_l(0), eps (n x B) i.i.d. N(0, 1/n) independent of
                everything: B_l(0) has the law of a fresh matrix independent of the initial forward
                products but shares all of V_l(0) off span(Q), so true and decoupled runs are paired.
                B_l(t) = B_l(0) + the run's own updates.
  "independent" construction (b): B_l(0) an independent copy (its own lazy/dense matrix).
  "untransposed" the transpose bug: dLoss/dx_l = a V_l(t) g_l (V where V^T belongs; square layers
                only); exists for the ``transpose-bug`` negative control.
Forward passes always use V_l(t) = V_l(0) + the run's own updates.

Trailing backward: on the lazy path the backward products are draws that later runs and chunks
condition on. The pre form without norm records runs the backward pass after its final update as well
(the coupling record's last entry); the other forms and norm-recording runs stop after the last
forward pass. This rule fixes the random streams of the training claims.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from ..activations import activation
from ..protocol import NetSpec, SpecError
from .config import Run, TrainConfig, make_task
from .records import Pass
from .sources import Draw, coarse
from .updates import DepthMupSGD

POST = ("post", "post_phi")


def block_form(spec: NetSpec, cfg: TrainConfig) -> str:
    """The block form name (module docstring) of ``spec`` and the config's post-activation branch input."""
    if spec.block == "res3":
        if not spec.preact:
            raise SpecError("training supports res3 blocks in the pre-activation form h + a V phi(W h) (preact=True)")
        return "res3"
    if spec.block != "res1":
        raise SpecError(f"training supports block='res1' and 'res3'; got block={spec.block!r}")
    if spec.preact:
        return "pre"
    return "post" if cfg.post_branch_input == "h" else "post_phi"


def check_form(form: str, run: Run) -> None:
    """The decoupled backward passes and the coupling record are built for the pre form only."""
    if form != "pre" and run.backward != "reuse":
        raise SpecError(f"run {run.name!r}: the {form!r} block trains with true backprop only (backward='reuse')")
    if form != "pre" and run.record_coupling:
        raise SpecError(f"run {run.name!r}: the coupling record is built for the pre-activation res1 block only; "
                        f"got the {form!r} block")


class LowRank:
    """One trained matrix of every block: initial-weight products from a source plus the run's updates
    G_l X_l^T (S, L, n, cols each)."""

    def __init__(self, source: Any, depth: int, s: int, n: int, cols: int, device: torch.device) -> None:
        self.source, self.depth = source, depth
        self.g = torch.zeros(s, depth, n, cols, dtype=torch.float64, device=device)
        self.x = torch.zeros_like(self.g)

    def init_fwd(self, l: int, u: torch.Tensor) -> torch.Tensor:
        return self.source.fwd(self.depth, l, u)

    def update_fwd(self, l: int, u: torch.Tensor, k: int) -> torch.Tensor:
        return self.g[:, l, :, :k] @ (self.x[:, l, :, :k].transpose(1, 2) @ u)

    def update_bwd(self, l: int, g: torch.Tensor, k: int) -> torch.Tensor:
        return self.x[:, l, :, :k] @ (self.g[:, l, :, :k].transpose(1, 2) @ g)

    def bwd(self, l: int, g: torch.Tensor, k: int) -> torch.Tensor:
        back = self.source.bwd(self.depth, l, g)
        return back + self.update_bwd(l, g, k) if k else back

    def write(self, l: int, k: int, g: torch.Tensor, x: torch.Tensor) -> None:
        """Append this step's update G X^T columns k..k+B of layer l."""
        self.g[:, l, :, k:k + g.shape[2]] = g
        self.x[:, l, :, k:k + g.shape[2]] = x


class NetSpecNetwork:
    """One run's S networks of a NetSpec block form (hidden states in columns, (S, n, B + Bt))."""

    batch_dim = 2

    def __init__(self, spec: NetSpec, cfg: TrainConfig, form: str, run: Run, d: Draw) -> None:
        s, n = d.v.shape
        self.form, self.run, self.depth, self.n, self.b, self.v = form, run, run.depth, n, cfg.n_train, d.v
        self.phi, self.dphi = activation(spec.activation)
        self.a = spec.scale * run.depth ** (-spec.beta)  # branch multiplier; depth-muP: beta = 1/2
        task = make_task(cfg)
        self.h0 = torch.einsum("snd,bd->snb", d.u_in, torch.cat([task.x_train, task.x_test]).to(d.v.device))
        cols = max(cfg.steps, 1) * cfg.n_train
        mats = {name: LowRank(src, run.depth, s, n, cols, d.v.device) for name, src in d.w0.items()}
        self.V, self.W = mats["V"], mats.get("W")
        self.copy = d.copies[run.stream]["V"] if run.backward == "independent" else None
        self.eps = coarse(d.eps[run.stream], run.depth) if run.backward == "paired" else None
        self.rule = DepthMupSGD(cfg, run)
        self.k = 0  # update columns so far
        self.trailing_backward = run.record_coupling or (form == "pre" and not run.record_norms)
        self.signals: list[tuple[torch.Tensor, ...]] = []

    def forward(self, t: int) -> Pass:
        k, a, phi, b = self.k, self.a, self.phi, self.b
        h, states, cache = self.h0, [self.h0], []
        z0s = [] if t == 0 and self.run.backward == "paired" else None  # V(0) x at the initial training features
        first = [] if self.W is not None and self.run.record_norms else None
        for l in range(self.depth):
            u = None
            if self.W is not None:
                w0h = self.W.init_fwd(l, h)
                dwh = self.W.update_fwd(l, h, k) if k else None
                u = w0h + dwh if k else w0h
                if first is not None:
                    first.append((w0h, dwh, u))
                x = phi(u)
            else:
                x = h if self.form == "post" else phi(h)
            z0 = self.V.init_fwd(l, x)
            z = z0 + self.V.update_fwd(l, x, k) if k else z0
            if z0s is not None:
                z0s.append(z0[:, :, :b])
            pre = h + a * z
            cache.append((h, u, x, pre))
            h = phi(pre) if self.form in POST else pre
            states.append(h)
        f = torch.einsum("sn,snb->sb", self.v, h) / self.n  # muP readout: multiplier 1/n
        return Pass(f[:, :b], f[:, b:], states, first, (cache, z0s))

    def _start(self, cache: list[tuple], z0s: list[torch.Tensor] | None) -> None:
        """At t = 0: the paired construction's basis Q and V(0) Q = Z R^-1 (x0 = Q R, Z = V(0) x0; no
        matrix needed, so the lazy path pairs too) and the coupling record's unit features."""
        b = self.b
        x0 = torch.stack([c[2][:, :, :b] for c in cache], 1)  # (S, L, n, B) initial training features
        if z0s is not None:
            self.q0, r = torch.linalg.qr(x0)
            self.wq0 = torch.linalg.solve_triangular(r, torch.stack(z0s, 1), upper=True, left=False)
        if self.run.record_coupling:
            self.unit0 = x0 / x0.norm(dim=2, keepdim=True)  # q_{l,i} = x_{l,i}(0) / |x_{l,i}(0)|

    def _initial_back(self, l: int, g: torch.Tensor, t: int) -> torch.Tensor:
        """M_l(0)^T g with the run's backward matrix M at step t: V(0), the paired B(0), an independent copy,
        or V(0) untransposed (V(0) before the run's ``decouple_from`` step)."""
        bw = self.run.backward if t >= self.run.decouple_from else "reuse"
        if bw == "independent":
            return self.copy.bwd(self.depth, l, g)  # type: ignore[union-attr]
        if bw == "untransposed":
            return self.V.source.fwd(self.depth, l, g)
        back = self.V.source.bwd(self.depth, l, g)
        if bw == "paired":  # V(0)^T g - Q (V(0)Q)^T g + Q eps^T g
            back = back + self.q0[:, l] @ ((self.eps[:, l] - self.wq0[:, l]).transpose(1, 2) @ g)  # type: ignore[index]
        return back

    def backward(self, p: Pass, chi: torch.Tensor, loss: torch.Tensor, t: int, last: bool) -> torch.Tensor | None:
        """ghat_l = n dF/dh_l per training input, from ghat_L = v (the readout), layer by layer."""
        cache, z0s = p.cache
        if t == 0:
            self._start(cache, z0s)
        k, a, dphi, b, n = self.k, self.a, self.dphi, self.b, self.n
        gh = self.v[:, :, None].expand(self.v.shape[0], n, b).contiguous()
        record = [] if self.run.record_coupling else None
        signals: list[tuple[torch.Tensor, ...]] = [()] * self.depth
        for l in reversed(range(self.depth)):
            h, u, x, pre = cache[l]
            h = h[:, :, :b]
            d = gh * dphi(pre[:, :, :b]) if self.form in POST else gh  # dF/d(pre-activation sum)
            back = self._initial_back(l, d, t)
            if record is not None:  # component of the initial-weight backward product along q_l
                record.append((self.unit0[:, l] * back).sum(1).mean(1) / math.sqrt(n))
            if k and self.run.backward == "untransposed" and t >= self.run.decouple_from:  # dV d, not dV^T d
                back = back + self.V.update_fwd(l, d, k)
            elif k:
                back = back + self.V.update_bwd(l, d, k)
            if self.W is not None:
                du = a * back * dphi(u[:, :, :b])  # dF/du_l
                signals[l] = (d, x[:, :, :b], du, h)
                gh = d + self.W.bwd(l, du, k)
            else:
                signals[l] = (d, x[:, :, :b])
                gh = d + a * back if self.form == "post" else d + a * dphi(h) * back
        self.signals = signals
        return torch.stack(record[::-1], 1) if record is not None else None

    def update(self, chi: torch.Tensor) -> None:
        """SGD: V_l <- V_l - lr_V a / n sum_i chi_i ghat_{l,i} x_{l,i}^T (and W_l for res3)."""
        k, b = self.k, self.b
        coef = -self.rule.rate("V") * self.a / self.n * chi  # (S, B)
        coef_w = (-self.rule.rate("W") / self.n * chi)[:, None, :] if self.W is not None else None
        for l, sig in enumerate(self.signals):
            self.V.write(l, k, sig[0] * coef[:, None, :], sig[1])
            if self.W is not None:
                self.W.write(l, k, sig[2] * coef_w, sig[3])
        self.k += b
        self.signals = []

"""A plug-in's network in training: its blocks through autograd, on its own drawn weights.

ContractNetwork (the training contract, Capability.TRAIN_STEP with WEIGHTS and a ``block`` method):
the plug-in supplies block k of its network as a function of its weights (``impl.block(spec, k,
weights, h)``: differentiable, batched over S networks, the weights named as in ``layer_weights()``);
the suite applies its SGD (reference_impl.training.updates) to those weights, with dLoss/dW and
dLoss/dh_k taken through the plug-in's own block (one torch.func.vjp per block), and adds
* the decoupled backward passes: the plug-in's backward plus a phi'(h_l) (B_l(0) - W_l(0))^T g, with
  B_l(0) paired (construction (a)) or an independent copy drawn by the plug-in (construction (b));
* the coupling record c_l(t) from the plug-in's W_l(0) and its own backward signal;
* the norm records, and for res3 weights ("W", NetSpec's h + a V phi(W h)) the first internal layer's
  updates, from the block inputs and the weights.
The decoupled passes and the coupling record use NetSpec's block formula h + a V phi(h) (res1,
pre-activation); the routes decline them for other block forms.

OptimizerNetwork (a module plug-in, ``ModuleImpl(..., optimizer=make)``): the plug-in's optimizer steps
on every parameter of its blocks (one network's parameters per tensor, so a library's per-parameter
rules see the shapes and attributes it set), with the gradients of the plug-in's own backward
(``loss.backward()``: for a library whose backward rescales weight gradients, such as unit_scaling,
the library's gradients, which its optimizer expects). The forward pass on the training inputs is
the one trained; test inputs are a separate pass without gradients, so a library that scales by the
batch size sees the training batch. With torch.optim.SGD it reproduces the contract's training.

Both hold hidden states in rows, (S, B + Bt, n).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch

from ..activations import activation
from ..module_adapter import networks_states
from ..protocol import NetSpec
from .config import Run, TrainConfig, make_task
from .records import Pass
from .sources import Draw, coarse
from .updates import DepthMupSGD, optimizer_name

Block = Callable[[NetSpec, int, dict[str, torch.Tensor], torch.Tensor], torch.Tensor]


def plugin_weights(impl: Any, spec: NetSpec, s: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """The block weights (S, L, ...) of S networks ``impl.build`` draws from ``gen``, float64."""
    net = impl.build(spec, s, gen)
    return {k: w.detach().to(torch.float64).clone() for k, w in net.layer_weights().items() if k != "in"}


def input_states(d: Draw, cfg: TrainConfig) -> torch.Tensor:
    """h_0 (S, B + Bt, n): the frozen muP input layer on the training and test inputs."""
    task = make_task(cfg)
    return torch.einsum("snd,bd->sbn", d.u_in, torch.cat([task.x_train, task.x_test]).to(d.v))


def block_pass(block: Block, spec: NetSpec, w: dict[str, torch.Tensor], h0: torch.Tensor
               ) -> tuple[list[torch.Tensor], list[Callable]]:
    """h_0..h_L through the plug-in's blocks, with each block's vector-Jacobian product."""
    hs, pulls = [h0], []
    for k in range(spec.depth):
        wk = {name: x[:, k] for name, x in w.items()}
        h, pull = torch.func.vjp(lambda wk_, h_, k=k: block(spec, k, wk_, h_), wk, hs[-1])
        hs.append(h)
        pulls.append(pull)
    return hs, pulls


def weight_grad(pull: Callable, gw: dict[str, torch.Tensor], g: torch.Tensor, chi: torch.Tensor, b: int
                ) -> dict[str, torch.Tensor]:
    """dLoss/dW of one block: sum_i chi_i dF_i/dW. ``gw`` is the vjp's weight part for the unweighted
    per-input signal g; with one training input it is rescaled, else one more vjp weights the inputs."""
    if b == 1:
        return {k: x * chi[:, 0].view(-1, *[1] * (x.dim() - 1)) for k, x in gw.items()}
    weighted = torch.zeros_like(g)
    weighted[:, :b] = g[:, :b] * chi[:, :, None]
    return pull(weighted)[0]


class ContractNetwork:
    """One run's S networks of a plug-in's blocks, trained by the suite's SGD."""

    batch_dim = 1

    def __init__(self, impl: Any, fine_spec: NetSpec, cfg: TrainConfig, run: Run, d: Draw) -> None:
        self.impl, self.run, self.d, self.b = impl, run, d, cfg.n_train
        self.spec = fine_spec.with_(depth=run.depth)
        self.phi, self.dphi = activation(fine_spec.activation)
        self.a = self.spec.branch_multiplier  # scale * L^-beta; depth-muP: beta = 1/2
        self.n = d.v.shape[1]
        self.h0 = input_states(d, cfg)
        self.w0 = {k: coarse(x, run.depth) for k, x in d.w0.items()}
        self.w = dict(self.w0)
        rule = DepthMupSGD(cfg, run)
        self.rates = {k: rule.rate(k) for k in self.w}
        self.trailing_backward = run.record_coupling
        self.corr: Callable[[int, torch.Tensor], torch.Tensor] | None = None
        self.grads: list[dict[str, torch.Tensor]] = []

    def forward(self, t: int) -> Pass:
        hs, pulls = block_pass(self.impl.block, self.spec, self.w, self.h0)
        f = torch.einsum("sn,sbn->sb", self.d.v, hs[-1]) / self.n  # muP readout: multiplier 1/n
        first = None
        if self.run.record_norms and "W" in self.w:  # W_l(0) h and (W_l(t) - W_l(0)) h at the block inputs
            first = []
            for l, h in enumerate(hs[:-1]):
                w0h = torch.bmm(h, self.w0["W"][:, l].transpose(1, 2))
                dwh = torch.bmm(h, (self.w["W"][:, l] - self.w0["W"][:, l]).transpose(1, 2)) if t else None
                first.append((w0h, dwh, w0h + dwh if t else w0h))
        b = self.b
        return Pass(f[:, :b], f[:, b:], hs, first, pulls)

    def backward(self, p: Pass, chi: torch.Tensor, loss: torch.Tensor, t: int, last: bool) -> torch.Tensor | None:
        """g = dF_i/dh per training input (F = f_i), through the plug-in's blocks."""
        run, b, n, hs = self.run, self.b, self.n, p.states
        if t == 0 and (run.record_coupling or run.backward != "reuse"):
            x0 = torch.stack([self.phi(h[:, :b]) for h in hs[:-1]], 1)  # (S, L, B, n) initial branch inputs
            self.unit0 = x0 / x0.norm(dim=-1, keepdim=True)
            self.corr = self._decoupling(x0)
        g = torch.zeros_like(hs[-1])
        g[:, :b] = self.d.v[:, None, :] / n
        grads: list[dict[str, torch.Tensor]] = []  # per layer, last first
        record = []
        for l in reversed(range(run.depth)):
            gw, gh = p.cache[l](g)
            if not last:
                grads.append(weight_grad(p.cache[l], gw, g, chi, b))
            gt = g[:, :b]
            decoupled = self.corr is not None and t >= run.decouple_from
            extra = self.corr(l, gt) if decoupled else None  # (B_l(0) - W_l(0))^T g
            if run.record_coupling:  # component along q_l of the initial-weight backward product M_l^T ghat
                back = torch.bmm(gt, self.w0["V"][:, l]) + (extra if extra is not None else 0.0)
                record.append((self.unit0[:, l] * back * n).sum(-1).mean(-1) / math.sqrt(n))
            if extra is not None:
                gh = gh.clone()
                gh[:, :b] = gh[:, :b] + self.a * self.dphi(hs[l][:, :b]) * extra
            g = gh
        self.grads = grads[::-1]
        return torch.stack(record[::-1], 1) if run.record_coupling else None

    def update(self, chi: torch.Tensor) -> None:
        """SGD: W <- W - rate dLoss/dW per weight name (training.updates)."""
        self.w = {k: self.w[k] - self.rates[k] * torch.stack([gl[k] for gl in self.grads], 1) for k in self.w}
        self.grads = []

    def _decoupling(self, x0: torch.Tensor) -> Callable[[int, torch.Tensor], torch.Tensor] | None:
        """g (S, B, n) -> (B_l(0) - W_l(0))^T g for the run's decoupled backward (None for true backprop).

        paired, construction (a): B_l(0) = W_l(0)(I - Q Q^T) + eps Q^T, Q an orthonormal basis of the
        run's initial branch inputs x_l(0), so (B - W)^T g = Q (eps - W Q)^T g.
        independent, construction (b): B_l(0) the plug-in's independent copy (coupled across depth alike)."""
        run, v0 = self.run, self.w0["V"]
        if run.backward == "paired":
            q, _ = torch.linalg.qr(x0.transpose(-1, -2))  # (S, L, n, B)
            diff = coarse(self.d.eps[run.stream], run.depth) - v0 @ q  # eps - W(0) Q, (S, L, n, B)
            return lambda l, g: ((g @ diff[:, l]) @ q[:, l].transpose(1, 2))
        if run.backward == "independent":
            delta = coarse(self.d.copies[run.stream]["V"], run.depth) - v0  # (S, L, n, n)
            return lambda l, g: torch.bmm(g, delta[:, l])
        return None


class OptimizerNetwork:
    """One run's S networks of a module plug-in's blocks, trained by the plug-in's optimizer."""

    batch_dim = 1
    trailing_backward = False

    def __init__(self, impl: Any, fine_spec: NetSpec, cfg: TrainConfig, run: Run, d: Draw) -> None:
        spec = fine_spec.with_(depth=run.depth)
        self.b, self.n, self.n_test, self.v = cfg.n_train, spec.width, cfg.n_test, d.v
        self.nets = impl.trainable_blocks(spec, {k: coarse(x, run.depth) for k, x in d.w0.items()})
        self.optimizer = DepthMupSGD(cfg, run).optimizer(impl.optimizer, [p for net in self.nets for p in net.parameters()])
        self.trained_by = optimizer_name(impl.optimizer, self.optimizer)
        self.h0 = input_states(d, cfg)

    def forward(self, t: int) -> Pass:
        b = self.b
        hs = networks_states(self.nets, self.h0[:, :b])
        f = torch.einsum("sn,sbn->sb", self.v, hs[-1]) / self.n  # muP readout: multiplier 1/n
        with torch.no_grad():
            test = networks_states(self.nets, self.h0[:, b:])[-1] if self.n_test else self.h0[:, b:]
        return Pass(f, torch.einsum("sn,sbn->sb", self.v, test) / self.n, hs)

    def backward(self, p: Pass, chi: torch.Tensor, loss: torch.Tensor, t: int, last: bool) -> None:
        self.optimizer.zero_grad()
        loss.sum().backward()  # networks are independent: each one's gradient of its own loss

    def update(self, chi: torch.Tensor) -> None:
        self.optimizer.step()

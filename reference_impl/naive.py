"""``naive-module``: a ResNet written the way a user writes one, plugged in through the contract.

Two layers, kept apart on purpose:

* :class:`NaiveResNet` is an ordinary ``torch.nn.Module`` for ONE network: ``nn.Linear`` layers in
  an ``nn.ModuleList``, a Python loop over the blocks, nothing batched over networks, nothing
  that knows about the claim suite except :meth:`NaiveResNet.reset_parameters_`, which draws the
  weights with the suite's samplers (``reference_impl.init``) from the generator it is given.
* :class:`NaiveModuleImpl` / :class:`NaiveEnsemble` adapt it to the contract
  (``reference_impl.protocol``): ``build`` makes S networks one after the other, ``trace`` loops
  over them, ``grad_trace`` gets dLoss/dh_k from autograd.

It shares no forward or backward code with the reference (``blocks.py``, ``sampling.py``), so a
claim that holds on both is checked by two independent implementations of the same NetSpec.
It is slow (dense weights, S x L small matmuls): use it at the smoke budget, or as a template.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .version import __version__
from .init import draw_layer_weights
from .protocol import Capability, NetSpec

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "erf": torch.erf, "gelu": F.gelu}


class Block(nn.Module):
    """One residual block.

    pre-activation:  res1 h + a V phi(h)          res3 h + a V phi(W h)
    post-activation: res1 phi(h + a V h)           res3 phi(h + a V phi(W h))
    res1w: h + a phi(V h) (post-activation: phi of that)
    with the branch bias inside V (``nn.Linear`` computes V x + b).
    """

    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        kw = {"dtype": spec.torch_dtype, "device": "meta"}  # allocated by NaiveResNet, drawn by reset_parameters_
        n = spec.width
        self.V = nn.Linear(n, n, bias=spec.bias_var > 0, **kw)
        self.W = nn.Linear(n, n, bias=False, **kw) if spec.block == "res3" else None
        self.phi = ACTIVATIONS[spec.activation]
        self.a = spec.branch_multiplier
        self.preact = spec.preact
        self.inner = spec.block == "res1w"  # h + a phi(V h + b): the weight inside the nonlinearity

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.inner:
            out = h + self.a * self.phi(self.V(h))
            return out if self.preact else self.phi(out)
        if self.W is not None:
            x = self.phi(self.W(h))
        else:
            x = self.phi(h) if self.preact else h
        out = h + self.a * self.V(x)
        return out if self.preact else self.phi(out)


class NaiveResNet(nn.Module):
    """One ResNet: optional input layer, then ``spec.depth`` blocks. forward: (B, d) -> (B, n)."""

    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        self.spec = spec
        # Layers are created on the meta device and then allocated uninitialised: nn.Linear's own
        # Kaiming init would draw from torch's global RNG; reset_parameters_ draws from a generator.
        self.input = (nn.Linear(spec.input_dim, spec.width, bias=False, dtype=spec.torch_dtype, device="meta")
                      if spec.input_dim is not None else None)
        self.blocks = nn.ModuleList(Block(spec) for _ in range(spec.depth))
        self.to_empty(device=spec.device)

    def forward(self, x: torch.Tensor, return_states: bool = False) -> torch.Tensor | list[torch.Tensor]:
        h = x if self.input is None else self.input(x)
        states = [h]
        for block in self.blocks:
            h = block(h)
            states.append(h)
        return states if return_states else h

    @torch.no_grad()
    def reset_parameters_(self, generator: torch.Generator) -> "NaiveResNet":
        """Draw every weight from ``generator``: V_k (and W_k) with the across-layer law of spec.init,
        entries of variance sigma_w2 / n; input layer N(0, 1/d) or N(0, sigma_w2/d); branch biases N(0, bias_var)."""
        spec, n = self.spec, self.spec.width
        v = draw_layer_weights(spec, 1, (n, n), generator)[0]  # (L, n, n), correlated across L per init
        w = draw_layer_weights(spec, 1, (n, n), generator)[0] if spec.block == "res3" else None
        for k, block in enumerate(self.blocks):
            block.V.weight.copy_(v[k])
            if w is not None:
                block.W.weight.copy_(w[k])
        if self.input is not None:
            z = torch.randn(n, spec.input_dim, generator=generator, dtype=spec.torch_dtype, device=spec.device)
            self.input.weight.copy_(z * math.sqrt(spec.input_variance / spec.input_dim))
        if spec.bias_var > 0:
            for block in self.blocks:
                z = torch.randn(n, generator=generator, dtype=spec.torch_dtype, device=spec.device)
                block.V.bias.copy_(math.sqrt(spec.bias_var) * z)
        return self


class NaiveEnsemble:
    """The contract's Ensemble over a Python list of S NaiveResNet modules."""

    def __init__(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> None:
        self.spec = spec
        self.nets = [NaiveResNet(spec).reset_parameters_(generator) for _ in range(n_networks)]
        for net in self.nets:
            net.requires_grad_(False)  # only dLoss/dh_k is needed, not parameter gradients

    def trace(self, x: torch.Tensor) -> torch.Tensor:
        """h_0..h_L (S, L+1, B, n) from x (S, B, d)."""
        return torch.stack([torch.stack(net(x[i], return_states=True)) for i, net in enumerate(self.nets)])

    def layer_weights(self) -> dict[str, torch.Tensor]:
        """The nn.Linear weights stacked over networks and layers (Capability.WEIGHTS)."""
        out = {"V": torch.stack([torch.stack([b.V.weight for b in net.blocks]) for net in self.nets])}
        if self.spec.block == "res3":
            out["W"] = torch.stack([torch.stack([b.W.weight for b in net.blocks]) for net in self.nets])
        if self.spec.input_dim is not None:
            out["in"] = torch.stack([net.input.weight for net in self.nets])
        return out

    def grad_trace(self, x: torch.Tensor, g_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Trace and dLoss/dh_k for Loss = sum <g_out, h_L>, by autograd, one network at a time."""
        traces, grads = [], []
        with torch.enable_grad():
            for i, net in enumerate(self.nets):
                states = net(x[i].detach().requires_grad_(True), return_states=True)
                g = torch.autograd.grad(states[-1], states, grad_outputs=g_out[i], allow_unused=True)
                grads.append(torch.stack([g_out[i] if gk is None else gk for gk in g]))
                traces.append(torch.stack([s.detach() for s in states]))
        return torch.stack(traces), torch.stack(grads)


class NaiveModuleImpl:
    """The plug-in object: name, version, capabilities, build."""

    name = "naive-module"
    version = __version__
    capabilities = Capability.FORWARD_TRACE | Capability.GRAD_TRACE | Capability.WEIGHTS

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> NaiveEnsemble:
        if n_networks < 1:
            raise ValueError(f"n_networks={n_networks} is invalid: expected a positive integer")
        return NaiveEnsemble(spec, n_networks, generator)


def make_naive_module() -> NaiveModuleImpl:
    """Entry point ``naive-module``."""
    return NaiveModuleImpl()

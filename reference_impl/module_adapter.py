"""Any per-network ``nn.Module`` ResNet as an implementation, batched over networks by torch.func.

The user gives a factory that builds ONE network for a NetSpec from a generator, and says where its
residual blocks are (a sequence applied in order, h_{k+1} = blocks[k](h_k)) and, optionally, its
input layer. :class:`ModuleImpl` builds S copies, stacks their parameters with
``torch.func.stack_module_state`` and runs every layer as one ``torch.func.vmap`` of
``torch.func.functional_call`` over the S networks (a Python loop over layers, none over networks):
h_0..h_L (FORWARD_TRACE), dLoss/dh_k through autograd (GRAD_TRACE), the weights stacked in the
contract's layout (WEIGHTS) and each block functionally in its weights (TRAIN_STEP: the suite trains
the network through reference_impl.plugin_training).
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Mapping

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .protocol import Capability, NetSpec

Factory = Callable[[NetSpec, torch.Generator], nn.Module]
TEMPLATE_SEED = 0  # the network whose non-weight block parameters block() uses (module docstring of ModuleImpl)


def _sub(params: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries under ``prefix.`` with the prefix removed (a submodule's own parameter names)."""
    return {k[len(prefix) + 1:]: v for k, v in params.items() if k.startswith(prefix + ".")}


def _block_weight_names(block: nn.Module, width: int, names: Mapping[str, str] | None) -> dict[str, str]:
    """Contract weight name -> parameter name inside a block: given, or the block's only n x n matrix as V."""
    if names is not None:
        return dict(names)
    square = [k for k, p in block.named_parameters() if tuple(p.shape) == (width, width)]
    if len(square) != 1:
        raise ValueError(f"cannot tell the block's weight V: its n x n parameters are {square}; pass "
                         "weights={'V': 'name.weight'} (and 'W' for res3) to ModuleImpl")
    return {"V": square[0]}


class ModuleEnsemble:
    """S copies of one nn.Module ResNet with stacked parameters; one vmapped call per layer."""

    def __init__(self, impl: "ModuleImpl", spec: NetSpec, n_networks: int, generator: torch.Generator) -> None:
        nets = [impl.factory(spec, generator).requires_grad_(False) for _ in range(n_networks)]  # grads: by torch.func
        self.spec, self.impl = spec, impl
        self.params, self.buffers = stack_module_state(nets)  # name -> (S, ...)
        self.template = nets[0]
        self.blocks = impl.blocks_of(self.template)
        if len(self.blocks) != spec.depth:
            raise ValueError(f"the factory's network has {len(self.blocks)} blocks at '{impl.blocks}'; "
                             f"expected spec.depth = {spec.depth}")
        self.names = _block_weight_names(self.blocks[0], spec.width, impl.weights)

    def _layer(self, prefix: str, module: nn.Module, h: torch.Tensor) -> torch.Tensor:
        call = partial(functional_call, module)
        return vmap(lambda p, b, x: call((p, b), (x,)))(_sub(self.params, prefix), _sub(self.buffers, prefix), h)

    def _states(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = x if self.impl.input is None else self._layer(self.impl.input, self.impl.input_of(self.template), x)
        states = [h]
        for k, block in enumerate(self.blocks):
            h = self._layer(f"{self.impl.blocks}.{k}", block, h)
            states.append(h)
        return states

    def trace(self, x: torch.Tensor) -> torch.Tensor:
        """h_0..h_L (S, L+1, B, n) from x (S, B, d)."""
        with torch.no_grad():
            return torch.stack(self._states(x), 1)

    def grad_trace(self, x: torch.Tensor, g_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Trace and dLoss/dh_k (S, L+1, B, n) for Loss = sum <g_out, h_L>, by autograd."""
        with torch.enable_grad():
            states = self._states(x.detach().requires_grad_(True))
            grads = torch.autograd.grad(states[-1], states, grad_outputs=g_out, allow_unused=True)
        grads = [g_out if g is None else g for g in grads]
        return torch.stack([s.detach() for s in states], 1), torch.stack(grads, 1)

    def layer_weights(self) -> dict[str, torch.Tensor]:
        """The block weights (S, L, n, n) under the contract's names, "in" (S, n, d) with an input layer."""
        out = {name: torch.stack([self.params[f"{self.impl.blocks}.{k}.{p}"] for k in range(self.spec.depth)], 1)
               for name, p in self.names.items()}
        if self.impl.input is not None:
            out["in"] = self.params[f"{self.impl.input}.weight"]
        return {k: v.detach() for k, v in out.items()}


class ModuleImpl:
    """An implementation from a per-network nn.Module factory.

    ``factory(spec, generator)`` builds one network, drawing every random number from ``generator``
    (or raising NotImplementedError for a spec it cannot express); ``blocks`` is the attribute path
    of its residual blocks (an nn.ModuleList / nn.Sequential); ``input`` the path of an input layer
    applied before them (None: h_0 = x); ``weights`` maps the contract's "V" (and "W") to parameter
    names inside a block (default: its only n x n parameter is V). For training, ``block`` takes the
    block's other parameters and buffers from one network drawn with seed TEMPLATE_SEED, so they
    must not be random (norm gains, fixed multipliers are fine).
    """

    capabilities = Capability.FORWARD_TRACE | Capability.GRAD_TRACE | Capability.WEIGHTS | Capability.TRAIN_STEP

    def __init__(self, name: str, factory: Factory, blocks: str = "blocks", input: str | None = None,
                 weights: Mapping[str, str] | None = None, version: str = "0") -> None:
        self.name, self.factory, self.blocks, self.input = name, factory, blocks, input
        self.weights, self.version = weights, version
        self._templates: dict[NetSpec, nn.Module] = {}

    def blocks_of(self, net: nn.Module) -> nn.Module:
        return net.get_submodule(self.blocks)

    def input_of(self, net: nn.Module) -> nn.Module:
        return net.get_submodule(self.input or "")

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> ModuleEnsemble:
        if n_networks < 1:
            raise ValueError(f"n_networks={n_networks} is invalid: expected a positive integer")
        return ModuleEnsemble(self, spec, n_networks, generator)

    def block(self, spec: NetSpec, k: int, weights: Mapping[str, torch.Tensor], h: torch.Tensor) -> torch.Tensor:
        """Block k of a network of ``spec`` with the given weights (S, ...) (the training contract)."""
        if spec not in self._templates:  # one network of this spec (built plainly: this may run inside torch.func)
            gen = torch.Generator(device=spec.device if spec.device.startswith("cuda") else "cpu")
            self._templates = {spec: self.blocks_of(self.factory(spec, gen.manual_seed(TEMPLATE_SEED)))}
        blk = self._templates[spec][k]
        names = _block_weight_names(blk, spec.width, self.weights)
        fixed = {n: v.detach() for n, v in [*blk.named_parameters(), *blk.named_buffers()] if n not in names.values()}
        call = partial(functional_call, blk)
        return vmap(lambda w, x: call((fixed, {names[c]: w[c] for c in names}), (x,)))(dict(weights), h)

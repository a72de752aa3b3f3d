"""Any per-network ``nn.Module`` ResNet as an implementation, batched over networks by torch.func.

The user gives a factory that builds ONE network for a NetSpec from a generator, and says where its
residual blocks are (a sequence applied in order, h_{k+1} = blocks[k](h_k)) and, optionally, its
input layer. :class:`ModuleImpl` builds S copies, stacks their parameters with
``torch.func.stack_module_state`` and runs every layer as one ``torch.func.vmap`` of
``torch.func.functional_call`` over the S networks (a Python loop over layers, none over networks):
h_0..h_L (FORWARD_TRACE), dLoss/dh_k through autograd (GRAD_TRACE), the weights stacked in the
contract's layout (WEIGHTS) and each block functionally in its weights (TRAIN_STEP: the suite trains
the network through reference_impl.training.train_network). Given an optimizer, the suite can also train
the blocks' own parameters with it (reference_impl.training.train_optimizer).
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Mapping

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from .protocol import Capability, Family, NetSpec

Factory = Callable[[NetSpec, torch.Generator], nn.Module]
Draw = Callable[[NetSpec, int, torch.Generator], Mapping[str, torch.Tensor]]  # (spec, S, generator) -> name -> (S, ...)
Optimizer = Callable[[list[nn.Parameter], float], torch.optim.Optimizer]  # (parameters, learning rate)
TEMPLATE_SEED = 0  # the network whose non-weight block parameters block() uses (module docstring of ModuleImpl)
TEMPLATES_KEPT = 4  # specs whose template network is kept: training alternates the fine depth and each run's


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


def stacked_call(module: nn.Module, params: Mapping[str, torch.Tensor], buffers: Mapping[str, torch.Tensor],
                 h: torch.Tensor) -> torch.Tensor:
    """``module`` applied to h (S, ...) with the parameters and buffers of S networks (S, ...): one vmap."""
    call = partial(functional_call, module)
    return vmap(lambda p, b, x: call((p, b), (x,)))(dict(params), dict(buffers), h)


def block_states(blocks: nn.Module, params: Mapping[str, torch.Tensor], buffers: Mapping[str, torch.Tensor],
                 h: torch.Tensor) -> list[torch.Tensor]:
    """h_0 = h, h_{k+1} = blocks[k](h_k) for S networks whose block parameters (names inside ``blocks``) are stacked."""
    states = [h]
    for k, block in enumerate(blocks):
        states.append(stacked_call(block, _sub(params, str(k)), _sub(buffers, str(k)), states[-1]))
    return states


def networks_states(nets: list[nn.Module], h: torch.Tensor) -> list[torch.Tensor]:
    """block_states of S networks' own blocks (each an nn.ModuleList), their parameters stacked
    differentiably: gradients reach every network's own parameters (reference_impl.training.train_optimizer)."""
    params = [dict(net.named_parameters()) for net in nets]
    buffers = [dict(net.named_buffers()) for net in nets]
    return block_states(nets[0], {k: torch.stack([p[k] for p in params]) for k in params[0]},
                        {k: torch.stack([b[k] for b in buffers]) for k in buffers[0]}, h)


def check_blocks_distinct(blocks: nn.Module, path: str) -> None:
    """Raise ValueError when two residual blocks hold the same parameter tensor (one block object put in
    every layer, or a weight tied across layers): the contract's networks have a weight per layer."""
    seen: dict[int, tuple[int, str]] = {}
    for k, block in enumerate(blocks):
        for name, p in block.named_parameters():
            if id(p) in seen and seen[id(p)][0] != k:
                first, other = seen[id(p)]
                raise ValueError(f"blocks share parameters: '{path}.{first}.{other}' and '{path}.{k}.{name}' are one "
                                 "tensor (one block object used in several layers?); build a new block per layer")
            seen.setdefault(id(p), (k, name))


SCOPE = ("the claims are about MLP residual networks with width-n hidden states (h_k a vector of n coordinates, dense "
         "n x n block weights)")


def check_mlp(blocks: nn.Module, path: str) -> None:
    """Raise NotImplementedError (the plug-in declines: `not applicable`) with SCOPE when a residual block
    contains a convolution: its hidden states are feature maps, outside what every claim is about."""
    for name, module in blocks.named_modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            raise NotImplementedError(f"{SCOPE}; '{path}.{name}' is a {type(module).__name__}, so this is a "
                                      "convolutional ResNet (docs/plugins.md, 'Scope')")


def check_initialised(net: nn.Module, used: tuple[str, ...]) -> None:
    """Raise ValueError naming a parameter the suite uses (under the paths ``used``) that holds NaN or Inf:
    reference_impl.netspec_modules.draw_block_weights leaves the parameters it does not draw NaN."""
    for name, p in net.named_parameters():
        if any(name.startswith(u + ".") for u in used) and not bool(torch.isfinite(p).all()):
            raise ValueError(f"parameter '{name}' is not finite: parameters outside the drawn block weights are "
                             "uninitialised (draw_block_weights draws only the named weights); set them in the factory")


class ModuleEnsemble:
    """S copies of one nn.Module ResNet with stacked parameters; one vmapped call per layer.

    ``supplied_input`` (S, n, d): the suite's frozen input layer, for a spec with an input layer when the
    module has none (ModuleImpl's ``input`` is None)."""

    def __init__(self, impl: "ModuleImpl", spec: NetSpec, template: nn.Module, params: Mapping[str, torch.Tensor],
                 buffers: Mapping[str, torch.Tensor], supplied_input: torch.Tensor | None = None) -> None:
        self.spec, self.impl = spec, impl
        self.params, self.buffers = dict(params), dict(buffers)  # name -> (S, ...)
        self.template = template
        self.blocks = impl.blocks_of(self.template)
        if len(self.blocks) != spec.depth:
            raise ValueError(f"the factory's network has {len(self.blocks)} blocks at '{impl.blocks}'; "
                             f"expected spec.depth = {spec.depth}")
        check_blocks_distinct(self.blocks, impl.blocks)
        self.names = _block_weight_names(self.blocks[0], spec.width, impl.weights)
        self.supplied_input = supplied_input

    def _states(self, x: torch.Tensor) -> list[torch.Tensor]:
        inp = self.impl.input if self.spec.input_dim is not None else None
        if self.supplied_input is not None:
            h = torch.bmm(x, self.supplied_input.transpose(1, 2))
        else:
            h = x if inp is None else stacked_call(self.impl.input_of(self.template), _sub(self.params, inp),
                                                   _sub(self.buffers, inp), x)
        pre = self.impl.blocks
        return block_states(self.blocks, _sub(self.params, pre), _sub(self.buffers, pre), h)

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
        if self.supplied_input is not None:
            out["in"] = self.supplied_input
        elif self.impl.input is not None and self.spec.input_dim is not None:
            out["in"] = self.params[f"{self.impl.input}.weight"]
        return {k: v.detach() for k, v in out.items()}


class ModuleImpl:
    """An implementation from a per-network nn.Module factory.

    ``factory(spec, generator)`` builds one network, drawing every random number from ``generator``
    (or raising NotImplementedError for a spec it cannot express); ``blocks`` is the attribute path
    of its residual blocks (an nn.ModuleList / nn.Sequential); ``input`` the path of an input layer
    applied before them when the spec has one (``spec.input_dim``; None: the suite supplies its frozen
    input layer, entries N(0, spec.input_variance / d) drawn from the generator after the networks, and
    h_0 = x without one); ``family`` (reference_impl.protocol.Family) the networks the module implements,
    so that each claim runs in it (claims.families); ``weights`` maps the contract's "V" (and "W") to parameter
    names inside a block (default: its only n x n parameter is V). For training, ``block`` takes the
    block's other parameters and buffers from one network drawn with seed TEMPLATE_SEED, so they
    must not be random (norm gains, fixed multipliers are fine).

    ``netspec_blocks=False`` says the blocks do not compute NetSpec's h + a V phi(h) with V the named
    weight (a normalised residual, a rescaled backward): the suite's constructions built from that
    formula (Capability.WEIGHTS, the training contract) are then not offered. ``optimizer(params, lr)``
    returns a torch.optim.Optimizer (torch's own or a library's) that trains the blocks' parameters
    (reference_impl.training.train_optimizer; lr = TrainConfig.lr * L^-lr_depth_exponent).

    ``draw(spec, S, generator)``, when given, returns the random parameters of S networks at once
    (parameter name in the network -> (S, ...)), drawn as S factory calls would draw them (e.g.
    reference_impl.netspec_modules.stacked_block_weights): ``build`` then calls the factory once per spec
    (seed TEMPLATE_SEED) for the network's structure and its other parameters and buffers, which must
    not be random, instead of once per network. Building modules costs milliseconds per network for
    a library that validates or annotates every layer, so this is what makes large sweeps affordable.
    """

    def __init__(self, name: str, factory: Factory, blocks: str = "blocks", input: str | None = None,
                 weights: Mapping[str, str] | None = None, version: str = "0", netspec_blocks: bool = True,
                 optimizer: Optimizer | None = None, draw: Draw | None = None, family: Family | None = None) -> None:
        self.name, self.factory, self.blocks, self.input = name, factory, blocks, input
        self.family = family
        self.weights, self.version, self.optimizer, self.draw = weights, version, optimizer, draw
        self.capabilities = Capability.FORWARD_TRACE | Capability.GRAD_TRACE
        if netspec_blocks:
            self.capabilities |= Capability.WEIGHTS
        if netspec_blocks or optimizer is not None:
            self.capabilities |= Capability.TRAIN_STEP
        self._templates: dict[NetSpec, nn.Module] = {}
        self._trainable: dict[tuple[NetSpec, int], list[nn.Module]] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (worker processes, Dask) without the built modules: a worker builds its own."""
        return {**self.__dict__, "_templates": {}, "_trainable": {}}

    def blocks_of(self, net: nn.Module) -> nn.Module:
        return net.get_submodule(self.blocks)

    def input_of(self, net: nn.Module) -> nn.Module:
        return net.get_submodule(self.input or "")

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> ModuleEnsemble:
        if n_networks < 1:
            raise ValueError(f"n_networks={n_networks} is invalid: expected a positive integer")
        used = (self.blocks,) + ((self.input,) if self.input is not None and spec.input_dim is not None else ())
        supplied, spec = spec, self.module_spec(spec)
        if self.draw is None:
            nets = [self.factory(spec, generator).requires_grad_(False) for _ in range(n_networks)]  # grads: torch.func
            for net in nets[:1]:
                check_mlp(self.blocks_of(net), self.blocks)
                check_blocks_distinct(self.blocks_of(net), self.blocks)
                check_initialised(net, used)
            return ModuleEnsemble(self, supplied, nets[0], *stack_module_state(nets),
                                  self._supplied(supplied, n_networks, generator))
        net = self._network(spec)
        check_mlp(self.blocks_of(net), self.blocks)
        drawn = dict(self.draw(spec, n_networks, generator))
        unknown = sorted(set(drawn) - {name for name, _ in net.named_parameters()})
        if unknown:
            raise ValueError(f"{self.name}: draw() returned {unknown}, which are not parameters of the factory's network")
        params = {name: drawn[name] if name in drawn else p.detach().expand(n_networks, *p.shape)
                  for name, p in net.named_parameters()}
        buffers = {name: b.detach().expand(n_networks, *b.shape) for name, b in net.named_buffers()}
        check_initialised(net, used)
        return ModuleEnsemble(self, supplied, net, params, buffers, self._supplied(supplied, n_networks, generator))

    def module_spec(self, spec: NetSpec) -> NetSpec:
        """The spec the factory builds: without the input layer when the suite supplies it (``input`` None)."""
        return spec if self.input is not None or spec.input_dim is None else spec.with_(input_dim=None, input_scale="unit")

    def _supplied(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> torch.Tensor | None:
        """The suite's frozen input layer (S, n, d), entries N(0, input_variance / d), for a spec with an input
        layer when the module has none; drawn from ``generator`` after the networks."""
        if spec.input_dim is None or self.input is not None:
            return None
        std = (spec.input_variance / spec.input_dim) ** 0.5
        return std * torch.randn(n_networks, spec.width, spec.input_dim, generator=generator, dtype=spec.torch_dtype,
                                 device=spec.device)

    def _network(self, spec: NetSpec) -> nn.Module:
        """One network of ``spec`` drawn with seed TEMPLATE_SEED, built once per spec (callers may run inside
        torch.func, so it is built plainly): its non-drawn parameters and buffers are every network's."""
        if spec not in self._templates:
            gen = torch.Generator(device=spec.device if spec.device.startswith("cuda") else "cpu")
            while len(self._templates) >= TEMPLATES_KEPT:
                del self._templates[next(iter(self._templates))]  # the oldest
            self._templates[spec] = self.factory(spec, gen.manual_seed(TEMPLATE_SEED))
        return self._templates[spec]

    def trainable_blocks(self, spec: NetSpec, weights: Mapping[str, torch.Tensor]) -> list[nn.Module]:
        """The blocks of S networks built by the factory (seed TEMPLATE_SEED) holding the given weights (S, L, ...)
        under the contract's names: per-network parameters with what a library attaches to them
        (reference_impl.training.train_optimizer; a copy would lose it). The modules are built once per (spec, S) and
        reset on every call: each call invalidates the blocks an earlier call returned."""
        s = next(iter(weights.values())).shape[0]
        if (spec, s) not in self._trainable:
            gen = torch.Generator(device=spec.device if spec.device.startswith("cuda") else "cpu")
            self._trainable = {(spec, s): [self.blocks_of(self.factory(spec, gen.manual_seed(TEMPLATE_SEED)))
                                           .requires_grad_(True) for _ in range(s)]}
        template = self.blocks_of(self._network(spec))
        state = {**dict(template.named_parameters()), **dict(template.named_buffers())}
        names = _block_weight_names(template[0], spec.width, self.weights)
        given = {f"{k}.{p}": (c, k) for k in range(spec.depth) for c, p in names.items()}  # each written once
        nets = self._trainable[(spec, s)]
        with torch.no_grad():
            for i, blocks in enumerate(nets):
                for name, t in [*blocks.named_parameters(), *blocks.named_buffers()]:
                    t.copy_(weights[given[name][0]][i, given[name][1]] if name in given else state[name])
                    t.grad = None
        return nets

    def block(self, spec: NetSpec, k: int, weights: Mapping[str, torch.Tensor], h: torch.Tensor) -> torch.Tensor:
        """Block k of a network of ``spec`` with the given weights (S, ...) (the training contract)."""
        blk = self.blocks_of(self._network(spec))[k]
        names = _block_weight_names(blk, spec.width, self.weights)
        fixed = {n: v.detach() for n, v in [*blk.named_parameters(), *blk.named_buffers()] if n not in names.values()}
        call = partial(functional_call, blk)
        return vmap(lambda w, x: call((fixed, {names[c]: w[c] for c in names}), (x,)))(dict(weights), h)

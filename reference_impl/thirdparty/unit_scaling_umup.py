"""``unit-scaling-umup``: a u-muP MLP ResNet written with graphcore's ``unit_scaling``, plugged in by the module adapter.

The network is what a u-muP user writes: blocks ``residual_apply(lambda x: uu.Linear(phi(x)), h, tau_k)``
in a ``DepthModuleList``, tau_k from the library's depth rule
``transformer_residual_scaling_rule(residual_mult=scale)(k, L)``, weights N(0, 1) (uu.Linear's own law).

Mapping onto NetSpec (res1, pre-activation, no bias, no input layer):

* block: h_{k+1} = (h_k + tau_k U_k phi(h_k)) / sqrt(1 + tau_k^2), U_k = W_k / sqrt(n) with W_k the
  uu.Linear weight, entries N(0, 1): U_k has NetSpec's law for sigma_w2 = 1 (entries N(0, 1/n)).
* tau_k = scale / sqrt(L/2 + k scale^2) for k = 0..L-1 (residual_attn_ratio = 1, so the rule's
  alternating attention / MLP indices get the same weight): tau_k sqrt(L) = scale / sqrt(1/2 + scale^2 k/L),
  a 1/sqrt(L) rule, so beta = 1/2 is the only depth exponent it expresses; the multiplier varies with
  k/L between scale sqrt(2/L) and scale sqrt(2/L) / sqrt(1 + 2 scale^2), where NetSpec's a = scale L^-1/2
  is constant.
* Equal in law: nothing, exactly. For positively homogeneous phi (relu) the states are
  h_k = sqrt(L/2 / (L/2 + k scale^2)) g_k with g_{k+1} = g_k + tau_k U_k phi(g_k): NetSpec's
  recursion with a layer-dependent multiplier and a deterministic factor per layer (sqrt(1/(1 + 2 scale^2))
  at the output). For tanh / erf the normalisation also changes the argument of phi.
* Not expressible (NotImplementedError): beta != 1/2, sigma_w2 != 1 (unit scaling fixes the weight
  scale), post-activation and two-layer blocks, biases, an input layer, non-Gaussian weights, gelu
  (the library's gelu is unit-scaled: a different phi).

Because the blocks are not NetSpec's formula, the adapter does not offer Capability.WEIGHTS nor the
suite's training contract (the decoupled backward and records built from that formula): claims that
need them are `not applicable`. The training claims that need none of them train the blocks with the
library's ``unit_scaling.optim.SGD`` (reference_impl.training.train_optimizer), whose rule multiplies the rate
by L^-1/2 (``lr_scale_for_depth``, from the DepthModuleList) and the weights' by fan_in^-1/2.

Gradients: ``scale_bwd`` rescales backward signals. For the hidden states the scalings cancel within
each block (residual_split scales the branch's backward by tau/sqrt(1+tau^2) where residual_add scaled
its forward; uu.Linear's input gradient is scaled by 1/sqrt(fan_in) like its forward), so GRAD_TRACE is
the true dLoss/dh_k, as reference_impl.protocol defines it (tests check it against the plain formula).
The weight gradients are the library's, not the true ones: sqrt(n / B) sqrt(1 + tau^2) / tau times
dLoss/dW (B the batch rows); the library's optimizer is built for these, and the optimizer route
trains with them, as a u-muP user's ``loss.backward()`` does.

``unit_scaling.scale._ScaledGrad`` is an autograd.Function without torch.func support; while a block
runs, the adapter puts in its place a Function with the same forward (fwd_scale X) and backward
(bwd_scale grad) that torch.func can vmap.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch
from torch import nn

from ..module_adapter import ModuleImpl
from ..naive import ACTIVATIONS
from ..protocol import NetSpec

EXPRESSED = {"block": "res1", "preact": True, "bias_var": 0.0, "input_dim": None, "init": "gaussian", "beta": 0.5,
             "sigma_w2": 1.0}
REASONS = {"block": "builds one-layer blocks only (res1)", "preact": "builds pre-activation blocks only",
           "bias_var": "builds blocks without biases", "input_dim": "builds no input layer",
           "init": "draws uu.Linear's i.i.d. N(0, 1) weights only", "beta": "the library's depth rule for tau is a "
           "1/sqrt(L) rule (beta = 1/2)", "sigma_w2": "unit scaling fixes weight entries N(0, 1) times "
           "1/sqrt(fan_in) (sigma_w2 = 1)"}


class _ScaledGrad(torch.autograd.Function):
    """unit_scaling.scale._ScaledGrad (forward fwd_scale X, backward bwd_scale grad) with torch.func support."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: torch.Tensor, fwd_scale: float, bwd_scale: float) -> torch.Tensor:  # type: ignore[override]
        return fwd_scale * x

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: torch.Tensor) -> None:
        ctx.bwd_scale = inputs[2]

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        return ctx.bwd_scale * grad, None, None


@contextmanager
def _func_transformable() -> Iterator[None]:
    import unit_scaling.scale as scale

    library = scale._ScaledGrad
    scale._ScaledGrad = _ScaledGrad
    try:
        yield
    finally:
        scale._ScaledGrad = library


class UnitScaledBlock(nn.Module):
    """residual_apply(x -> uu.Linear(phi(x)), h, tau)."""

    def __init__(self, width: int, tau: float, activation: str, spec: NetSpec) -> None:
        import unit_scaling as uu

        super().__init__()
        self.V = uu.Linear(width, width, dtype=spec.torch_dtype, device=spec.device)
        self.tau, self.phi = tau, ACTIVATIONS[activation]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        import unit_scaling.functional as U

        with _func_transformable():
            return U.residual_apply(lambda x: self.V(self.phi(x)), h, tau=self.tau)


class UnitScaledResNet(nn.Module):
    def __init__(self, spec: NetSpec) -> None:
        import unit_scaling as uu
        from unit_scaling.core.functional import transformer_residual_scaling_rule

        super().__init__()
        rule = transformer_residual_scaling_rule(residual_mult=spec.scale)
        self.blocks = uu.DepthModuleList(UnitScaledBlock(spec.width, rule(k, spec.depth), spec.activation, spec)
                                         for k in range(spec.depth))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            h = block(h)
        return h


def one_network(spec: NetSpec, generator: torch.Generator) -> UnitScaledResNet:
    for field, value in EXPRESSED.items():
        if getattr(spec, field) != value:
            raise NotImplementedError(f"unit-scaling-umup: {REASONS[field]}; got {field}={getattr(spec, field)!r}")
    if spec.activation == "gelu":
        raise NotImplementedError("unit-scaling-umup: the library's gelu is unit-scaled (a constant times GELU), "
                                  "not NetSpec's gelu; got activation='gelu'")
    net = UnitScaledResNet(spec)  # uu.Linear draws N(0, 1) from the global RNG: redrawn from the generator
    with torch.no_grad():
        for block in net.blocks:
            block.V.weight.normal_(0.0, 1.0, generator=generator)
    return net


def stacked_weights(spec: NetSpec, n_networks: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The uu.Linear weights one_network draws, for S networks in one fill (S, L, n, n), network-major:
    the same stream as S one_network calls when n^2 is a multiple of 16 (torch's CPU normal fill works in
    blocks of 16), the same law otherwise."""
    w = torch.empty((n_networks, spec.depth, spec.width, spec.width), dtype=spec.torch_dtype, device=spec.device)
    w.normal_(0.0, 1.0, generator=generator)
    return {f"blocks.{k}.V.weight": w[:, k] for k in range(spec.depth)}


def _version() -> str:
    from importlib.metadata import version

    return version("unit-scaling")


def library_sgd(params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """unit_scaling.optim.SGD: rate lr L^-1/2 fan_in^-1/2 for the hidden weights (readout_constraint=None)."""
    import unit_scaling.optim

    return unit_scaling.optim.SGD(params, lr=lr)


def make_unit_scaling_umup() -> ModuleImpl:
    """Entry point ``unit-scaling-umup`` (needs ``pip install -e ".[thirdparty]"``): forward, gradients, and
    training with the library's own unit_scaling.optim.SGD."""
    return ModuleImpl("unit-scaling-umup", one_network, version=_version(), netspec_blocks=False, optimizer=library_sgd,
                      draw=stacked_weights)

"""Negative controls of the Fischer et al. claims that reference_impl.controls does not already have.

Registered into reference_impl.controls.CONTROLS on import (as nfd_controls does), so ``--impl NAME``
and the control tests find them. Each builds the reference with one thing wrong while the caller
declares the right network: bugs a user writing this ResNet could make.

- ``fischer-hidden-depth-scaling``: the branch multiplier L^-1/2 applied (beta = 1/2) while the
  spec declares a depth-independent alpha (beta = 0): a Marion/Hayou-style scaling switched on by
  mistake. The effective alpha is 1/sqrt(L) times the declared one, which moves every argmax.
- ``fischer-weight-outside``: the block h + alpha V phi(h) built while the spec declares
  h + alpha phi(V h): sigma_w moved outside the nonlinearity, where it only relabels alpha, so
  alpha* follows sigma_w^-1 much more closely (fischer.alpha_star_weak_sigma_dependence rejects it).
- ``branch-constant``: the branch multiplier off by the constant factor 1/sqrt(2) (1/sqrt(2L)
  written for 1/sqrt(L), or alpha / sqrt(2) for alpha).
- ``erf-half-argument``: the activation erf(x / sqrt(2)) (the Gaussian-CDF convention 2 Phi(x) - 1)
  while declaring erf(x).

Controls of reference_impl.controls used by the Fischer claims as well: ``scale-twice`` (alpha^2
instead of alpha), ``weight-variance-2`` (2 sigma_w^2 / n), ``sigma-ignored`` (1 / n whatever
sigma_w^2 is), ``fan-in-plus-one`` (finite-width coefficient of the mean kernel).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from reference_impl.controls import CONTROLS, Control, SpecDefect
from reference_impl.protocol import Capability, Ensemble, NetSpec

ROOT2 = math.sqrt(2.0)


def half_argument_spec(spec: NetSpec) -> NetSpec:
    """The erf network that equals the erf(x / sqrt 2) network of ``spec`` up to the factor sqrt 2 on its input
    and states (pre-activation blocks; see ``HalfArgumentErf``)."""
    return spec.with_(scale=spec.scale / ROOT2, bias_var=spec.bias_var / (2.0 if spec.block == "res1w" else 1.0))


class HalfArgumentEnsemble:
    """Hidden states of an erf(x / sqrt 2) network from those of the erf network of ``half_argument_spec``."""

    def __init__(self, inner: Ensemble) -> None:
        self.inner = inner

    def trace(self, x: torch.Tensor) -> torch.Tensor:
        return ROOT2 * self.inner.trace(x / ROOT2)


@dataclass(frozen=True)
class HalfArgumentErf(Control):
    """The pre-activation erf network with phi(x) = erf(x / sqrt 2) in every block, exactly.

    With g = h / sqrt(2) the block h + a (V erf(h / sqrt 2) + b) is g + (a / sqrt 2) (V erf(g) + b),
    h + a V erf(W h / sqrt 2) is g + (a / sqrt 2) V erf(W g), and h + a erf((V h + b) / sqrt 2) is
    g + (a / sqrt 2) erf(V g + b / sqrt 2); the input layer is linear. So the network is the erf
    network of branch multiplier a / sqrt 2 (bias variance halved for res1w) run on x / sqrt 2, its
    states times sqrt 2: the same weights, the same law. Post-activation blocks have no such
    identity and are declined (NotImplementedError: the claims that need them are not applicable).
    """

    @property
    def capabilities(self) -> Capability:
        return Capability.FORWARD_TRACE

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> Ensemble:
        if spec.activation != "erf":
            return self.base.build(spec, n_networks, generator)
        if not spec.preact:
            raise NotImplementedError("erf-half-argument: post-activation blocks have no rescaling identity")
        return HalfArgumentEnsemble(self.base.build(half_argument_spec(spec), n_networks, generator))


FISCHER_CONTROLS: dict[str, Control] = {
    c.name: c
    for c in (
        SpecDefect("fischer-hidden-depth-scaling", "branch multiplier alpha L^-1/2 while declaring alpha (beta = 0)",
                   lambda s: s.with_(beta=s.beta + 0.5)),
        SpecDefect("fischer-weight-outside", "block h + alpha V phi(h) while declaring h + alpha phi(V h)",
                   lambda s: s.with_(block="res1") if s.block == "res1w" else s),
        SpecDefect("branch-constant", "branch multiplier off by a constant, scale / sqrt(2) (1/sqrt(2L) for 1/sqrt(L))",
                   lambda s: s.with_(scale=s.scale / ROOT2)),
        HalfArgumentErf("erf-half-argument", "activation erf(x / sqrt(2)) while declaring erf(x)"),
    )
}
for _name, _control in FISCHER_CONTROLS.items():  # resolvable by name (--impl, control tests)
    CONTROLS.setdefault(_name, _control)

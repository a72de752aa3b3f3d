"""Negative controls: the reference with one named defect, declared spec unchanged.

Each control rebuilds the declared NetSpec with one field wrong (what a buggy implementation does
while claiming the declared configuration); a claim that cannot tell it from the reference is a
claim that cannot fail.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch

from .protocol import Capability, Ensemble, NetSpec
from .reference import ReferenceImpl


@dataclass(frozen=True)
class Control:
    """A negative control: the fast reference (``base``) with one named defect added by a subclass."""

    name: str
    description: str
    base: ClassVar[ReferenceImpl] = ReferenceImpl(fast=True)

    @property
    def version(self) -> str:
        return self.base.version

    @property
    def capabilities(self) -> Capability:
        return self.base.capabilities

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> Ensemble:
        return self.base.build(spec, n_networks, generator)

    def train_runs(self, spec: NetSpec, *args: Any, **kw: Any) -> dict:
        """Capability.TRAIN_STEP: the reference's training (reference_impl.training.train)."""
        return self.base.train_runs(spec, *args, **kw)


@dataclass(frozen=True)
class SpecDefect(Control):
    """A plug-in that builds ``defect(spec)`` while the caller declares ``spec``."""

    defect: Callable[[NetSpec], NetSpec] = lambda spec: spec

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> Ensemble:
        return self.base.build(self.defect(spec), n_networks, generator)

    def train_runs(self, spec: NetSpec, *args: Any, **kw: Any) -> dict:
        """Training builds the defective spec too: the declared spec is wrong in the same way."""
        return self.base.train_runs(self.defect(spec), *args, **kw)


def _smooth_to_iid(spec: NetSpec) -> NetSpec:
    return spec.with_(init="gaussian", init_param=None) if spec.init in ("fbm", "rbf") else spec


def _iid_to_smooth(spec: NetSpec) -> NetSpec:
    return spec.with_(init="fbm", init_param=0.8) if spec.init in ("gaussian", "uniform") else spec


CONTROLS: dict[str, SpecDefect] = {
    c.name: c
    for c in (
        SpecDefect("scale-exponent-off", "branch scaling L^-(beta - 1/4): L^-1/4 while declaring L^-1/2",
                   lambda s: s.with_(beta=s.beta - 0.25)),
        SpecDefect("scale-exponent-high", "branch scaling L^-(beta + 1/2): L^-1 while declaring L^-1/2",
                   lambda s: s.with_(beta=s.beta + 0.5)),
        SpecDefect("correlated-weights", "weights are fBm increments (H = 0.8) across layers while declaring i.i.d.",
                   _iid_to_smooth),
        SpecDefect("iid-weights", "i.i.d. weights while declaring smooth (fBm / RBF) ones", _smooth_to_iid),
        SpecDefect("weight-variance-2", "weight variance 2 sigma_w^2 / n instead of sigma_w^2 / n",
                   lambda s: s.with_(sigma_w2=2 * s.sigma_w2)),
        SpecDefect("sigma-ignored", "weight variance 1/n whatever sigma_w^2 is declared", lambda s: s.with_(sigma_w2=1.0)),
        SpecDefect("scale-twice", "branch constant applied twice (scale^2)", lambda s: s.with_(scale=s.scale**2)),
        SpecDefect("post-activation", "post-activation blocks while declaring pre-activation",
                   lambda s: s.with_(preact=not s.preact)),
    )
}


def control(name: str) -> Callable[[], SpecDefect]:
    """Entry-point factory for the control called ``name``."""
    return lambda: CONTROLS[name]

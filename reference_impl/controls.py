"""Negative controls: the reference with one named defect, declared spec unchanged.

Each control rebuilds the declared NetSpec with one field wrong (what a buggy implementation does
while claiming the declared configuration); a claim that cannot tell it from the reference is a
claim that cannot fail.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch

from .ensemble import DenseEnsemble
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

    def __reduce__(self) -> tuple[Callable[[str, str], "Control"], tuple[str, str]]:
        """Pickled by name (worker processes, Dask): a defect is often a lambda, which pickle cannot carry;
        the receiving process imports the module that registers the control and looks it up."""
        defect = getattr(self, "defect", None) or getattr(self, "law", None)
        return registered, (self.name, getattr(defect, "__module__", None) or type(self).__module__)


@dataclass(frozen=True)
class SpecDefect(Control):
    """A plug-in that builds ``defect(spec)`` while the caller declares ``spec``."""

    defect: Callable[[NetSpec], NetSpec] = lambda spec: spec

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> Ensemble:
        return self.base.build(self.defect(spec), n_networks, generator)

    def train_runs(self, spec: NetSpec, *args: Any, **kw: Any) -> dict:
        """Training builds the defective spec too: the declared spec is wrong in the same way."""
        return self.base.train_runs(self.defect(spec), *args, **kw)


@dataclass(frozen=True)
class WeightLaw(Control):
    """The dense reference with its block weights (not the input layer) passed through ``law``.

    ``law`` maps the reference's Gaussian draw (S, L, n, n), entries N(0, s2/n), to the weights used;
    the laws below keep the infinite-width kernel recursion, so only finite-width statistics can
    tell them from the reference.
    """

    law: Callable[[torch.Tensor], torch.Tensor] = lambda w: w

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> Ensemble:
        ens = DenseEnsemble(spec, n_networks, generator)
        ens.set_weights({k: (v if k == "in" else self.law(v)) for k, v in ens.weights.items()})
        return ens


def _rademacher(w: torch.Tensor) -> torch.Tensor:
    """+-sqrt(s2/n) with the signs of the Gaussian draw (fourth cumulant -2 (s2/n)^2 instead of 0)."""
    return torch.sign(w) * w.pow(2).mean(dim=(-2, -1), keepdim=True).sqrt()


def _uniform(w: torch.Tensor) -> torch.Tensor:
    """U[-sqrt(3 s2/n), sqrt(3 s2/n)] from the Gaussian draw by the probability integral transform."""
    rms = w.pow(2).mean(dim=(-2, -1), keepdim=True).sqrt()
    u = torch.special.ndtr(w / rms)
    return (2.0 * u - 1.0) * (3.0**0.5) * rms


def _orthogonal(w: torch.Tensor) -> torch.Tensor:
    """sqrt(s2) times a Haar orthogonal matrix (QR of the Gaussian draw, signs fixed): entry variance s2/n,
    but |V x| = sqrt(s2) |x| exactly, so the branch norm does not fluctuate."""
    q, r = torch.linalg.qr(w)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    return q * w.pow(2).sum(dim=-1).mean(dim=-1, keepdim=True).sqrt().unsqueeze(-1)


def _smooth_to_iid(spec: NetSpec) -> NetSpec:
    return spec.with_(init="gaussian", init_param=None) if spec.init in ("fbm", "rbf") else spec


def _iid_to_smooth(spec: NetSpec) -> NetSpec:
    return spec.with_(init="fbm", init_param=0.8) if spec.init in ("gaussian", "uniform") else spec


CONTROLS: dict[str, Control] = {
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
# Laws that keep the infinite-width recursion and change finite-width statistics: same entry variance with
# another distribution, the variance off by O(1/n), or the networks of an ensemble not independent.
WEIGHT_LAWS: dict[str, WeightLaw] = {
    c.name: c
    for c in (
        WeightLaw("rademacher-weights", "block weights +-sigma_w/sqrt(n) (Rademacher) while declaring Gaussian",
                  _rademacher),
        WeightLaw("uniform-weights", "block weights uniform with variance sigma_w^2/n while declaring Gaussian",
                  _uniform),
        WeightLaw("orthogonal-weights", "block weights sigma_w times a Haar orthogonal matrix while declaring Gaussian",
                  _orthogonal),
        WeightLaw("fan-in-plus-one", "block weight variance sigma_w^2 / (n + 1) (a bias column counted in the fan-in)",
                  lambda w: w * (w.shape[-1] / (w.shape[-1] + 1.0)) ** 0.5),
        WeightLaw("shared-weights", "one weight draw broadcast to every network of the ensemble",
                  lambda w: w[:1].expand_as(w)),
    )
}
CONTROLS.update(WEIGHT_LAWS)


def registered(name: str, module: str) -> Control:
    """The control called ``name`` in CONTROLS once ``module`` (the one that registers it) is imported."""
    importlib.import_module(module)
    if name not in CONTROLS:
        raise KeyError(f"control {name!r} is not registered in reference_impl.controls.CONTROLS by {module}")
    return CONTROLS[name]


def control(name: str) -> Callable[[], Control]:
    """Entry-point factory for the control called ``name``."""
    return lambda: CONTROLS[name]

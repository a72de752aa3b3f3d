"""Adversarial plug-ins: each passes validation on the small probe network and misbehaves only where
a sweep goes further (deeper networks), or in a way the probe alone cannot see."""
from __future__ import annotations

import dataclasses
import time

import torch

from reference_impl import Capability, make_reference_dense
from reference_impl.reference import ReferenceImpl


class _Fixed:
    """An ensemble whose trace / gradients pass through ``fix`` / ``fix_grad``."""

    def __init__(self, net, fix, fix_grad):
        self.net, self.fix, self.fix_grad = net, fix, fix_grad

    def trace(self, x):
        return self.fix(self.net.trace(x))

    def grad_trace(self, x, g_out):
        h, grads = self.net.grad_trace(x, g_out)
        return self.fix(h), self.fix_grad(grads)


def _keep(t):
    return t


def _always(spec) -> bool:
    return True


class Broken:
    """The dense reference with one defect, applied to the specs ``when`` selects."""

    version = "0"
    capabilities = Capability.FORWARD_TRACE | Capability.GRAD_TRACE

    def __init__(self, name, fix=None, fix_grad=None, build_error=None, when=None):
        self.name, self.fix, self.fix_grad = name, fix or _keep, fix_grad or _keep
        self.build_error, self.when = build_error, when or _always

    def build(self, spec, n_networks, generator):
        if self.build_error is not None and self.when(spec):
            raise self.build_error
        net = make_reference_dense().build(spec, n_networks, generator)
        return _Fixed(net, self.fix, self.fix_grad) if self.when(spec) else net


DEEP = 16  # the probe network has depth <= 8; these misbehave only deeper than this


def _deep(spec) -> bool:
    return spec.depth > DEEP


def _double_h0(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t[:, 0] *= 2
    return t


def drops_state_when_deep() -> Broken:
    """Returns L hidden states instead of L+1 for depth > 16."""
    return Broken("drops-state-deep", fix=lambda t: t[:, 1:], when=_deep)


def doubles_h0_when_deep() -> Broken:
    """Sets h_0 = 2x for depth > 16."""
    return Broken("h0-2x-deep", fix=_double_h0, when=_deep)


def wrong_grad_end_when_deep() -> Broken:
    """dLoss/dh_L = 3 g_out for depth > 16."""
    return Broken("grad-end-deep", fix_grad=lambda g: 3 * g, when=_deep)


def exits_when_deep(code: int = 0) -> Broken:
    """Calls sys.exit(code) from build for depth > 16."""
    return Broken(f"exit-{code}-deep", build_error=SystemExit(code), when=_deep)


def exits_in_build(code: int = 0) -> Broken:
    """Calls sys.exit(code) from every build (so during validation too)."""
    return Broken(f"exit-{code}", build_error=SystemExit(code))


class _Repeated:
    """Network 0 of a build applied to the inputs of all S networks."""

    def __init__(self, net):
        self.net = net

    @staticmethod
    def _unfold(t, s, b):  # (L+1, S*B, n) -> (S, L+1, B, n)
        return t.reshape(t.shape[0], s, b, t.shape[-1]).permute(1, 0, 2, 3)

    def trace(self, x):
        s, b, d = x.shape
        return self._unfold(self.net.trace(x.reshape(1, s * b, d))[0], s, b)

    def grad_trace(self, x, g_out):
        s, b, n = g_out.shape
        h, g = self.net.grad_trace(x.reshape(1, s * b, -1), g_out.reshape(1, s * b, n))
        return self._unfold(h[0], s, b), self._unfold(g[0], s, b)


class IdenticalNetworks:
    """A batching bug: one network's weights reused for all S networks of a build."""

    name, version = "identical-networks", "0"
    capabilities = Capability.FORWARD_TRACE | Capability.GRAD_TRACE

    def build(self, spec, n_networks, generator):
        return _Repeated(make_reference_dense().build(spec, 1, generator))


class Unpicklable(Broken):
    """A working plug-in holding a lambda (cannot be sent to worker processes)."""

    def __init__(self):
        super().__init__("unpicklable")
        self.hook = lambda t: t


class ControlName(Broken):
    """A working plug-in whose name and version carry terminal control characters."""

    def __init__(self):
        super().__init__("evil\x1b[2J\x07name")
        self.version = "1\r\n2"



class SlowWhenDeep(Broken):
    """Builds fBm-weight networks deeper than 16 only after a long sleep (a hung cell)."""

    def __init__(self):
        super().__init__("slow-deep")

    def build(self, spec, n_networks, generator):
        if _deep(spec) and spec.init == "fbm":
            time.sleep(60)
        return super().build(spec, n_networks, generator)


class TrainsOneNetwork(ReferenceImpl):
    """A batching bug in training only: one network trained and its trajectories repeated for all S
    (build is correct, so validation's probe passes)."""

    def __init__(self):
        super().__init__(fast=True)
        self.name = "trains-one-network"

    def train_runs(self, spec, cfg, n_networks, generator, runs=None, **options):
        out = super().train_runs(spec, cfg, 1, generator, runs, **options)
        tile = lambda t: None if t is None else t.expand(n_networks, *t.shape[1:])  # noqa: E731
        return {name: dataclasses.replace(r, **{f.name: tile(getattr(r, f.name)) for f in dataclasses.fields(r)})
                for name, r in out.items()}


class HardExitWhenDeep(Broken):
    """Ends the process with os._exit(0) when building a network deeper than 16 (a C extension or a
    library that calls exit() after a fatal error): no except clause can catch it."""

    def __init__(self):
        super().__init__("hard-exit-deep")

    def build(self, spec, n_networks, generator):
        if _deep(spec):
            import os

            os._exit(0)
        return super().build(spec, n_networks, generator)


class RetriesWhenDeep(Broken):
    """A research-code retry loop around a slow build of deep networks: ``catch`` (Exception, or
    BaseException with ``swallow_all``) is retried, so a timeout raised inside it may be swallowed."""

    def __init__(self, swallow_all: bool = False):
        super().__init__("retries-deep" + ("-all" if swallow_all else ""))
        self.catch = BaseException if swallow_all else Exception

    def build(self, spec, n_networks, generator):
        if _deep(spec):
            for _ in range(100):
                try:
                    time.sleep(60)
                    break
                except self.catch:
                    pass
        return super().build(spec, n_networks, generator)


def retries_swallowing_everything() -> RetriesWhenDeep:
    return RetriesWhenDeep(swallow_all=True)


class HangsOnEveryBuild(Broken):
    """build hangs on every network, the validation probe's included."""

    def __init__(self):
        super().__init__("hangs")

    def build(self, spec, n_networks, generator):
        time.sleep(600)
        return super().build(spec, n_networks, generator)

"""Small plug-ins that reproduce ways a real implementation goes wrong (used by the tests beside).

Each is the dense reference with one defect: networks repeated or shared to fill S, weights drawn
from numpy's or torch's global RNG (with and without the seeding recipe, with a replay cache), a
backward pass through W instead of W^T (next to a differentiable trace, or one run under no_grad),
networks that ignore the generator, an input changed in place, an nn.ReLU(inplace=True) on the
residual stream, a missing torch kernel inside trace, and a train_runs that ignores Run.depth.
Factories at the end are for ``--impl plugin_defects:NAME``.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from reference_impl import Capability, NetSpec, make_reference_dense
from reference_impl.replay import ReplayCache
from reference_impl.rng import seeded_global_rngs
from reference_impl.stacked import StackedEnsemble

CAPS = Capability.FORWARD_TRACE | Capability.GRAD_TRACE | Capability.WEIGHTS


class Plugin:
    version = "0"
    capabilities = CAPS

    def __init__(self, name: str) -> None:
        self.name = name


class RepeatedNetworks(Plugin):
    """Draws ``distinct`` networks and repeats them to fill S (a batching bug; 1 = one shared network)."""

    def __init__(self, distinct: int) -> None:
        super().__init__(f"repeated-{distinct}")
        self.distinct = distinct

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> StackedEnsemble:
        if spec.bias_var:
            raise NotImplementedError("networks without branch biases only")
        k = min(self.distinct, n_networks)
        weights = make_reference_dense().build(spec, k, generator).layer_weights()
        reps = math.ceil(n_networks / k)
        return StackedEnsemble(spec, {name: w.repeat(reps, *([1] * (w.dim() - 1)))[:n_networks]
                                      for name, w in weights.items()})


def _numpy_weights(spec: NetSpec, n_networks: int) -> dict[str, torch.Tensor]:
    """i.i.d. N(0, sigma_w2 / n) weights from numpy's global RNG, as research code often draws them."""
    v = np.random.standard_normal((n_networks, spec.depth, spec.width, spec.width)) * math.sqrt(spec.sigma_w2 / spec.width)
    return {"V": torch.as_tensor(v, dtype=spec.torch_dtype)}


class NumpyGlobalRNG(Plugin):
    """Weights from numpy's global RNG, ignoring the generator (``seeded``: inside seeded_global_rngs)."""

    def __init__(self, seeded: bool = False) -> None:
        super().__init__("numpy-global-rng" + ("-seeded" if seeded else ""))
        self.seeded = seeded

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> StackedEnsemble:
        if spec.init != "gaussian" or spec.block != "res1" or spec.input_dim is not None or spec.bias_var:
            raise NotImplementedError("i.i.d. Gaussian res1 networks without input layer or bias only")
        if not self.seeded:
            return StackedEnsemble(spec, _numpy_weights(spec, n_networks))
        with seeded_global_rngs(generator):
            return StackedEnsemble(spec, _numpy_weights(spec, n_networks))


class ReplayedTorchGlobalRNG(Plugin):
    """Weights from torch's global RNG behind a one-entry replay cache: still not a function of the seed."""

    def __init__(self) -> None:
        super().__init__("replayed-torch-global-rng")
        self.replay = ReplayCache(lambda spec, s, gen: {"V": torch.randn(s, spec.depth, spec.width, spec.width,
                                                                          dtype=spec.torch_dtype) / math.sqrt(spec.width)})

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> StackedEnsemble:
        if spec.init != "gaussian" or spec.block != "res1" or spec.input_dim is not None or spec.bias_var:
            raise NotImplementedError("i.i.d. Gaussian res1 networks without input layer or bias only")
        return StackedEnsemble(spec, self.replay(spec, n_networks, generator, key=(spec.width, spec.depth, spec.dtype)))


class UntransposedGrad(Plugin):
    """grad_trace written by hand through W instead of W^T; trace differentiable, or (``nograd``) run
    under torch.no_grad as a fast hand-written implementation would."""

    def __init__(self, weights: bool = True, nograd: bool = False) -> None:
        super().__init__("untransposed-grad" + ("-nograd" if nograd else ""))
        self.nograd = nograd
        if not weights:
            self.capabilities = Capability.FORWARD_TRACE | Capability.GRAD_TRACE

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> StackedEnsemble:
        from claims.catalogue.nfd_controls import UntransposedEnsemble

        class Differentiable(UntransposedEnsemble):
            trace = StackedEnsemble.trace

        kind = UntransposedEnsemble if self.nograd else Differentiable
        return kind(spec, make_reference_dense().build(spec, n_networks, generator).layer_weights())


class Seedless(Plugin):
    """The dense reference drawn from a fixed internal seed: the generator passed to build is ignored."""

    def __init__(self) -> None:
        super().__init__("seedless")

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> StackedEnsemble:
        return make_reference_dense().build(spec, n_networks, torch.Generator().manual_seed(1234))


DEEP = 16  # the probe network has depth <= 8; the plug-ins below misbehave only deeper than this


class _InputScaled:
    """An ensemble whose trace first rescales x by 4 (``inplace``: x.mul_(4), else x = x * 4)."""

    def __init__(self, net: Any, inplace: bool) -> None:
        self.net, self.inplace = net, inplace

    def trace(self, x: torch.Tensor) -> torch.Tensor:
        if self.inplace:
            x.mul_(4.0)
        else:
            x = x * 4.0
        return self.net.trace(x)

    def grad_trace(self, x: torch.Tensor, g_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.grad_trace(x, g_out)


class ScalesInputWhenDeep(Plugin):
    """The same bug, x scaled by 4 inside trace, written in place or out of place, on deep networks only."""

    def __init__(self, inplace: bool) -> None:
        super().__init__("scales-input-" + ("inplace" if inplace else "copy"))
        self.capabilities = Capability.FORWARD_TRACE | Capability.GRAD_TRACE
        self.inplace = inplace

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> Any:
        net = make_reference_dense().build(spec, n_networks, generator)
        return _InputScaled(net, self.inplace) if spec.depth > DEEP else net


class _KernelMissing:
    """trace hits an op torch has no CPU kernel for (NotImplementedError from torch, not a decline)."""

    def trace(self, x: torch.Tensor) -> torch.Tensor:
        torch.zeros(2, 2, dtype=torch.uint16) @ torch.zeros(2, 2, dtype=torch.uint16)
        return x

    grad_trace = trace


class KernelMissingWhenDeep(Plugin):
    """Builds every network; trace of a deep one raises torch's NotImplementedError."""

    def __init__(self) -> None:
        super().__init__("kernel-missing-deep")
        self.capabilities = Capability.FORWARD_TRACE | Capability.GRAD_TRACE

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> Any:
        net = make_reference_dense().build(spec, n_networks, generator)
        return _KernelMissing() if spec.depth > DEEP else net


class DeclinesEverything(Plugin):
    """build raises NotImplementedError for every spec: every claim is not applicable."""

    def __init__(self) -> None:
        super().__init__("declines-everything")
        self.capabilities = Capability.FORWARD_TRACE

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> Any:
        raise NotImplementedError("this plug-in builds nothing")


def inplace_relu_modules() -> Any:
    """nn.ReLU(inplace=True) applied to the residual stream h through the module adapter."""
    from reference_impl.module_adapter import ModuleImpl

    return ModuleImpl("module-inplace-relu", _inplace_relu_network, blocks="blocks")


def _inplace_relu_network(spec: NetSpec, generator: torch.Generator) -> Any:
    from torch import nn

    from reference_impl.netspec_modules import draw_block_weights, require

    require(spec, block="res1", preact=True, bias_var=0.0, input_dim=None, activation="relu")
    net = nn.Module()
    net.blocks = nn.ModuleList(_InplaceReluBlock(spec) for _ in range(spec.depth))
    return draw_block_weights(net, spec, generator)


class _InplaceReluBlock(torch.nn.Module):
    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        self.V = torch.nn.Linear(spec.width, spec.width, bias=False, dtype=spec.torch_dtype, device="meta")
        self.act, self.a = torch.nn.ReLU(inplace=True), spec.branch_multiplier

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.a * self.V(self.act(h))  # the ReLU rewrites h, the residual stream, in place


class TrainsFinestDepthOnly:
    """A train_runs that trains one run at the finest depth and returns it for every run requested."""

    name, version = "trains-finest-depth-only", "0"
    capabilities = Capability.FORWARD_TRACE | Capability.GRAD_TRACE | Capability.TRAIN_STEP

    def __init__(self) -> None:
        from reference_impl import make_reference

        self.ref = make_reference()

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> Any:
        return self.ref.build(spec, n_networks, generator)

    def train_runs(self, spec: NetSpec, cfg: Any, n_networks: int, generator: torch.Generator, runs: Any,
                   **options: Any) -> dict:
        from reference_impl.training import Run

        runs = list(runs)
        one = Run("only", max(r.depth for r in runs), "reuse", record_coupling=any(r.record_coupling for r in runs),
                  record_features=any(r.record_features for r in runs))
        result = self.ref.train_runs(spec, cfg, n_networks, generator, [one], **options)["only"]
        return {r.name: result for r in runs}


class GaussianOnly(Plugin):
    """The dense reference declining every network whose weights are not i.i.d. Gaussian."""

    def __init__(self) -> None:
        super().__init__("gaussian-only")

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> Any:
        if spec.init != "gaussian":
            raise NotImplementedError("i.i.d. Gaussian weights only")
        return make_reference_dense().build(spec, n_networks, generator)


def gaussian_only() -> GaussianOnly:
    return GaussianOnly()


def scales_input_inplace() -> ScalesInputWhenDeep:
    return ScalesInputWhenDeep(inplace=True)


def declines_everything() -> DeclinesEverything:
    return DeclinesEverything()

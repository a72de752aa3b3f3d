"""Small plug-ins that reproduce ways a real implementation goes wrong (used by the tests beside).

Each is the dense reference with one defect: networks repeated or shared to fill S, weights drawn
from numpy's or torch's global RNG (with and without the seeding recipe, with a replay cache), and a
backward pass through W instead of W^T next to a differentiable trace.
"""
from __future__ import annotations

import math

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
    """Differentiable trace, but grad_trace written by hand through W instead of W^T."""

    def __init__(self, weights: bool = True) -> None:
        super().__init__("untransposed-grad")
        if not weights:
            self.capabilities = Capability.FORWARD_TRACE | Capability.GRAD_TRACE

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> StackedEnsemble:
        from claims.catalogue.nfd_controls import UntransposedEnsemble

        class Differentiable(UntransposedEnsemble):
            trace = StackedEnsemble.trace

        return Differentiable(spec, make_reference_dense().build(spec, n_networks, generator).layer_weights())

"""The reference implementation as a plug-in: dense weights, or the exact init sampler."""
from __future__ import annotations

from typing import Any

import torch

from . import __version__
from .ensemble import DenseEnsemble
from .protocol import Capability, Ensemble, NetSpec
from .sampling import ConditionalEnsemble


class ReferenceImpl:
    """The suite's own ResNet; ``fast`` uses the exact conditional sampler where it is exact."""

    version = __version__

    def __init__(self, fast: bool = True) -> None:
        self.fast = fast
        self.name = "reference" if fast else "reference-dense"
        # the fast sampler never forms the weights, so only the dense reference offers them
        self.capabilities = Capability.FORWARD_TRACE | Capability.GRAD_TRACE | Capability.TRAIN_STEP
        if not fast:
            self.capabilities |= Capability.WEIGHTS

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> Ensemble:
        if n_networks < 1:
            raise ValueError(f"n_networks={n_networks} is invalid: expected a positive integer")
        if self.fast and spec.init == "gaussian":
            return ConditionalEnsemble(spec, n_networks, generator)
        return DenseEnsemble(spec, n_networks, generator)

    def train_runs(self, spec: NetSpec, cfg: Any, n_networks: int, generator: torch.Generator,
                   runs: Any = None, **options: Any) -> dict:
        """Depth-muP SGD runs from shared initial weights (reference_impl.training.train)."""
        from .training import train

        return train(spec, cfg, n_networks, generator, runs, **options)


def make_reference() -> ReferenceImpl:
    """Entry point ``reference``: the fast exact sampler where it applies, dense otherwise."""
    return ReferenceImpl(fast=True)


def make_reference_dense() -> ReferenceImpl:
    """Entry point ``reference-dense``: always materialise the weights."""
    return ReferenceImpl(fast=False)

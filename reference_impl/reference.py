"""The reference implementation as a plug-in: dense weights, or the exact init sampler."""
from __future__ import annotations

from typing import Any

import torch

from .version import __version__
from .blocks import residual_states
from .ensemble import DenseEnsemble
from .protocol import Capability, Ensemble, NetSpec
from .sampling import ConditionalEnsemble
from .training import train, train_network


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

    def block(self, spec: NetSpec, k: int, weights: dict[str, torch.Tensor], h: torch.Tensor) -> torch.Tensor:
        """Block k functionally in its weights (the training contract): the NetSpec formula of blocks.py."""
        one = spec.with_(depth=1, scale=spec.branch_multiplier, beta=0.0)  # one block, multiplier of depth L
        bias = weights["bias"][:, None] if "bias" in weights else None
        return residual_states(one, h, lambda _k, name, x: torch.bmm(x, weights[name].transpose(1, 2)), bias)[-1]

    def train_runs(self, spec: NetSpec, cfg: Any, n_networks: int, generator: torch.Generator,
                   runs: Any = None, **options: Any) -> dict:
        """Depth-muP SGD runs from shared initial weights: the exact lazy sampler of
        reference_impl.training (fast), or the dense reference through the training contract."""
        if not self.fast:
            return train_network(self, spec, cfg, n_networks, generator, runs, **options)
        return train(spec, cfg, n_networks, generator, runs, **options)


def make_reference() -> ReferenceImpl:
    """Entry point ``reference``: the fast exact sampler where it applies, dense otherwise."""
    return ReferenceImpl(fast=True)


def make_reference_dense() -> ReferenceImpl:
    """Entry point ``reference-dense``: always materialise the weights."""
    return ReferenceImpl(fast=False)

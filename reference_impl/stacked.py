"""An Ensemble on weights a plug-in already holds: S networks' matrices stacked into tensors.

Research code usually builds one network at a time (an ``nn.Module`` with its own init). Stack its
matrices, ``V`` (S, L, n, n), for res3 ``W`` (S, L, n, n), with an input layer ``in`` (S, n, d), and
optionally branch biases ``bias`` (S, L, n), and :class:`StackedEnsemble` provides the contract's
``trace`` (differentiable), ``grad_trace`` (the chain rule of reference_impl.blocks, without an
autograd graph) and ``layer_weights`` (Capability.WEIGHTS), batched over the S networks.
"""
from __future__ import annotations

import torch

from .ensemble import DenseEnsemble
from .protocol import NetSpec


class StackedEnsemble(DenseEnsemble):
    """S networks of ``spec`` with the given stacked weights (module docstring); the passes are the
    dense reference's, on these weights."""

    def __init__(self, spec: NetSpec, weights: dict[str, torch.Tensor], bias: torch.Tensor | None = None) -> None:
        self.spec = spec
        self.bias = bias
        self.set_weights(weights)

"""An Ensemble on weights a plug-in already holds: S networks' matrices stacked into tensors.

Research code usually builds one network at a time (an ``nn.Module`` with its own init). Stack its
matrices, ``V`` (S, L, n, n), for res3 ``W`` (S, L, n, n), with an input layer ``in`` (S, n, d), and
optionally branch biases ``bias`` (S, L, n), and :class:`StackedEnsemble` provides the contract's
``trace`` (differentiable), ``grad_trace`` (the chain rule of reference_impl.blocks, without an
autograd graph) and ``layer_weights`` (Capability.WEIGHTS), batched over the S networks.
"""
from __future__ import annotations

import torch

from .blocks import LayerCache, residual_backward, residual_states
from .protocol import NetSpec


class StackedEnsemble:
    """S networks of ``spec`` with the given stacked weights (module docstring)."""

    def __init__(self, spec: NetSpec, weights: dict[str, torch.Tensor], bias: torch.Tensor | None = None) -> None:
        self.spec = spec
        self.weights = dict(weights)
        self.bias = bias

    def layer_weights(self) -> dict[str, torch.Tensor]:
        """The stacked weights (Capability.WEIGHTS)."""
        return dict(self.weights)

    def _mul(self, k: int, name: str, x: torch.Tensor) -> torch.Tensor:
        """x M^T for layer k's matrix ``name`` (x (S, B, cols))."""
        m = self.weights[name] if name == "in" else self.weights[name][:, k]
        return torch.bmm(x, m.transpose(1, 2))

    def _vjp(self, k: int, name: str, delta: torch.Tensor) -> torch.Tensor:
        """delta M: the backward product with the same matrix."""
        return torch.bmm(delta, self.weights[name][:, k])

    def _states(self, x: torch.Tensor, cache: list[LayerCache] | None = None) -> list[torch.Tensor]:
        h0 = x if self.spec.input_dim is None else self._mul(0, "in", x)
        return residual_states(self.spec, h0, self._mul, self.bias, cache)

    def trace(self, x: torch.Tensor) -> torch.Tensor:
        """h_0..h_L (S, L+1, B, n) from x (S, B, d); differentiable."""
        return torch.stack(self._states(x), dim=1)

    def grad_trace(self, x: torch.Tensor, g_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Trace and dLoss/dh_k (S, L+1, B, n) for Loss = sum <g_out, h_L>."""
        with torch.no_grad():
            cache: list[LayerCache] = []
            states = self._states(x, cache)
            grads = residual_backward(self.spec, cache, g_out, self._vjp)
        return torch.stack(states, dim=1), grads

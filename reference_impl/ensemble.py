"""The dense batched ensemble: S networks with materialised weights, one bmm per layer."""
from __future__ import annotations

import math

import torch

from .blocks import residual_states
from .init import draw_layer_weights
from .protocol import NetSpec


def draw_bias(spec: NetSpec, n_networks: int, generator: torch.Generator) -> torch.Tensor | None:
    """Branch biases (S, L, n) with variance bias_var, or None when bias_var = 0."""
    if spec.bias_var == 0:
        return None
    shape = (n_networks, spec.depth, spec.width)
    z = torch.randn(shape, generator=generator, dtype=spec.torch_dtype, device=spec.device)
    return math.sqrt(spec.bias_var) * z


class DenseEnsemble:
    """S independent ResNets with stored weights (S, L, n, n); autograd flows through ``trace``."""

    def __init__(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> None:
        self.spec = spec
        n = spec.width
        self.weights: dict[str, torch.Tensor] = {"V": draw_layer_weights(spec, n_networks, (n, n), generator)}
        if spec.block == "res3":
            self.weights["W"] = draw_layer_weights(spec, n_networks, (n, n), generator)
        if spec.input_dim is not None:
            z = torch.randn(n_networks, n, spec.input_dim, generator=generator, dtype=spec.torch_dtype, device=spec.device)
            self.weights["in"] = z / math.sqrt(spec.input_dim)  # input layer N(0, 1/d)
        self.bias = draw_bias(spec, n_networks, generator)

    def _mul(self, k: int, name: str, x: torch.Tensor) -> torch.Tensor:
        m = self.weights[name] if name == "in" else self.weights[name][:, k]
        return torch.bmm(x, m.transpose(1, 2))

    def _states(self, x: torch.Tensor) -> list[torch.Tensor]:
        h0 = x if self.spec.input_dim is None else self._mul(0, "in", x)
        return residual_states(self.spec, h0, self._mul, self.bias)

    def trace(self, x: torch.Tensor) -> torch.Tensor:
        """h_0..h_L (S, L+1, B, n) from x (S, B, d); differentiable."""
        return torch.stack(self._states(x), dim=1)

    def grad_trace(self, x: torch.Tensor, g_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Trace and dLoss/dh_k by autograd, for Loss = sum <g_out, h_L>."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            states = self._states(x)
            grads = torch.autograd.grad(states[-1], states, grad_outputs=g_out, allow_unused=True)
        grads = [g_out if g is None else g for g in grads]
        return torch.stack([s.detach() for s in states], dim=1), torch.stack(grads, dim=1)

"""Activation functions with their derivatives (the fast paths need phi' without autograd)."""
from __future__ import annotations

import math
from typing import Callable

import torch

Fn = Callable[[torch.Tensor], torch.Tensor]


def _relu_grad(h: torch.Tensor) -> torch.Tensor:
    return (h > 0).to(h.dtype)


def _tanh_grad(h: torch.Tensor) -> torch.Tensor:
    return 1.0 - torch.tanh(h) ** 2


def _erf_grad(h: torch.Tensor) -> torch.Tensor:
    return (2.0 / math.sqrt(math.pi)) * torch.exp(-h * h)


def _gelu_grad(h: torch.Tensor) -> torch.Tensor:
    cdf = 0.5 * (1.0 + torch.erf(h / math.sqrt(2.0)))
    pdf = torch.exp(-0.5 * h * h) / math.sqrt(2.0 * math.pi)
    return cdf + h * pdf


ACTIVATION_FNS: dict[str, tuple[Fn, Fn]] = {
    "relu": (torch.relu, _relu_grad),
    "tanh": (torch.tanh, _tanh_grad),
    "erf": (torch.erf, _erf_grad),
    "gelu": (torch.nn.functional.gelu, _gelu_grad),
}


def activation(name: str) -> tuple[Fn, Fn]:
    """(phi, phi') for an activation name listed in protocol.ACTIVATIONS."""
    try:
        return ACTIVATION_FNS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; allowed: {', '.join(ACTIVATION_FNS)}") from None

"""Update rules: the suite's depth-muP SGD with its rate factors, or a plug-in's own optimizer.

Depth-muP SGD (Tensor Programs VI, arXiv 2310.02244): with the block multiplier a = L^-1/2 the chain
rule already gives every block a weight update of size L^-1/2, so the SGD rate carries no depth factor
(lr_depth_exponent = 0; Bordelon et al., arXiv 2309.16620, use the same rate at every depth). Per
trained weight group of a run of depth L the rate is

    V (the block's output matrix):         lr * L^-lr_depth_exponent * factor_V
    W (res3's first internal layer):       lr * L^-lr_depth_exponent * L^first_layer_lr_exponent * factor_W

(factors from Run.lr_factor); the input and readout layers are frozen. first_layer_lr_exponent = 1/2 is
the depth-aware correction of claims/catalogue/nfd2025.md, section 9. A plug-in's optimizer is made
by ``make(parameters, lr)`` with the V rate (one rate for every parameter of its blocks).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .config import Run, TrainConfig


@dataclass(frozen=True)
class DepthMupSGD:
    """The SGD rates of one run, per trained weight group."""

    cfg: TrainConfig
    run: Run

    def rate(self, group: str) -> float:
        """The SGD rate of ``group`` ("V", "W"; any other weight name of a plug-in's blocks trains at V's
        rate times that name's factor)."""
        depth = self.run.depth
        base = self.cfg.lr * depth ** (-self.cfg.lr_depth_exponent)
        if group == "W":
            base = base * depth ** self.cfg.first_layer_lr_exponent  # depth-aware correction of the first layer
        return base * self.run.group_factor(group)

    def optimizer(self, make: Any, parameters: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        """A plug-in's optimizer over ``parameters`` at this run's rate (Run.lr_factor a number)."""
        return make(parameters, self.rate("V"))


def optimizer_name(make: Any, optimizer: torch.optim.Optimizer) -> str:
    """The factory's qualified name, and the optimizer's class where that differs (e.g. mup.MuSGD gives an SGD)."""
    made = f"{type(optimizer).__module__}.{type(optimizer).__qualname__}"
    name = f"{getattr(make, '__module__', '')}.{getattr(make, '__qualname__', repr(make))}".lstrip(".")
    return name if name == made else f"{name} ({made})"

"""A practitioner's own MLP ResNet, written as an ordinary nn.Module and plugged in through the module
adapter (docs/plugins.md, "A two-layer module as it is"): input layer, L two-layer blocks
h + a fc2(phi(fc1 h)), a head the suite does not use, nn.Linear layers initialised by the module's own
code (``init_weights``), under seeded global RNGs so that the generator fixes every draw.

``bug`` builds the same module with one mistake people make in their own initialisation or constants
(the init check's controls): ``fc2-std-3`` (fc2's std tripled), ``branch-constant`` (1/sqrt(2L) for
1/sqrt(L)), ``sigma-ignored`` (std 1/sqrt(n) whatever sigma_w2), ``he`` (variance 2 sigma_w2 / n),
``erf-half`` (erf(x / sqrt 2) for erf(x)), ``shared-blocks`` (one block object in every layer),
``no-multiplier`` (the branch multiplier left out).
"""
from __future__ import annotations

import math
from functools import partial

import torch
from torch import nn

from reference_impl.module_adapter import ModuleImpl
from reference_impl.netspec_modules import require
from reference_impl.protocol import Family, NetSpec
from reference_impl.rng import seeded_global_rngs

BUGS = ("", "fc2-std-3", "branch-constant", "sigma-ignored", "he", "erf-half", "shared-blocks", "no-multiplier")


def _phi(name: str, bug: str):  # type: ignore[no-untyped-def]
    if name == "erf" and bug == "erf-half":
        return lambda x: torch.erf(x / math.sqrt(2.0))
    return {"relu": torch.relu, "tanh": torch.tanh, "erf": torch.erf, "gelu": nn.functional.gelu}[name]


class Block(nn.Module):
    """h + a fc2(phi(fc1 h))."""

    def __init__(self, width: int, multiplier: float, activation: str, bug: str, dtype: torch.dtype) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, width, bias=False, dtype=dtype)
        self.fc2 = nn.Linear(width, width, bias=False, dtype=dtype)
        self.a, self.phi = multiplier, _phi(activation, bug)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.a * self.fc2(self.phi(self.fc1(h)))


class UserResNet(nn.Module):
    """Input layer (when ``input_dim`` is given), blocks, head."""

    def __init__(self, width: int, depth: int, multiplier: float, activation: str, input_dim: int | None,
                 bug: str = "", dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if input_dim is not None:
            self.inp = nn.Linear(input_dim, width, bias=False, dtype=dtype)
        if bug == "shared-blocks":
            one = Block(width, multiplier, activation, bug, dtype)
            self.blocks = nn.ModuleList([one] * depth)
        else:
            self.blocks = nn.ModuleList(Block(width, multiplier, activation, bug, dtype) for _ in range(depth))
        self.head = nn.Linear(width, 1, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x) if hasattr(self, "inp") else x
        for block in self.blocks:
            h = block(h)
        return self.head(h)


def init_weights(net: UserResNet, spec: NetSpec, bug: str) -> None:
    """The module's own initialiser: entries N(0, sigma_w2 / fan_in), the input layer N(0, 1/d)."""
    sigma_w2 = {"sigma-ignored": 1.0, "he": 2.0 * spec.sigma_w2}.get(bug, spec.sigma_w2)
    with torch.no_grad():
        for block in net.blocks:
            for layer in (block.fc1, block.fc2):
                std = math.sqrt(sigma_w2 / layer.in_features)
                nn.init.normal_(layer.weight, 0.0, std * (3.0 if bug == "fc2-std-3" and layer is block.fc2 else 1.0))
        if hasattr(net, "inp"):
            nn.init.normal_(net.inp.weight, 0.0, math.sqrt(1.0 / net.inp.in_features))


def one_network(spec: NetSpec, generator: torch.Generator, bug: str = "") -> UserResNet:
    """One network of ``spec``, drawn by the module's own code from ``generator`` (on the CPU: training calls
    the factory inside torch.func, where ``net.to(device)`` is refused)."""
    require(spec, block="res3", preact=True, bias_var=0.0, init="gaussian", input_scale="unit", device="cpu")
    multiplier = {"branch-constant": spec.branch_multiplier / math.sqrt(2.0),
                  "no-multiplier": 1.0}.get(bug, spec.branch_multiplier)
    with seeded_global_rngs(generator):
        net = UserResNet(spec.width, spec.depth, multiplier, spec.activation, spec.input_dim, bug, spec.torch_dtype)
        init_weights(net, spec, bug)
    return net


FAMILY = Family(blocks=("res3",), preact=(True,), input_layer=True, bias=False)


def factory(bug: str = "") -> ModuleImpl:
    """The plug-in: two-layer blocks, fc1 is the contract's W and fc2 its V."""
    return ModuleImpl(f"user-resnet{'-' + bug if bug else ''}", partial(one_network, bug=bug), blocks="blocks",
                      input="inp", weights={"V": "fc2.weight", "W": "fc1.weight"}, family=FAMILY)


def buggy(name: str) -> partial:
    """``factory`` with one of BUGS, for ``--impl user_resnet:...`` and the tests."""
    return partial(factory, name)

"""``mup-resnet``: a muP MLP ResNet written with the ``mup`` package, plugged in by the module adapter.

The network is what a user of mup writes to add depth scaling: ``nn.Linear`` hidden blocks
h + m V phi(h) with the branch multiplier m = scale L^-beta (1/sqrt(L) at the NetSpec default
beta = 1/2), a ``MuReadout`` output layer, and ``set_base_shapes`` against a base and a delta model
(width BASE_WIDTH and twice that). The suite measures the hidden blocks: trace and gradients are
those of h_0..h_L; the training claims train the blocks with the suite's depth-muP SGD and its own
muP readout, so MuReadout enters no verdict. ``mup-resnet-musgd`` trains plain runs with mup.MuSGD
instead (reference_impl.training.train_optimizer; mup's SGD rule for square hidden matrices is the unscaled
rate, the rule the suite uses, and mup has no depth rule). Weights are drawn from the generator with
the NetSpec's law for every weight family (Gaussian, uniform, and the correlated fBm / RBF weights
of the Marion claims: mup's own initialisers draw from the global RNG and are replaced anyway);
specs mup's MLP cannot express (post-activation, res3, biases, an input layer) raise NotImplementedError.
The adapter draws the block weights of all S networks in one call (``stacked_block_weights``, the
stream of S factory calls) and builds the modules once per spec: mup's set_base_shapes costs
milliseconds per network.
"""
from __future__ import annotations

from functools import lru_cache

import torch
from torch import nn

from ..module_adapter import ModuleImpl
from ..naive import ACTIVATIONS
from ..netspec_modules import draw_block_weights, require, stacked_block_weights
from ..protocol import NetSpec

BASE_WIDTH = 8  # mup's base model width (shapes only)


class MupBlock(nn.Module):
    def __init__(self, width: int, mult: float, activation: str, dtype: torch.dtype) -> None:
        super().__init__()
        self.V = nn.Linear(width, width, bias=False, dtype=dtype, device="meta")
        self.mult, self.phi = mult, ACTIVATIONS[activation]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.mult * self.V(self.phi(h))


class MupResNet(nn.Module):
    """blocks, then MuReadout (width -> 1)."""

    def __init__(self, width: int, depth: int, mult: float, activation: str, dtype: torch.dtype) -> None:
        import mup

        super().__init__()
        self.blocks = nn.ModuleList(MupBlock(width, mult, activation, dtype) for _ in range(depth))
        self.readout = mup.MuReadout(width, 1, bias=False, readout_zero_init=True, dtype=dtype, device="meta")

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            h = block(h)
        return self.readout(h)


@lru_cache(maxsize=8)
def _shapes(depth: int) -> tuple[dict, dict]:
    import mup

    def shapes(width: int) -> dict:
        return mup.get_shapes(MupResNet(width, depth, 1.0, "relu", torch.float32))

    return shapes(BASE_WIDTH), shapes(2 * BASE_WIDTH)


def one_network(spec: NetSpec, generator: torch.Generator) -> MupResNet:
    import mup

    require(spec, block="res1", preact=True, bias_var=0.0, input_dim=None)
    net = MupResNet(spec.width, spec.depth, spec.branch_multiplier, spec.activation, spec.torch_dtype)
    net = draw_block_weights(net, spec, generator)  # NetSpec's law, entries of variance sigma_w2 / n
    base, delta = _shapes(spec.depth)
    mup.set_base_shapes(net, base, delta=delta, rescale_params=False)  # after to_empty, which replaces the parameters
    with torch.no_grad():
        net.readout.weight.zero_()  # readout_zero_init, as mup recommends
    return net


def make_mup_resnet() -> ModuleImpl:
    """Entry point ``mup-resnet`` (needs ``pip install -e ".[thirdparty]"``)."""
    import mup

    return ModuleImpl("mup-resnet", one_network, blocks="blocks", version=getattr(mup, "__version__", "1.0.0"),
                      draw=stacked_block_weights)


def musgd(params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    """mup.MuSGD: per-parameter rates from the infshapes set_base_shapes attached (no depth factor)."""
    import mup

    return mup.MuSGD(params, lr=lr)


def make_mup_resnet_musgd() -> ModuleImpl:
    """Entry point ``mup-resnet-musgd``: the same network; plain training runs use mup.MuSGD
    (reference_impl.training.train_optimizer), runs that need the suite's constructions use the contract."""
    import mup

    return ModuleImpl("mup-resnet-musgd", one_network, blocks="blocks", version=getattr(mup, "__version__", "1.0.0"),
                      optimizer=musgd, draw=stacked_block_weights)

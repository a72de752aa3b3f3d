"""The training engine (reference_impl/training/) on each route, at the sizes of a default-budget cell.

One chunk of networks per call (cells are chunked; every chunk costs the same): the reference's exact
lazy sampler (nfd.sgd_coupling_survives_width at width 512: a true run with the coupling record and a
paired decoupled run), its dense path (nfd.depth_error: depth-coupled runs at L = 4..64), res3 blocks on
the lazy path (nfd.two_layer_block_collapse), the training contract on the dense reference's blocks,
and the optimizer route (a module plug-in with torch.optim.SGD, the coord check's feature records).
"""
from __future__ import annotations

import torch

from reference_impl import NetSpec, make_reference_dense
from reference_impl.module_adapter import ModuleImpl
from reference_impl.naive import NaiveResNet
from reference_impl.training import Run, TrainConfig, train, train_network, train_with

from . import subset

CFG = TrainConfig(steps=2, n_train=1, n_test=0)


def _spec(n: int, depth: int, **kw) -> NetSpec:  # noqa: ANN003
    return NetSpec(width=n, depth=depth, activation="tanh", parametrization="depth_mup", dtype="float64", **kw)


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _naive_sgd() -> ModuleImpl:
    return ModuleImpl("naive", lambda spec, gen: NaiveResNet(spec).reset_parameters_(gen), optimizer=torch.optim.SGD)


ROUTES = {
    "lazy": lambda: train(_spec(512, 4), CFG, 256, _gen(),
                          [Run("true4", 4, record_coupling=True), Run("dec4", 4, "paired")], path="lazy"),
    "dense": lambda: train(_spec(64, 64), CFG, 128, _gen(), [Run(f"true{d}", d) for d in (4, 8, 16, 32, 64)],
                           path="dense", fine_depth=64),
    "res3-lazy": lambda: train(_spec(128, 16, block="res3"), CFG, 256, _gen(), [Run("r", 16, record_norms=True)],
                               path="lazy"),
    "contract": lambda: train_network(make_reference_dense(), _spec(64, 16), CFG, 128, _gen(),
                                      [Run("true16", 16, record_coupling=True), Run("dec16", 16, "paired")]),
    "optimizer": lambda: train_with(_naive_sgd(), _spec(64, 16), TrainConfig(steps=4, n_train=1, n_test=0), 64, _gen(),
                                    [Run(f"true{d}", d, record_features=True) for d in (4, 8, 16)], fine_depth=16),
}


class TrainingRoutes:
    """Wall time of one chunk of a default-budget training cell, per route of the engine."""

    params = [subset(list(ROUTES), ["dense"])]
    param_names = ["route"]
    rounds = 1
    repeat = (2, 5, 4.0)

    def time_chunk(self, route):
        ROUTES[route]()

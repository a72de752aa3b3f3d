"""Which route a plug-in's training takes (reference_impl.training.routes.train_with), and how the
results say which network and optimizer were trained."""
from __future__ import annotations

import pytest
import torch

from reference_impl.module_adapter import ModuleImpl
from reference_impl.naive import NaiveResNet
from reference_impl.protocol import NetSpec
from reference_impl.reference import make_reference, make_reference_dense
from reference_impl.training import CONTRACT_NETWORK, OWN_TRAINER, REFERENCE_NETWORK, Run, TrainConfig, train, train_with

SPEC = NetSpec(width=8, depth=4, activation="tanh", parametrization="depth_mup", dtype="float64")


def _spec(n: int = 12, depth: int = 4, **kw) -> NetSpec:  # noqa: ANN003
    return NetSpec(width=n, depth=depth, activation="tanh", parametrization="depth_mup", dtype="float64", **kw)


def _impl(optimizer=None, netspec_blocks: bool = True) -> ModuleImpl:  # noqa: ANN001
    """NetSpec's own network as an nn.Module (reference_impl.naive), through the module adapter."""
    return ModuleImpl("naive", lambda spec, gen: NaiveResNet(spec).reset_parameters_(gen), optimizer=optimizer,
                      netspec_blocks=netspec_blocks)


class _Wrapper:
    """A plug-in whose train_runs only calls the reference's trainer."""

    name = "wrapper"

    def train_runs(self, *args, **kw):  # noqa: ANN002, ANN003, ANN201
        return train(*args, **kw)


class _Own:
    name = "own"

    def train_runs(self, *args, **kw):  # noqa: ANN002, ANN003, ANN201
        return {}


def test_which_network_was_trained_is_recognised() -> None:
    spec, cfg, runs = _spec(8, 2), TrainConfig(steps=1), [Run("t", 2)]
    args = (spec, cfg, 16, torch.Generator().manual_seed(0), runs)
    assert train_with(_Wrapper(), *args)[1] == REFERENCE_NETWORK
    assert train_with(make_reference(), *args)[1] == REFERENCE_NETWORK
    assert train_with(make_reference_dense(), *args)[1] == CONTRACT_NETWORK
    assert train_with(_Own(), *args)[1] == OWN_TRAINER
    with pytest.raises(NotImplementedError, match="cannot train"):
        train_with(object(), *args)


def test_suite_constructions_take_the_contract_or_are_declined_with_the_reason() -> None:
    cfg, runs = TrainConfig(steps=1), [Run("t4", 4, record_coupling=True), Run("d4", 4, "paired")]
    _, how = train_with(_impl(torch.optim.SGD), SPEC, cfg, 16, torch.Generator().manual_seed(0), runs)
    assert how == CONTRACT_NETWORK
    with pytest.raises(NotImplementedError, match="paired decoupled backward.*offers only training with its own optimizer"):
        train_with(_impl(torch.optim.SGD, netspec_blocks=False), SPEC, cfg, 16, torch.Generator().manual_seed(0), runs)

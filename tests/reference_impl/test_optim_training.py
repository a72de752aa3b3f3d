"""Training a module plug-in with an optimizer: torch.optim.SGD reproduces the contract, Adam runs
deterministically, and runs that need the suite's constructions take the contract or are declined."""
from __future__ import annotations

import pytest
import torch

from claims.validate import ValidationError, validate
from reference_impl.module_adapter import ModuleImpl
from reference_impl.naive import NaiveResNet
from reference_impl.plugin_training import CONTRACT_NETWORK, train_network, train_with
from reference_impl.protocol import NetSpec
from reference_impl.training import Run, TrainConfig

SPEC = NetSpec(width=8, depth=4, activation="tanh", parametrization="depth_mup", dtype="float64")
RUNS = [Run("t4", 4, record_features=True), Run("t2", 2, record_features=True)]


def _impl(optimizer=None, netspec_blocks: bool = True) -> ModuleImpl:  # noqa: ANN001
    """NetSpec's own network as an nn.Module (reference_impl.naive), through the module adapter."""
    return ModuleImpl("naive", lambda spec, gen: NaiveResNet(spec).reset_parameters_(gen), optimizer=optimizer,
                      netspec_blocks=netspec_blocks)


def _adam(params: list, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr)


def test_torch_sgd_at_the_suites_rate_reproduces_the_contract() -> None:
    cfg = TrainConfig(steps=3, n_train=2, n_test=1, lr=0.7, lr_depth_exponent=0.3)
    want = train_network(_impl(), SPEC, cfg, 20, torch.Generator().manual_seed(1), RUNS)
    got, how = train_with(_impl(torch.optim.SGD), SPEC, cfg, 20, torch.Generator().manual_seed(1), RUNS)
    assert how == "trained with the plug-in's network by its optimizer torch.optim.sgd.SGD"
    for r in RUNS:
        for field in ("f_train", "f_test", "loss", "features"):
            assert torch.allclose(getattr(got[r.name], field), getattr(want[r.name], field), atol=1e-12), (r.name, field)


def test_adam_trains_deterministically() -> None:
    cfg = TrainConfig(steps=3, n_train=2, n_test=1, lr=0.01)
    one, how = train_with(_impl(_adam), SPEC, cfg, 16, torch.Generator().manual_seed(2), RUNS)
    two, _ = train_with(_impl(_adam), SPEC, cfg, 16, torch.Generator().manual_seed(2), RUNS)
    sgd, _ = train_with(_impl(torch.optim.SGD), SPEC, cfg, 16, torch.Generator().manual_seed(2), RUNS)
    assert "_adam (torch.optim.adam.Adam)" in how
    for r in RUNS:
        assert torch.equal(one[r.name].f_train, two[r.name].f_train)
        assert torch.isfinite(one[r.name].features).all()
        assert not torch.allclose(one[r.name].f_train[:, -1], sgd[r.name].f_train[:, -1])
        assert float(one[r.name].loss[:, -1].mean()) < float(one[r.name].loss[:, 0].mean())


def test_suite_constructions_take_the_contract_or_are_declined_with_the_reason() -> None:
    cfg, runs = TrainConfig(steps=1), [Run("t4", 4, record_coupling=True), Run("d4", 4, "paired")]
    _, how = train_with(_impl(torch.optim.SGD), SPEC, cfg, 16, torch.Generator().manual_seed(0), runs)
    assert how == CONTRACT_NETWORK
    with pytest.raises(NotImplementedError, match="paired decoupled backward.*offers only training with its own optimizer"):
        train_with(_impl(torch.optim.SGD, netspec_blocks=False), SPEC, cfg, 16, torch.Generator().manual_seed(0), runs)


def test_validation_checks_the_blocks_the_optimizer_trains() -> None:
    """Random non-weight parameters (here branch biases) differ between the built and the trained networks."""
    impl = _impl(torch.optim.SGD, netspec_blocks=False)
    validate(impl, SPEC, train=True)
    with pytest.raises(ValidationError, match="the blocks its optimizer trains"):
        validate(impl, SPEC.with_(bias_var=0.5), train=True)

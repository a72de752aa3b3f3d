"""A plug-in's network in training (reference_impl.training.plugin): through the contract, its blocks
with the suite's SGD, decoupling and records reproduce the reference's trajectories; with an optimizer,
torch.optim.SGD reproduces the contract and Adam runs deterministically."""
from __future__ import annotations

import pytest
import torch

from claims.validate import ValidationError, validate
from reference_impl.module_adapter import ModuleImpl
from reference_impl.naive import NaiveResNet
from reference_impl.protocol import NetSpec, SpecError
from reference_impl.reference import make_reference_dense
from reference_impl.training import DRAW_GROUP, Run, TrainConfig, group_generator, train, train_network, train_with

RUNS = [Run("true4", 4, record_coupling=True, record_features=True), Run("dec4", 4, "paired", record_coupling=True),
        Run("true2", 2, record_coupling=True), Run("ind2", 2, "independent")]
SPEC = NetSpec(width=8, depth=4, activation="tanh", parametrization="depth_mup", dtype="float64")
PLAIN_RUNS = [Run("t4", 4, record_features=True), Run("t2", 2, record_features=True)]


def _spec(n: int = 12, depth: int = 4, **kw) -> NetSpec:  # noqa: ANN003
    return NetSpec(width=n, depth=depth, activation="tanh", parametrization="depth_mup", dtype="float64", **kw)


@pytest.mark.parametrize("n_train", [1, 2])
def test_contract_path_reproduces_the_reference_trajectories(n_train: int) -> None:
    """The dense reference through the contract (its block, autograd, the suite's constructions) gives
    the reference trainer's trajectories from the same draws: every run, backward and record."""
    s, cfg = DRAW_GROUP, TrainConfig(steps=2, n_train=n_train, n_test=1, lr=0.8)
    got = train_network(make_reference_dense(), _spec(), cfg, s, torch.Generator().manual_seed(3), RUNS)
    base = int(torch.randint(0, 2**62, (1,), generator=torch.Generator().manual_seed(3)))
    want = train(_spec(), cfg, s, group_generator(base, 0, "cpu"), RUNS, path="dense")
    for r in RUNS:
        for field in ("f_train", "f_test", "loss", "coupling", "features"):
            a, b = getattr(got[r.name], field), getattr(want[r.name], field)
            assert (a is None) == (b is None)
            if a is not None:
                assert torch.allclose(a, b, atol=1e-10, rtol=1e-9), (r.name, field)


def test_lazy_reference_and_contract_path_agree_in_distribution() -> None:
    """The reference's exact lazy sampler (its fast path) and the generic path: same law of D_1, A_2."""
    s, cfg = 2048, TrainConfig(steps=2, n_test=0)
    runs = [Run("true4", 4, record_coupling=True), Run("dec4", 4, "paired")]
    lazy = train(_spec(16), cfg, s, torch.Generator().manual_seed(5), runs, path="lazy")
    gen = train_network(make_reference_dense(), _spec(16), cfg, s, torch.Generator().manual_seed(6), runs)
    for out_a, out_b in ((lazy, gen),):
        for stat in (lambda o: o["true4"].f_train[:, 2, 0] - o["dec4"].f_train[:, 2, 0],
                     lambda o: o["true4"].coupling[:, 2].sum(1), lambda o: o["true4"].loss[:, 2]):
            x, y = stat(out_a), stat(out_b)
            z = (x.mean() - y.mean()) / (x.var() / s + y.var() / s).sqrt()
            assert abs(float(z)) < 4, float(z)
            assert 0.8 < float(x.std() / y.std()) < 1.25


def test_results_do_not_depend_on_the_chunk_size() -> None:
    cfg = TrainConfig(steps=1, n_test=1)
    runs = [Run("true2", 2, record_coupling=True), Run("dec2", 2, "paired")]
    one = train_network(make_reference_dense(), _spec(8, 2), cfg, 40, torch.Generator().manual_seed(1), runs, chunk=16)
    two = train_network(make_reference_dense(), _spec(8, 2), cfg, 40, torch.Generator().manual_seed(1), runs, chunk=48)
    for r in runs:
        assert torch.allclose(one[r.name].f_test, two[r.name].f_test, atol=1e-12)


def test_specs_the_contract_cannot_train_say_why() -> None:
    cfg, gen = TrainConfig(steps=1), torch.Generator().manual_seed(0)
    impl = make_reference_dense()
    with pytest.raises(SpecError, match="input_dim=4"):
        train_network(impl, _spec(8, 2, input_dim=4), cfg, 4, gen)
    with pytest.raises(NotImplementedError, match="block formula"):
        train_network(impl, _spec(8, 2, preact=False), cfg, 4, gen, [Run("d", 2, "paired")])
    with pytest.raises(NotImplementedError, match="i.i.d. Gaussian"):
        train_network(impl, _spec(8, 4, init="uniform"), cfg, 4, gen, [Run("d", 2)], fine_depth=4)
    with pytest.raises(NotImplementedError, match="negative control"):
        train_network(impl, _spec(8, 2), cfg, 4, gen, [Run("d", 2, "untransposed")])
    with pytest.raises(NotImplementedError, match="NetSpec does not describe"):  # only the reference trains it
        train_network(impl, _spec(8, 2, preact=False), TrainConfig(steps=1, post_branch_input="phi"), 4, gen)


# ------------------------------------------------------------------------------------------------
# a module plug-in trained by its optimizer
# ------------------------------------------------------------------------------------------------
def _impl(optimizer=None, netspec_blocks: bool = True) -> ModuleImpl:  # noqa: ANN001
    """NetSpec's own network as an nn.Module (reference_impl.naive), through the module adapter."""
    return ModuleImpl("naive", lambda spec, gen: NaiveResNet(spec).reset_parameters_(gen), optimizer=optimizer,
                      netspec_blocks=netspec_blocks)


def _adam(params: list, lr: float) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=lr)


def test_torch_sgd_at_the_suites_rate_reproduces_the_contract() -> None:
    cfg = TrainConfig(steps=3, n_train=2, n_test=1, lr=0.7, lr_depth_exponent=0.3)
    want = train_network(_impl(), SPEC, cfg, 20, torch.Generator().manual_seed(1), PLAIN_RUNS)
    got, how = train_with(_impl(torch.optim.SGD), SPEC, cfg, 20, torch.Generator().manual_seed(1), PLAIN_RUNS)
    assert how == "trained with the plug-in's network by its optimizer torch.optim.sgd.SGD"
    for r in PLAIN_RUNS:
        for field in ("f_train", "f_test", "loss", "features"):
            assert torch.allclose(getattr(got[r.name], field), getattr(want[r.name], field), atol=1e-12), (r.name, field)


def test_adam_trains_deterministically() -> None:
    cfg = TrainConfig(steps=3, n_train=2, n_test=1, lr=0.01)
    one, how = train_with(_impl(_adam), SPEC, cfg, 16, torch.Generator().manual_seed(2), PLAIN_RUNS)
    two, _ = train_with(_impl(_adam), SPEC, cfg, 16, torch.Generator().manual_seed(2), PLAIN_RUNS)
    sgd, _ = train_with(_impl(torch.optim.SGD), SPEC, cfg, 16, torch.Generator().manual_seed(2), PLAIN_RUNS)
    assert "_adam (torch.optim.adam.Adam)" in how
    for r in PLAIN_RUNS:
        assert torch.equal(one[r.name].f_train, two[r.name].f_train)
        assert torch.isfinite(one[r.name].features).all()
        assert not torch.allclose(one[r.name].f_train[:, -1], sgd[r.name].f_train[:, -1])
        assert float(one[r.name].loss[:, -1].mean()) < float(one[r.name].loss[:, 0].mean())


def test_validation_checks_the_blocks_the_optimizer_trains() -> None:
    """Random non-weight parameters (here branch biases) differ between the built and the trained networks."""
    impl = _impl(torch.optim.SGD, netspec_blocks=False)
    validate(impl, SPEC, train=True)
    with pytest.raises(ValidationError, match="the blocks its optimizer trains"):
        validate(impl, SPEC.with_(bias_var=0.5), train=True)

"""Training through the contract: the plug-in's blocks with the suite's SGD, decoupling and records."""
from __future__ import annotations

import pytest
import torch

from reference_impl.plugin_training import (CONTRACT_NETWORK, DRAW_GROUP, OWN_TRAINER, REFERENCE_NETWORK,
                                            _group_generator, train_network, train_with)
from reference_impl.protocol import NetSpec, SpecError
from reference_impl.reference import make_reference, make_reference_dense
from reference_impl.training import Run, TrainConfig, train

RUNS = [Run("true4", 4, record_coupling=True, record_features=True), Run("dec4", 4, "paired", record_coupling=True),
        Run("true2", 2, record_coupling=True), Run("ind2", 2, "independent")]


def _spec(n: int = 12, depth: int = 4, **kw) -> NetSpec:  # noqa: ANN003
    return NetSpec(width=n, depth=depth, activation="tanh", parametrization="depth_mup", dtype="float64", **kw)


@pytest.mark.parametrize("n_train", [1, 2])
def test_contract_path_reproduces_the_reference_trajectories(n_train: int) -> None:
    """The dense reference through the contract (its block, autograd, the suite's constructions) gives
    the reference trainer's trajectories from the same draws: every run, backward and record."""
    s, cfg = DRAW_GROUP, TrainConfig(steps=2, n_train=n_train, n_test=1, lr=0.8)
    got = train_network(make_reference_dense(), _spec(), cfg, s, torch.Generator().manual_seed(3), RUNS)
    base = int(torch.randint(0, 2**62, (1,), generator=torch.Generator().manual_seed(3)))
    want = train(_spec(), cfg, s, _group_generator(base, 0, _spec()), RUNS, path="dense")
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

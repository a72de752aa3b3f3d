"""The one loop, configured by every route: rate grids from the same initial networks, group rate
factors, and the records (loss, norms, res3's first internal layer) in every route."""
from __future__ import annotations

import torch

from reference_impl.module_adapter import ModuleImpl
from reference_impl.naive import NaiveResNet
from reference_impl.protocol import NetSpec
from reference_impl.reference import make_reference_dense
from reference_impl.training import (DRAW_GROUP, Run, TrainConfig, group_generator, train, train_network,
                                     train_optimizer)


def _spec(n: int = 10, depth: int = 4, **kw) -> NetSpec:  # noqa: ANN003
    return NetSpec(width=n, depth=depth, activation="tanh", parametrization="depth_mup", dtype="float64", **kw)


def _naive(optimizer=None) -> ModuleImpl:  # noqa: ANN001
    return ModuleImpl("naive", lambda spec, gen: NaiveResNet(spec).reset_parameters_(gen), optimizer=optimizer)


def _grid(train_fn, *args) -> dict:  # noqa: ANN001
    runs = [Run(f"lr{f}", 4, lr_factor=f) for f in (0.0, 0.5, 1.0)]
    out = train_fn(*args, runs)
    return out[0] if isinstance(out, tuple) else out


def test_runs_at_several_rates_train_the_same_initial_networks_in_every_route() -> None:
    """A rate grid is a list of runs: one draw, the same initial outputs, the final loss per network at
    each rate; a zero rate leaves the network unchanged and a factor equals the same base rate."""
    cfg, gen = TrainConfig(steps=2, n_train=2, n_test=1), lambda: torch.Generator().manual_seed(3)
    routes = {
        "lazy": lambda runs: train(_spec(), cfg, 20, gen(), runs, path="lazy"),
        "dense": lambda runs: train(_spec(), cfg, 20, gen(), runs, path="dense"),
        "contract": lambda runs: train_network(make_reference_dense(), _spec(), cfg, 20, gen(), runs),
        "optimizer": lambda runs: train_optimizer(_naive(torch.optim.SGD), _spec(), cfg, 20, gen(), runs)[0],
    }
    for name, route in routes.items():
        out = _grid(route)
        for key in ("lr0.5", "lr1.0"):  # lazy: the later runs' products are read back from the sampler's state
            assert torch.allclose(out[key].f_train[:, 0], out["lr0.0"].f_train[:, 0], rtol=0, atol=1e-12), name
        assert torch.allclose(out["lr0.0"].f_test[:, -1], out["lr0.0"].f_test[:, 0], rtol=0, atol=1e-12), name
        assert out["lr1.0"].loss.shape == (20, 3) and not torch.equal(out["lr0.5"].loss[:, -1], out["lr1.0"].loss[:, -1])
        if name == "dense":  # runs do not interact on the dense path: the grid's run equals a call at that rate
            half = train(_spec(), TrainConfig(steps=2, n_train=2, n_test=1, lr=0.5), 20, gen(), [Run("r", 4)], path="dense")
            assert torch.equal(half["r"].f_train, out["lr0.5"].f_train)


def test_a_rate_factor_on_the_first_internal_layer_is_the_depth_aware_correction() -> None:
    spec, gen = _spec(block="res3"), lambda: torch.Generator().manual_seed(5)
    run = [Run("r", 4, record_norms=True)]
    corrected = train(spec, TrainConfig(steps=2, first_layer_lr_exponent=0.5), 12, gen(), run, path="lazy")["r"]
    factor = train(spec, TrainConfig(steps=2), 12, gen(), [Run("r", 4, record_norms=True, lr_factor={"W": 2.0})],
                   path="lazy")["r"]
    for field in ("f_train", "loss", "first_update", "first_change"):
        assert torch.equal(getattr(corrected, field), getattr(factor, field)), field


def test_the_contract_records_norms_and_res3_first_layer_updates_like_the_reference() -> None:
    """The dense reference's res3 blocks through the contract (autograd on dense weights) and the reference's
    own res3 training (rank-B updates) from the same draws: the same trajectories and records."""
    spec, cfg = _spec(block="res3"), TrainConfig(steps=2, n_train=2, n_test=1, lr=0.8, first_layer_lr_exponent=0.5)
    runs = [Run("r4", 4, record_norms=True)]
    got = train_network(make_reference_dense(), spec, cfg, DRAW_GROUP, torch.Generator().manual_seed(2), runs)["r4"]
    base = int(torch.randint(0, 2**62, (1,), generator=torch.Generator().manual_seed(2)))
    want = train(spec, cfg, DRAW_GROUP, group_generator(base, 0, "cpu"), runs, path="dense")["r4"]
    for field in ("f_train", "f_test", "loss", "norm_ratio", "first_update", "first_change"):
        assert torch.allclose(getattr(got, field), getattr(want, field), atol=1e-10, rtol=1e-9), field
    assert float(got.first_update[:, 2].min()) > 0

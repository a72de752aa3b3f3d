"""The learning-rate transfer claims (claims/catalogue/transfer.py): the optimum finder, the bootstrap
slope on curves with a known answer, the controls' exact relation to the reference, and the declarations.
The claims themselves run at smoke as claim items (claims/pytest_plugin.py) and their controls in
test_controls.py."""
import math

import numpy as np
import pytest
import torch

from claims.catalogue.transfer import BOOTSTRAP, estimate_transfer, optimum
from claims.catalogue.transfer_controls import TRANSFER_CONTROLS, TRANSFER_POSITIVE_CONTROLS
from claims.registry import select
from claims.spec import Table
from reference_impl.protocol import NetSpec
from reference_impl.training import Run, TrainConfig, train

GRID = np.array([2.0 ** (k / 2) for k in range(-4, 9)])


def _curve(log_opt: float, depth_noise: np.ndarray) -> np.ndarray:
    """Per-network losses (S, G): a smooth convex bowl in log rate around log_opt, times network noise."""
    x = np.log(GRID)
    bowl = 0.05 * np.exp(0.8 * (x - log_opt) ** 2)
    return bowl[None, :] * depth_noise[:, None]


def _table(log_opts: dict[int, float], networks: int = 64, seed: int = 0) -> Table:
    rng = np.random.default_rng(seed)
    noise = rng.lognormal(0.0, 0.3, size=networks)  # common to every depth: common random numbers
    rows = []
    for depth, log_opt in log_opts.items():
        losses = _curve(log_opt, noise * rng.lognormal(0.0, 0.05, size=networks))
        for j, g in enumerate(GRID):
            col = losses[:, j]
            rows.append({"depth": depth, "lr_factor": float(g), "rate": float(g), "loss": float(col.mean()),
                         "loss_se": float(col.std() / math.sqrt(networks)), "losses": col.tolist(), "cell": 0,
                         "block": "res1"})
    return Table(rows)


def test_optimum_is_the_vertex_of_a_bowl_and_undetermined_at_the_grid_edge() -> None:
    x = np.log(GRID)
    xs, ys, _ = optimum(x, np.log(0.05) + 0.8 * (x - 0.7) ** 2)
    assert xs == pytest.approx(0.7, abs=1e-9) and ys == pytest.approx(math.log(0.05), abs=1e-9)
    assert math.isnan(optimum(x, -x)[0])  # decreasing over the grid: the minimum is not bracketed
    assert math.isnan(optimum(x, -(x - 0.7) ** 2)[0])  # concave: no minimum


@pytest.mark.parametrize("slope", [0.0, -1.0, 0.5])
def test_bootstrap_slope_recovers_a_known_drift(slope: float) -> None:
    depths = (4, 8, 16, 32)
    est = estimate_transfer(_table({d: 1.0 + slope * math.log(d / 4) for d in depths}), 0.95)
    lo, hi = est.ci[0]
    assert est.value == pytest.approx(slope, abs=0.05)
    assert lo <= est.value <= hi and hi - lo < 0.2
    assert est.figure["series"][-1]["label"].startswith("fitted optimum")
    assert len(est.fit_table) == 2 * len(depths) + 2


def test_an_optimum_off_the_grid_gives_an_unbounded_interval() -> None:
    est = estimate_transfer(_table({4: 1.0, 8: 1.0, 16: 1.0, 32: 4.0}), 0.95)  # L = 32: optimum past the grid
    assert math.isnan(est.value) and est.ci[0] == (-math.inf, math.inf)
    assert f"{BOOTSTRAP} bootstrap resamples" in est.notes and "not bracketed" in est.notes


def _small(cfg: TrainConfig, depths: tuple[int, ...], impl_train=None) -> dict:
    spec = NetSpec(width=8, depth=max(depths), activation="tanh", beta=0.5, parametrization="depth_mup",
                   dtype="float64")
    runs = [Run(f"L{d}", d) for d in depths]
    gen = torch.Generator().manual_seed(3)
    return (impl_train or train)(spec, cfg, 4, gen, runs, path="dense")


def test_standard_parametrization_is_depth_mup_at_rate_lr_L_over_4() -> None:
    """Folding the multiplier into the weights is depth-muP at rate lr (L / 4)^(2 beta): exactly."""
    sp = _small(TrainConfig(steps=3, lr=1.3, n_train=2, n_test=0), (4, 8),
                TRANSFER_CONTROLS["standard-parametrization"].train_runs)
    scaled = _small(TrainConfig(steps=3, lr=1.3 / 4, lr_depth_exponent=-1.0, n_train=2, n_test=0), (4, 8))
    plain = _small(TrainConfig(steps=3, lr=1.3, n_train=2, n_test=0), (4, 8))
    for name in ("L4", "L8"):
        assert torch.allclose(sp[name].loss, scaled[name].loss, rtol=1e-12, atol=0)
    assert torch.allclose(sp["L4"].loss, plain["L4"].loss, rtol=1e-12, atol=0)  # equal to depth-muP at L = 4
    assert not torch.allclose(sp["L8"].loss, plain["L8"].loss)  # and twice its rate at L = 8


def test_depth_invariant_training_trains_the_shallowest_depth_with_fresh_networks() -> None:
    cfg = TrainConfig(steps=2, lr=1.0, n_train=2, n_test=0)
    out = _small(cfg, (4, 8), TRANSFER_POSITIVE_CONTROLS["depth-invariant-training"].train_runs)
    shallow = _small(cfg, (4,))
    assert torch.equal(out["L4"].loss, shallow["L4"].loss)  # the first declared depth: the reference's draw
    assert not torch.equal(out["L8"].loss, out["L4"].loss)  # the next one: fresh networks of depth 4


def test_declarations() -> None:
    one, two = select(["nfd.lr_transfer_across_depth", "nfd.lr_transfer_two_layer"])
    assert one.kind == two.kind == "paper" and one.tolerance == two.tolerance == 0.25
    assert set(one.controls) == {"standard-parametrization", "lr-depth-factor"}
    assert two.positive_controls == ("depth-invariant-training",) and not one.positive_controls
    counted = [r.name for r in two.readings if not r.degenerate]
    assert counted == ["suite-correction"]
    for claim in (one, two):  # the grid holds the optimum with two points to spare at every budget
        for budget in ("smoke", "default", "thorough"):
            assert len(claim.sweep(budget).inner["lr_factor"]) >= 13

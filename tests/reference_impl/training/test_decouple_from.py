"""Run.decouple_from: the decoupled backward starts at a later step (reference_impl/training/)."""
import pytest
import torch

from reference_impl.protocol import NetSpec
from reference_impl.reference import make_reference_dense
from reference_impl.training import Run, TrainConfig, train, train_network


def _runs(depth: int) -> list[Run]:
    return [Run("true", depth), Run("dec", depth, "paired"), Run("dec1", depth, "paired", decouple_from=1)]


@pytest.mark.parametrize("path", ["dense", "lazy"])
def test_decoupling_from_step_one_leaves_the_first_update_as_true_backprop(path) -> None:
    spec = NetSpec(width=32, depth=4, activation="tanh", parametrization="depth_mup", dtype="float64")
    out = train(spec, TrainConfig(steps=3, n_test=0), 16, torch.Generator().manual_seed(0), _runs(4), path=path)
    true, dec, dec1 = (out[k].f_train[:, :, 0] for k in ("true", "dec", "dec1"))
    assert torch.allclose(dec1[:, 1], true[:, 1], rtol=0, atol=1e-12)  # the first update is the true one (to rounding)
    assert (dec[:, 1] - true[:, 1]).abs().max() > 1e-8  # decoupled from step 0 it is not
    assert (dec1[:, 2] - true[:, 2]).abs().max() > 1e-8  # the second backward pass is decoupled


def test_the_contract_route_decouples_from_the_same_step() -> None:
    """The training contract (autograd through a plug-in's blocks) starts the decoupled backward at the same step."""
    spec = NetSpec(width=16, depth=3, activation="tanh", parametrization="depth_mup", dtype="float64")
    out = train_network(make_reference_dense(), spec, TrainConfig(steps=2, n_test=0), 20,
                        torch.Generator().manual_seed(1), _runs(3))
    true, dec, dec1 = (out[k].f_train[:, :, 0] for k in ("true", "dec", "dec1"))
    assert torch.allclose(dec1[:, 1], true[:, 1], rtol=0, atol=1e-12)
    assert (dec[:, 1] - true[:, 1]).abs().max() > 1e-8 and (dec1[:, 2] - true[:, 2]).abs().max() > 1e-8


def test_a_negative_step_is_refused() -> None:
    with pytest.raises(ValueError, match="decouple_from"):
        Run("r", 4, "paired", decouple_from=-1)

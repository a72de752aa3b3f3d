"""Training settings and runs say what is wrong with a bad value; the loss and its output gradient."""
from __future__ import annotations

import pytest
import torch

from reference_impl.training import Run, TrainConfig, loss_and_signal


def test_rate_factors_name_known_groups_and_finite_values() -> None:
    assert Run("r", 2, lr_factor=0.5).group_factor("W") == 0.5
    assert Run("r", 2, lr_factor={"W": 2.0}).group_factor("V") == 1.0
    with pytest.raises(ValueError, match="allowed groups: V, W"):
        Run("r", 2, lr_factor={"readout": 1.0})
    with pytest.raises(ValueError, match="finite non-negative"):
        Run("r", 2, lr_factor=float("inf"))
    with pytest.raises(ValueError, match="backward"):
        Run("r", 2, backward="transposed")  # type: ignore[arg-type]


@pytest.mark.parametrize("loss", ["mse", "linear"])
def test_the_output_gradient_is_the_derivative_of_the_loss(loss: str) -> None:
    cfg, y = TrainConfig(loss=loss, n_train=3), torch.tensor([0.1, -0.4, 0.7], dtype=torch.float64)
    f = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    value, chi = loss_and_signal(cfg, f, y)
    (grad,) = torch.autograd.grad(value.sum(), f)
    assert torch.allclose(grad, chi, atol=1e-15)

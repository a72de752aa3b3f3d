"""Factory helpers: refusals name the field, block weights follow the suite's law draw for draw."""
import pytest
import torch
from torch import nn

from reference_impl.init import draw_layer_weights
from reference_impl.netspec_modules import draw_block_weights, require, stacked_block_weights
from reference_impl.protocol import NetSpec


def test_require_names_every_field_the_code_cannot_express() -> None:
    spec = NetSpec(width=4, depth=2, preact=False, activation="tanh")
    require(spec, activation=("relu", "tanh"))
    with pytest.raises(NotImplementedError, match=r"preact=False \(expresses True\), activation='tanh'"):
        require(spec, preact=True, activation="relu")


def _net(spec: NetSpec, dtype: torch.dtype) -> nn.Module:
    net = nn.Module()
    net.blocks = nn.ModuleList(nn.Module() for _ in range(spec.depth))
    for b in net.blocks:
        b.V = nn.Linear(spec.width, spec.width, bias=False, dtype=dtype, device="meta")
    return net


@pytest.mark.parametrize("init,param", [("gaussian", 0.0), ("uniform", 0.0), ("fbm", 0.8), ("rbf", 0.1)])
def test_block_weights_are_the_suites_draw(init: str, param: float) -> None:
    spec = NetSpec(width=5, depth=6, init=init, init_param=param, dtype="float64")
    net = draw_block_weights(_net(spec, torch.float64), spec, torch.Generator().manual_seed(3))
    want = draw_layer_weights(spec, 1, (5, 5), torch.Generator().manual_seed(3))[0]
    assert torch.equal(torch.stack([b.V.weight for b in net.blocks]), want)


def test_a_layer_in_another_dtype_is_a_clear_error() -> None:
    spec = NetSpec(width=3, depth=2, dtype="float64")
    with pytest.raises(ValueError, match="dtype=spec.torch_dtype"):
        draw_block_weights(_net(spec, torch.float32), spec, torch.Generator())


@pytest.mark.parametrize("init,param", [("gaussian", 0.0), ("uniform", 0.0), ("fbm", 0.8), ("rbf", 0.1)])
def test_stacked_weights_are_the_draws_of_one_call_per_network(init: str, param: float) -> None:
    spec = NetSpec(width=8, depth=6, init=init, init_param=param, dtype="float64")  # L n^2 a multiple of 16
    gen = torch.Generator().manual_seed(3)
    one_by_one = [draw_block_weights(_net(spec, torch.float64), spec, gen) for _ in range(3)]
    stacked = stacked_block_weights(spec, 3, torch.Generator().manual_seed(3))
    assert sorted(stacked) == sorted(f"blocks.{k}.V.weight" for k in range(6))
    for k in range(6):  # fBm / RBF mix the normals with one batched GEMM: equal to rounding
        want = torch.stack([net.blocks[k].V.weight for net in one_by_one])
        assert torch.equal(stacked[f"blocks.{k}.V.weight"], want) if init in ("gaussian", "uniform") else \
            torch.allclose(stacked[f"blocks.{k}.V.weight"], want, rtol=1e-12, atol=1e-15)

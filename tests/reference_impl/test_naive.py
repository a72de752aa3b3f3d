"""naive-module: a plain nn.Module ResNet, cross-checked against the reference.

Three layers of evidence that it computes the NetSpec the reference computes: (1) with the
reference's dense weights loaded, forward trace and autograd gradients agree to rounding for every
block form, pre/post activation, activation, bias and input layer; (2) it draws its weights with
the reference's samplers from the generator it is given (same seed, same weights; torch's global
RNG untouched); (3) on a real claim cell of every Marion claim, seeded the same way, it measures
the same numbers as the dense reference (one network at a time draws the same Gaussian stream as
the batched draw). Full claim runs at the smoke budget are in the developer notes (slow: dense).
"""
import itertools

import pytest
import torch
from torch import nn

from claims.sweep import cells
from claims.spec import CellContext
from claims.registry import select
from reference_impl import Capability, NetSpec, make_reference_dense
from reference_impl.ensemble import DenseEnsemble
from reference_impl.init import draw_layer_weights
from reference_impl.naive import NaiveEnsemble, NaiveResNet, make_naive_module

CASES = [dict(block=b, preact=p, activation=a)
         for b, p, a in itertools.product(("res1", "res3", "res1w"), (True, False), ("relu", "tanh", "erf", "gelu"))]


def _load_dense(naive: NaiveEnsemble, dense: DenseEnsemble) -> None:
    with torch.no_grad():
        for i, net in enumerate(naive.nets):
            for k, block in enumerate(net.blocks):
                block.V.weight.copy_(dense.weights["V"][i, k])
                if block.W is not None:
                    block.W.weight.copy_(dense.weights["W"][i, k])
                if block.V.bias is not None:
                    block.V.bias.copy_(dense.bias[i, k])
            if net.input is not None:
                net.input.weight.copy_(dense.weights["in"][i])


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c.values())))
def test_same_weights_same_trace_and_gradients_as_the_reference(case):
    for extra in (dict(), dict(bias_var=0.3, input_dim=5), dict(input_dim=5, input_scale="sigma_w2", sigma_w2=2.5)):
        spec = NetSpec(width=8, depth=5, beta=0.3, scale=1.3, dtype="float64", **case, **extra)
        dense = DenseEnsemble(spec, 3, torch.Generator().manual_seed(1))
        naive = NaiveEnsemble(spec, 3, torch.Generator().manual_seed(2))
        _load_dense(naive, dense)
        x = torch.randn(3, 4, spec.input_dim or 8, dtype=torch.float64)
        g = torch.randn(3, 4, 8, dtype=torch.float64)
        h_ref, g_ref = dense.grad_trace(x, g)
        h, grads = naive.grad_trace(x, g)
        assert h.shape == grads.shape == (3, 6, 4, 8)
        torch.testing.assert_close(h, h_ref)
        torch.testing.assert_close(grads, g_ref)
        torch.testing.assert_close(naive.trace(x), h_ref)


def test_it_is_a_plain_module_of_linear_layers():
    net = NaiveResNet(NetSpec(width=6, depth=3, block="res3", input_dim=2))
    assert isinstance(net, nn.Module)
    assert sum(isinstance(m, nn.Linear) for m in net.modules()) == 1 + 3 * 2
    net.reset_parameters_(torch.Generator().manual_seed(0))
    assert net(torch.randn(5, 2)).shape == (5, 6)


@pytest.mark.parametrize("init, param", [("gaussian", None), ("uniform", None), ("fbm", 0.7), ("rbf", 0.3)])
def test_weights_come_from_the_reference_sampler_and_the_given_generator(init, param):
    spec = NetSpec(width=6, depth=4, init=init, init_param=param, sigma_w2=2.0, block="res3")
    global_state = torch.get_rng_state()
    naive = make_naive_module().build(spec, 2, torch.Generator().manual_seed(7))
    assert torch.equal(torch.get_rng_state(), global_state), "drew from torch's global RNG"
    gen = torch.Generator().manual_seed(7)
    for net in naive.nets:  # network by network: V (L, n, n), then W (L, n, n)
        v = draw_layer_weights(spec, 1, (6, 6), gen)[0]
        w = draw_layer_weights(spec, 1, (6, 6), gen)[0]
        assert torch.equal(torch.stack([b.V.weight for b in net.blocks]), v)
        assert torch.equal(torch.stack([b.W.weight for b in net.blocks]), w)
    again = make_naive_module().build(spec, 2, torch.Generator().manual_seed(7))
    other = make_naive_module().build(spec, 2, torch.Generator().manual_seed(8))
    x = torch.randn(2, 3, 6)
    assert torch.equal(again.trace(x), naive.trace(x)) and not torch.equal(other.trace(x), naive.trace(x))


def test_declares_what_it_offers():
    impl = make_naive_module()
    assert impl.name == "naive-module" and impl.version
    assert impl.capabilities == Capability.FORWARD_TRACE | Capability.GRAD_TRACE | Capability.WEIGHTS
    with pytest.raises(ValueError, match="n_networks=0"):
        impl.build(NetSpec(width=4, depth=2), 0, torch.Generator())


@pytest.mark.parametrize("claim", select(["marion.*"]), ids=lambda c: c.id)
def test_a_real_claim_cell_measures_what_the_dense_reference_measures(claim):
    """The claim's own measure on its first smoke cell (fewer networks): same numbers as reference-dense."""
    sweep = claim.sweep("smoke")
    cell = cells(claim.id, sweep, 0)[0]
    rows = {}
    for impl in (make_naive_module(), make_reference_dense()):
        ctx = CellContext(cell.params, cell.replicate, cell.seed, 8, impl, "cpu", "float32")
        rows[impl.name] = claim.measure(ctx)
    assert len(rows["naive-module"]) == len(next(iter(sweep.inner.values())))  # one row per inner value
    for a, b in zip(rows["naive-module"], rows["reference-dense"]):
        assert a["beta"] == b["beta"]
        assert a["log_growth"] == pytest.approx(b["log_growth"], rel=1e-4, abs=1e-6)


@pytest.mark.parametrize("block, input_dim", [("res1", None), ("res3", 5)])
def test_layer_weights_are_the_weights_the_networks_use(block, input_dim):
    spec = NetSpec(width=6, depth=3, block=block, input_dim=input_dim)
    naive = make_naive_module().build(spec, 2, torch.Generator().manual_seed(4))
    dense = make_reference_dense().build(spec, 2, torch.Generator().manual_seed(9))
    _load_dense(naive, dense)
    got, want = naive.layer_weights(), dense.layer_weights()
    assert set(got) == set(want)
    for name in want:
        assert torch.equal(got[name], want[name])

import pytest
import torch

from reference_impl import NetSpec, make_reference, make_reference_dense
from reference_impl.blocks import residual_states
from reference_impl.ensemble import DenseEnsemble

CASES = [dict(block=b, preact=p, activation=a) for b in ("res1", "res3") for p in (True, False) for a in ("relu", "tanh")]


@pytest.mark.parametrize("impl", [make_reference(), make_reference_dense()], ids=lambda i: i.name)
def test_trace_and_grad_shapes(impl):
    spec = NetSpec(width=6, depth=5, input_dim=3, bias_var=0.1)
    net = impl.build(spec, 4, torch.Generator().manual_seed(0))
    x, g = torch.randn(4, 2, 3), torch.randn(4, 2, 6)
    h, grads = net.grad_trace(x, g)
    assert h.shape == grads.shape == (4, 6, 2, 6)
    assert torch.equal(grads[:, -1], g)
    assert torch.allclose(net.trace(x), h)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c.values())))
def test_manual_backward_equals_autograd_on_dense_weights(case):
    """residual_backward (grad_trace of both reference paths) is the exact chain rule: compare with autograd."""
    spec = NetSpec(width=7, depth=4, bias_var=0.2, dtype="float64", **case)
    net = DenseEnsemble(spec, 3, torch.Generator().manual_seed(1))
    x, g = torch.randn(3, 2, 7, dtype=torch.float64), torch.randn(3, 2, 7, dtype=torch.float64)
    h, manual = net.grad_trace(x, g)
    with torch.enable_grad():
        states = residual_states(spec, x.requires_grad_(True), net._mul, net.bias)
        auto = torch.autograd.grad(states[-1], states, grad_outputs=g, allow_unused=True)
    auto = torch.stack([g if a is None else a for a in auto], dim=1)
    assert torch.allclose(manual, auto, atol=1e-10)
    assert torch.allclose(h, torch.stack(states, dim=1).detach())
    assert net.weights["V"].shape == (3, 4, 7, 7) and net.layer_weights()["V"].is_contiguous()  # as drawn, no copy


def test_same_seed_same_numbers_and_replayed_queries():
    spec = NetSpec(width=8, depth=6)
    x = torch.randn(5, 1, 8)
    for impl in (make_reference(), make_reference_dense()):
        a = impl.build(spec, 5, torch.Generator().manual_seed(3))
        b = impl.build(spec, 5, torch.Generator().manual_seed(3))
        assert torch.equal(a.trace(x), b.trace(x))
        assert torch.equal(a.trace(x), a.trace(x))


def test_fast_ensemble_refuses_a_second_different_input():
    net = make_reference().build(NetSpec(width=4, depth=2), 2, torch.Generator().manual_seed(0))
    net.trace(torch.ones(2, 1, 4))
    with pytest.raises(RuntimeError, match="one input batch"):
        net.trace(torch.zeros(2, 1, 4))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available on this machine")
def test_cuda_matches_cpu_shapes_and_statistics():
    spec = NetSpec(width=32, depth=8, device="cuda")
    net = make_reference_dense().build(spec, 16, torch.Generator(device="cuda").manual_seed(0))
    h = net.trace(torch.randn(16, 1, 32, device="cuda"))
    assert h.device.type == "cuda" and torch.isfinite(h).all()


def test_a_replayed_draw_equals_a_fresh_draw_and_advances_the_generator_alike():
    """Building the same law from the same generator state twice (a beta sweep on common random
    numbers) replays the first draw: same weights, same generator state afterwards."""
    from reference_impl import ensemble

    spec = NetSpec(width=5, depth=6, init="fbm", init_param=0.7, bias_var=0.3)
    first_gen = torch.Generator().manual_seed(11)
    first = DenseEnsemble(spec, 3, first_gen)
    after_first = torch.rand(4, generator=first_gen)
    replay_gen = torch.Generator().manual_seed(11)
    replay = DenseEnsemble(spec.with_(beta=0.9, scale=2.0), 3, replay_gen)  # beta, scale: same draw
    assert torch.equal(torch.rand(4, generator=replay_gen), after_first)
    ensemble.draw_cached.key = None  # forget: a true fresh draw
    fresh = DenseEnsemble(spec, 3, torch.Generator().manual_seed(11))
    for name in ("V",):
        assert torch.equal(replay.weights[name], fresh.weights[name])
    assert torch.equal(replay.bias, fresh.bias)
    x = torch.randn(3, 2, 5)
    assert not torch.equal(replay.trace(x), first.trace(x))  # the other beta is really used


def test_a_draw_modified_in_place_is_never_replayed():
    from reference_impl import ensemble

    spec = NetSpec(width=4, depth=3, init="uniform")
    net = DenseEnsemble(spec, 2, torch.Generator().manual_seed(5))
    net.layer_weights()["V"].zero_()
    again = DenseEnsemble(spec, 2, torch.Generator().manual_seed(5))
    assert again.weights["V"].abs().sum() > 0
    other_law = DenseEnsemble(spec.with_(sigma_w2=4.0), 2, torch.Generator().manual_seed(5))
    assert torch.allclose(other_law.weights["V"], 2 * again.weights["V"])
    assert ensemble.draw_cached.key is not None


def test_set_weights_reaches_every_pass():
    """Weights replaced after the draw (a control's weight law) are the ones trace and grad_trace use."""
    spec = NetSpec(width=6, depth=3, dtype="float64")
    net = DenseEnsemble(spec, 2, torch.Generator().manual_seed(0))
    x = torch.randn(2, 1, 6, dtype=torch.float64)
    before = net.trace(x)
    net.set_weights({"V": 2 * net.weights["V"]})
    assert not torch.allclose(net.trace(x), before)
    assert torch.allclose(net.layer_weights()["V"], net.weights["V"])

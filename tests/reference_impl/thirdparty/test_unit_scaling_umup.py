"""unit-scaling-umup: graphcore's unit_scaling MLP ResNet through the module adapter (needs the thirdparty extra)."""
import math

import pytest
import torch

pytest.importorskip("unit_scaling", reason="unit-scaling is not installed: pip install -e '.[thirdparty]'")

from claims.validate import validate  # noqa: E402
from reference_impl.module_adapter import ModuleImpl  # noqa: E402
from reference_impl.protocol import Capability, NetSpec  # noqa: E402
from reference_impl.thirdparty.unit_scaling_umup import make_unit_scaling_umup, one_network  # noqa: E402


def _plain(x: torch.Tensor, w: torch.Tensor, scale: float) -> list[torch.Tensor]:
    """(h + tau_k W_k tanh(h) / sqrt(n)) / sqrt(1 + tau_k^2), tau_k = scale / sqrt(L/2 + k scale^2), written out."""
    depth, n = w.shape[0], w.shape[1]
    hs = [x]
    for k in range(depth):
        tau = scale / math.sqrt(depth / 2 + k * scale**2)
        hs.append((hs[-1] + tau * torch.tanh(hs[-1]) @ w[k].T / math.sqrt(n)) / math.sqrt(1 + tau**2))
    return hs


def test_trace_and_grad_trace_are_the_written_out_network_and_its_true_gradient() -> None:
    """scale_bwd's backward scalings cancel on the hidden states: grad_trace is the true dLoss/dh_k."""
    impl = make_unit_scaling_umup()
    spec = NetSpec(width=8, depth=5, scale=1.3, activation="tanh", dtype="float64")
    validate(impl, spec, grad=True)
    net = impl.build(spec, 3, torch.Generator().manual_seed(0))
    x, g_out = torch.randn(3, 2, 8, dtype=torch.float64), torch.randn(3, 2, 8, dtype=torch.float64)
    trace, grads = net.grad_trace(x, g_out)
    w = net.layer_weights()["V"]
    assert abs(float(w.var()) - 1.0) < 0.1  # uu.Linear's N(0, 1) weights
    for i in range(3):
        xi = x[i].clone().requires_grad_(True)
        hs = _plain(xi, w[i], 1.3)
        assert torch.allclose(torch.stack(hs).detach(), trace[i], atol=1e-12)
        assert torch.allclose(torch.stack(torch.autograd.grad(hs[-1], hs, grad_outputs=g_out[i])), grads[i], atol=1e-12)


def test_declines_what_the_library_cannot_express_and_offers_no_netspec_constructions() -> None:
    impl = make_unit_scaling_umup()
    assert Capability.WEIGHTS not in impl.capabilities and Capability.TRAIN_STEP in impl.capabilities
    spec = NetSpec(width=8, depth=4)
    for bad, why in ((spec.with_(beta=0.0), "1/sqrt"), (spec.with_(sigma_w2=2.0), "sigma_w2"),
                     (spec.with_(preact=False), "pre-activation"), (spec.with_(activation="gelu"), "gelu"),
                     (spec.with_(init="uniform"), "N\\(0, 1\\)")):
        with pytest.raises(NotImplementedError, match=why):
            impl.build(bad, 1, torch.Generator())


def test_the_librarys_sgd_carries_its_depth_rule_into_training() -> None:
    """unit_scaling.optim.SGD divides the rate by sqrt(L) (DepthModuleList): the last block's feature update
    is about the same at depths 4 and 16; torch's SGD on the library's gradients grows it about as sqrt(L)."""
    from reference_impl.training import Run, TrainConfig, train_with

    spec = NetSpec(width=16, depth=16, activation="tanh", parametrization="depth_mup")
    runs, cfg = [Run("d4", 4, record_features=True), Run("d16", 16, record_features=True)], TrainConfig(steps=2, n_test=0)
    ratio = {}
    for impl in (make_unit_scaling_umup(), ModuleImpl("torch-sgd", one_network, netspec_blocks=False,
                                                          optimizer=torch.optim.SGD)):
        out, how = train_with(impl, spec, cfg, 16, torch.Generator().manual_seed(0), runs)
        ratio[impl.name] = float(out["d16"].features[:, -1, -1].mean() / out["d4"].features[:, -1, -1].mean())
    assert "unit_scaling.optim.SGD" in how or "torch.optim.sgd.SGD" in how
    assert 0.7 < ratio["unit-scaling-umup"] < 1.4 and 1.5 < ratio["torch-sgd"] < 2.5, ratio


def test_the_stacked_draw_builds_the_networks_of_one_factory_call_each() -> None:
    spec = NetSpec(width=12, depth=5, sigma_w2=1.0)
    fast = make_unit_scaling_umup().build(spec, 3, torch.Generator().manual_seed(4))
    slow = ModuleImpl("one at a time", one_network, netspec_blocks=False).build(spec, 3, torch.Generator().manual_seed(4))
    assert sorted(fast.params) == sorted(slow.params)
    assert all(torch.equal(fast.params[k], slow.params[k]) for k in fast.params)

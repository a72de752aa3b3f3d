"""mup-resnet: the mup package's MLP ResNet through the module adapter (needs mup: see docs/plugins.md)."""
import pytest
import torch

pytest.importorskip("mup", reason="mup is not installed: pip install --no-deps mup==1.0.0 pyyaml")

from claims.validate import validate  # noqa: E402
from reference_impl.protocol import NetSpec  # noqa: E402
from reference_impl.module_adapter import ModuleImpl  # noqa: E402
from reference_impl.thirdparty.mup_resnet import make_mup_resnet, one_network  # noqa: E402


def test_mup_resnet_meets_the_contract_and_declines_what_it_cannot_express() -> None:
    impl = make_mup_resnet()
    spec = NetSpec(width=16, depth=4, activation="tanh", dtype="float64")
    validate(impl, spec, grad=True, train=True)
    net = impl.build(spec, 2, torch.Generator().manual_seed(0))
    v = net.layer_weights()["V"]
    assert v.shape == (2, 4, 16, 16) and abs(float(v.var()) * 16 - 1.0) < 0.2  # entries N(0, 1/n)
    for bad in (spec.with_(preact=False), spec.with_(bias_var=0.1)):
        with pytest.raises(NotImplementedError):
            impl.build(bad, 1, torch.Generator())
    supplied = impl.build(spec.with_(input_dim=3), 1, torch.Generator())  # the suite's frozen input layer
    assert supplied.layer_weights()["in"].shape == (1, 16, 3)


def test_the_stacked_draw_builds_the_networks_of_one_factory_call_each() -> None:
    spec = NetSpec(width=12, depth=5, init="uniform")
    fast = make_mup_resnet().build(spec, 3, torch.Generator().manual_seed(4))
    slow = ModuleImpl("one at a time", one_network).build(spec, 3, torch.Generator().manual_seed(4))
    assert sorted(fast.params) == sorted(slow.params)
    assert all(torch.equal(fast.params[k], slow.params[k]) for k in fast.params)

"""The module adapter: the plug-in guide's nn.Module example runs as printed, batched by torch.func,
equal to the per-network loop, and the training claims train its network through the contract."""
import re
from pathlib import Path

import pytest
import torch

from claims.run import run_claim
from claims.registry import select
from claims.validate import validate
from reference_impl.module_adapter import ModuleImpl
from reference_impl.naive import NaiveResNet
from reference_impl.netspec_modules import stacked_block_weights
from reference_impl.protocol import Capability, NetSpec
from reference_impl.reference import make_reference_dense
from reference_impl.training import CONTRACT_NETWORK, Run, TrainConfig, train_network

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


@pytest.fixture(scope="module")
def example(import_written):
    """The guide's ``my_module_resnet.py``, written out and imported."""
    block = re.search(r"A complete example \(`my_module_resnet.py`\):\n\n```python\n(.*?)```", GUIDE.read_text(), re.S)
    assert block, "the plug-in guide lost its module adapter example"
    folder = Path(__file__).resolve().parent / "_generated"
    folder.mkdir(exist_ok=True)
    with import_written(folder, {"my_module_resnet.py": block.group(1)}, "my_module_resnet") as module:
        yield module


def test_the_example_is_batched_and_equals_one_network_at_a_time(example) -> None:
    impl = example.factory()
    assert Capability.TRAIN_STEP | Capability.WEIGHTS in impl.capabilities
    spec = NetSpec(width=8, depth=3, activation="tanh", dtype="float64")
    validate(impl, spec, grad=True, train=True)
    net = impl.build(spec, 5, torch.Generator().manual_seed(0))
    x = torch.randn(5, 2, 8, dtype=torch.float64)
    g_out = torch.randn(5, 2, 8, dtype=torch.float64)
    trace, grads = net.grad_trace(x, g_out)
    v = net.layer_weights()["V"]  # (S, L, n, n)
    for i in range(5):  # the same network, written out: NetSpec's res1 pre-activation formula
        ref = NaiveResNet(spec)
        with torch.no_grad():
            for k, blk in enumerate(ref.blocks):
                blk.V.weight.copy_(v[i, k])
        xi = x[i].clone().requires_grad_(True)
        states = ref(xi, return_states=True)
        assert torch.allclose(torch.stack(states).detach(), trace[i], atol=1e-12)
        want = torch.autograd.grad(states[-1], states, grad_outputs=g_out[i])
        assert torch.allclose(torch.stack(want), grads[i], atol=1e-12)


def test_the_example_trains_through_the_contract_like_the_reference(example) -> None:
    """Same weights, same blocks: the contract's training of the example equals the dense reference's."""
    spec = NetSpec(width=8, depth=4, activation="tanh", parametrization="depth_mup", dtype="float64")
    cfg, runs = TrainConfig(steps=2), [Run("t4", 4, record_coupling=True), Run("d2", 2, "paired")]
    mine = train_network(example.factory(), spec, cfg, 16, torch.Generator().manual_seed(4), runs)
    ref = train_network(make_reference_dense(), spec, cfg, 16, torch.Generator().manual_seed(4), runs)
    assert torch.allclose(mine["t4"].coupling, ref["t4"].coupling, atol=1e-10)
    assert torch.allclose(mine["d2"].f_train, ref["d2"].f_train, atol=1e-10)


def test_a_training_claim_trains_the_example_network(example) -> None:
    """The example has no input layer and declines one: the training claims build it without one."""
    impl = example.factory()
    entry = run_claim(select(["nfd.depth_error"])[0], impl, "smoke", seed=0)
    assert entry["verdict"] in ("holds", "inconclusive") and entry["trained_with"] == CONTRACT_NETWORK, entry["message"]
    with pytest.raises(NotImplementedError):
        impl.build(NetSpec(width=4, depth=2, preact=False), 1, torch.Generator())


def test_the_example_is_about_fifteen_lines(example) -> None:
    source = Path(example.__file__).read_text().splitlines()
    assert len([line for line in source if line.strip()]) <= 18


def test_drawn_stacked_the_networks_are_those_of_one_factory_call_each(example) -> None:
    """``draw``: one factory call per spec, the weights of all S networks in one draw, bit-identical to S calls."""
    calls = []

    def counted(spec, generator):
        calls.append(spec)
        return example.one_network(spec, generator)

    spec = NetSpec(width=8, depth=3, activation="tanh", dtype="float64")
    fast = ModuleImpl("drawn", counted, draw=stacked_block_weights)
    validate(fast, spec, grad=True, train=True)
    calls.clear()
    nets = [impl.build(spec, 5, torch.Generator().manual_seed(2)) for impl in (fast, example.factory())]
    assert len(calls) <= 1
    x, g_out = torch.randn(5, 2, 8, dtype=torch.float64), torch.randn(5, 2, 8, dtype=torch.float64)
    for a, b in zip(nets[0].grad_trace(x, g_out), nets[1].grad_trace(x, g_out)):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match=r"draw\(\) returned \['blocks.0.U'\]"):
        ModuleImpl("typo", counted, draw=lambda spec, s, gen: {"blocks.0.U": torch.zeros(s, 8, 8)}).build(spec, 2, torch.Generator())


def test_trainable_blocks_are_reset_on_every_call(example) -> None:
    """The optimizer route's modules are built once per (spec, S): a second call holds only what it is given."""
    spec = NetSpec(width=8, depth=3, activation="tanh", dtype="float64")
    impl = example.factory()
    weights = [impl.build(spec, 2, torch.Generator().manual_seed(i)).layer_weights() for i in range(2)]
    first = impl.trainable_blocks(spec, weights[0])
    with torch.no_grad():
        for p in first[0].parameters():
            p.add_(1.0)
            p.grad = torch.ones_like(p)
    second = impl.trainable_blocks(spec, weights[1])
    for i, blocks in enumerate(second):
        assert torch.equal(torch.stack([b.V.weight for b in blocks]), weights[1]["V"][i])
        assert all(p.grad is None for p in blocks.parameters())


def test_pickled_without_its_built_modules(example) -> None:
    """Worker processes receive the adapter, not the networks it has built."""
    import pickle

    impl = ModuleImpl("drawn", example.one_network, draw=stacked_block_weights)
    spec = NetSpec(width=8, depth=3, activation="tanh", dtype="float64")
    impl.build(spec, 2, torch.Generator().manual_seed(0))
    copy = pickle.loads(pickle.dumps(impl))
    assert impl._templates and not copy._templates
    x = torch.randn(2, 1, 8, dtype=torch.float64)
    assert torch.equal(copy.build(spec, 2, torch.Generator().manual_seed(0)).trace(x),
                       impl.build(spec, 2, torch.Generator().manual_seed(0)).trace(x))


class _Plain(torch.nn.Module):
    """h + a V relu(h) blocks, no input layer; ``bias`` adds a block bias the factory may forget to set."""

    def __init__(self, spec: NetSpec, shared: bool = False, bias: bool = False) -> None:
        super().__init__()
        n = spec.width
        make = lambda: torch.nn.Linear(n, n, bias=bias, dtype=spec.torch_dtype, device="meta")  # noqa: E731
        one = make()
        self.blocks = torch.nn.ModuleList(_Branch(one if shared else make(), spec.branch_multiplier)
                                          for _ in range(spec.depth))


class _Branch(torch.nn.Module):
    def __init__(self, V: torch.nn.Linear, a: float) -> None:
        super().__init__()
        self.V, self.a = V, a

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.a * self.V(torch.relu(h))


def _plain(spec, generator, shared=False, bias=False):
    from reference_impl.netspec_modules import draw_block_weights

    return draw_block_weights(_Plain(spec, shared, bias), spec, generator)


def test_blocks_sharing_parameters_are_named() -> None:
    from functools import partial

    impl = ModuleImpl("shared", partial(_plain, shared=True))
    with pytest.raises(ValueError, match="blocks share parameters: 'blocks.0.V.weight' and 'blocks.1.V.weight'"):
        impl.build(NetSpec(width=4, depth=3), 2, torch.Generator().manual_seed(0))


def test_parameters_draw_block_weights_leaves_unset_are_named() -> None:
    from functools import partial

    impl = ModuleImpl("unset-bias", partial(_plain, bias=True))
    with pytest.raises(ValueError, match="'blocks.0.V.bias' is not finite: parameters outside the drawn block "
                                         "weights are uninitialised"):
        impl.build(NetSpec(width=4, depth=3), 2, torch.Generator().manual_seed(0))


def test_the_suite_supplies_the_input_layer_a_module_lacks() -> None:
    """A spec with an input layer on a module without one: h_0 = U x, U (S, n, d) frozen N(0, 1/d) from the
    generator after the networks; the blocks are the module's."""
    impl = ModuleImpl("plain", _plain)
    spec = NetSpec(width=6, depth=2, input_dim=3, dtype="float64")
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    net = impl.build(spec, 2, torch.Generator().manual_seed(1))
    h = net.trace(x)
    u = net.layer_weights()["in"]
    assert u.shape == (2, 6, 3)
    assert torch.allclose(h[:, 0], x @ u.transpose(1, 2))
    bare = impl.build(spec.with_(input_dim=None), 2, torch.Generator().manual_seed(1))
    assert torch.allclose(h[:, -1], bare.trace(h[:, 0])[:, -1])
    again = impl.build(spec, 2, torch.Generator().manual_seed(1)).trace(x)
    assert torch.equal(h, again)
    validate(impl, spec, grad=True)


class _ConvBlock(torch.nn.Module):
    """torchvision's BasicBlock, written out: x + bn2(conv2(relu(bn1(conv1(x)))))."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(channels)
        self.conv2 = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))


def _conv_resnet(spec, generator):
    net = torch.nn.Module()
    net.blocks = torch.nn.ModuleList(_ConvBlock(4) for _ in range(spec.depth))
    return net


def test_a_conv_resnet_is_not_applicable_with_the_scope_sentence() -> None:
    entry = run_claim(select(["marion.iid_sqrt_l_unique"])[0], ModuleImpl("conv", _conv_resnet), "smoke", 0)
    assert entry["verdict"] == "not applicable"
    assert "the claims are about MLP residual networks with width-n hidden states" in entry["message"]
    assert "'blocks.0.conv1' is a Conv2d" in entry["message"]

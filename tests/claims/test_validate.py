"""Plug-in validation: each way of breaking the contract gets a clear message and verdict ``error``."""
import sys
import types
from typing import Callable

import pytest
import torch

from claims.plugins import resolve
from claims.run import run_claim
from claims.registry import select
from claims.validate import ValidationError, describe, probe_spec, validate, validate_for_claim
from claims.verify import verify
from reference_impl import Capability, NetSpec, make_reference, make_reference_dense
from reference_impl.controls import CONTROLS
from reference_impl.naive import make_naive_module

SPEC = NetSpec(width=8, depth=4)


class Wrapped:
    """The reference ensemble with its outputs passed through ``fix`` (trace) / ``fix_grad``."""

    def __init__(self, net, fix: Callable, fix_grad: Callable | None = None):
        self.net, self.fix, self.fix_grad = net, fix, fix_grad

    def trace(self, x):
        return self.fix(self.net.trace(x))

    def grad_trace(self, x, g):
        h, grads = self.net.grad_trace(x, g)
        return h, (self.fix_grad or (lambda t: t))(grads)


class Broken:
    """A plug-in whose build/trace misbehave in one named way."""

    version = "0"
    capabilities = Capability.FORWARD_TRACE | Capability.GRAD_TRACE

    def __init__(self, name: str, fix: Callable = lambda t: t, fix_grad: Callable | None = None,
                 build_error: Exception | None = None, when: Callable[[NetSpec], bool] = lambda s: True):
        self.name, self.fix, self.fix_grad, self.build_error, self.when = name, fix, fix_grad, build_error, when
        self.base = make_reference_dense()

    def build(self, spec, n_networks, generator):
        if self.build_error is not None and self.when(spec):
            raise self.build_error
        net = self.base.build(spec, n_networks, generator)
        return Wrapped(net, self.fix, self.fix_grad) if self.when(spec) else net


def _nan(t):
    t = t.clone()
    t[0, -1, 0, 0] = float("nan")
    return t


def _inf(t):
    t = t.clone()
    t[1, 2, 0, 3] = float("inf")
    return t


def _global_rng_noise(t):
    return t + 1e-2 * torch.randn(t.shape, dtype=t.dtype)  # draws from torch's global RNG


BROKEN = [
    (Broken("drops-h0", fix=lambda t: t[:, 1:]), ["shape (2, 4, 2, 8)", "expected (S, L+1, B, n) = (2, 5, 2, 8)"]),
    (Broken("wrong-dtype", fix=lambda t: t.double()), ["dtype torch.float64", "expected torch.float32"]),
    (Broken("wrong-device", fix=lambda t: t.to("meta")), ["device meta", "expected cpu"]),
    (Broken("nan", fix=_nan), ["NaN", "first at index (0, 4, 0, 0)", "expected finite values"]),
    (Broken("inf", fix=_inf), ["Inf", "expected finite values"]),
    (Broken("global-rng", fix=_global_rng_noise), ["not deterministic", "same seed", "global RNG"]),
    (Broken("not-a-tensor", fix=lambda t: t.numpy()), ["returned ndarray", "expected a torch.Tensor"]),
    (Broken("build-raises", build_error=MemoryError("out of memory")),
     ["build(spec, 2, generator) raised MemoryError: out of memory"]),
    (Broken("h0-not-x", fix=lambda t: 2 * t), ["trace(x)[:, 0] differs from x", "input_dim is None"]),
]


@pytest.mark.parametrize("impl, words", BROKEN, ids=[b.name for b, _ in BROKEN])
def test_each_defect_is_named_with_the_plugin_the_spec_and_expected_vs_actual(impl, words):
    with pytest.raises(ValidationError) as err:
        validate(impl, SPEC)
    text = str(err.value)
    assert f"plug-in {impl.name!r}" in text and describe(SPEC) in text
    for w in words:
        assert w in text, text


def test_gradient_defects_are_checked_when_the_claim_needs_gradients():
    wrong_end = Broken("grad-end", fix_grad=lambda g: 3 * g)
    validate(wrong_end, SPEC)  # forward only: fine
    with pytest.raises(ValidationError, match=r"dLoss/dh_L = g_out"):
        validate(wrong_end, SPEC, grad=True)
    with pytest.raises(ValidationError, match=r"grad_trace\(x, g_out\)\[1\] returned NaN"):
        validate(Broken("grad-nan", fix_grad=_nan), SPEC, grad=True)


@pytest.mark.parametrize("impl", [make_reference(), make_reference_dense(), make_naive_module(), *CONTROLS.values()],
                         ids=lambda i: i.name)
def test_shipped_implementations_and_controls_pass_for_every_claim(impl):
    """All but the transpose-bug control's backward, which validation rejects wherever gradients are used."""
    wrong_backward = impl.name == "transpose-bug"
    beta_ignored = impl.name == "no-depth-multiplier"  # beta = 0 whatever is declared: named for the beta sweeps
    for claim in select(None):
        problem = validate_for_claim(claim, impl, "smoke", "cpu", "float32")
        if wrong_backward and claim.requires & Capability.GRAD_TRACE:
            assert problem.verdict == "error" and "disagrees with finite differences" in problem.message
        elif beta_ignored and "beta" in {**claim.sweep("smoke").axes, **claim.sweep("smoke").inner}:
            assert problem.verdict == "error" and "does not depend on spec.beta" in problem.message
        else:
            assert problem is None, (claim.id, problem)
    validate(impl, NetSpec(width=6, depth=3, input_dim=4, block="res3", bias_var=0.1, dtype="float64"),
             grad=not wrong_backward)


def test_probe_spec_is_small_and_uses_the_claims_parameters():
    claim = select(["marion.smooth_critical_beta"])[0]
    sweep = claim.sweep("default")
    spec = probe_spec({**sweep.fixed, **sweep.axes, **sweep.inner}, "cpu", "float64")
    assert spec.init == "fbm" and spec.init_param == 0.75 and spec.width == 32
    assert spec.depth <= 8 and spec.beta == sweep.inner["beta"][0] and spec.dtype == "float64"


def test_a_broken_plugin_makes_the_claim_an_error_without_running_cells():
    claim = select(["marion.gradient_dichotomy"])[0]
    entry = run_claim(claim, Broken("nan", fix=_nan), "default", seed=0)
    assert entry["verdict"] == "error"
    assert "plug-in 'nan' failed validation on NetSpec(width=64" in entry["message"] and "NaN" in entry["message"]
    assert entry["estimate"] is None and entry["seconds"] < 30


def test_a_raising_factory_gives_error_verdicts_naming_plugin_and_spec(monkeypatch):
    mod = types.ModuleType("raising_plugin")

    def factory():
        raise ImportError("libfoo.so not found")

    mod.factory = factory
    monkeypatch.setitem(sys.modules, "raising_plugin", mod)
    impl, _ = resolve("raising_plugin:factory")
    for claim in select(None):
        entry = run_claim(claim, impl, "smoke", seed=0)
        assert entry["verdict"] == "error", claim.id
        assert "'raising_plugin:factory'" in entry["message"] and "libfoo.so not found" in entry["message"]
        assert "NetSpec(width=" in entry["message"]


def test_a_plugin_that_declines_a_spec_is_not_applicable_never_a_pass():
    """build raising NotImplementedError: the plug-in does not offer that network; its reason is shown."""
    impl = Broken("iid-only", build_error=NotImplementedError("only i.i.d. Gaussian weights"),
                  when=lambda s: s.init != "gaussian")
    entry = run_claim(select(["marion.smooth_critical_beta"])[0], impl, "smoke", seed=0)
    assert entry["verdict"] == "not applicable"
    assert "plug-in 'iid-only' does not support NetSpec(width=32" in entry["message"]
    assert "only i.i.d. Gaussian weights" in entry["message"]


def test_other_claims_still_run_and_finished_results_are_kept():
    """A plug-in broken only for fBm weights: the smooth claim errors, the i.i.d. claim still holds."""
    impl = Broken("fbm-broken", fix=_nan, when=lambda s: s.init == "fbm")
    impl.base = make_reference()
    saved = []
    results = verify(select(["marion.smooth_critical_beta", "marion.iid_sqrt_l_unique"]), impl, budget="smoke",
                     on_result=lambda r: saved.append([c["verdict"] for c in r["claims"]]))
    verdicts = {c["id"]: c["verdict"] for c in results["claims"]}
    messages = {c["id"]: c["message"] for c in results["claims"]}
    assert verdicts == {"marion.smooth_critical_beta": "error", "marion.iid_sqrt_l_unique": "holds"}, messages
    assert saved == [[], ["error"], ["error", "holds"]]  # first call before any claim: nothing stale is left
    assert results["run"]["counts"]["error"] == 1


class WeightsOff:
    """The dense reference declaring WEIGHTS, with layer_weights() changed by ``fix``."""

    name, version = "weights-off", "0"
    capabilities = Capability.FORWARD_TRACE | Capability.GRAD_TRACE | Capability.WEIGHTS

    def __init__(self, fix: Callable):
        self.fix = fix

    def build(self, spec, n_networks, generator):
        net = make_reference_dense().build(spec, n_networks, generator)
        weights = self.fix(net.layer_weights())
        net.layer_weights = lambda: weights
        return net


@pytest.mark.parametrize("fix, words", [
    (lambda w: {}, "expected a dict with keys ['V']"),
    (lambda w: {"V": w["V"][:, :-1]}, "layer_weights()['V'] returned shape (2, 3, 8, 8); expected (S, L, n, n)"),
    (lambda w: {"V": w["V"].double()}, "dtype torch.float64"),
    (lambda w: {"V": w["V"] * float("nan")}, "NaN"),
])
def test_declared_weights_are_checked(fix, words):
    with pytest.raises(ValidationError) as err:
        validate(WeightsOff(fix), SPEC)
    assert "weights-off" in str(err.value) and words in str(err.value)


def test_a_network_declined_inside_a_measurement_is_not_applicable():
    """The probe spec is accepted, a network the measurement builds later is not."""
    claim = select(["marion.smooth_critical_beta"])[0]  # probe depth at most 8, sweep deeper
    impl = Broken("shallow-only", build_error=NotImplementedError("depth at most 8"), when=lambda s: s.depth > 8)
    entry = run_claim(claim, impl, "smoke", seed=0)
    assert entry["verdict"] == "not applicable"
    assert "'shallow-only' declined" in entry["message"] and "depth at most 8" in entry["message"]


def test_training_contract_blocks_must_reproduce_the_trace():
    """A plug-in whose block(spec, k, weights, h) is not its network's block fails validation."""
    from reference_impl.reference import ReferenceImpl

    class IdentityBlocks(ReferenceImpl):
        def block(self, spec, k, weights, h):
            return h

    spec = NetSpec(width=6, depth=3, dtype="float64")
    validate(ReferenceImpl(fast=False), spec, train=True)
    with pytest.raises(ValidationError, match=r"block\(spec, 0, weights, h\) differs from trace"):
        validate(IdentityBlocks(fast=False), spec, train=True)


class _BetaIgnored:
    """The reference with the branch multiplier fixed at 1/sqrt(L): spec.beta is never read."""

    name, version = "beta-ignored", "0"

    def __init__(self):
        from reference_impl import make_reference

        self.base = make_reference()
        self.capabilities = self.base.capabilities

    def build(self, spec, n_networks, generator):
        return self.base.build(spec.with_(beta=0.5), n_networks, generator)


def test_a_multiplier_that_ignores_beta_is_named_before_the_cells_run():
    from claims.registry import select
    from claims.validate import validate_for_claim

    problem = validate_for_claim(select(["marion.iid_sqrt_l_unique"])[0], _BetaIgnored(), "smoke", "cpu", "float32")
    assert problem.verdict == "error"
    assert "the network's growth does not depend on spec.beta: is the multiplier applied?" in problem.message

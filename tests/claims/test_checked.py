"""Every tensor a cell receives is checked; a plug-in failing only on the sweep's deeper networks,
exiting, or reusing one network for all S makes its claim an ``error`` naming plug-in and cell."""
import pytest
import torch

from claims.checked import CheckedImpl
from claims.run import run_claim
from claims.registry import select
from claims.validate import ValidationError, check_independent
from claims.verify import verify
from reference_impl import NetSpec, make_reference


def _run(claim_id, impl, **kw):
    return run_claim(select([claim_id])[0], impl, "smoke", 0, **kw)


@pytest.mark.parametrize("make, claim_id, words", [
    ("drops_state_when_deep", "marion.smooth_critical_beta",
     ["returned shape (64, 32, 1, 32)", "expected (S, L+1, B, n) = (64, 33, 1, 32)"]),
    ("doubles_h0_when_deep", "marion.smooth_critical_beta", ["trace(x)[:, 0] differs from x"]),
    ("wrong_grad_end_when_deep", "marion.gradient_dichotomy", ["dLoss/dh_L = g_out"]),
])
def test_a_defect_only_on_deep_networks_is_an_error_naming_plugin_and_cell(bad, make, claim_id, words):
    impl = getattr(bad, make)()
    entry = _run(claim_id, impl)
    assert entry["verdict"] == "error", entry["message"]
    text = entry["message"]
    assert f"plug-in {impl.name!r}" in text and "cell {" in text and "'depth': 32" in text and "replicate 0" in text
    for w in words:
        assert w in text, text


@pytest.mark.parametrize("code", [0, 7])
def test_sys_exit_in_a_cell_is_that_claims_error_and_the_run_goes_on(bad, code):
    results = verify(select(["marion.smooth_critical_beta", "marion.iid_sqrt_l_unique"]),
                     bad.exits_when_deep(code), budget="smoke")
    verdicts = [c["verdict"] for c in results["claims"]]
    assert verdicts == ["error", "error"]
    assert f"SystemExit: {code}" in results["claims"][0]["message"] and "'depth': 32" in results["claims"][0]["message"]


def test_sys_exit_during_validation_is_that_claims_error(bad):
    entry = _run("marion.iid_sqrt_l_unique", bad.exits_in_build(3))
    assert entry["verdict"] == "error" and "SystemExit" in entry["message"] and "'exit-3'" in entry["message"]


def test_keyboard_interrupt_still_stops_the_run(bad):
    impl = bad.Broken("ctrl-c", build_error=KeyboardInterrupt(), when=bad._deep)
    with pytest.raises(KeyboardInterrupt):
        _run("marion.iid_sqrt_l_unique", impl)


def test_identical_networks_are_an_error_not_a_verdict(bad):
    entry = _run("marion.iid_sqrt_l_unique", bad.IdenticalNetworks())
    assert entry["verdict"] == "error"
    assert "only 1 of the 64 networks of one build differ" in entry["message"]
    assert "'identical-networks'" in entry["message"]


def test_independent_networks_pass_and_a_zero_branch_is_not_flagged(bad):
    check_independent(make_reference(), NetSpec(width=8, depth=4), 16)
    check_independent(bad.IdenticalNetworks(), NetSpec(width=8, depth=4, scale=0.0), 16)
    with pytest.raises(ValidationError, match="only 1 of the 16"):
        check_independent(bad.IdenticalNetworks(), NetSpec(width=8, depth=4), 16)


def test_the_checked_wrapper_is_transparent_for_a_correct_plugin():
    impl = make_reference()
    spec, gen = NetSpec(width=8, depth=3), lambda: torch.Generator().manual_seed(0)
    x, g = torch.randn(4, 2, 8), torch.randn(4, 2, 8)
    checked = CheckedImpl(impl)
    assert checked.name == impl.name and checked.capabilities == impl.capabilities
    assert torch.equal(checked.build(spec, 4, gen()).trace(x), impl.build(spec, 4, gen()).trace(x))
    h, grads = checked.build(spec, 4, gen()).grad_trace(x, g)
    assert torch.equal(grads, impl.build(spec, 4, gen()).grad_trace(x, g)[1])


def test_training_that_repeats_one_network_is_an_error_not_a_zero_width_ci(bad):
    entry = _run("nfd.depth_error", bad.TrainsOneNetwork())
    assert entry["verdict"] == "error", entry["message"]
    assert "all 0: no spread across the 512 networks" in entry["message"] and "'trains-one-network'" in entry["message"]


@pytest.fixture
def defects(monkeypatch):
    """tests/claims/plugin_defects.py, importable as ``plugin_defects``."""
    import importlib
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    return importlib.import_module("plugin_defects")


@pytest.mark.parametrize("inplace", [False, True], ids=["x-times-4", "x-mul_-4"])
def test_an_input_changed_in_place_is_an_error_like_the_same_bug_out_of_place(defects, inplace):
    """x.mul_(4) inside trace also changes the x that h_0 is compared with: a private copy tells."""
    entry = _run("marion.smooth_critical_beta", defects.ScalesInputWhenDeep(inplace), config={"activation": "tanh"})
    assert entry["verdict"] == "error", entry["message"]
    words = "modified its input x in place" if inplace else "trace(x)[:, 0] differs from x"
    assert words in entry["message"] and "'depth': 32" in entry["message"], entry["message"]


def test_an_inplace_relu_on_the_residual_stream_fails_validation(defects):
    entry = _run("marion.smooth_critical_beta", defects.inplace_relu_modules(), config={"activation": "relu"})
    assert entry["verdict"] == "error"
    assert "modified its input x in place" in entry["message"] and "'module-inplace-relu'" in entry["message"]


def test_torchs_notimplementederror_inside_trace_is_an_error_naming_the_cell_not_a_decline(defects):
    for claim_id in ("marion.smooth_critical_beta", "marion.iid_sqrt_l_unique"):  # a plain and a property claim
        entry = _run(claim_id, defects.KernelMissingWhenDeep())
        assert entry["verdict"] == "error", (claim_id, entry["message"])
        assert "trace(x) raised NotImplementedError" in entry["message"] and "cell {" in entry["message"]


def test_notimplementederror_from_build_is_still_a_decline(defects):
    entry = _run("marion.smooth_critical_beta", defects.DeclinesEverything())
    assert entry["verdict"] == "not applicable" and "this plug-in builds nothing" in entry["message"]


@pytest.mark.parametrize("claim_id, words", [
    ("nfd.feature_learning_depth_uniform", ["features has shape", "expected (S, T+1, L)", "the run's depth"]),
    ("nfd.depth_error", ["returned the same f_train for run", "expected each run trained at its own depth"]),
])
def test_train_runs_that_ignore_the_runs_depth_are_an_error_naming_plugin_run_and_shape(defects, claim_id, words):
    entry = _run(claim_id, defects.TrainsFinestDepthOnly())
    assert entry["verdict"] == "error", entry["message"]
    text = entry["message"]
    assert "'trains-finest-depth-only'" in text and "train_runs" in text and "cell {" in text, text
    for w in words:
        assert w in text, text

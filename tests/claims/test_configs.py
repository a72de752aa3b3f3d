"""--config fields a claim honours (Claim.honours): declared, derived, enforced, shown."""
import pytest

from claims.cli import main
from claims.configs import check_config, honoured_fields
from claims.run import run_claim
from claims.spec import ClaimError, Sweep
from claims.registry import select
from reference_impl import Capability, make_reference


def test_marion_and_init_coupling_claims_declare_what_they_honour():
    for claim in select(["marion.*", "nfd.init_coupling_*"]):
        assert claim.honours, claim.id
        assert set(honoured_fields(claim, "smoke")) <= set(claim.honours)


def test_swept_axes_are_never_honoured_and_empty_honours_derive_from_the_sweep():
    iid = select(["marion.iid_sqrt_l_unique"])[0]
    assert {"depth", "beta", "preact"}.isdisjoint(honoured_fields(iid)) and "init" in honoured_fields(iid)
    sweeps = {b: Sweep(axes={"depth": (4, 8)}, replicates=1, networks=2, fixed={"width": 8, "activation": "tanh"})
              for b in ("smoke", "default", "thorough")}
    derived = iid.__class__(**{**iid.__dict__, "sweeps": sweeps, "honours": ()})
    assert honoured_fields(derived) == ("activation", "block", "init", "sigma_w2", "width")  # fixed + config space


def test_a_field_the_measurement_ignores_is_bad_usage_with_the_list():
    iid = select(["marion.iid_sqrt_l_unique"])[0]
    with pytest.raises(ClaimError, match=r"\['preact'\] are not honoured.*honours: activation, block, init"):
        check_config(iid, {"preact": False})
    with pytest.raises(ClaimError, match="not honoured"):
        run_claim(iid, make_reference(), "smoke", config={"preact": False})


def test_the_command_line_exits_2_naming_the_honoured_fields(capsys):
    code = main(["verify", "--claims", "marion.iid_sqrt_l_unique", "--budget", "smoke", "--config",
                 '{"preact": false}', "--out", "/nonexistent-never-written"])
    assert code == 2 and "honours: activation, block, init, sigma_w2, width" in capsys.readouterr().err


def test_list_verbose_shows_netspecs_per_budget_and_honoured_fields(capsys):
    assert main(["list", "--verbose", "nfd.init_coupling_width"]) == 0
    out = capsys.readouterr().out
    assert "smoke: NetSpec(" in out and "width in (64, 128, 256)" in out and "input_dim=4" in out
    assert "x 4 replicate cell(s)" in out and "honours --config: activation, beta, depth" in out


class _ForwardOnly:
    name, version, capabilities = "forward-only", "0", Capability.FORWARD_TRACE

    def build(self, spec, n_networks, generator):
        return make_reference().build(spec, n_networks, generator)


def test_results_entries_carry_the_honoured_fields():
    entry = run_claim(select(["marion.gradient_dichotomy"])[0], _ForwardOnly(), "smoke")
    assert entry["verdict"] == "not applicable" and entry["honours"] == ["activation", "block", "init", "sigma_w2",
                                                                          "width"]


def test_a_value_its_field_cannot_take_is_bad_usage_through_the_api_too():
    claim = select(["nfd.feature_learning_depth_uniform"])[0]
    with pytest.raises(ClaimError, match="steps=2.5 is not allowed: steps takes an integer >= 1"):
        run_claim(claim, make_reference(), "smoke", 0, config={"steps": 2.5})

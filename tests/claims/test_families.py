"""claims.families: a claim runs in a plug-in's declared family, or is not applicable with the reason."""
from pathlib import Path

import pytest

from claims.cli import main
from claims.families import in_family
from claims.registry import select
from claims.run import run_claim
from reference_impl.protocol import Family, SpecError


class _Declared:
    name = "declared"

    def __init__(self, family):
        self.family = family


RES3 = _Declared(Family(blocks=("res3",)))


def test_no_family_runs_every_claim_as_declared():
    claim = select(["fischer.response_argmax"])[0]
    assert in_family(claim, object(), None, "smoke") == (None, None)
    assert in_family(claim, object(), {"q0": 1.0}, "smoke") == ({"q0": 1.0}, None)


def test_a_claim_derived_for_res1_only_is_not_applicable_with_the_reason():
    for claim_id in ("fischer.response_argmax", "marion.smooth_critical_beta", "marion.phase_diagram"):
        config, reason = in_family(select([claim_id])[0], RES3, None, "smoke")
        assert config is None and reason.startswith("not applicable: derived for res1 blocks only"), reason
        assert "res3 pre-activation blocks" in reason


def test_a_claim_over_both_forms_runs_in_the_plugin_block_form():
    iid = select(["marion.iid_sqrt_l_unique"])[0]
    assert in_family(iid, RES3, None, "smoke") == (None, None)  # the property draws its forms; examples move
    assert in_family(iid, RES3, {"activation": "tanh"}, "smoke") == ({"activation": "tanh", "block": "res3"}, None)
    assert in_family(select(["nfd.two_layer_block_collapse"])[0], RES3, None, "smoke") == (None, None)
    both = _Declared(Family(blocks=("res1", "res3")))
    assert in_family(iid, both, {"activation": "tanh"}, "smoke") == ({"activation": "tanh"}, None)


def test_a_form_or_activation_the_plugin_does_not_build_is_not_applicable():
    post_only = _Declared(Family(blocks=("res1", "res3"), preact=(False,)))
    assert "measures pre-activation blocks" in in_family(select(["marion.iid_sqrt_l_unique"])[0], post_only, None,
                                                          "smoke")[1]
    relu_only = _Declared(Family(activations=("relu",)))
    assert "activation 'tanh'" in in_family(select(["nfd.depth_error"])[0], relu_only, None, "smoke")[1]


def test_a_bad_family_is_refused():
    with pytest.raises(SpecError, match="Family.blocks"):
        Family(blocks=("res2",))


def test_run_claim_says_why_and_a_run_that_checked_nothing_exits_4(monkeypatch, capsys, tmp_path):
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import user_resnet

    entry = run_claim(select(["fischer.response_argmax"])[0], user_resnet.factory(), "smoke", 0)
    assert entry["verdict"] == "not applicable" and "derived for res1 blocks only" in entry["message"]
    status = main(["verify", "--impl", "user_resnet:factory", "--claims", "fischer.response_argmax",
                   "--budget", "smoke", "--quiet", "--no-cache", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 4 and "nothing was checked (exit status 4)" in out
    assert "reason: not applicable: derived for res1 blocks only" in out


"""Marion et al. claims on the reference (smoke budget); their negative controls: tests/claims/catalogue/test_controls.py."""
import pytest

from claims.run import run_claim
from claims.spec import select
from reference_impl import make_reference

@pytest.fixture(scope="module")
def reference_results():
    return {c.id: run_claim(c, make_reference(), "smoke", seed=0) for c in select(["marion.*"])}


def test_every_marion_claim_holds_on_the_reference(reference_results):
    for cid, entry in reference_results.items():
        assert entry["verdict"] == "holds", entry["message"]


def test_per_beta_slopes_follow_one_minus_two_beta(reference_results):
    """The derivation behind the root: slope(beta) = 1 - 2 beta for i.i.d. weights (within 0.05 at smoke)."""
    for row in reference_results["marion.iid_sqrt_l_unique"]["fit_table"]:
        beta = float(row["label"].split("=")[1])
        assert row["slope"] == pytest.approx(1 - 2 * beta, abs=0.05)


def test_same_seed_same_numbers():
    claim = select(["marion.iid_sqrt_l_unique"])[0]
    a = run_claim(claim, make_reference(), "smoke", seed=3)
    b = run_claim(claim, make_reference(), "smoke", seed=3)
    assert a["estimate"] == b["estimate"] and a["ci"] == b["ci"]


def test_property_claim_lists_its_configurations_and_reruns_one_exactly(reference_results):
    entry = reference_results["marion.iid_sqrt_l_unique"]
    assert entry["configs"] and entry["configs"][0]["config"]["activation"] == "relu"
    claim = select(["marion.iid_sqrt_l_unique"])[0]
    rerun = run_claim(claim, make_reference(), "smoke", seed=0, config=entry["configs"][0]["config"])
    assert rerun["estimate"] == entry["configs"][0]["estimate"]



def test_the_iid_claims_draw_both_iid_weight_families():
    from hypothesis import HealthCheck, Phase, given, settings

    for cid, examples in (("marion.iid_sqrt_l_unique", 12), ("marion.gradient_dichotomy", 2)):
        claim, seen = select([cid])[0], set()

        @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(claim.config_space())
        def collect(config):
            seen.add(config["init"])

        collect()
        assert seen == {"gaussian", "uniform"}, cid
        assert claim.examples["default"] >= (3 if cid.endswith("unique") else 2)

"""Marion et al. claims on the reference (smoke budget); their negative controls: tests/claims/catalogue/test_controls.py."""
import pytest

from claims.run import run_claim
from claims.registry import select
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



def test_phase_diagram_has_one_root_per_regularity_near_its_prediction(reference_results):
    """One beta*(regularity) row per grid point, each within the tolerance at smoke, and the phase figure."""
    from claims.catalogue.marion2022 import PHASE_TOL, phase_weights

    entry = reference_results["marion.phase_diagram"]
    rows = entry["fit_table"]
    assert [r["predicted"] for r in rows] == [p for _, _, p, _ in phase_weights().values()]
    for row in rows:
        assert abs(row["slope"] - row["predicted"]) < PHASE_TOL, row["label"]
        assert row["ci"][0] <= row["slope"] <= row["ci"][1]
    assert entry["estimate"] == pytest.approx(max(abs(r["slope"] - r["predicted"]) for r in rows))
    assert entry["figure"]["kind"] == "phase" and len(entry["figure"]["boundary"]["x"]) == len(rows) - 1


def test_rbf_weights_follow_marion_et_al_normalised_gp_increments():
    """init="rbf": increments of a GP on linspace(0, 1, L + 1), kernel exp(-(s - t)^2 / (2 v)), unit variance."""
    import torch

    from reference_impl.init import rbf_correlation

    depth, v = 8, 0.1
    t = torch.linspace(0, 1, depth + 1, dtype=torch.float64)
    gram = torch.exp(-((t[:, None] - t[None, :]) ** 2) / (2 * v))
    diff = torch.eye(depth + 1, dtype=torch.float64)[1:] - torch.eye(depth + 1, dtype=torch.float64)[:-1]
    cov = diff @ gram @ diff.T
    sd = cov.diagonal().sqrt()
    torch.testing.assert_close(rbf_correlation(depth, v), cov / sd[:, None] / sd[None, :], atol=1e-9, rtol=0)


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

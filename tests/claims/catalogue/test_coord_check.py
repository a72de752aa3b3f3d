"""nfd.feature_learning_depth_uniform: the depth coord check holds on the reference at smoke, runs on a
plug-in trained through the contract, and lists both wrong parametrizations as controls (rejected in
test_controls.py)."""
from claims.run import run_claim
from claims.registry import select
from reference_impl.reference import make_reference, make_reference_dense
from reference_impl.training import CONTRACT_NETWORK

CLAIM = "nfd.feature_learning_depth_uniform"


def test_declaration() -> None:
    claim = select([CLAIM])[0]
    assert set(claim.controls) == {"no-depth-multiplier", "lr-depth-factor"}
    assert claim.prediction_origin == "derived" and claim.tolerance == 0.25
    assert claim.sweep("default").replicates >= 2


def test_holds_on_the_reference_and_runs_through_the_contract() -> None:
    claim = select([CLAIM])[0]
    entry = run_claim(claim, make_reference(), "smoke", seed=0)
    assert entry["verdict"] == "holds", entry["message"]
    dense = run_claim(claim, make_reference_dense(), "smoke", seed=0)
    assert dense["verdict"] == "holds" and dense["trained_with"] == CONTRACT_NETWORK, dense["message"]

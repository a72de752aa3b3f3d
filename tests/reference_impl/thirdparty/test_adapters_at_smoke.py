"""The registered third-party adapters at the smoke budget: every claim (every reading) either passes
validation on the adapter or is declined with a reason, never an error; the depth coord check runs on
unit_scaling's own optimizer."""
import pytest

from claims.plugins import resolve
from claims.run import run_claim
from claims.registry import all_claims, select
from claims.validate import validate_for_claim

ADAPTERS = {"mup-resnet": "mup", "mup-resnet-musgd": "mup", "unit-scaling-umup": "unit_scaling"}


@pytest.mark.parametrize("name", sorted(ADAPTERS))
def test_every_claim_is_validated_or_declined_with_a_reason(name: str) -> None:
    pytest.importorskip(ADAPTERS[name], reason=f"{ADAPTERS[name]} is not installed (the thirdparty extra)")
    impl, _ = resolve(name)
    for claim in all_claims():
        for plain in [claim.under(r) for r in claim.readings] or [claim]:
            if plain.requires & ~impl.capabilities:
                continue  # not applicable by capability, before any network is built
            problem = validate_for_claim(plain, impl, "smoke", "cpu", "float32")
            assert problem is None or (problem.verdict == "not applicable" and problem.message), \
                (claim.id, problem.verdict, problem.message)


def test_the_depth_coord_check_holds_with_unit_scalings_own_sgd() -> None:
    pytest.importorskip("unit_scaling", reason="unit_scaling is not installed (the thirdparty extra)")
    impl, _ = resolve("unit-scaling-umup")
    entry = run_claim(select(["nfd.feature_learning_depth_uniform"])[0], impl, "smoke", seed=0)
    assert entry["verdict"] == "holds", entry["message"]
    assert "unit_scaling.optim.SGD" in entry["trained_with"]

"""Every claim rejects every negative control it lists (verdict ``violated``; for a claim with
readings, no counted reading holds and at least one is violated: claims/aggregate.control_rejected).

The pairs are read from ``Claim.controls``, so a new claim is covered as soon as it lists its
controls. The budget is that of the claim tests: smoke under plain ``pytest`` (CI), default under
``pytest -m claims`` (these tests carry the ``claims`` mark), or ``--claims-budget``. The
rejection rate over many seeds is measured by ``resnet-claims calibrate`` (reliability table).
"""
import pytest

from claims.aggregate import control_rejected
from claims.plugins import available, resolve
from claims.pytest_plugin import claims_budget
from claims.run import run_claim
from claims.spec import all_claims
from claims.validate import probe_spec
from reference_impl.controls import CONTROLS, SpecDefect

PAIRS = [(c.id, name) for c in all_claims() for name in c.controls]
SPEC_PAIRS = [(cid, name) for cid, name in PAIRS if isinstance(CONTROLS[name], SpecDefect)]


def test_every_claim_that_can_fail_lists_a_control():
    assert PAIRS, "no claim lists a negative control"
    for claim in all_claims():
        assert claim.controls, f"{claim.id} lists no negative control: nothing shows it can fail"


@pytest.mark.parametrize("claim_id, control", PAIRS)
def test_listed_control_is_resolvable_by_name(claim_id, control):
    assert control in available()


@pytest.mark.parametrize("claim_id, control", SPEC_PAIRS)
def test_listed_spec_defect_changes_the_claims_network(claim_id, control):
    """A control whose defect leaves the claim's own NetSpec unchanged could never be rejected."""
    claim = next(c for c in all_claims() if c.id == claim_id)
    sweep = claim.sweep("default")
    spec = probe_spec({**sweep.fixed, **sweep.axes, **sweep.inner}, "cpu", "float32")
    assert CONTROLS[control].defect(spec) != spec


@pytest.mark.claims
@pytest.mark.parametrize("claim_id, control", PAIRS)
def test_listed_control_is_violated(claim_id, control, request):
    claim = next(c for c in all_claims() if c.id == claim_id)
    impl, _ = resolve(control)
    budget = claims_budget(request.config)
    entry = run_claim(claim, impl, budget, seed=request.config.getoption("--claims-seed"))
    assert control_rejected(entry), f"{claim_id} did not reject {control} at {budget}: {entry['message']}"

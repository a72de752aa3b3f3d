"""Controls fail relative to the reference, and findings have positive controls.

A listed negative control counts as rejected only when the claim's outcome on it differs from the
reference's at the same seed and budget, in the rejecting direction (claims/aggregate.
rejected_against_reference): so no control test passes on the reference itself. A claim whose
recorded reference verdict at the budget is ``violated`` (a finding, tests/claims-expected.txt) is
rejected in every counted reading already, so none of its negative controls can differ that way:
those pairs are expected to fail (strict xfail, which turns into a failure once one passes). A
finding lists a positive control instead, an implementation in which the claimed effect exists by
construction, and its measurement must rate it ``holds``.

The pairs are read from ``Claim.controls`` and ``Claim.positive_controls``, so a new claim is covered
as soon as it lists them. The budget is that of the claim tests: smoke under plain ``pytest`` (CI),
default under ``pytest -m claims``, or ``--claims-budget``. Rates over many seeds are measured by
``resnet-claims calibrate`` (reliability table).
"""
from pathlib import Path

import pytest

from claims.aggregate import rejected_against_reference
from claims.expected import load_expected
from claims.plugins import available, resolve
from claims.pytest_plugin import claims_budget
from claims.run import run_claim
from claims.registry import all_claims, select
from claims.validate import probe_spec
from reference_impl.controls import CONTROLS, SpecDefect

PAIRS = [(c.id, name) for c in all_claims() for name in c.controls]
SPEC_PAIRS = [(cid, name) for cid, name in PAIRS if isinstance(CONTROLS[name], SpecDefect)]
POSITIVE = [(c.id, name) for c in all_claims() for name in c.positive_controls]
EXPECTED = load_expected(Path(__file__).parents[2] / "claims-expected.txt")
FINDINGS = sorted({cid for (impl, budget, cid), (verdict, _) in EXPECTED.items()
                   if impl == "reference" and budget == "default" and "@" not in cid and verdict == "violated"})

# pairs that fail relative to the reference although the reference is not a finding: what is known
NOT_REJECTED = {
}
# findings without a positive control yet, and positive controls their measurement does not rate holds
NO_POSITIVE: dict[str, str] = {
}
POSITIVE_NOT_HOLDING = {  # (claim, control, budget)
    ("nfd.sgd_coupling_depth", "sgd-rate-decay", "smoke"): (
        "at smoke the output-level reading D_2 cannot resolve its slope (seed 0: -1.27 [-1.96, -0.58], undecided); "
        "the accumulated readings hold, and at default every counted reading holds (seed 0; 4 of seeds 0..4)"),
    ("nfd.gia_valid_at_infinite_depth", "sgd-rate-decay", "smoke"): (
        "at smoke (1 x 128 networks) the paired readings cannot resolve their slopes (seed 0: paired/f -2.14 [-3.04, "
        "-1.24]) and independent/loss -0.60 [-0.73, -0.48] crosses -0.5; at default every reading holds (seed 0)"),
}


def _claim(claim_id: str):  # noqa: ANN202
    return select([claim_id])[0]


@pytest.fixture(scope="module")
def reference_entries():  # noqa: ANN201
    """The reference's entry per (claim, budget, seed), computed once per module."""
    return {}


def _reference(cache: dict, claim_id: str, budget: str, seed: int) -> dict:
    if (claim_id, budget, seed) not in cache:
        impl, _ = resolve("reference")
        cache[claim_id, budget, seed] = run_claim(_claim(claim_id), impl, budget, seed)
    return cache[claim_id, budget, seed]


def _brief(entry: dict) -> str:
    readings = ", ".join(f"{r['reading']} {r['verdict']}" for r in entry.get("readings") or [] if not r.get("degenerate"))
    return entry["verdict"] + (f" ({readings})" if readings else "")


def test_every_claim_lists_a_control_or_is_a_finding_with_a_positive_control() -> None:
    assert PAIRS, "no claim lists a negative control"
    for claim in all_claims():
        assert claim.controls or claim.id in FINDINGS, f"{claim.id} lists no negative control: nothing shows it can fail"


@pytest.mark.parametrize("claim_id", FINDINGS)
def test_every_finding_lists_a_positive_control(claim_id) -> None:
    if claim_id in NO_POSITIVE and not _claim(claim_id).positive_controls:
        pytest.xfail(NO_POSITIVE[claim_id])
    assert _claim(claim_id).positive_controls, (
        f"{claim_id} is a finding (reference violated) and lists no positive control: nothing shows that its "
        "measurement could have said holds")


@pytest.mark.parametrize("claim_id, control", PAIRS + POSITIVE)
def test_listed_control_is_resolvable_by_name(claim_id, control):
    assert control in available()


@pytest.mark.parametrize("claim_id, control", SPEC_PAIRS)
def test_listed_spec_defect_changes_the_claims_network(claim_id, control):
    """A control whose defect leaves the claim's own NetSpec unchanged could never be rejected."""
    sweep = _claim(claim_id).sweep("default")
    spec = probe_spec({**sweep.fixed, **sweep.axes, **sweep.inner}, "cpu", "float32")
    assert CONTROLS[control].defect(spec) != spec


@pytest.mark.claims
@pytest.mark.parametrize("claim_id, control", PAIRS)
def test_listed_control_is_rejected_relative_to_the_reference(claim_id, control, request, reference_entries):
    budget = claims_budget(request.config)
    seed = request.config.getoption("--claims-seed")
    finding = EXPECTED.get(("reference", budget, claim_id), ("", ""))[0] == "violated"
    if finding:
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            f"{claim_id} is a finding at {budget} (reference violated in every counted reading): a negative control "
            "cannot be rejected relative to it; its positive control carries the check")))
    elif (claim_id, control) in NOT_REJECTED:
        request.applymarker(pytest.mark.xfail(strict=True, reason=NOT_REJECTED[claim_id, control]))
    reference = _reference(reference_entries, claim_id, budget, seed)
    impl, _ = resolve(control)
    entry = run_claim(_claim(claim_id), impl, budget, seed)
    assert rejected_against_reference(entry, reference), (
        f"{claim_id} does not reject {control} relative to the reference at {budget}, seed {seed}: control "
        f"{_brief(entry)}; reference {_brief(reference)}")


@pytest.mark.claims
@pytest.mark.parametrize("claim_id, control", POSITIVE)
def test_positive_control_is_rated_holds(claim_id, control, request):
    budget = claims_budget(request.config)
    if (claim_id, control, budget) in POSITIVE_NOT_HOLDING:
        request.applymarker(pytest.mark.xfail(strict=True, reason=POSITIVE_NOT_HOLDING[claim_id, control, budget]))
    impl, _ = resolve(control)
    entry = run_claim(_claim(claim_id), impl, budget, request.config.getoption("--claims-seed"))
    assert entry["verdict"] == "holds", (
        f"{claim_id} rates its positive control {control} {_brief(entry)} at {budget}: the measurement does not "
        f"say holds where the effect exists by construction ({entry['message']})")

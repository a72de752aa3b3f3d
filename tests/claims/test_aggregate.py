"""The one rule that turns sub-verdicts into a headline, for property examples and for readings."""
import pytest

from claims.aggregate import property_verdict, readings_verdict


@pytest.mark.parametrize("verdicts, expected", [
    (["holds", "holds"], "holds"),
    (["holds", "holds", "not applicable"], "holds"),  # a declined configuration is left out
    (["not applicable", "not applicable"], "not applicable"),
    (["holds", "violated", "not applicable"], "violated"),
    (["holds", "error"], "error"),
    (["holds", "inconclusive"], "inconclusive"),
])
def test_property_verdict(verdicts, expected):
    assert property_verdict(verdicts) == expected


@pytest.mark.parametrize("verdicts, degenerate, expected", [
    (["holds", "holds"], [False, False], "holds"),
    (["violated", "violated"], [False, False], "violated"),
    (["holds", "violated"], [False, False], "reading-dependent"),
    (["holds", "violated", "inconclusive"], [False, False, False], "reading-dependent"),
    (["holds", "violated"], [False, True], "holds"),  # a degenerate reading is shown, not counted
    (["holds", "inconclusive"], [False, False], "inconclusive"),
    (["violated", "inconclusive"], [False, False], "inconclusive"),
    (["holds", "error"], [False, False], "error"),
    (["holds", "not applicable"], [False, False], "holds"),
    (["not applicable", "violated"], [False, True], "not applicable"),
])
def test_readings_verdict(verdicts, degenerate, expected):
    assert readings_verdict(verdicts, degenerate) == expected


def _entry(verdict, *readings):
    return {"verdict": verdict, "readings": [{"verdict": v, "degenerate": d} for v, d in readings]}


def test_control_rejected():
    from claims.aggregate import control_rejected

    assert control_rejected(_entry("violated"))
    assert not control_rejected(_entry("inconclusive"))
    assert control_rejected(_entry("inconclusive", ("violated", ""), ("inconclusive", "")))
    assert not control_rejected(_entry("reading-dependent", ("violated", ""), ("holds", "")))
    assert not control_rejected(_entry("inconclusive", ("inconclusive", ""), ("violated", "an identity")))


def _named(verdict, *readings):
    return {"verdict": verdict, "readings": [{"reading": n, "verdict": v, "degenerate": d} for n, v, d in readings]}


def test_counted_verdicts():
    from claims.aggregate import counted_verdicts

    assert counted_verdicts(["violated", "violated", "holds", "inconclusive", "error"]) == \
        {"violated": 2, "holds": 1, "undecided": 2}


def test_a_control_is_rejected_only_where_the_reference_is_not():
    from claims.aggregate import rejected_against_reference as rejected

    assert rejected(_entry("violated"), _entry("holds"))
    assert rejected(_entry("violated"), _entry("inconclusive"))
    assert not rejected(_entry("violated"), _entry("violated"))  # a finding: the reference is rejected too
    assert not rejected(_entry("inconclusive"), _entry("holds"))
    ref = _named("inconclusive", ("a", "violated", ""), ("b", "inconclusive", ""))
    assert not rejected(_named("inconclusive", ("a", "violated", ""), ("b", "inconclusive", "")), ref)
    assert rejected(_named("violated", ("a", "violated", ""), ("b", "violated", "")), ref)
    # a degenerate reading moving does not count
    ref = _named("violated", ("a", "violated", ""), ("b", "inconclusive", "an identity"))
    assert not rejected(_named("violated", ("a", "violated", ""), ("b", "violated", "an identity")), ref)

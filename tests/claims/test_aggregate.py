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

"""Many sub-verdicts -> one: the rule for property claims (examples) and for readings, and the rule
that decides whether a claim rejects a control.

Both kinds of claim run several plain statistical tests and report one headline verdict; this
module is the only place that decides it, so property claims and readings cannot drift apart. Its
source is part of every claim's declaration digest (claims/digest.py).
"""
from __future__ import annotations

from typing import Sequence

DECIDED = ("holds", "violated", "inconclusive")


def property_verdict(verdicts: Sequence[str]) -> str:
    """A theorem over a class of configurations: one violated example refutes it; examples the
    plug-in declines ('not applicable') are left out, and the claim is decided on the rest."""
    tried = [v for v in verdicts if v != "not applicable"]
    if not tried:
        return "not applicable"
    if "violated" in tried:
        return "violated"
    if "error" in tried:
        return "error"
    return "holds" if set(tried) == {"holds"} else "inconclusive"


def readings_verdict(verdicts: Sequence[str], degenerate: Sequence[bool]) -> str:
    """Headline of a claim with readings: holds when every counted reading holds, violated when
    every one is violated, reading-dependent when some hold and some are violated.

    Readings marked degenerate (true or false by construction, configuring a control's defect, or
    unable to decide at any budget) and readings the plug-in declines are not counted; an error in
    any counted reading makes the headline an error.
    """
    counted = [v for v, d in zip(verdicts, degenerate) if not d and v != "not applicable"]
    if not counted:
        return "not applicable"
    if "error" in counted:
        return "error"
    kinds = set(counted)
    if kinds == {"holds"}:
        return "holds"
    if kinds == {"violated"}:
        return "violated"
    if {"holds", "violated"} <= kinds:
        return "reading-dependent"
    return "inconclusive"


def counted_verdicts(verdicts: Sequence[str]) -> dict[str, int]:
    """How many counted readings were violated, held and undecided (inconclusive, error, not
    applicable): shown beside a headline, so an ``inconclusive`` over violated readings is visible."""
    return {"violated": sum(v == "violated" for v in verdicts), "holds": sum(v == "holds" for v in verdicts),
            "undecided": sum(v not in ("violated", "holds") for v in verdicts)}


def control_rejected(entry: dict) -> bool:
    """Whether a claim's run on a negative control rejects it: verdict violated; for a claim with
    readings, also when no counted reading accepts the control (none holds) and one is violated.

    The second form is what a reader of a reading-dependent claim needs: whatever reading is the
    paper's, the wrong implementation is never reported as satisfying the claim.
    """
    if entry.get("verdict") == "violated":
        return True
    counted = [r["verdict"] for r in entry.get("readings") or [] if not r.get("degenerate")]
    return bool(counted) and "holds" not in counted and "violated" in counted and "error" not in counted


def rejected_against_reference(control: dict, reference: dict) -> bool:
    """Whether a claim rejects a negative control relative to the reference run at the same seed and
    budget: the control's outcome is rejected (``control_rejected``) and differs from the reference's
    in that direction: the reference's outcome is not rejected, or some counted reading the reference
    does not violate is violated on the control. A claim whose reference outcome is already rejected
    in every counted reading (a finding) cannot reject a negative control this way; its positive
    control shows instead that the measurement can say ``holds``."""
    if not control_rejected(control):
        return False
    if not control_rejected(reference):
        return True
    ref = {r["reading"]: r["verdict"] for r in reference.get("readings") or [] if not r.get("degenerate")}
    return any(r["verdict"] == "violated" and ref.get(r["reading"], "violated") != "violated"
               for r in control.get("readings") or [] if not r.get("degenerate"))

"""Many sub-verdicts -> one: the rule for property claims (examples) and for readings.

Both kinds of claim run several plain statistical tests and report one headline verdict; this
module is the only place that decides it, so property claims and readings cannot drift apart.
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

    Degenerate readings (true or false by construction) and readings the plug-in declines are not
    counted; an error in any counted reading makes the headline an error.
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

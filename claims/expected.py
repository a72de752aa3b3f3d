"""The expected-verdicts file: reference verdicts that are not "holds", each with its reason.

One line per verdict, ``IMPL BUDGET CLAIM_ID VERDICT  # reason`` (``CLAIM_ID@READING`` for one
reading of a claim with readings): a finding (a reproduced
disagreement with a paper) or a rate that a small budget cannot resolve. pytest turns a listed
verdict into xfail; ``resnet-claims calibrate`` reports a listed ``violated`` as a finding rather than
as false alarms. Nothing here changes a verdict in results.json or the report.

Every name is checked when the file is read: a claim id, reading, budget or (given the known names)
implementation that does not exist is an error naming the line, so a typo can never switch a guard
off (a misspelt reading would never match, and its claim's test would xfail whatever that reading says).
"""
from __future__ import annotations

from difflib import get_close_matches
from pathlib import Path
from typing import Iterable

from .spec import BUDGETS, VERDICTS
from .registry import all_claims

DEFAULT_PATH = Path("tests/claims-expected.txt")
Expected = dict[tuple[str, str, str], tuple[str, str]]


class ExpectedFileError(ValueError):
    """A malformed line in the expected-verdicts file (names the file and line)."""


def _unknown(what: str, value: str, known: Iterable[str]) -> str:
    known = sorted(known)
    near = get_close_matches(value, known, n=1)
    return f"unknown {what} {value!r}" + (f" (did you mean {near[0]!r}?)" if near else
                                          f"; known: {', '.join(known)}" if len(known) <= 12 else "")


def _check_names(impl: str, budget: str, target: str, impls: Iterable[str] | None) -> str | None:
    """What is wrong with the names of one line, or None."""
    claims = {c.id: c for c in all_claims()}
    claim_id, at, reading = target.partition("@")
    if claim_id not in claims:
        return _unknown("claim id", claim_id, claims)
    readings = [r.name for r in claims[claim_id].readings]
    if at and reading not in readings:
        return _unknown(f"reading of {claim_id}", reading, readings) if readings else \
            f"{claim_id} has no readings, so {target!r} names none"
    if budget not in BUDGETS:
        return _unknown("budget", budget, BUDGETS)
    if impls is not None and impl not in set(impls):
        return _unknown("implementation", impl, impls)
    return None


def load_expected(path: Path, impls: Iterable[str] | None = None) -> Expected:
    """Expected verdicts by (implementation, budget, claim id) -> (verdict, reason). ``impls``: the
    implementation names a line may use (None: any)."""
    impls = None if impls is None else list(impls)
    table: Expected = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        body, _, reason = line.partition("#")
        if not body.strip():
            continue
        fields = body.split()
        verdict = " ".join(fields[3:])
        if len(fields) < 4 or verdict not in VERDICTS or verdict == "holds" or not reason.strip():
            raise ExpectedFileError(f"{path}:{number}: expected 'IMPL BUDGET CLAIM_ID VERDICT  # reason' with a "
                                    f"non-holding verdict ({', '.join(VERDICTS[1:])}), got {line!r}")
        wrong = _check_names(fields[0], fields[1], fields[2], impls)
        if wrong is not None:
            raise ExpectedFileError(f"{path}:{number}: {wrong} in {line.strip()!r}")
        table[(fields[0], fields[1], fields[2])] = (verdict, reason.strip())
    return table

"""The expected-verdicts file: reference verdicts that are not "holds", each with its reason.

One line per verdict, ``IMPL BUDGET CLAIM_ID VERDICT  # reason`` (``CLAIM_ID@READING`` for one
reading of a claim with readings): a finding (a reproduced
disagreement with a paper) or a rate that a small budget cannot resolve. pytest turns a listed
verdict into xfail; ``resnet-claims calibrate`` reports a listed ``violated`` as a finding rather than
as false alarms. Nothing here changes a verdict in results.json or the report.
"""
from __future__ import annotations

from pathlib import Path

from .spec import VERDICTS

DEFAULT_PATH = Path("tests/claims-expected.txt")
Expected = dict[tuple[str, str, str], tuple[str, str]]


class ExpectedFileError(ValueError):
    """A malformed line in the expected-verdicts file (names the file and line)."""


def load_expected(path: Path) -> Expected:
    """Expected verdicts by (implementation, budget, claim id) -> (verdict, reason)."""
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
        table[(fields[0], fields[1], fields[2])] = (verdict, reason.strip())
    return table

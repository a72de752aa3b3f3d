"""Write the calibration column of the README's claims table from the committed reliability table.

The column quotes reports/calibration/calibration.json (runs under each claim's current declaration
only, claims.calibrate.current_summary) as claims.reliability_table.claim_summary words it;
tests/test_readme.py checks that the README says the same. Run after the calibration table changes:

    python scripts/readme_calibration.py
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from claims.calibrate import current_summary, load_calibration
from claims.expected import DEFAULT_PATH, load_expected
from claims.registry import all_claims
from claims.reliability_table import claim_summary

ROOT = Path(__file__).resolve().parents[1]
HEADER = "| claim | kind | what is measured | prediction | verdict (estimate, CI) |"
COLUMN = "calibration: verdicts over K seeds (reports/calibration)"


def calibration_cells(root: Path = ROOT) -> dict[str, str]:
    """Claim id -> the README's calibration cell."""
    data = load_calibration(root / "reports" / "calibration" / "calibration.json")
    rows = current_summary(data, all_claims(), load_expected(root / DEFAULT_PATH))
    return {row["claim"]: claim_summary(row) for row in rows}


def main() -> int:
    readme = ROOT / "README.md"
    lines = readme.read_text().splitlines()
    cells = calibration_cells()
    out = []
    for line in lines:
        if line.startswith(HEADER):
            line = f"{HEADER} {COLUMN} |"
        elif line.startswith("|---|---|---|---|---|"):
            line = "|---|---|---|---|---|---|"
        else:
            m = re.match(r"^\| `([a-z0-9_.]+)` \|", line)
            if m and m.group(1) in cells:
                parts = line.rstrip().rstrip("|").rstrip().split(" | ")[:5]  # the five cells before this column
                line = " | ".join(parts) + f" | {cells[m.group(1)]} |"
        out.append(line)
    readme.write_text("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

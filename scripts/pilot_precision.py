"""Pilot a claim's precision at seeds no verdict uses, to size its budget by the precision rule.

The rule (docs/preregistration.md): at the default budget the reference's CI half-width is at most a
declared fraction of the tolerance (a third unless the claim says why not). This runs a claim on the
reference at pilot seeds (>= 1000: verdicts use seed 0 and calibration seeds 0..K-1), optionally with
the budget's replicates and networks per cell replaced, and prints per seed the seconds and each
component's half-width as a fraction of the tolerance: every example of a property claim, the rows
of the fit table with ``--components fit_table`` (a claim whose estimand is a maximum over
components, each with its own interval), else the claim's confidence set. Half-widths scale as
t(G - 1) / sqrt(replicates x networks) (G the clusters of the fit), which sizes the budget.

    python scripts/pilot_precision.py marion.iid_sqrt_l_unique --seeds 1000 1001 --replicates 4 --networks 32
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys

from claims.registry import select
from claims.run import run_claim
from reference_impl import make_reference


def components(entry: dict, which: str) -> dict[str, float]:
    """Label -> half-width of each component's interval (nan for an unbounded one)."""
    def half(ci):  # noqa: ANN001
        lo, hi = ci
        return (hi - lo) / 2 if lo is not None and hi is not None else math.nan
    if entry.get("configs"):
        return {",".join(f"{k}={v}" for k, v in sorted(c["config"].items())): half(c["ci"]) for c in entry["configs"]}
    if which == "fit_table":  # a row's verdict is not part of its component's name (it varies by seed)
        return {row["label"].removesuffix(f" {row.get('verdict', '')}"): half(row["ci"]) for row in entry["fit_table"]}
    return {"estimate": half(entry["ci"])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("claim")
    ap.add_argument("--seeds", type=int, nargs="+", required=True, help="pilot seeds, each >= 1000")
    ap.add_argument("--budget", default="default")
    ap.add_argument("--replicates", type=int, default=None, help="replicates per point (default: the budget's)")
    ap.add_argument("--networks", type=int, default=None, help="networks per cell (default: the budget's)")
    ap.add_argument("--components", choices=("claim", "fit_table"), default="claim")
    args = ap.parse_args(argv)
    if min(args.seeds) < 1000:
        ap.error("pilot seeds must be >= 1000: lower seeds decide verdicts")
    claim = select([args.claim])[0]
    sweep = claim.sweep(args.budget)
    sweep = dataclasses.replace(sweep, replicates=args.replicates or sweep.replicates,
                                networks=args.networks or sweep.networks)
    claim = dataclasses.replace(claim, sweeps={**claim.sweeps, args.budget: sweep})
    print(f"{claim.id} at {args.budget}: {sweep.replicates} replicates x {sweep.networks} networks, "
          f"tolerance {claim.tolerance:g}; half-width / tolerance per component")
    table: dict[str, list[float]] = {}
    seconds = []
    for seed in args.seeds:
        entry = run_claim(claim, make_reference(), args.budget, seed)
        seconds.append(entry["seconds"])
        parts = components(entry, args.components)
        for label, hw in parts.items():
            table.setdefault(label, []).append(hw / claim.tolerance)
        print(f"seed {seed}: {entry['verdict']} {entry['estimate']:.4g} {entry['seconds']:.1f}s  "
              + "  ".join(f"{label}: {hw / claim.tolerance:.3f}" for label, hw in parts.items()), flush=True)
    print(f"mean seconds {statistics.mean(seconds):.1f}")
    for label, values in table.items():
        print(f"  {label}: mean {statistics.mean(values):.3f}, max {max(values):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

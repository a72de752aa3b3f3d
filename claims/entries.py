"""A claim's results entry (one item of results.json): its declared part and its verdict.

The declared part says what was claimed and how it is measured (statement, source, prediction,
tolerance, sweep, kind, declaration digest with the package's commit, amendments); the verdict part
is the estimate with its confidence set and the equivalence verdict against prediction +- tolerance.
claims.run fills one per run; claims.readings and claims.properties build a claim's entry from the
entries of its readings or property examples.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from .configs import honoured_fields
from .preregistration import amendments_for, data_was_seen, package_commit
from .spec import Claim, Estimate
from .stats import equivalence_verdict, hull


def finite(x: float | None) -> float | None:
    """``x`` as a float, or None when it is missing or not finite (JSON has no inf or nan)."""
    return float(x) if x is not None and math.isfinite(x) else None


def jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    """A cell's parameters with inner axes (tuples) as lists."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def declared_entry(claim: Claim, budget: str) -> dict[str, Any]:
    """A results entry's declared part: what was claimed, how it is measured, its kind, its declaration
    digest with the package's git commit, and the amendments the log records for it."""
    amendments = amendments_for(claim.id)
    return {
        "id": claim.id,
        "kind": claim.kind,
        "kind_why": claim.kind_why,
        "digest": claim.declaration(),
        "commit": package_commit(),
        "amendments": amendments,
        "amended_after_measured": any(data_was_seen(a) for a in amendments),
        "positive_controls": list(claim.positive_controls),
        "statement": claim.statement,
        "quantity": claim.quantity,
        "estimand": claim.estimand,
        "source": {"paper": claim.source.paper, "arxiv": claim.source.arxiv, "where": claim.source.where},
        "prediction": claim.prediction,
        "tolerance": claim.tolerance,
        "prediction_origin": claim.prediction_origin,
        "tolerance_why": claim.tolerance_why,
        "ci_level": claim.level,
        "sweep": claim.sweep(budget).to_dict(),
        "paper_numbers": [dict(p) for p in claim.paper_numbers],
        "controls": [],
        "config": {},
        "honours": list(honoured_fields(claim, budget)),
    }


def fill_verdict(entry: dict[str, Any], claim: Claim, est: Estimate, level: float) -> None:
    """Write the estimate, its confidence set, the verdict and a one-line message into ``entry``."""
    verdict = equivalence_verdict(est.ci, claim.prediction, claim.tolerance)
    lo, hi = hull(est.ci)
    entry.update(
        verdict=verdict,
        estimate=finite(est.value),
        ci=[finite(lo), finite(hi)],
        ci_pieces=[[finite(a), finite(b)] for a, b in est.ci],
        ci_level=level,
        fit_table=est.fit_table,
        figure=est.figure,
        notes=est.notes,
    )
    ci_text = " u ".join(f"[{a:.4g}, {b:.4g}]" for a, b in est.ci) or "empty"
    entry["message"] = (
        f"{claim.estimand} = {est.value:.4g}, {100 * level:.4g}% CI {ci_text}; "
        f"predicted {claim.prediction:g} +- {claim.tolerance:g} ({claim.prediction_origin}): {verdict}"
    )

"""Claims with readings: run the claim once per declared reading, then one headline verdict.

Each reading is a plain claim (``Claim.under``) run through the same path as any other claim
(capability check, validation, property examples, cells, cache, executors); the headline comes
from ``aggregate.readings_verdict``. The entry shows the numbers of the first counted reading and
lists every reading with its own verdict, estimate, confidence set, figure and cells.
"""
from __future__ import annotations

import time
from typing import Any, Mapping

from .aggregate import readings_verdict
from .spec import Claim

# fields that a reading shares with its claim: kept once, in the claim's entry
_SHARED = ("id", "statement", "source", "paper_numbers", "controls", "honours")


def run_readings(claim: Claim, impl: Any, budget: str, seed: int, device: str, dtype: str,
                 config: Mapping[str, Any] | None, execution: Any) -> dict[str, Any]:
    """Every reading of ``claim`` tested, and the claim's results entry with the headline verdict."""
    from .run import Execution, _entry, run_claim

    start = time.perf_counter()
    execution = execution or Execution()  # one for all readings: a cell they share is measured once
    subs = []
    for reading in claim.readings:
        sub = run_claim(claim.under(reading), impl, budget, seed, device, dtype, config, execution)
        sub = {k: v for k, v in sub.items() if k not in _SHARED}
        sub.update(reading=reading.name, support=reading.support, degenerate=reading.degenerate,
                   reading_params=dict(reading.params))
        subs.append(sub)
    counted = [not r.degenerate for r in claim.readings]
    verdict = readings_verdict([s["verdict"] for s in subs], [not c for c in counted])
    shown = next((s for s, c in zip(subs, counted) if c and s["verdict"] != "not applicable"),
                 next(s for s, c in zip(subs, counted) if c))
    entry = _entry(claim, budget)
    entry.update({k: shown.get(k) for k in ("estimate", "ci", "ci_pieces", "ci_level", "fit_table", "figure", "notes",
                                             "prediction", "tolerance", "prediction_origin", "tolerance_why",
                                             "estimand", "quantity", "sweep")})
    entry.update(verdict=verdict, config=dict(config or {}), readings=subs, shown_reading=shown["reading"],
                 cells=[], cells_from_cache=sum(s.get("cells_from_cache") or 0 for s in subs),
                 seconds=time.perf_counter() - start)
    entry["message"] = f"{len(subs)} reading(s): {verdict}; " + "; ".join(_line(s) for s in subs)
    if verdict in ("error", "not applicable"):  # say why, in the first reading's own words
        why = next(s for s in subs if s["verdict"] == verdict)
        entry["message"] += f"; {why['reading']}: {why['message']}"
    return entry


def _line(sub: Mapping[str, Any]) -> str:
    """One reading in one clause: name, verdict, estimate and CI (degenerate readings say so)."""
    est, ci = sub.get("estimate"), sub.get("ci") or [None, None]
    fmt = lambda v: "n/a" if v is None else f"{v:.4g}"  # noqa: E731
    tag = " (degenerate: not counted)" if sub.get("degenerate") else ""
    return f"{sub['reading']}{tag} {sub['verdict']} {fmt(est)} [{fmt(ci[0])}, {fmt(ci[1])}]"


def declared_readings() -> dict[str, list[dict[str, Any]]]:
    """Every claim's declared readings as plain data, by claim id (pinned by a test)."""
    from .spec import all_claims

    return {c.id: [r.to_dict() for r in c.readings] for c in all_claims() if c.readings}


if __name__ == "__main__":  # python -m claims.readings > tests/claims/catalogue/readings.json
    import json

    print(json.dumps(declared_readings(), indent=1, sort_keys=True, default=repr))

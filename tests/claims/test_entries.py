"""A results entry: the declared part names the claim and its digest; the verdict part is JSON-safe."""
import json
import math

from claims.entries import declared_entry, fill_verdict, finite, jsonable
from claims.registry import select
from claims.spec import Estimate


def test_the_declared_part_carries_the_declaration_and_no_verdict():
    claim = select(["marion.iid_sqrt_l_unique"])[0]
    entry = declared_entry(claim, "smoke")
    assert entry["id"] == claim.id and entry["digest"] == claim.declaration()
    assert entry["sweep"] == claim.sweep("smoke").to_dict() and "verdict" not in entry
    json.dumps(entry)


def test_fill_verdict_writes_a_json_safe_estimate_and_the_equivalence_verdict():
    claim = select(["marion.iid_sqrt_l_unique"])[0]  # 0.5 +- 0.05
    entry = declared_entry(claim, "smoke")
    fill_verdict(entry, claim, Estimate(0.51, [(0.49, 0.53)]), 0.95)
    assert entry["verdict"] == "holds" and entry["ci"] == [0.49, 0.53] and "holds" in entry["message"]
    fill_verdict(entry, claim, Estimate(math.nan, [(-math.inf, 0.2), (0.9, math.inf)]), 0.95)
    assert entry["estimate"] is None and entry["ci"] == [None, None] and entry["verdict"] == "violated"
    json.dumps(entry, allow_nan=False)


def test_finite_and_jsonable():
    assert finite(None) is None and finite(math.inf) is None and finite(2) == 2.0
    assert jsonable({"depth": 8, "beta": (0.4, 0.5)}) == {"depth": 8, "beta": [0.4, 0.5]}

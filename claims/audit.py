"""``resnet-claims cache audit``: recompute a random sample of cached cells with the current code.

The sample is drawn with a seed taken from the clock (printed; ``--seed`` repeats a sample), so
every audit looks at other cells. An entry is checked only when the current code can say what it
is: its claim is found in the catalogue by the id its recipe gives, and one implementation this
audit can name (every entry point and negative control of this package, and each ``--impl`` the
user passes), with that claim or one of its readings and the cell numbers of the recipe, gives
exactly the entry's key. Then the cell is recomputed and compared with the stored rows. The
recipe only proposes numbers that the key must confirm: nothing named in the database is imported
or called. An entry that no such implementation reproduces (another plug-in, other code or
versions, a changed recipe), one without a readable recipe, one whose payload fails its checksum
and one whose recomputation fails are "not checked"; any of them, or any difference, makes the
audit fail. What a pass shows: the sampled entries hold what this code computes for the cells
their keys name. It says nothing of the entries it did not sample.
"""
from __future__ import annotations

import json
import random
import re
import time
from typing import Any, Iterator, Mapping, Sequence

from .cache import CellCache, cell_key
from .identity import SUITE_PACKAGES, Identity, claim_identity, object_identity, plugin_identity

AUDIT_RTOL = 1e-5  # recomputed numbers may differ by float reassociation (thread count), not more
RECIPE = {"claim": str, "params": dict, "replicate": int, "seed": int, "networks": int, "device": str, "dtype": str,
          "index": int}


def clock_seed() -> int:
    """A fresh seed for the sample (printed so it can be repeated)."""
    return time.time_ns() % 2**32


def same(a: Any, b: Any, rtol: float = AUDIT_RTOL) -> bool:
    """Equal JSON values, numbers up to ``rtol`` relative."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return a == b or abs(a - b) <= rtol * max(abs(a), abs(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], rtol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y, rtol) for x, y in zip(a, b))
    return a == b


class Candidates:
    """The implementations an audit can rebuild: each ``--impl`` value given, then this package's entry
    points and negative controls (resolved once, when first needed; one that cannot load is left out)."""

    def __init__(self, impls: Sequence[str] = ()) -> None:
        from .plugins import resolve

        given = [(value, resolve(value)[0]) for value in impls]  # PluginError: bad usage
        self.given = [(value, impl, plugin_identity(impl)) for value, impl in given]
        self._shipped: list[tuple[str, Any, Identity]] | None = None

    @staticmethod
    def _load_shipped() -> list[tuple[str, Any, Identity]]:
        from .plugins import PluginError, available, registered, resolve

        entries = registered()
        names = [n for n in available() if n not in entries or entries[n].split(".")[0].split(":")[0] in SUITE_PACKAGES]
        found = []
        for name in names:
            try:
                impl = resolve(name)[0]
            except PluginError:  # e.g. an optional third-party library that is not installed
                continue
            identity = plugin_identity(impl)
            if identity.kind == "shipped":
                found.append((name, impl, identity))
                direct = object_identity(impl)  # the same object passed directly (Python API)
                found += [(name, impl, direct)] if direct is not None else []
        return found

    def __iter__(self) -> Iterator[tuple[str, Any, Identity]]:
        if self._shipped is None:
            self._shipped = self._load_shipped()
        return iter(self.given + self._shipped)

    def names(self) -> str:
        return ", ".join(value for value, _, _ in self.given) or "none given"


def _recipe(text: str | None) -> dict[str, Any] | str:
    """The recipe as a dict of the expected types, or why it cannot be read."""
    if not text:
        return "no recipe beside it"
    try:
        recipe = json.loads(text)
    except ValueError:
        return "its recipe is not valid JSON"
    if not isinstance(recipe, dict):
        return "its recipe is not a JSON object"
    wrong = [k for k, kind in RECIPE.items() if not isinstance(recipe.get(k), kind) or isinstance(recipe.get(k), bool)]
    return f"its recipe lacks or mistypes {', '.join(wrong)}" if wrong else recipe


def _match(key: str, recipe: Mapping[str, Any], claim: Any, candidates: Candidates) -> tuple[Any, Any, Any, str] | None:
    """(the claim or reading, the cell, the implementation, its --impl value) whose key is ``key``."""
    from .sweep import Cell

    for variant in [claim] + [claim.under(r) for r in claim.readings]:
        declaration, measure, _ = claim_identity(variant)
        inner = {k for sweep in variant.sweeps.values() for k in sweep.inner}
        params = {k: tuple(v) if k in inner and isinstance(v, list) else v for k, v in recipe["params"].items()}
        for value, impl, identity in candidates:
            if cell_key(claim.id, params, recipe["replicate"], recipe["seed"], recipe["networks"], identity,
                        recipe["device"], recipe["dtype"], declaration, measure) == key:
                return variant, Cell(recipe["index"], params, recipe["replicate"], recipe["seed"]), impl, value
    return None


def _device_ready(device: str) -> bool:
    if device == "cpu":
        return True
    if not re.fullmatch(r"cuda(:\d+)?", device):
        return False
    import torch

    return torch.cuda.is_available()


def _check(key: str, rows: list[dict[str, Any]] | None, text: str | None, claims: Mapping[str, Any],
           candidates: Candidates) -> dict[str, Any]:
    """One sampled entry: {'status': 'equal' | 'differ' | 'not checked', ...}."""
    from .run import measure_cell

    where: dict[str, Any] = {"key": key[:12]}
    if rows is None:
        return {**where, "status": "not checked", "why": "its payload fails its checksum (damaged; a run drops it)"}
    recipe = _recipe(text)
    if isinstance(recipe, str):
        return {**where, "status": "not checked", "why": recipe}
    where.update(claim=recipe["claim"], impl=str(recipe.get("impl")),
                 params={k: v for k, v in recipe["params"].items() if not isinstance(v, list)},
                 replicate=recipe["replicate"])
    claim = claims.get(recipe["claim"])
    if claim is None:
        return {**where, "status": "not checked", "why": f"no claim {recipe['claim']!r} in this catalogue"}
    found = _match(key, recipe, claim, candidates)
    if found is None:
        return {**where, "status": "not checked",
                "why": "its key is not what this code gives its recipe's cell with any implementation it can rebuild "
                       f"(this package's entry points and controls; --impl: {candidates.names()}): written by another "
                       "plug-in (pass it with --impl), by other code or versions, or its recipe was changed"}
    variant, cell, impl, value = found
    where["impl"] = value
    if not _device_ready(recipe["device"]):
        return {**where, "status": "not checked", "why": f"computed on {recipe['device']}, which this machine lacks"}
    try:
        fresh = measure_cell(variant, impl, recipe["device"], recipe["dtype"], recipe["networks"], cell)
    except Exception as exc:  # the cell now fails: nothing to compare with
        return {**where, "status": "not checked", "why": f"recomputing it failed ({type(exc).__name__}: {exc})"}
    fresh = json.loads(json.dumps(fresh, sort_keys=True, default=repr))
    if same(rows, fresh):
        return {**where, "status": "equal"}
    return {**where, "status": "differ", "stored": rows, "recomputed": fresh}


def audit(cache: CellCache, fraction: float, seed: int | None = None, impls: Sequence[str] = ()) -> dict[str, Any]:
    """Recompute a random ``fraction`` of the cache's entries (at least one when there are any),
    sampled with ``seed`` (default: from the clock). ``impls``: --impl values of plug-ins whose cells
    should be checked too. The report lists every sampled entry that differs or was not checked."""
    from .registry import all_claims

    seed = clock_seed() if seed is None else seed
    entries = list(cache.entries())  # in key order: the sample depends on the seed and the keys only
    count = min(len(entries), max(1, round(fraction * len(entries)))) if entries else 0
    sample = random.Random(seed).sample(entries, count)
    candidates = Candidates(impls)
    claims = {c.id: c for c in all_claims()}
    checked = [_check(key, rows, text, claims, candidates) for key, rows, text in sample]
    return {"seed": seed, "entries": len(entries), "sampled": count, "sample": [c["key"] for c in checked],
            "equal": sum(c["status"] == "equal" for c in checked),
            "differ": [c for c in checked if c["status"] == "differ"],
            "unchecked": [c for c in checked if c["status"] == "not checked"]}


def passed(report: Mapping[str, Any]) -> bool:
    """Something was sampled, and every sampled entry was recomputed and equal."""
    return report["sampled"] > 0 and report["equal"] == report["sampled"]

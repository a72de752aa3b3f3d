"""Every claim of the catalogue, in the catalogue's order, and lookup by id or glob.

Importing this module imports each catalogue module, which registers its claims with
``claims.spec.register`` (and the negative controls it defines with reference_impl.controls). The
catalogue modules import claims.spec, never this module, so the catalogue and the registry do not
import each other; the order of the imports below is the order of ``resnet-claims list``.
"""
from __future__ import annotations

import fnmatch
from typing import Sequence

from .catalogue import coord_check, fischer2023, init_check, marion2022, nfd2025, nfd2025_v1, transfer  # noqa: F401  (register on import)
from .spec import Claim, ClaimError, registered


def all_claims() -> list[Claim]:
    """Every claim of the catalogue, in registration order."""
    return registered()


def select(patterns: Sequence[str] | None) -> list[Claim]:
    """Claims whose id matches any pattern (exact id or glob such as ``marion.*``)."""
    claims = all_claims()
    if not patterns:
        return claims
    chosen: list[Claim] = []
    for pat in patterns:
        hits = [c for c in claims if fnmatch.fnmatchcase(c.id, pat)]
        if not hits:
            known = ", ".join(c.id for c in claims)
            raise ClaimError(f"unknown claim id {pat!r}; known ids: {known}")
        chosen += [c for c in hits if c not in chosen]
    return chosen

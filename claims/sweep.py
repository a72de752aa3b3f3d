"""Budgets -> grids of cells, each with a seed derived from the cell itself (not from run order)."""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .spec import Sweep


@dataclass(frozen=True)
class Cell:
    """One unit of work: parameter values, a replicate index and the seed they determine."""

    index: int
    params: Mapping[str, Any]
    replicate: int
    seed: int


def canonical(obj: Any) -> str:
    """Canonical JSON used for hashing: sorted keys, no whitespace, floats via repr."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=repr)


def cell_seed(master_seed: int, claim_id: str, params: Mapping[str, Any], replicate: int) -> int:
    """A 63-bit seed from numpy SeedSequence keyed by sha256 of the cell (never Python's hash())."""
    digest = hashlib.sha256(canonical([claim_id, params, replicate]).encode()).digest()
    key = tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))
    state = np.random.SeedSequence(entropy=master_seed, spawn_key=key).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) % (2**63)


def cells(claim_id: str, sweep: Sweep, master_seed: int, config: Mapping[str, Any] | None = None) -> list[Cell]:
    """Every cell of a sweep: product of its axes times replicates, inner axes and config attached."""
    names = list(sweep.axes)
    out: list[Cell] = []
    for values in itertools.product(*(sweep.axes[n] for n in names)):
        grid = dict(zip(names, values))
        for rep in range(sweep.replicates):
            params = {**sweep.fixed, **(config or {}), **grid}
            seed = cell_seed(master_seed, claim_id, params, rep)
            params.update({k: tuple(v) for k, v in sweep.inner.items()})
            out.append(Cell(len(out), params, rep, seed))
    return out

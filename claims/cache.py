"""On-disk cache of finished sweep cells (SQLite, standard library), so runs resume after a kill.

A cell's key hashes everything its result depends on: claim id, cell parameters, replicate, seed,
ensemble size, implementation name and version, package version, device, dtype and a hash of the
source of the claim's and the implementation's packages. Each entry
carries a sha256 of its payload; a corrupt or truncated entry is reported, dropped and recomputed,
never used. Every write is its own committed transaction (SQLite's journal makes it atomic).
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
import sqlite3
import sys
import warnings
from pathlib import Path
from typing import Any, Mapping

from . import __version__
from .sweep import canonical

ENV = "RESNET_CLAIMS_CACHE"


def default_path() -> Path:
    """$RESNET_CLAIMS_CACHE (a folder), else the per-user cache folder from platformdirs."""
    folder = os.environ.get(ENV)
    if not folder:
        import platformdirs

        folder = platformdirs.user_cache_dir("resnet-claims")
    return Path(folder) / "cells.sqlite"


@functools.lru_cache(maxsize=None)
def _package_digest(package: str) -> str:
    """sha256 over every .py file of a top-level package (or the single module's file); "" when the
    source cannot be found (a module made at run time, a frozen app)."""
    try:
        module = sys.modules.get(package) or importlib.import_module(package)
        origin = Path(module.__file__)
    except (ImportError, TypeError, AttributeError):
        return ""
    files = sorted(origin.parent.rglob("*.py")) if hasattr(module, "__path__") else [origin]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def code_version(*objects: Any) -> str:
    """Hash of the source of this suite's packages and of those defining ``objects`` (a plug-in's):
    any code change there invalidates cached cells; resuming the same code reuses them."""
    packages = {(getattr(o, "__module__", None) or type(o).__module__).split(".")[0] for o in objects}
    packages = sorted(packages | {"claims", "reference_impl"})
    return "-".join(_package_digest(p) for p in packages if p not in ("builtins", "__main__"))


def cell_key(claim_id: str, params: Mapping[str, Any], replicate: int, seed: int, networks: int,
             impl: Any, device: str, dtype: str, code: str = "") -> str:
    """sha256 of the canonical description of one cell's computation."""
    ident = [claim_id, dict(params), replicate, seed, networks, impl.name, str(impl.version), __version__,
             device, dtype, code]
    return hashlib.sha256(canonical(ident).encode()).hexdigest()


class CacheCorruptWarning(UserWarning):
    """A cache entry failed its checksum or did not parse; it was dropped and will be recomputed."""


class CellCache:
    """Finished cells by key; ``get`` returns None for a miss or a corrupt entry."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30)
            self._db.execute("CREATE TABLE IF NOT EXISTS cells (key TEXT PRIMARY KEY, payload TEXT NOT NULL, "
                             "checksum TEXT NOT NULL, created REAL DEFAULT (julianday('now')))")
        except sqlite3.DatabaseError as exc:
            raise RuntimeError(f"result cache {self.path} is not a readable SQLite database ({exc}); "
                               f"remove it or run `resnet-claims cache clear`") from exc
        self.hits = self.misses = 0

    def get(self, key: str) -> list[dict[str, Any]] | None:
        row = self._db.execute("SELECT payload, checksum FROM cells WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        payload, checksum = row
        try:
            if hashlib.sha256(payload.encode()).hexdigest() != checksum:
                raise ValueError("checksum mismatch")
            rows = json.loads(payload)
        except (ValueError, AttributeError) as exc:
            warnings.warn(f"cache entry {key[:12]} in {self.path} is corrupt ({exc}); recomputing it",
                          CacheCorruptWarning, stacklevel=2)
            with self._db:
                self._db.execute("DELETE FROM cells WHERE key = ?", (key,))
            self.misses += 1
            return None
        self.hits += 1
        return rows

    def put(self, key: str, rows: list[dict[str, Any]]) -> None:
        payload = json.dumps(rows, sort_keys=True, default=repr)
        with self._db:  # one committed transaction per cell: a kill loses at most the cell in flight
            self._db.execute("INSERT OR REPLACE INTO cells (key, payload, checksum) VALUES (?, ?, ?)",
                             (key, payload, hashlib.sha256(payload.encode()).hexdigest()))

    def info(self) -> dict[str, Any]:
        (count,) = self._db.execute("SELECT COUNT(*) FROM cells").fetchone()
        return {"path": str(self.path), "cells": count, "bytes": self.path.stat().st_size if self.path.exists() else 0}

    def clear(self) -> int:
        with self._db:
            count = self._db.execute("DELETE FROM cells").rowcount
        self._db.execute("VACUUM")
        return count

"""On-disk cache of finished sweep cells (SQLite, standard library), so runs resume after a kill.

A cell's key (:func:`cell_key`) hashes everything its result depends on: claim id and declaration,
the measurement's name, cell parameters, replicate, seed, ensemble size, device, dtype, the package,
torch and numpy versions, and the implementation's identity with this package's source digest and
the installed distributions (claims/identity.py). Cells of an implementation whose code nothing
names across runs (no ``cache_token``, not shipped, not an installed distribution) go to a resume
store in the run's output folder instead, which the run deletes when it completes. The trust model
is docs/cache.md.

The database is marked as ours (``PRAGMA application_id`` and ``user_version``, the layout's
version). A file that is not such a database is never renamed, replaced or written: opening it
raises :class:`CacheError` (one line). One of ours with another layout, or one found damaged while
reading, is moved aside with one warning and a fresh one starts; a location that cannot be written
leaves the run uncached (one warning). Every write is its own committed transaction.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy
import torch

from . import __version__
from .identity import Identity
from .sweep import canonical

ENV = "RESNET_CLAIMS_CACHE"
DB_NAME = "cells.sqlite"
DB_SUFFIXES = (".sqlite", ".sqlite3", ".db")
RESUME_NAME = ".resume-cells.sqlite"  # in a run's output folder while the run is unfinished
SQLITE_MAGIC = b"SQLite format 3\x00"
APPLICATION_ID = 0x52436331  # "RCc1": PRAGMA application_id of a resnet-claims cell cache
LAYOUT = 2  # PRAGMA user_version: the layout of table ``cells`` below
OLD_LAYOUTS = ({"key", "payload", "checksum", "created"}, {"key", "payload", "checksum", "created", "recipe"})
TABLE = ("CREATE TABLE IF NOT EXISTS cells (key TEXT PRIMARY KEY, payload TEXT NOT NULL, checksum TEXT NOT NULL, "
         "recipe TEXT, created REAL DEFAULT (julianday('now')))")


def default_path() -> Path:
    """The database file: $RESNET_CLAIMS_CACHE when it names a file (an existing file, or a name ending
    in .sqlite, .sqlite3 or .db), ``cells.sqlite`` inside it when it names a folder; else inside the
    per-user cache folder from platformdirs."""
    value = os.environ.get(ENV)
    if not value:
        import platformdirs

        return Path(platformdirs.user_cache_dir("resnet-claims")) / DB_NAME
    path = Path(value).expanduser()
    if path.is_file() or (not path.is_dir() and path.suffix in DB_SUFFIXES):
        return path
    return path / DB_NAME


def cell_key(claim_id: str, params: Mapping[str, Any], replicate: int, seed: int, networks: int,
             identity: Identity, device: str, dtype: str, declaration: str = "", measure: Any = None) -> str:
    """sha256 of the canonical description of one cell's computation (``declaration`` and ``measure``:
    claims.identity.claim_identity)."""
    ident = [claim_id, declaration, measure, dict(params), replicate, seed, networks, identity.digest, __version__,
             torch.__version__, numpy.__version__, device, dtype]
    return hashlib.sha256(canonical(ident).encode()).hexdigest()


# ------------------------------------------------------------------------------------------------
# the database
# ------------------------------------------------------------------------------------------------
class CacheError(Exception):
    """The cache location holds a file this package did not write: it is left untouched (usage error)."""


class CacheWriteError(RuntimeError):
    """The cache could not be changed as asked (``cache clear`` on a database it cannot write)."""


class CacheCorruptWarning(UserWarning):
    """A cache entry or the whole database was unreadable; it was set aside and will be recomputed."""


class CacheReadOnlyWarning(UserWarning):
    """The cache location cannot be written: the run continues without storing cells."""


class UncachedPluginWarning(UserWarning):
    """A plug-in's cells are not reused by later runs: nothing names its code across runs."""


def _read_only(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, OSError) or any(w in text for w in ("readonly", "read-only", "unable to open",
                                                                "disk i/o", "permission"))


def _header(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(100)


def _marked(header: bytes) -> bool:
    return header.startswith(SQLITE_MAGIC) and int.from_bytes(header[68:72], "big") == APPLICATION_ID


def _old_layout(path: Path) -> bool:
    """An unmarked database holding only table ``cells`` with exactly the columns earlier versions wrote."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            columns = {row[1] for row in db.execute("PRAGMA table_info(cells)")}
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return tables == {"cells"} and columns in OLD_LAYOUTS


def layout(path: Path) -> str:
    """'new' (no file, or an empty one), 'current', or 'other' (ours, another layout); CacheError for a
    file that is not a cell cache of this package (never touched)."""
    try:
        if path.stat().st_size == 0:
            return "new"
    except FileNotFoundError:
        return "new"
    header = _header(path)
    if not header.startswith(SQLITE_MAGIC):
        raise CacheError(f"cell cache {path} is not an SQLite database, so not a resnet-claims cell cache; it was "
                         f"left untouched: point {ENV} at a folder or at a new .sqlite file")
    if _marked(header):
        return "current" if int.from_bytes(header[60:64], "big") == LAYOUT else "other"
    if _old_layout(path):
        return "other"
    raise CacheError(f"cell cache {path} is an SQLite database of another program or of an unknown layout (it "
                     f"carries no resnet-claims marker); it was left untouched: point {ENV} at a folder or at a new "
                     ".sqlite file, or remove it")


class CellCache:
    """Finished cells by key; ``get`` returns None for a miss or a corrupt entry.

    ``resume``: the run's output folder; cells of an implementation whose identity is not trusted
    across runs are kept there (``RESUME_NAME``) until :meth:`finish_run`. Without it they are kept
    only in the run's memory. Never raises for a damaged database of ours or an unwritable location
    (the first is moved to ``<name>.corrupt-<time>`` and replaced by an empty one, the second turns
    writing off); raises CacheError for a file that is not ours."""

    def __init__(self, path: Path | None = None, resume: Path | None = None) -> None:
        self.path = Path(path) if path else default_path()
        self.hits = self.misses = 0
        self.writable = True
        self.resume_path = None if resume is None else Path(resume) / RESUME_NAME
        self._resume: CellCache | None = None
        self._warned: set[str] = set()
        self._db: sqlite3.Connection | None = None
        self._connect()

    def _connect(self) -> None:
        try:
            found = layout(self.path)
            if found == "other":
                self._set_aside(f"written by another version of resnet-claims (not layout {LAYOUT})")
                found = "new"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            if found != "current":  # marker and table in one transaction: no process sees a half-made one
                db.execute("BEGIN IMMEDIATE")
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {LAYOUT}")
                db.execute(TABLE)
                db.execute("COMMIT")
            db.isolation_level = ""
            db.execute("SELECT key FROM cells LIMIT 1").fetchall()
            self._db = db
        except sqlite3.OperationalError as exc:
            if not _read_only(exc):
                raise
            self._open_read_only(exc)
        except sqlite3.DatabaseError as exc:
            if self._set_aside(exc):
                self._connect()
        except OSError as exc:
            self._open_read_only(exc)

    def _open_read_only(self, exc: BaseException) -> None:
        """Read what is there (if anything), never write."""
        self.writable = False
        warnings.warn(f"cell cache {self.path} cannot be written ({exc}); this run stores no cells",
                      CacheReadOnlyWarning, stacklevel=3)
        try:
            self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
            self._db.execute("SELECT key FROM cells LIMIT 1").fetchall()
        except (sqlite3.Error, OSError):
            self._db = None

    def _set_aside(self, why: Any) -> bool:
        """Move a database of ours that cannot be used out of the way (kept for inspection) so a fresh
        one can start; True when a fresh one can start. A file without our marker is never moved:
        the run goes on without storing cells."""
        self.close()
        try:
            ours = _marked(_header(self.path)) or _old_layout(self.path)
        except FileNotFoundError:
            return True  # another process moved it already
        if not ours:
            self.writable = False
            warnings.warn(f"cell cache {self.path} cannot be used ({why}) and carries no resnet-claims marker, so it "
                          "was left untouched; this run stores no more cells", CacheReadOnlyWarning, stacklevel=4)
            return False
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        for suffix in ("-journal", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        try:
            self.path.replace(aside)
        except FileNotFoundError:
            return True
        warnings.warn(f"cell cache {self.path} cannot be used ({why}); moved it to {aside.name} and started an "
                      "empty one", CacheCorruptWarning, stacklevel=4)
        return True

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _guard(self, action: Callable[[sqlite3.Connection], Any], default: Any, write: bool = False) -> Any:
        """Run ``action`` on the database; a damaged file of ours is set aside (then retried on a fresh
        one), an unwritable one turns writing off; either way the run goes on."""
        for _ in range(2):
            if self._db is None or (write and not self.writable):
                return default
            try:
                return action(self._db)
            except sqlite3.OperationalError as exc:
                if not _read_only(exc):
                    raise
                if self.writable:
                    self.writable = False
                    warnings.warn(f"cell cache {self.path} cannot be written ({exc}); this run stores no more cells",
                                  CacheReadOnlyWarning, stacklevel=3)
                return default
            except sqlite3.DatabaseError as exc:
                if not self._set_aside(exc):
                    return default
                self._connect()
        return default

    def get(self, key: str) -> list[dict[str, Any]] | None:
        row = self._guard(lambda db: db.execute("SELECT payload, checksum FROM cells WHERE key = ?", (key,)).fetchone(),
                          None)
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
            self._guard(lambda db: self._commit(db, "DELETE FROM cells WHERE key = ?", (key,)), None, write=True)
            self.misses += 1
            return None
        self.hits += 1
        return rows

    @staticmethod
    def _commit(db: sqlite3.Connection, sql: str, args: tuple[Any, ...] = ()) -> int:
        with db:  # one committed transaction per statement: a kill loses at most the cell in flight
            return db.execute(sql, args).rowcount

    def put(self, key: str, rows: list[dict[str, Any]], recipe: Mapping[str, Any] | None = None) -> None:
        """Store one cell's rows; ``recipe`` says which cell it is (``cache audit`` checks it against the key)."""
        payload = json.dumps(rows, sort_keys=True, default=repr)
        args = (key, payload, hashlib.sha256(payload.encode()).hexdigest(),
                None if recipe is None else json.dumps(recipe, sort_keys=True, default=repr))
        self._guard(lambda db: self._commit(db, "INSERT OR REPLACE INTO cells (key, payload, checksum, recipe) "
                                                "VALUES (?, ?, ?, ?)", args), None, write=True)

    def entries(self) -> Iterator[tuple[str, list[dict[str, Any]] | None, str | None]]:
        """Every (key, rows or None when the payload fails its checksum, the recipe's text), by key."""
        rows = self._guard(lambda db: db.execute("SELECT key, payload, checksum, recipe FROM cells ORDER BY key")
                           .fetchall(), [])
        for key, payload, checksum, recipe in rows:
            try:
                ok = hashlib.sha256(payload.encode()).hexdigest() == checksum
                yield key, (json.loads(payload) if ok else None), recipe
            except (ValueError, AttributeError):
                yield key, None, recipe

    def info(self) -> dict[str, Any]:
        (count,) = self._guard(lambda db: db.execute("SELECT COUNT(*) FROM cells").fetchone(), (0,))
        return {"path": str(self.path), "cells": count, "bytes": self.path.stat().st_size if self.path.is_file() else 0,
                "writable": self.writable}

    def clear(self) -> int:
        """Delete every cell; CacheWriteError when the database cannot be written (nothing is deleted)."""
        if self._db is None:
            raise CacheWriteError(f"cannot delete the cells in {self.path}: it cannot be opened")
        if not self.writable:
            raise CacheWriteError(f"cannot delete the cells in {self.path}: it cannot be written; "
                                  f"{self.info()['cells']} cell(s) remain")
        try:
            count = self._commit(self._db, "DELETE FROM cells")
        except sqlite3.Error as exc:
            raise CacheWriteError(f"could not delete the cells in {self.path} ({exc}); "
                                  f"{self.info()['cells']} cell(s) remain") from None
        try:
            self._db.execute("VACUUM")
        except sqlite3.Error:
            pass  # the cells are gone; only the file's free pages stay allocated
        return count

    # --------------------------------------------------------------------------------------------
    # where an implementation's cells go
    # --------------------------------------------------------------------------------------------
    def store_for(self, identity: Identity, name: str) -> "CellCache | None":
        """This cache for an identity trusted across runs; else this run's resume store (None without
        a run folder: the cells stay in the run's memory), with one warning per implementation."""
        if identity.shared:
            return self
        if identity.digest not in self._warned:
            self._warned.add(identity.digest)
            where = (f"kept in {self.resume_path} only to resume this run (deleted when it completes)"
                     if self.resume_path else "kept only for this run")
            warnings.warn(f"plug-in {name!r} ({identity.label()}): {identity.why}, so its cells are not cached "
                          f"across runs; they are {where}; declare a cache_token to cache them (docs/cache.md)",
                          UncachedPluginWarning, stacklevel=4)
        if self.resume_path is None:
            return None
        if self._resume is None:
            self._resume = CellCache(self.resume_path)
        return self._resume

    def finish_run(self) -> None:
        """The run completed: delete its resume store (those cells were kept only to resume it)."""
        if self._resume is not None:
            self._resume.close()
            self._resume = None
        if self.resume_path is not None:
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(str(self.resume_path) + suffix).unlink(missing_ok=True)

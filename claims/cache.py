"""On-disk cache of finished sweep cells (SQLite, standard library), so runs resume after a kill.

A cell's key hashes everything its result depends on: claim id, cell parameters, replicate, seed,
ensemble size, device, dtype, the package, torch and numpy versions, and the implementation's
identity (:func:`impl_identity`: name, version, class and factory qualified names, its
``cache_token`` if declared) and code (:func:`code_version`: the source of every module outside the
standard library and site-packages that the claim's measurement and the plug-in are defined in or
import). A plug-in whose code cannot be read (a module made at run time) is not cached unless it
declares a ``cache_token``.

Trust model: an entry carries a sha256 of its payload, which detects a damaged entry (dropped and
recomputed with a warning), not a forged one: anyone who can write the cache file can change what a
later run reads. ``resnet-claims cache audit`` recomputes a sample of entries from the recipe stored
beside each. A database that is not readable SQLite is moved aside with one warning and a fresh one
is used; a location that cannot be written leaves the run uncached (one warning). Every write is its
own committed transaction (SQLite's journal makes it atomic).
"""
from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import json
import os
import re
import sqlite3
import sys
import sysconfig
import time
import types
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy
import torch

from . import __version__
from .sweep import canonical

ENV = "RESNET_CLAIMS_CACHE"
DB_NAME = "cells.sqlite"
DB_SUFFIXES = (".sqlite", ".sqlite3", ".db")
SUITE_PACKAGES = ("claims", "reference_impl")


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


# ------------------------------------------------------------------------------------------------
# what a cell's value depends on
# ------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _library_roots() -> tuple[str, ...]:
    """Folders of the standard library and of installed packages: code there is versioned, not hashed."""
    roots = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    return tuple(sorted(str(Path(r).resolve()) + os.sep for r in roots if r))


def _is_library(path: Path) -> bool:
    text = str(path.resolve())
    return text.startswith(_library_roots()) or "site-packages" in path.parts or "dist-packages" in path.parts


@functools.lru_cache(maxsize=4096)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    """sha256 of one file, memoised by (path, mtime, size) so an edited file is read again."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _files_digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        stat = path.stat()
        digest.update(_file_digest(str(path), stat.st_mtime_ns, stat.st_size).encode())
    return digest.hexdigest()[:16]


_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(\.*[\w.]*)[ \t]+import[ \t]+\(?([\w., \t]*)|import[ \t]+([\w., \t]+))",
                     re.MULTILINE)


@functools.lru_cache(maxsize=4096)
def _imports(path: str, mtime_ns: int, package: str) -> tuple[str, ...]:
    """Absolute names of the modules one source file imports anywhere (top level or inside functions);
    a line scan, not a parse: fast, and an extra name only costs a lookup."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ()
    names: list[str] = []
    for source, imported, plain in _IMPORT.findall(text):
        if plain:
            names += [part.split()[0] for part in plain.split(",") if part.strip()]
            continue
        try:
            base = importlib.util.resolve_name(source, package) if source.startswith(".") else source
        except (ImportError, ValueError):
            continue
        subs = [f"{base}.{part.split()[0]}" for part in imported.split(",") if part.strip()]
        names += [base] + [sub for sub in subs if sub in sys.modules]
    return tuple(n for n in names if n)


def _files_of(name: str, origin: Path) -> list[tuple[Path, str]]:
    """(file, its package) for the module ``name`` at ``origin``: every .py file of its top-level
    package when that is a regular package (a helper imported lazily is covered too), else its file."""
    top = name.split(".")[0]
    root = origin.parent
    for _ in range(name.count(".") + (origin.name == "__init__.py") - 1):
        root = root.parent
    if (root / "__init__.py").is_file() and (root.name == top):
        out = []
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root.parent).with_suffix("").parts
            package = ".".join(parts[:-1] if parts[-1] != "__init__" else parts[:-1])
            out.append((path, package))
        return out
    return [(origin, name if origin.name == "__init__.py" else name.rpartition(".")[0])]


def _origin(name: str, strict: bool) -> Path | None | bool:
    """Source file of module ``name``; None: standard library, site-packages or not loadable (skip);
    False: a module with no source to read (made at run time)."""
    if name in sys.builtin_module_names:
        return None
    module = sys.modules.get(name)
    if module is None and strict:
        module = sys.modules.get(name.split(".")[0])  # an attribute's __module__ such as torch._C._nn
    if module is not None:
        file = getattr(module, "__file__", None)
        if file is None:
            spec = getattr(module, "__spec__", None)
            if spec is not None and (spec.origin in ("built-in", "frozen") or spec.submodule_search_locations):
                return None  # builtin, frozen or a namespace package (its modules are found by name)
            return False
    else:
        try:
            spec = importlib.util.find_spec(name) if "." not in name or name.rpartition(".")[0] in sys.modules else None
        except (ImportError, ValueError, AttributeError):
            spec = None
        file = spec.origin if spec is not None and spec.has_location else None
        if file is None:
            return None
    path = Path(file)
    return None if path.suffix != ".py" or _is_library(path) else path


def _source_files(names: list[str]) -> list[Path] | None:
    """Source files of the modules ``names`` and, transitively, of every module outside the standard
    library and site-packages that they import or refer to; None when one of them has no source."""
    files: dict[Path, None] = {}
    seen: set[str] = set()
    todo = [(n, True) for n in names]
    while todo:
        name, strict = todo.pop()
        if not name or name in seen:
            continue
        seen.add(name)
        origin = _origin(name, strict)
        if origin is False:
            return None
        if origin is None or origin in files:
            continue
        for path, package in _files_of(name, origin):
            if path in files:
                continue
            files[path] = None
            todo += [(n, False) for n in _imports(str(path), path.stat().st_mtime_ns, package)]
        module = sys.modules.get(name)
        for value in vars(module).values() if module is not None else ():
            if isinstance(value, types.ModuleType):
                todo.append((value.__name__, False))
            elif isinstance(getattr(value, "__module__", None), str):
                todo.append((value.__module__, True))
    return sorted(files)


def code_version(*objects: Any) -> str | None:
    """Hash of the source of this suite's packages and of every module outside the standard library
    and site-packages that ``objects`` (a measurement, a plug-in, its factory) are defined in, import
    or refer to: any change there invalidates cached cells. None when some such module has no
    readable source (nothing can say the cache is current)."""
    objects = tuple(o.func if isinstance(o, functools.partial) else o for o in objects if o is not None)
    names = [getattr(o, "__module__", None) or type(o).__module__ for o in objects]
    files = _source_files(names + list(SUITE_PACKAGES))
    return None if files is None else _files_digest(files)


def impl_identity(impl: Any, factory: Any = None) -> dict[str, Any]:
    """What names one implementation: name, version, class and factory qualified names and its
    ``cache_token`` (a string the plug-in declares to stand for its code and settings)."""
    def qualified(obj: Any) -> str | None:
        if obj is None:
            return None
        target = obj if isinstance(obj, (type, types.FunctionType, types.MethodType)) else type(obj)
        return f"{target.__module__}.{target.__qualname__}"

    return {"name": str(getattr(impl, "name", "")), "version": str(getattr(impl, "version", "")),
            "class": qualified(impl), "factory": qualified(factory),
            "cache_token": getattr(impl, "cache_token", None)}


def cell_key(claim_id: str, params: Mapping[str, Any], replicate: int, seed: int, networks: int,
             impl: Any, device: str, dtype: str, code: str = "", factory: Any = None) -> str:
    """sha256 of the canonical description of one cell's computation."""
    ident = [claim_id, dict(params), replicate, seed, networks, impl_identity(impl, factory), __version__,
             torch.__version__, numpy.__version__, device, dtype, code]
    return hashlib.sha256(canonical(ident).encode()).hexdigest()


# ------------------------------------------------------------------------------------------------
# the database
# ------------------------------------------------------------------------------------------------
class CacheCorruptWarning(UserWarning):
    """A cache entry or the whole database was unreadable; it was set aside and will be recomputed."""


class CacheReadOnlyWarning(UserWarning):
    """The cache location cannot be written: the run continues without storing cells."""


def _read_only(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, OSError) or any(w in text for w in ("readonly", "read-only", "unable to open",
                                                                "disk i/o", "permission"))


class CellCache:
    """Finished cells by key; ``get`` returns None for a miss or a corrupt entry.

    Never raises for a damaged database or an unwritable location: the first is moved aside (to
    ``<name>.corrupt-<time>``) and replaced by an empty one, the second turns writing off."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else default_path()
        self.hits = self.misses = 0
        self.writable = True
        self._db: sqlite3.Connection | None = None
        self._connect()

    def _connect(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30)
            db.execute("CREATE TABLE IF NOT EXISTS cells (key TEXT PRIMARY KEY, payload TEXT NOT NULL, "
                       "checksum TEXT NOT NULL, created REAL DEFAULT (julianday('now')))")
            columns = {row[1] for row in db.execute("PRAGMA table_info(cells)")}
            if "recipe" not in columns:
                with db:
                    db.execute("ALTER TABLE cells ADD COLUMN recipe TEXT")
            self._db = db
        except sqlite3.OperationalError as exc:
            if not _read_only(exc):
                raise
            self._open_read_only(exc)
        except sqlite3.DatabaseError as exc:
            self._set_aside(exc)
            self._connect()
        except OSError as exc:
            self._open_read_only(exc)

    def _open_read_only(self, exc: BaseException) -> None:
        """Read what is there (if anything), never write."""
        self.writable = False
        warnings.warn(f"cell cache {self.path} cannot be written ({exc}); this run stores no cells",
                      CacheReadOnlyWarning, stacklevel=3)
        try:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            self._db.execute("SELECT key FROM cells LIMIT 1").fetchall()
        except (sqlite3.Error, OSError):
            self._db = None

    def _set_aside(self, exc: BaseException) -> None:
        """Move an unreadable database out of the way (kept for inspection) so a fresh one can start."""
        if self._db is not None:
            self._db.close()
            self._db = None
        aside = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
        for suffix in ("-journal", "-wal", "-shm"):
            Path(str(self.path) + suffix).unlink(missing_ok=True)
        self.path.replace(aside)
        warnings.warn(f"cell cache {self.path} is not a readable SQLite database ({exc}); moved it to {aside.name} "
                      "and started an empty one", CacheCorruptWarning, stacklevel=4)

    def _guard(self, action: Callable[[sqlite3.Connection], Any], default: Any, write: bool = False) -> Any:
        """Run ``action`` on the database; a damaged file is set aside (then retried on a fresh one), an
        unwritable one turns writing off; either way the run goes on."""
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
                self._set_aside(exc)
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
        """Store one cell's rows; ``recipe`` is what ``cache audit`` needs to recompute it."""
        payload = json.dumps(rows, sort_keys=True, default=repr)
        args = (key, payload, hashlib.sha256(payload.encode()).hexdigest(),
                None if recipe is None else json.dumps(recipe, sort_keys=True, default=repr))
        self._guard(lambda db: self._commit(db, "INSERT OR REPLACE INTO cells (key, payload, checksum, recipe) "
                                                "VALUES (?, ?, ?, ?)", args), None, write=True)

    def entries(self) -> Iterator[tuple[str, list[dict[str, Any]], dict[str, Any] | None]]:
        """Every (key, rows, recipe) whose payload passes its checksum."""
        rows = self._guard(lambda db: db.execute("SELECT key, payload, checksum, recipe FROM cells").fetchall(), [])
        for key, payload, checksum, recipe in rows:
            if hashlib.sha256(payload.encode()).hexdigest() == checksum:
                yield key, json.loads(payload), (json.loads(recipe) if recipe else None)

    def info(self) -> dict[str, Any]:
        (count,) = self._guard(lambda db: db.execute("SELECT COUNT(*) FROM cells").fetchone(), (0,))
        return {"path": str(self.path), "cells": count, "bytes": self.path.stat().st_size if self.path.is_file() else 0,
                "writable": self.writable}

    def clear(self) -> int:
        count = self._guard(lambda db: self._commit(db, "DELETE FROM cells"), 0, write=True)
        self._guard(lambda db: db.execute("VACUUM"), None, write=True)
        return count


# ------------------------------------------------------------------------------------------------
# audit: recompute a sample of entries
# ------------------------------------------------------------------------------------------------
AUDIT_RTOL = 1e-5  # recomputed numbers may differ by float reassociation (thread count), not more


def _same(a: Any, b: Any, rtol: float = AUDIT_RTOL) -> bool:
    """Equal JSON values, numbers up to ``rtol`` relative."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return a == b or abs(a - b) <= rtol * max(abs(a), abs(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], rtol) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, rtol) for x, y in zip(a, b))
    return a == b


def _recompute(key: str, recipe: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]] | None]:
    """('recomputed', rows), or (why it cannot be recomputed by this code, None)."""
    from dataclasses import replace

    from .plugins import origin, resolve
    from .run import measure_cell
    from .spec import select
    from .sweep import Cell

    if not recipe.get("impl"):
        return "skipped: the implementation was not chosen by name (--impl), so it cannot be rebuilt", None
    impl, _ = resolve(recipe["impl"])
    claim = select([recipe["claim"]])[0]
    module, _, qualname = recipe["measure"].partition(":")
    measure: Any = sys.modules.get(module) or importlib.import_module(module)
    for part in qualname.split("."):
        measure = getattr(measure, part, None)
    claim = replace(claim, measure=measure or claim.measure)
    inner = {k for sweep in claim.sweeps.values() for k in sweep.inner}
    params = {k: tuple(v) if k in inner else v for k, v in recipe["params"].items()}
    cell = Cell(recipe["index"], params, recipe["replicate"], recipe["seed"])
    code = code_version(claim.measure, impl, origin(impl)[0]) or ""
    if cell_key(claim.id, params, cell.replicate, cell.seed, recipe["networks"], impl, recipe["device"],
                recipe["dtype"], code, origin(impl)[0]) != key:
        return "skipped: written by other code or versions (this code never reads it)", None
    rows = measure_cell(claim, impl, recipe["device"], recipe["dtype"], recipe["networks"], cell)
    return "recomputed", json.loads(json.dumps(rows, sort_keys=True, default=repr))


def audit(cache: CellCache, fraction: float, seed: int = 0) -> dict[str, Any]:
    """Recompute a random ``fraction`` of the cache's entries (at least one when there are any) and
    list those whose stored rows differ from the recomputed ones (a forged or stale-keyed entry)."""
    import random

    entries = list(cache.entries())
    count = min(len(entries), max(1, round(fraction * len(entries)))) if entries else 0
    sample = random.Random(seed).sample(entries, count)
    report: dict[str, Any] = {"entries": len(entries), "sampled": count, "recomputed": 0, "differ": [], "skipped": []}
    for key, rows, recipe in sample:
        if recipe is None:
            report["skipped"].append({"key": key[:12], "why": "no recipe (written by an older version)"})
            continue
        try:
            status, fresh = _recompute(key, recipe)
        except Exception as exc:  # the plug-in is gone or the cell now fails: nothing to compare with
            status, fresh = f"skipped: cannot recompute ({type(exc).__name__}: {exc})", None
        where = {"key": key[:12], "claim": recipe["claim"], "impl": recipe.get("impl"),
                 "params": {k: v for k, v in recipe["params"].items() if not isinstance(v, list)},
                 "replicate": recipe["replicate"]}
        if fresh is None:
            report["skipped"].append({**where, "why": status})
            continue
        report["recomputed"] += 1
        if not _same(rows, fresh):
            report["differ"].append({**where, "stored": rows, "recomputed": fresh})
    return report

"""The cell cache: hits after a run, keys that cover everything a cell depends on, plug-ins whose code
nothing names are never served stale cells across runs (only resumed within one), a damaged or
unwritable database never stops a run, and a file that is not ours is never touched (docs/cache.md)."""
import dataclasses
import hashlib
import json
import sqlite3
import sys
import types
from pathlib import Path

import pytest
import torch

from claims import cache as cache_mod
from claims.cache import (RESUME_NAME, CacheCorruptWarning, CacheReadOnlyWarning, CellCache, UncachedPluginWarning,
                          cell_key, default_path)
from claims.cli import main
from claims.identity import plugin_identity
from claims.plugins import resolve
from claims.run import Execution, run_claim
from claims.registry import select
from reference_impl import make_reference

sys.path.insert(0, str(Path(__file__).parent))  # the test plug-ins beside this file
from cache_plugins import plugin_folder, write, write_pyc  # noqa: E402

CHEAP = "marion.iid_sqrt_l_unique"


@pytest.fixture
def plugins(tmp_path):
    with plugin_folder(tmp_path / "plugins") as folder:
        yield folder


def _verify(out, impl, *extra):
    return main(["verify", "--budget", "smoke", "--claims", CHEAP, "--quiet", "--out", str(out), "--impl", impl, *extra])


def test_second_run_is_served_from_cache_with_identical_numbers(tmp_path):
    claim, impl = select(["marion.gradient_dichotomy"])[0], make_reference()
    first, second = Execution(cache=CellCache(tmp_path / "c.sqlite")), Execution(cache=CellCache(tmp_path / "c.sqlite"))
    a = run_claim(claim, impl, "smoke", 0, execution=first)
    b = run_claim(claim, impl, "smoke", 0, execution=second)
    assert first.computed > 0 and first.cached == 0
    assert second.computed == 0 and second.cached == first.computed
    assert a["estimate"] == b["estimate"] and a["cells"] == b["cells"]
    assert a["cells_from_cache"] == 0 and b["cells_from_cache"] == len(b["cells"])


def test_corrupt_entry_is_detected_dropped_and_recomputed(tmp_path):
    cache = CellCache(tmp_path / "c.sqlite")
    cache.put("k", [{"x": 1.0}])
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        db.execute("UPDATE cells SET payload = ? WHERE key = 'k'", ('[{"x": 2.0}]',))
    with pytest.warns(CacheCorruptWarning, match="corrupt"):
        assert cache.get("k") is None
    assert cache.info()["cells"] == 0


def test_key_changes_with_every_input(monkeypatch):
    identity = plugin_identity(resolve("reference")[0])
    base = dict(claim_id="c", params={"depth": 4}, replicate=0, seed=1, networks=8, identity=identity, device="cpu",
                dtype="float32", declaration="d", measure="m")
    keys = {cell_key(**base)}
    for change in ({"claim_id": "e"}, {"params": {"depth": 5}}, {"replicate": 1}, {"seed": 2}, {"networks": 9},
                   {"dtype": "float64"}, {"device": "cuda"}, {"declaration": "d2"}, {"measure": "m2"},
                   {"identity": plugin_identity(resolve("reference-dense")[0])}):
        keys.add(cell_key(**{**base, **change}))
    assert len(keys) == 11
    for module in (torch, cache_mod.numpy, cache_mod):
        monkeypatch.setattr(module, "__version__", "0.0.0-other")
        keys.add(cell_key(**base))
    assert len(keys) == 14
    for name in ("suite_digest", "environment"):  # the package's source; every installed distribution
        monkeypatch.setattr(f"claims.identity.{name}", lambda: "other")
        keys.add(cell_key(**{**base, "identity": plugin_identity(resolve("reference")[0])}))
    assert len(keys) == 16


# ------------------------------------------------------------------------------------------------
# plug-ins whose code nothing names: never reused by a later run (D1, D2, D3)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("good, bad", [("cw_partial:good", "cw_partial:bad"),
                                       ("cw_partial:good_obj", "cw_partial:bad_obj")])
def test_d1_two_partials_or_two_ready_objects_of_one_class_never_share_cells(plugins, tmp_path, capsys, good, bad):
    """Same class, name and version; only a partial's arguments or the object differ."""
    with pytest.warns(UncachedPluginWarning, match="not cached across runs"):
        assert _verify(tmp_path / "out", good) == 0
        assert _verify(tmp_path / "out", bad) == 1
    out = capsys.readouterr().out
    assert "VIOLATED" in out and "from cache" not in out
    assert not (tmp_path / "out" / RESUME_NAME).exists()  # the completed run left nothing to resume


def test_d2_a_helper_imported_by_a_computed_name_never_gives_stale_cells(plugins, tmp_path, capsys):
    with pytest.warns(UncachedPluginWarning):
        assert _verify(tmp_path / "out", "cw_dyn:factory") == 0
        write(plugins, "cw_dyn_helper.py", "TWIST = True\n")
        for stem in ("cw_dyn", "cw_wrapper"):  # a new process imports them afresh
            sys.modules.pop(stem, None)
        assert _verify(tmp_path / "out", "cw_dyn:factory") == 1
    assert "from cache" not in capsys.readouterr().out


def test_d3_a_sourceless_plugin_never_gives_stale_cells(plugins, tmp_path, capsys):
    write_pyc(plugins, twist=False)
    with pytest.warns(UncachedPluginWarning) as record:
        assert _verify(tmp_path / "out", "cw_pyc:good") == 0
        write_pyc(plugins, twist=True)
        assert _verify(tmp_path / "out", "cw_pyc:good") == 1
    assert len([w for w in record if "cw_pyc:good" in str(w.message)]) == 2  # one line per run
    assert "from cache" not in capsys.readouterr().out


def test_a_plugin_nothing_names_is_resumed_within_its_run_only(plugins, tmp_path):
    """Its cells go to the run's resume store (the shared cache gets none), a second start of the
    unfinished run reads them, and the completed run deletes the store."""
    claim, out, db = select([CHEAP])[0], tmp_path / "out", tmp_path / "c.sqlite"
    killed = Execution(cache=CellCache(db, resume=out))
    with pytest.warns(UncachedPluginWarning, match=RESUME_NAME):
        run_claim(claim, resolve("cw_wrapper:good")[0], "smoke", 0, execution=killed)
    assert CellCache(db).info()["cells"] == 0 and CellCache(out / RESUME_NAME).info()["cells"] == killed.computed > 0
    resumed = Execution(cache=CellCache(db, resume=out))
    with pytest.warns(UncachedPluginWarning):
        run_claim(claim, resolve("cw_wrapper:good")[0], "smoke", 0, execution=resumed)
    assert resumed.computed == 0 and resumed.cached == killed.computed
    resumed.cache.finish_run()
    assert not (out / RESUME_NAME).exists()
    again = Execution(cache=CellCache(db, resume=out))
    with pytest.warns(UncachedPluginWarning):
        run_claim(claim, resolve("cw_wrapper:bad")[0], "smoke", 0, execution=again)
    assert again.cached == 0


def test_a_plugin_with_a_cache_token_is_cached_and_each_impl_value_keeps_its_own_cells(plugins, tmp_path, recwarn):
    claim, db = select([CHEAP])[0], tmp_path / "c.sqlite"
    first, second = Execution(cache=CellCache(db)), Execution(cache=CellCache(db))
    assert run_claim(claim, resolve("cw_token:good")[0], "smoke", 0, execution=first)["verdict"] == "holds"
    run_claim(claim, resolve("cw_token:good")[0], "smoke", 0, execution=second)
    assert second.computed == 0 and second.cached == first.computed > 0
    other = Execution(cache=CellCache(db))  # one class and one token, another --impl value
    assert run_claim(claim, resolve("cw_token:bad")[0], "smoke", 0, execution=other)["verdict"] == "violated"
    assert other.cached == 0
    retokened = resolve("cw_token:good")[0]
    retokened.cache_token = "cw_token 2"
    assert plugin_identity(retokened).digest != plugin_identity(resolve("cw_token:good")[0]).digest
    assert not [w for w in recwarn if issubclass(w.category, UncachedPluginWarning)]


def test_a_plugin_made_at_run_time_is_cached_only_with_a_cache_token(tmp_path, monkeypatch):
    claim, cache = select([CHEAP])[0], CellCache(tmp_path / "c.sqlite")

    def runtime_plugin(token=None):
        mod = types.ModuleType("made_at_run_time")
        body = {"__module__": "made_at_run_time", "name": "runtime", "version": "1",
                "capabilities": make_reference().capabilities, "build": lambda self, *a: make_reference().build(*a)}
        mod.Impl = type("Impl", (), {**body, **({"cache_token": token} if token else {})})
        monkeypatch.setitem(sys.modules, "made_at_run_time", mod)
        return mod.Impl()

    with pytest.warns(UncachedPluginWarning, match="kept only for this run"):
        run_claim(claim, runtime_plugin(), "smoke", 0, execution=Execution(cache=cache))
    assert cache.info()["cells"] == 0
    run_claim(claim, runtime_plugin("runtime-v1"), "smoke", 0, execution=Execution(cache=cache))
    assert cache.info()["cells"] > 0


def test_a_claim_whose_measurement_is_not_this_package_is_not_cached_across_runs(tmp_path):
    claim = select([CHEAP])[0]

    def measure(ctx):  # defined here, not in the catalogue: nothing names this code across runs
        return claim.measure(ctx)

    cache = CellCache(tmp_path / "c.sqlite")
    with pytest.warns(UncachedPluginWarning, match="measurement is not this package's code"):
        run_claim(dataclasses.replace(claim, measure=measure), make_reference(), "smoke", 0,
                  execution=Execution(cache=cache))
    assert cache.info()["cells"] == 0


# ------------------------------------------------------------------------------------------------
# the database file
# ------------------------------------------------------------------------------------------------
def _fill(db: Path) -> None:
    cache = CellCache(db)
    with cache._db:  # 300 entries in one transaction (cache.put commits each)
        cache._db.executemany("INSERT INTO cells (key, payload, checksum) VALUES (?, ?, ?)",
                              [(f"k{i}", f'[{{"x": {i}, "pad": "{"p" * 200}"}}]', "-") for i in range(300)])
    cache.close()


@pytest.mark.parametrize("how", ["mid-file", "truncated"])
def test_a_damaged_database_of_ours_is_moved_aside_with_one_warning_and_the_run_goes_on(tmp_path, how):
    db = tmp_path / "cache" / "cells.sqlite"
    _fill(db)
    data = bytearray(db.read_bytes())
    if how == "mid-file":
        data[len(data) // 2: len(data) // 2 + 2048] = b"\xff" * 2048
    else:
        data = data[: len(data) // 3]
    db.write_bytes(bytes(data))
    with pytest.warns(CacheCorruptWarning) as record:
        fresh = CellCache(db)
        results = [fresh.get(f"k{i}") for i in range(300)]
        fresh.put("new", [{"x": 1.0}])
    assert len([w for w in record if "moved it to" in str(w.message)]) == 1
    assert list((tmp_path / "cache").glob("cells.sqlite.corrupt-*"))
    assert fresh.get("new") == [{"x": 1.0}] and all(r is None for r in results)


COMMANDS = [["cache", "info"], ["cache", "clear"], ["cache", "audit"],
            ["verify", "--claims", CHEAP, "--budget", "smoke", "--quiet"]]


def _refused(tmp_path, capsys, words):
    """Every command stops with one line (exit 2), and nothing in ``tmp_path`` was renamed or added."""
    before = sorted(p.name for p in tmp_path.iterdir())
    for args in COMMANDS:
        out = ["--out", str(tmp_path / "out")] if args[0] == "verify" else []
        assert main([*args, *out]) == 2, args
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and words in err and "left untouched" in err, (args, err)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "out") == before


@pytest.mark.parametrize("content", [b'{"mine": 1}\n', b"\x00" * 100 + b"SQLite format 3\x00"])
def test_d16_a_cache_path_naming_a_file_that_is_not_sqlite_is_refused_and_left_untouched(
        tmp_path, monkeypatch, capsys, content):
    (tmp_path / "results.json").write_bytes(content)
    monkeypatch.setenv("RESNET_CLAIMS_CACHE", str(tmp_path / "results.json"))
    _refused(tmp_path, capsys, "is not an SQLite database")
    assert (tmp_path / "results.json").read_bytes() == content


@pytest.mark.parametrize("schema", ["CREATE TABLE cells (key TEXT PRIMARY KEY, value BLOB)",
                                    "CREATE TABLE notes (body TEXT)"])
def test_d18_an_sqlite_database_without_our_marker_is_refused_with_one_line(tmp_path, monkeypatch, capsys, schema):
    with sqlite3.connect(tmp_path / "cells.sqlite") as db:
        db.execute(schema)
    content = (tmp_path / "cells.sqlite").read_bytes()
    monkeypatch.setenv("RESNET_CLAIMS_CACHE", str(tmp_path))
    _refused(tmp_path, capsys, "another program or of an unknown layout")
    assert (tmp_path / "cells.sqlite").read_bytes() == content


@pytest.mark.parametrize("layout", ["marked-older", "unmarked-earlier-version"])
def test_d18_a_database_of_ours_with_another_layout_is_moved_aside_with_one_warning(tmp_path, layout):
    with sqlite3.connect(tmp_path / "cells.sqlite") as db:
        if layout == "marked-older":
            db.execute(f"PRAGMA application_id = {cache_mod.APPLICATION_ID}")
            db.execute("PRAGMA user_version = 1")
            db.execute("CREATE TABLE cells (key TEXT PRIMARY KEY, value BLOB)")
        else:  # the layout earlier versions wrote, before the marker
            db.execute("CREATE TABLE cells (key TEXT PRIMARY KEY, payload TEXT NOT NULL, checksum TEXT NOT NULL, "
                       "created REAL DEFAULT (julianday('now')), recipe TEXT)")
    with pytest.warns(CacheCorruptWarning, match="another version of resnet-claims") as record:
        cache = CellCache(tmp_path / "cells.sqlite")
    assert len(record) == 1 and len(list(tmp_path.glob("cells.sqlite.corrupt-*"))) == 1
    cache.put("k", [{"x": 1.0}])
    assert cache.get("k") == [{"x": 1.0}]


def test_d21_cache_clear_that_cannot_delete_exits_1(tmp_path, monkeypatch, capsys):
    CellCache(tmp_path / "cells.sqlite").put("k", [{"x": 1.0}])
    monkeypatch.setenv("RESNET_CLAIMS_CACHE", str(tmp_path))
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda target, *a, **kw: connect(f"file:{target}?mode=ro", uri=True))
    assert main(["cache", "clear"]) == 1  # the file is read-only to this process (an immutable file)
    assert "1 cell(s) remain" in capsys.readouterr().err
    monkeypatch.setattr(sqlite3, "connect", connect)
    assert CellCache(tmp_path / "cells.sqlite").info()["cells"] == 1


def test_an_unwritable_database_leaves_the_run_uncached_with_one_warning(tmp_path):
    db = tmp_path / "c.sqlite"
    cache = CellCache(db)
    cache._db.close()
    cache._db = sqlite3.connect(f"file:{db}?mode=ro", uri=True)  # the file is read-only to this process
    ex = Execution(cache=cache)
    with pytest.warns(CacheReadOnlyWarning, match="cannot be written") as record:
        entry = run_claim(select([CHEAP])[0], make_reference(), "smoke", 0, execution=ex)
    assert entry["verdict"] == "holds" and len(record) == 1 and ex.computed > 0


def test_a_cache_location_that_cannot_be_created_runs_uncached(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.warns(CacheReadOnlyWarning):
        cache = CellCache(tmp_path / "a-file" / "sub" / "cells.sqlite")
    cache.put("k", [{"x": 1.0}])
    assert cache.get("k") is None and cache.info()["cells"] == 0


@pytest.mark.parametrize("value, expected", [
    ("folder", "folder/cells.sqlite"), ("new.sqlite", "new.sqlite"), ("existing.bin", "existing.bin"),
    ("existing-folder.sqlite", "existing-folder.sqlite/cells.sqlite"),
])
def test_the_environment_variable_names_a_database_file_or_its_folder(tmp_path, monkeypatch, value, expected):
    (tmp_path / "existing.bin").write_bytes(b"")  # an empty file holds nothing to lose: it becomes the cache
    (tmp_path / "existing-folder.sqlite").mkdir()
    monkeypatch.setenv("RESNET_CLAIMS_CACHE", str(tmp_path / value))
    assert default_path() == tmp_path / expected
    cache = CellCache()
    cache.put("k", [{"x": 1.0}])
    assert (tmp_path / expected).is_file() and cache.get("k") == [{"x": 1.0}]


def test_a_forged_entry_with_a_matching_checksum_is_read_by_a_run(tmp_path):
    """The checksum catches damage, not forgery (docs/cache.md): only ``cache audit`` can tell."""
    claim, db = select([CHEAP])[0], tmp_path / "c.sqlite"
    run_claim(claim, make_reference(), "smoke", 0, execution=Execution(cache=CellCache(db)))
    with sqlite3.connect(db) as conn:
        key, payload = conn.execute("SELECT key, payload FROM cells ORDER BY key LIMIT 1").fetchone()
        rows = json.loads(payload)
        rows[0]["mean_displacement"] *= 2
        forged = json.dumps(rows, sort_keys=True)
        conn.execute("UPDATE cells SET payload = ?, checksum = ? WHERE key = ?",
                     (forged, hashlib.sha256(forged.encode()).hexdigest(), key))
    assert CellCache(db).get(key) == rows

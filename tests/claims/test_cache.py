"""The cell cache: hits after a run, keys that cover everything a cell depends on (plug-in factory,
helper modules, torch/numpy versions, cache_token), a damaged or unwritable database never stops a
run, and ``audit`` finds a forged entry."""
import hashlib
import json
import sqlite3
import sys
import textwrap
import types

import pytest
import torch

from claims import cache as cache_mod
from claims.cache import (CacheCorruptWarning, CacheReadOnlyWarning, CellCache, audit, cell_key, code_version,
                          default_path)
from claims.cli import main
from claims.plugins import resolve
from claims.run import Execution, UncachedPluginWarning, run_claim
from claims.spec import select
from reference_impl import make_reference

CHEAP = "marion.iid_sqrt_l_unique"


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
    impl = make_reference()
    base = dict(claim_id="c", params={"depth": 4}, replicate=0, seed=1, networks=8, impl=impl, device="cpu",
                dtype="float32", code="abc")
    keys = {cell_key(**base)}
    for change in ({"claim_id": "d"}, {"params": {"depth": 5}}, {"replicate": 1}, {"seed": 2}, {"networks": 9},
                   {"dtype": "float64"}, {"code": "abd"}, {"impl": type("I", (), {"name": "x", "version": "1"})()},
                   {"factory": make_reference}):
        keys.add(cell_key(**{**base, **change}))
    assert len(keys) == 10
    for module in (torch, cache_mod.numpy):
        monkeypatch.setattr(module, "__version__", "0.0.0-other")
        keys.add(cell_key(**base))
    assert len(keys) == 12
    impl.cache_token = "v2"
    assert cell_key(**base) not in keys


WRAPPER = '''
from reference_impl import make_reference
from reference_impl.controls import CONTROLS


class Wrapper:
    name, version = "wrapper", "1"

    def __init__(self, base):
        self.base, self.capabilities = base, base.capabilities

    def build(self, spec, n_networks, generator):
        return self.base.build(spec, n_networks, generator)


def good():
    return Wrapper(make_reference())


def bad():
    return Wrapper(CONTROLS["scale-exponent-off"])
'''


def test_two_factories_of_one_module_never_share_cells(tmp_path, monkeypatch):
    """Same name, version and class: only the factory differs. The second must not reuse the first's cells."""
    (tmp_path / "wrapper_mod.py").write_text(WRAPPER)
    monkeypatch.syspath_prepend(str(tmp_path))
    claim, cache = select([CHEAP])[0], CellCache(tmp_path / "c.sqlite")
    good, bad = resolve("wrapper_mod:good")[0], resolve("wrapper_mod:bad")[0]
    assert run_claim(claim, good, "smoke", 0, execution=Execution(cache=cache))["verdict"] == "holds"
    second = Execution(cache=cache)
    entry = run_claim(claim, bad, "smoke", 0, execution=second)
    assert second.computed == len(entry["cells"])  # (hypothesis then replays the violated example from the cache)
    assert entry["verdict"] == "violated"


def test_editing_a_helper_module_the_plugin_imports_changes_the_code_version(tmp_path, monkeypatch):
    (tmp_path / "helper_mod.py").write_text("SCALE = 1.0\n")
    (tmp_path / "plugin_mod.py").write_text(textwrap.dedent("""
        from helper_mod import SCALE

        class Impl:
            name, version = "helped", "1"
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    import plugin_mod

    before = code_version(plugin_mod.Impl())
    (tmp_path / "helper_mod.py").write_text("SCALE = 2.0  # edited\n")
    assert code_version(plugin_mod.Impl()) != before


def _runtime_plugin(monkeypatch, token=None):
    """A plug-in whose class lives in a module made at run time (no source file to hash)."""
    mod = types.ModuleType("made_at_run_time")
    body = {"__module__": "made_at_run_time", "name": "runtime", "version": "1",
            "capabilities": make_reference().capabilities, "build": lambda self, *a: make_reference().build(*a)}
    if token:
        body["cache_token"] = token
    mod.Impl = type("Impl", (), body)
    monkeypatch.setitem(sys.modules, "made_at_run_time", mod)
    return mod.Impl()


def test_a_plugin_without_readable_source_is_not_cached_unless_it_declares_a_cache_token(tmp_path, monkeypatch):
    claim = select([CHEAP])[0]
    assert code_version(_runtime_plugin(monkeypatch)) is None
    cache = CellCache(tmp_path / "c.sqlite")
    with pytest.warns(UncachedPluginWarning, match="not cached"):
        run_claim(claim, _runtime_plugin(monkeypatch), "smoke", 0, execution=Execution(cache=cache))
    assert cache.info()["cells"] == 0
    run_claim(claim, _runtime_plugin(monkeypatch, "runtime-v1"), "smoke", 0, execution=Execution(cache=cache))
    assert cache.info()["cells"] > 0


def _damage(path, how):
    data = bytearray(path.read_bytes())
    if how == "mid-file":
        data[len(data) // 2: len(data) // 2 + 2048] = b"\xff" * 2048
    elif how == "truncated":
        data = data[: len(data) // 3]
    elif how == "header":
        data[:100] = b"\x00" * 100
    else:
        data = b"just some text, not a database\n" * 50
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["mid-file", "truncated", "header", "text"])
def test_a_damaged_database_is_moved_aside_with_one_warning_and_the_run_goes_on(tmp_path, how, capsys):
    db = tmp_path / "cache" / "cells.sqlite"
    cache = CellCache(db)
    with cache._db:  # 300 entries in one transaction (cache.put commits each)
        cache._db.executemany("INSERT INTO cells (key, payload, checksum) VALUES (?, ?, ?)",
                              [(f"k{i}", f'[{{"x": {i}, "pad": "{"p" * 200}"}}]', "-") for i in range(300)])
    cache._db.close()
    _damage(db, how)
    with pytest.warns(CacheCorruptWarning) as record:
        fresh = CellCache(db)
        results = [fresh.get(f"k{i}") for i in range(300)]
        fresh.put("new", [{"x": 1.0}])
    assert len([w for w in record if "moved it to" in str(w.message)]) == 1
    assert list((tmp_path / "cache").glob("cells.sqlite.corrupt-*"))
    assert fresh.get("new") == [{"x": 1.0}] and all(r is None for r in results)


def test_cache_clear_works_on_a_text_file_in_place_of_the_database(tmp_path, monkeypatch, capsys):
    (tmp_path / "cells.sqlite").write_text("not sqlite\n" * 10)
    monkeypatch.setenv("RESNET_CLAIMS_CACHE", str(tmp_path))
    with pytest.warns(CacheCorruptWarning):
        assert main(["cache", "clear"]) == 0
    assert "removed 0 cell(s)" in capsys.readouterr().out


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
    (tmp_path / "existing.bin").write_bytes(b"")
    (tmp_path / "existing-folder.sqlite").mkdir()
    monkeypatch.setenv("RESNET_CLAIMS_CACHE", str(tmp_path / value))
    assert default_path() == tmp_path / expected
    cache = CellCache()
    cache.put("k", [{"x": 1.0}])
    assert (tmp_path / expected).is_file() and cache.get("k") == [{"x": 1.0}]


def test_audit_finds_a_forged_entry_whose_checksum_was_recomputed(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RESNET_CLAIMS_CACHE", str(tmp_path / "c.sqlite"))
    assert main(["verify", "--claims", CHEAP, "--budget", "smoke", "--out", str(tmp_path), "--quiet"]) == 0
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        key, payload = db.execute("SELECT key, payload FROM cells ORDER BY key LIMIT 1").fetchone()
        rows = json.loads(payload)
        rows[0]["mean_displacement"] *= 2  # forged: the value doubled, the checksum made to match
        forged = json.dumps(rows, sort_keys=True)
        db.execute("UPDATE cells SET payload = ?, checksum = ? WHERE key = ?",
                   (forged, hashlib.sha256(forged.encode()).hexdigest(), key))
    report = audit(CellCache(tmp_path / "c.sqlite"), 1.0)
    assert report["recomputed"] == report["entries"] > 1 and not report["skipped"]
    assert [d["key"] for d in report["differ"]] == [key[:12]]
    capsys.readouterr()
    assert main(["cache", "audit", "--fraction", "1"]) == 1
    out = capsys.readouterr().out
    assert f"DIFFERS: cell {key[:12]} of {CHEAP} on reference" in out and "1 differ" in out

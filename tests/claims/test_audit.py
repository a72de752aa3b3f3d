"""``resnet-claims cache audit``: a sample drawn from the clock (seed printed, repeatable), cells
recomputed from the catalogue's claim and the current code only, nothing named in the database
imported or called, and exit 1 whenever a sampled cell differs or could not be checked."""
import hashlib
import json
import math
import shutil
import sqlite3
import sys
from pathlib import Path

import pytest

from claims import audit as audit_mod
from claims.audit import audit
from claims.cache import CellCache
from claims.cli import main
from claims.plugins import resolve
from claims.run import Execution, run_claim
from claims.registry import select
from reference_impl import make_reference

sys.path.insert(0, str(Path(__file__).parent))  # the test plug-ins beside this file
from cache_plugins import plugin_folder  # noqa: E402

CHEAP = "marion.iid_sqrt_l_unique"


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A cache of the reference's smoke cells of CHEAP, made once (as `verify` makes them)."""
    db = tmp_path_factory.mktemp("filled") / "cells.sqlite"
    run_claim(select([CHEAP])[0], resolve("reference")[0], "smoke", 0, execution=Execution(cache=CellCache(db)))
    return db


@pytest.fixture
def cache(filled, tmp_path, monkeypatch):
    """A private copy of the filled cache, at $RESNET_CLAIMS_CACHE."""
    (tmp_path / "cache").mkdir()
    shutil.copy(filled, tmp_path / "cache" / "cells.sqlite")
    monkeypatch.setenv("RESNET_CLAIMS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "cells.sqlite"


def _forge(db, keys=None, recipe=lambda r: r):
    """Shift the stored numbers of ``keys`` (default: the first entry) with matching checksums, and
    rewrite their recipes with ``recipe`` (None: drop it). Returns the keys forged."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT key, payload, recipe FROM cells ORDER BY key").fetchall()
        keys = keys if keys is not None else [rows[0][0]]
        for key, payload, text in rows:
            if key not in keys:
                continue
            cells = json.loads(payload)
            for cell in cells:
                cell["mean_displacement"] *= 1.5
            forged = json.dumps(cells, sort_keys=True)
            new = recipe(json.loads(text))
            conn.execute("UPDATE cells SET payload = ?, checksum = ?, recipe = ? WHERE key = ?",
                         (forged, hashlib.sha256(forged.encode()).hexdigest(),
                          None if new is None else json.dumps(new) if not isinstance(new, str) else new, key))
    return keys


def _keys(db):
    with sqlite3.connect(db) as conn:
        return [k for (k,) in conn.execute("SELECT key FROM cells ORDER BY key")]


def test_an_untouched_cache_passes_and_a_forged_entry_is_found(cache, capsys):
    assert main(["cache", "audit", "--fraction", "1"]) == 0
    assert "0 differ, 0 not checked" in capsys.readouterr().out
    (key,) = _forge(cache)
    assert main(["cache", "audit", "--fraction", "1"]) == 1
    out = capsys.readouterr().out
    assert f"DIFFERS: cell {key[:12]} of {CHEAP} on reference" in out and "1 differ" in out


def test_d11_the_sample_is_seeded_from_the_clock_printed_and_repeated_by_seed(cache, monkeypatch, capsys):
    clock = iter([11_000_000_007, 22_000_000_009])
    monkeypatch.setattr(audit_mod.time, "time_ns", lambda: next(clock))
    first, second = audit(CellCache(cache), 0.1), audit(CellCache(cache), 0.1)
    assert first["seed"] != second["seed"] and first["sample"] != second["sample"] and first["sampled"] == 2
    assert audit(CellCache(cache), 0.1, seed=first["seed"])["sample"] == first["sample"]
    # the cells an audit with a fixed seed never looks at are forged: a sample from the clock finds them
    unsampled = [k for k in _keys(cache) if k[:12] not in first["sample"]]
    _forge(cache, unsampled)
    monkeypatch.setattr(audit_mod.time, "time_ns", lambda: 22_000_000_009)
    assert main(["cache", "audit"]) == 1
    out = capsys.readouterr().out
    assert f"audit seed {second['seed']} (repeat this sample with --seed {second['seed']})" in out and "DIFFERS" in out
    assert main(["cache", "audit", "--seed", str(first["seed"])]) == 0  # the fixed sample is blind to them


@pytest.mark.parametrize("mode, words", [
    ("no recipe", "no recipe beside it"), ("impl null", "DIFFERS"), ("seed bumped", "its key is not what this code"),
    ("not json", "not valid JSON"), ("unknown claim", "no claim 'marion.nope' in this catalogue"),
    ("params changed", "its key is not what this code"),
])
def test_d12_a_forged_entry_fails_the_audit_whatever_its_recipe_says(cache, capsys, mode, words):
    change = {"no recipe": lambda r: None, "impl null": lambda r: {**r, "impl": None},
              "seed bumped": lambda r: {**r, "seed": r["seed"] + 1}, "not json": lambda r: "{not json",
              "unknown claim": lambda r: {**r, "claim": "marion.nope"},
              "params changed": lambda r: {**r, "params": {**r["params"], "depth": 3}}}[mode]
    (key,) = _forge(cache, recipe=change)
    assert main(["cache", "audit", "--fraction", "1"]) == 1
    out = capsys.readouterr().out
    assert words in out and key[:12] in out and "skipped" not in out


def test_a_damaged_entry_fails_the_audit(cache, capsys):
    with sqlite3.connect(cache) as conn:
        (key,) = conn.execute("SELECT key FROM cells ORDER BY key LIMIT 1").fetchone()
        conn.execute("UPDATE cells SET checksum = 'x' WHERE key = ?", (key,))
    assert main(["cache", "audit", "--fraction", "1"]) == 1
    assert f"NOT CHECKED: cell {key[:12]}: its payload fails its checksum" in capsys.readouterr().out


def test_d13_the_audit_never_imports_or_calls_what_a_recipe_names(cache, tmp_path, capsys):
    with plugin_folder(tmp_path / "plugins") as folder:
        marker = tmp_path / "imported"
        (folder / "cw_tripwire.py").write_text(f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\n"
                                               "def factory():\n    raise SystemExit('called')\n")
        _forge(cache, recipe=lambda r: {**r, "impl": "cw_tripwire:factory", "measure": "cw_tripwire:factory",
                                        "claim": CHEAP})
        assert main(["cache", "audit", "--fraction", "1"]) == 1
        assert not marker.exists() and "cw_tripwire" not in sys.modules
    assert "DIFFERS" in capsys.readouterr().out


def test_a_plugins_cells_are_checked_only_when_impl_names_it(tmp_path, monkeypatch, capsys):
    with plugin_folder(tmp_path / "plugins"):
        db = tmp_path / "cache" / "cells.sqlite"
        run_claim(select([CHEAP])[0], resolve("cw_token:good")[0], "smoke", 0, execution=Execution(cache=CellCache(db)))
        monkeypatch.setenv("RESNET_CLAIMS_CACHE", str(db))
        assert main(["cache", "audit", "--fraction", "0.1"]) == 1
        out = capsys.readouterr().out
        assert "NOT CHECKED" in out and "pass it with --impl" in out
        assert main(["cache", "audit", "--fraction", "0.1", "--impl", "cw_token:good"]) == 0
        monkeypatch.setattr(sys.modules["cw_token"].Tokened, "build", lambda *a: 1 / 0)
        assert main(["cache", "audit", "--fraction", "0.1", "--impl", "cw_token:good"]) == 1
        assert "recomputing it failed" in capsys.readouterr().out


def test_cells_the_python_api_cached_for_a_shipped_object_are_checked(tmp_path):
    db = tmp_path / "cells.sqlite"
    run_claim(select([CHEAP])[0], make_reference(), "smoke", 0, execution=Execution(cache=CellCache(db)))
    report = audit(CellCache(db), 0.1)
    assert report["equal"] == report["sampled"] > 0


def test_an_empty_cache_checks_nothing_and_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RESNET_CLAIMS_CACHE", str(tmp_path))
    assert main(["cache", "audit"]) == 1
    assert "nothing to audit" in capsys.readouterr().out


def test_numbers_are_compared_up_to_float_reassociation():
    assert audit_mod.same([{"x": 1.0, "n": "a"}], [{"x": 1.0 + 1e-9, "n": "a"}])
    assert not audit_mod.same([{"x": 1.0}], [{"x": 1.001}]) and not audit_mod.same([{"x": 1.0}], [{"y": 1.0}])
    assert not audit_mod.same([{"x": math.nan}], [{"x": 1.0}])

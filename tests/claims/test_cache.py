"""The cell cache: hits after a run, corrupt entries recomputed with a warning, keys that change with inputs."""
import sqlite3

import pytest

from claims.cache import CacheCorruptWarning, CellCache, cell_key
from claims.run import Execution, run_claim
from claims.spec import select
from reference_impl import make_reference


def test_second_run_is_served_from_cache_with_identical_numbers(tmp_path):
    claim, impl = select(["marion.gradient_dichotomy"])[0], make_reference()
    first, second = Execution(cache=CellCache(tmp_path / "c.sqlite")), Execution(cache=CellCache(tmp_path / "c.sqlite"))
    a = run_claim(claim, impl, "smoke", 0, execution=first)
    b = run_claim(claim, impl, "smoke", 0, execution=second)
    assert first.computed > 0 and first.cached == 0
    assert second.computed == 0 and second.cached == first.computed
    assert a["estimate"] == b["estimate"] and a["cells"] == b["cells"]


def test_corrupt_entry_is_detected_dropped_and_recomputed(tmp_path):
    cache = CellCache(tmp_path / "c.sqlite")
    cache.put("k", [{"x": 1.0}])
    with sqlite3.connect(tmp_path / "c.sqlite") as db:
        db.execute("UPDATE cells SET payload = ? WHERE key = 'k'", ('[{"x": 2.0}]',))
    with pytest.warns(CacheCorruptWarning, match="corrupt"):
        assert cache.get("k") is None
    assert cache.info()["cells"] == 0


def test_a_file_that_is_not_sqlite_gives_a_clear_error(tmp_path):
    bad = tmp_path / "c.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RuntimeError, match="not a readable SQLite database"):
        CellCache(bad)


def test_key_changes_with_every_input():
    impl = make_reference()
    base = dict(claim_id="c", params={"depth": 4}, replicate=0, seed=1, networks=8, impl=impl, device="cpu",
                dtype="float32", code="abc")
    keys = {cell_key(**base)}
    for change in ({"claim_id": "d"}, {"params": {"depth": 5}}, {"replicate": 1}, {"seed": 2}, {"networks": 9},
                   {"dtype": "float64"}, {"code": "abd"}, {"impl": type("I", (), {"name": "x", "version": "1"})()}):
        keys.add(cell_key(**{**base, **change}))
    assert len(keys) == 9

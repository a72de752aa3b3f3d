"""The catalogue's readings as people read them (names, supports, parameters, predictions, tolerances,
degeneracy, derived values, kinds) equal the pinned file; a change of one is an amendment
(claims/catalogue/amendments.toml, checked through the declaration digests)."""
import json
from pathlib import Path

from claims.readings import declared_readings

PINNED = Path(__file__).with_name("readings.json")


def test_declared_readings_equal_the_pinned_file():
    now = json.loads(json.dumps(declared_readings(), sort_keys=True, default=repr))
    assert now == json.loads(PINNED.read_text()), (
        "the catalogue's readings differ from tests/claims/catalogue/readings.json; a change of a reading is an "
        "amendment (claims/catalogue/amendments.toml). Regenerate with "
        "`python -m claims.readings > tests/claims/catalogue/readings.json`")

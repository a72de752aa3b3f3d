"""Readings are declared before any data and must not move after verdicts are seen: the catalogue's
readings (names, supports, parameters, predictions, tolerances, degeneracy) equal the pinned file."""
import json
from pathlib import Path

from claims.readings import declared_readings

PINNED = Path(__file__).with_name("readings.json")


def test_declared_readings_equal_the_pinned_file():
    now = json.loads(json.dumps(declared_readings(), sort_keys=True, default=repr))
    assert now == json.loads(PINNED.read_text()), (
        "the catalogue's readings differ from tests/claims/catalogue/readings.json; a change of a reading after "
        "its verdict was seen needs its own reason in the commit. Regenerate with "
        "`python -m claims.readings > tests/claims/catalogue/readings.json`")

"""Negative controls travel to worker processes: each one pickles by name and comes back as itself."""
import pickle

import pytest

import claims.catalogue  # noqa: F401  (registers the catalogue's controls)
from reference_impl.controls import CONTROLS, SpecDefect, registered


@pytest.mark.parametrize("name", sorted(CONTROLS))
def test_a_control_pickles_to_the_registered_one(name: str) -> None:
    assert pickle.loads(pickle.dumps(CONTROLS[name])) is CONTROLS[name]


def test_an_unregistered_control_is_named_when_unpickled() -> None:
    stray = SpecDefect("stray", "not registered", lambda s: s)
    with pytest.raises(KeyError, match="control 'stray' is not registered .* by " + __name__):
        pickle.loads(pickle.dumps(stray))
    assert registered("scale-twice", "reference_impl.controls") is CONTROLS["scale-twice"]

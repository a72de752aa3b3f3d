"""The registry: every catalogue module imported, claims in the catalogue's order, lookup by id or glob."""
import pytest

from claims.registry import all_claims, select
from claims.spec import ClaimError, registered


def test_every_claim_is_registered_once_in_the_catalogue_order():
    ids = [c.id for c in all_claims()]
    assert len(ids) == len(set(ids)) and ids == [c.id for c in registered()]
    assert {"marion", "fischer", "nfd"} <= {i.split(".")[0] for i in ids}


def test_select_by_glob_keeps_the_catalogue_order_and_names_an_unknown_id():
    marion = select(["marion.*"])
    assert marion and all(c.id.startswith("marion.") for c in marion)
    assert [c.id for c in marion] == [c.id for c in all_claims() if c.id.startswith("marion.")]
    assert select([marion[1].id, "marion.*"])[0] is marion[1]  # first pattern first, no duplicates
    assert select(None) == all_claims()
    with pytest.raises(ClaimError, match="unknown claim id 'marion.nope'; known ids"):
        select(["marion.nope"])

"""Property claims say how many configurations were tried, apart from hypothesis's replays."""
from claims.plugins import resolve
from claims.run import run_claim
from claims.registry import select


def test_a_violated_example_replayed_by_hypothesis_is_counted_once():
    claim = select(["marion.iid_sqrt_l_unique"])[0]
    assert claim.examples["smoke"] == 1
    entry = run_claim(claim, resolve("scale-exponent-off")[0], "smoke", 0)
    assert entry["verdict"] == "violated" and len(entry["configs"]) == 1
    assert entry["message"].startswith("1 configuration(s) tried (of 1 drawn at most)")
    assert "the failing one replayed 1 time(s) by hypothesis" in entry["message"]

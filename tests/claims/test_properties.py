"""Property claims: the examples drawn are fixed by a declared seed, and the configurations tried are
counted apart from hypothesis's replays."""
from claims.plugins import resolve
from claims.properties import property_entry
from claims.registry import select
from claims.run import run_claim


def _drawn(claim_id, budget):
    """The configurations a property claim tries at ``budget`` when every example holds (no cell is run)."""
    def holds(config, level):
        return {"verdict": "holds", "seconds": 0.0, "config": config, "estimate": 0.0, "ci": [0.0, 0.0], "message": ""}

    return [e["config"] for e in property_entry(select([claim_id])[0], budget, holds)["configs"]]


def test_the_examples_drawn_are_those_the_claims_were_measured_with():
    """Pinned: the draws depend on EXAMPLES_SEED (and hypothesis's version), not on the engine's source text."""
    assert _drawn("marion.iid_sqrt_l_unique", "default") == [
        {"block": "res1", "activation": "relu", "sigma_w2": 1.0, "init": "gaussian"},
        {"block": "res1", "activation": "relu", "sigma_w2": 0.5, "init": "gaussian"},
        {"block": "res3", "activation": "relu", "sigma_w2": 1.0, "init": "gaussian"}]
    assert _drawn("marion.gradient_dichotomy", "default") == [{"init": "gaussian"}, {"init": "uniform"}]


def test_a_violated_example_replayed_by_hypothesis_is_counted_once():
    claim = select(["marion.iid_sqrt_l_unique"])[0]
    assert claim.examples["smoke"] == 1
    entry = run_claim(claim, resolve("scale-exponent-off")[0], "smoke", 0)
    assert entry["verdict"] == "violated" and len(entry["configs"]) == 1
    assert entry["message"].startswith("1 configuration(s) tried (of 1 drawn at most)")
    assert "the failing one replayed 1 time(s) by hypothesis" in entry["message"]

"""Property claims: a theorem over a class of configurations, tested on hypothesis-drawn examples.

Hypothesis draws configurations (derandomised: the same examples every run), each example runs the
statistical test at a Bonferroni-corrected level so that the family keeps the claim's level, and a
violated example is shrunk (thorough budget only; shrinking re-runs the Monte Carlo) to the
smallest failing configuration, reported so a user can rerun exactly it with ``--config``.
How one configuration is tested is the caller's (claims.run passes its ``run_once``).
"""
from __future__ import annotations

import json
from typing import Any, Callable

from hypothesis import HealthCheck, Phase, given, seed, settings

from .aggregate import property_verdict
from .spec import Claim
from .stats import bonferroni_level

# The examples are drawn from this seed, not from this module's source text: hypothesis's derandomize
# seeds its draws from the test function's source, which any edit here would change. The value is the
# seed derandomize gave before it was made explicit, so the examples are those every property claim
# has been measured with (tests/claims/test_properties.py pins them).
EXAMPLES_SEED = int("6924f126d6a59050073f8447adef44b733b170a9445381ed018355ac1e23ba23"
                    "2fbf9b6503885624da17702d10b3fac8", 16)


class _Violated(AssertionError):
    pass


def property_entry(claim: Claim, budget: str, test: Callable[[dict[str, Any], float], dict[str, Any]]) -> dict[str, Any]:
    """Draw the configurations of a property claim, test each with ``test(config, level)`` (the
    statistical test of one configuration at the per-example level, returning its results entry) and
    combine the examples' entries into the claim's entry; its top-level numbers are those of the
    first example (the smallest failing one when shrinking)."""
    n_examples = claim.examples.get(budget, 1)
    level = bonferroni_level(claim.level, n_examples)
    tried: dict[str, dict[str, Any]] = {}  # configuration (JSON) -> its entry, in the order first tried
    replays = [0]
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if budget == "thorough" else [])

    @settings(max_examples=n_examples, derandomize=True, database=None, deadline=None, phases=phases,
              suppress_health_check=list(HealthCheck))
    @given(claim.config_space())
    @seed(EXAMPLES_SEED)
    def example(config: dict[str, Any]) -> None:
        key = json.dumps(config, sort_keys=True)
        if key in tried:  # hypothesis replays a failing example: the same cells, the same verdict
            replays[0] += 1
        else:
            tried[key] = test(config, level)
        if tried[key]["verdict"] == "violated":
            raise _Violated(key)

    try:
        example()
    except _Violated:
        pass
    entries = list(tried.values())
    failing = [e for e in entries if e["verdict"] == "violated"]
    decided = [e for e in entries if e["verdict"] != "not applicable"]
    # with shrinking, the smallest failing example is the last one tried; otherwise the first decided one
    first = dict(failing[-1] if failing else (decided or entries)[0])
    verdict = property_verdict([e["verdict"] for e in entries])
    first["verdict"] = verdict
    first["seconds"] = sum(e["seconds"] for e in entries)
    first["configs"] = [
        {"config": e["config"], "verdict": e["verdict"], "estimate": e["estimate"], "ci": e["ci"]} for e in entries
    ]
    declined = len(entries) - len(decided)
    first["message"] = (
        f"{len(entries)} configuration(s) tried (of {n_examples} drawn at most) at per-example level {level:.4g}"
        + (f", the failing one replayed {replays[0]} time(s) by hypothesis" if replays[0] else "")
        + f": {verdict}"
        + (f" ({declined} not applicable: the plug-in declines them; decided on the rest)" if declined else "")
        + (f"; failing config {json.dumps(first['config'], sort_keys=True)}" if failing else "")
        + f"; shown: {first['message']}"
    )
    return first

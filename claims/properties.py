"""Property claims: a theorem over a class of configurations, tested on hypothesis-drawn examples.

Hypothesis draws configurations (derandomised: the same examples every run), each example runs the
statistical test at a Bonferroni-corrected level so that the family keeps the claim's level, and a
violated example is shrunk (thorough budget only; shrinking re-runs the Monte Carlo) to the
smallest failing configuration, reported so a user can rerun exactly it with ``--config``.
"""
from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

from .aggregate import property_verdict
from .spec import Claim
from .stats import bonferroni_level


class _Violated(AssertionError):
    pass


def run_property(
    claim: Claim, impl: Any, budget: str, seed: int, device: str, dtype: str, execution: Any = None
) -> dict[str, Any]:
    """Run a property claim; the entry's top-level numbers are those of the first example."""
    from .run import run_once

    n_examples = claim.examples.get(budget, 1)
    level = bonferroni_level(claim.level, n_examples)
    tried: list[dict[str, Any]] = []
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if budget == "thorough" else [])

    @settings(max_examples=n_examples, derandomize=True, database=None, deadline=None, phases=phases,
              suppress_health_check=list(HealthCheck))
    @given(claim.config_space())
    def example(config: dict[str, Any]) -> None:
        entry = run_once(claim, impl, budget, seed, device, dtype, config, level, execution)
        tried.append(entry)
        if entry["verdict"] == "violated":
            raise _Violated(json.dumps(config, sort_keys=True))

    try:
        example()
    except _Violated:
        pass
    failing = [e for e in tried if e["verdict"] == "violated"]
    decided = [e for e in tried if e["verdict"] != "not applicable"]
    # hypothesis replays the smallest failing example last; otherwise show the first decided example
    first = dict(failing[-1] if failing else (decided or tried)[0])
    verdict = property_verdict([e["verdict"] for e in tried])
    first["verdict"] = verdict
    first["seconds"] = sum(e["seconds"] for e in tried)
    first["configs"] = [
        {"config": e["config"], "verdict": e["verdict"], "estimate": e["estimate"], "ci": e["ci"]} for e in tried
    ]
    declined = len(tried) - len(decided)
    first["message"] = (
        f"{len(tried)} configuration(s) at per-example level {level:.4g}: {verdict}"
        + (f" ({declined} not applicable: the plug-in declines them; decided on the rest)" if declined else "")
        + (f"; failing config {json.dumps(first['config'], sort_keys=True)}" if failing else "")
        + f"; shown: {first['message']}"
    )
    return first

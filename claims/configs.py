"""Which ``--config`` fields a claim honours, and what networks its sweeps build.

A claim's measurement reads some of its parameters; a ``--config`` field it never reads would be
recorded in the results while every measured network ignored it. ``Claim.honours`` lists the fields
the measurement uses (empty: the sweeps' fixed keys plus the config-space keys); a budget's swept
axes and inner axes are left out, because the sweep's values replace a configured one.
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping

from reference_impl.protocol import NetSpec

from .spec import BUDGETS, Claim, ClaimError


def _config_space_keys(claim: Claim) -> set[str]:
    """Keys of the configurations a property claim draws (a few derandomized draws)."""
    if claim.config_space is None:
        return set()
    from hypothesis import HealthCheck, given, settings

    keys: set[str] = set()

    @settings(max_examples=20, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(claim.config_space())
    def collect(config: Mapping[str, Any]) -> None:
        keys.update(config)

    collect()
    return keys


def honoured_fields(claim: Claim, budget: str = "default") -> tuple[str, ...]:
    """The --config fields ``claim`` honours at ``budget``, sorted."""
    sweep = claim.sweep(budget)
    declared = set(claim.honours) or set(sweep.fixed) | _config_space_keys(claim)
    return tuple(sorted(declared - set(sweep.axes) - set(sweep.inner)))


def check_config(claim: Claim, config: Mapping[str, Any] | None, budget: str = "default") -> None:
    """Raise ClaimError naming the fields of ``config`` that ``claim`` does not honour, with the list."""
    unknown = sorted(set(config or {}) - set(honoured_fields(claim, budget)))
    if unknown:
        raise ClaimError(f"--config field(s) {unknown} are not honoured by {claim.id} at budget {budget}; it honours: "
                         f"{', '.join(honoured_fields(claim, budget)) or 'none'}")


def netspec_summary(claim: Claim, budget: str) -> str:
    """The NetSpec fields a budget's sweep sets (swept ones as their value lists), with S and replicates."""
    sweep = claim.sweep(budget)
    names = {f.name for f in fields(NetSpec)}
    parts = [f"{k}={v!r}" for k, v in sweep.fixed.items() if k in names]
    parts += [f"{k} in {tuple(v)}" for k, v in {**sweep.axes, **sweep.inner}.items() if k in names]
    return f"NetSpec({', '.join(parts)}); S = {sweep.networks} networks x {sweep.replicates} replicate cell(s)"


def describe_claim(claim: Claim) -> str:
    """Multi-line text for ``resnet-claims list --verbose ID``."""
    lines = [claim.id, f"    {claim.statement}", f"    requires: {claim.requires}"]
    for budget in BUDGETS:
        lines.append(f"    {budget}: {netspec_summary(claim, budget)}")
        lines.append(f"        honours --config: {', '.join(honoured_fields(claim, budget)) or 'none'}")
    return "\n".join(lines)

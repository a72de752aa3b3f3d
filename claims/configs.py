"""Which ``--config`` fields a claim honours, and what networks its sweeps build.

A claim's measurement reads some of its parameters; a ``--config`` field it never reads would be
recorded in the results while every measured network ignored it. ``Claim.honours`` lists the fields
the measurement uses (empty: the sweeps' fixed keys plus the config-space keys); a budget's swept
axes and inner axes are left out, because the sweep's values replace a configured one.
"""
from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, Callable, Mapping

import torch

from reference_impl.protocol import NetSpec, SpecError
from reference_impl.training import LOSSES

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


def _integer(low: int) -> tuple[str, Callable[[Any], bool]]:
    return (f"an integer >= {low}",
            lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low)


def _number(what: str, ok: Callable[[float], bool]) -> tuple[str, Callable[[Any], bool]]:
    return (what, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and ok(v))


def _one_of(*allowed: str) -> tuple[str, Callable[[Any], bool]]:
    return (f"one of {', '.join(map(repr, allowed))}", lambda v: v in allowed)


def _fischer_c0(v: Any) -> bool:
    from .catalogue.fischer2023.networks import DC  # the secant c0 +- DC must stay a correlation

    return abs(v) + DC <= 1


MAX_LR = 1e6

# The --config fields that are not NetSpec fields (NetSpec checks its own): what each takes. An int
# field given 2.5 is refused, never truncated; every number must be finite.
FIELD_RULES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "steps": _integer(1),  # SGD steps of the training claims
    "n_train": _integer(1),
    "n_test": _integer(0),
    "task_seed": _integer(0),
    # depth-muP SGD rates are O(1) (the claims use 1); far larger ones overflow the float64 training
    # (at smoke, seed 0: lr = 1e10 still gives finite numbers, 1e50 does not)
    "lr": _number(f"a learning rate 0 < lr <= {MAX_LR:g}", lambda v: 0 < v <= MAX_LR),
    "loss": _one_of(*LOSSES),
    "path": _one_of("dense", "lazy"),
    "post_branch_input": _one_of("h", "phi"),
    "first_layer_lr_exponent": _number("a finite number", lambda v: True),
    "lr_depth_exponent": _number("a finite number", lambda v: True),
    "target_offset": _number("a finite number", lambda v: True),
    "decoupled": ("true or false", lambda v: isinstance(v, bool)),
    "input_layer": ("true or false", lambda v: isinstance(v, bool)),
    "q0": _number("a finite positive input variance", lambda v: v > 0),
    "c0": _number("an input correlation c0 with |c0| + DC <= 1 (its secant is c0 +- DC, claims/catalogue/fischer2023/networks.py)",
                  _fischer_c0),
    "grid": ("an odd integer >= 7 (the vertex fit uses 3 lattice points each side)",
             lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 7 and v % 2 == 1),
    "lattice": _number("a finite positive lattice step", lambda v: v > 0),
}


def check_values(config: Mapping[str, Any] | None) -> None:
    """Raise ClaimError naming the first field of ``config`` whose value its rule (FIELD_RULES) refuses."""
    from json import dumps

    for key, value in (config or {}).items():
        rule = FIELD_RULES.get(key)
        if rule is not None and not rule[1](value):
            raise ClaimError(f"--config {key}={dumps(value)} is not allowed: {key} takes {rule[0]}")


def check_not_degenerate(claim: Claim, config: Mapping[str, Any] | None, budget: str, dtype: str) -> None:
    """Raise ClaimError when ``config`` makes every network of the claim's sweep the identity in
    ``dtype``: a residual branch of relative size a sqrt(sigma_w2) (a = scale L^-beta, at the deepest
    and shallowest depth) below the dtype's rounding unit leaves h unchanged, so all networks agree
    whatever the implementation (validation would otherwise blame the plug-in)."""
    sweep = claim.sweep(budget)
    params = {**sweep.fixed, **dict(config or {})}
    depths = [d for k, v in {**sweep.axes, **sweep.inner}.items() if k == "depth"
              for d in (v if isinstance(v, (list, tuple)) else [v])] or [params.get("depth", 1)]
    names = {f.name for f in fields(NetSpec)}
    eps = torch.finfo(getattr(torch, dtype)).eps
    for depth in (min(depths), max(depths)):
        try:
            spec = NetSpec(**{**{k: v for k, v in params.items() if k in names}, "width": 1, "depth": int(depth)})
        except (SpecError, TypeError, ValueError):
            return  # not one NetSpec (the measurement builds its own): nothing to tell here
        size = abs(spec.branch_multiplier) * math.sqrt(spec.sigma_w2)
        if 0 < size < eps:
            given = ", ".join(f"{k}={params[k]!r}" for k in ("sigma_w2", "scale", "beta") if k in (config or {}))
            raise ClaimError(f"--config {given}: at depth {depth} the residual branch a sqrt(sigma_w2) = {size:.3g} "
                             f"(a = scale L^-beta) is below {dtype}'s rounding unit {eps:.3g}, so every network "
                             f"computes the identity in {dtype} whatever the implementation; use larger values "
                             "or --dtype float64")


def check_config(claim: Claim, config: Mapping[str, Any] | None, budget: str = "default",
                 dtype: str | None = None) -> None:
    """Raise ClaimError naming the fields of ``config`` that ``claim`` does not honour, with the list;
    a value its field does not take (FIELD_RULES); with ``dtype``, a configuration that makes every
    network the identity in that dtype (check_not_degenerate)."""
    unknown = sorted(set(config or {}) - set(honoured_fields(claim, budget)))
    if unknown:
        raise ClaimError(f"--config field(s) {unknown} are not honoured by {claim.id} at budget {budget}; it honours: "
                         f"{', '.join(honoured_fields(claim, budget)) or 'none'}")
    check_values(config)
    if dtype is not None:
        check_not_degenerate(claim, config, budget, dtype)


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

"""A claim on a plug-in that declares its family: run it inside the claim's derivation, or say why not.

A plug-in may declare ``family`` (reference_impl.protocol.Family: block forms, pre/post activation,
activations, input layer, biases); each claim declares ``Claim.blocks``, the block forms its prediction
was derived for. ``in_family`` picks the configuration the claim runs with on the plug-in: when the
claim's own block form is one the plug-in does not build, a block form both cover is set in the
configuration (the claim builds its probe and sweep in it); when none is common, or the claim needs a
pre-/post-activation form or activation the plug-in does not build, the reason of its `not applicable`.
A plug-in without ``family`` runs every claim as declared (its ``build`` may still decline a spec).
"""
from __future__ import annotations

from typing import Any, Mapping

from .configs import honoured_fields
from .spec import Claim


def _claim_value(claim: Claim, config: Mapping[str, Any] | None, budget: str, field: str, default: Any) -> Any:
    return dict(config or {}).get(field, claim.sweep(budget).fixed.get(field, default))


def in_family(claim: Claim, impl: Any, config: Mapping[str, Any] | None,
              budget: str) -> tuple[dict[str, Any] | None, str | None]:
    """(the configuration to run ``claim`` with on ``impl``, None) or (None, the reason it is not applicable)."""
    family = getattr(impl, "family", None)
    if family is None:
        return (None if config is None else dict(config)), None
    name = getattr(impl, "name", type(impl).__name__)
    common = [b for b in claim.blocks if b in family.blocks]
    if not common:
        return None, (f"not applicable: derived for {' and '.join(claim.blocks)} blocks only; plug-in {name!r} "
                      f"implements {family.describe()}")
    out = dict(config or {})
    honoured = honoured_fields(claim, budget)
    if "block" in honoured and _claim_value(claim, config, budget, "block", "res1") not in family.blocks:
        if claim.config_space is None or config is not None:  # a property claim draws its block forms itself
            out["block"] = common[0]
    preact = _claim_value(claim, config, budget, "preact", True)
    if preact not in family.preact:
        form = "pre" if preact else "post"
        return None, (f"not applicable: measures {form}-activation blocks; plug-in {name!r} implements "
                      f"{family.describe()}")
    activation = _claim_value(claim, config, budget, "activation", None)
    if isinstance(activation, str) and activation not in family.activations:
        return None, (f"not applicable: measures activation {activation!r}; plug-in {name!r} implements "
                      f"{family.describe()}")
    return (out if out or config is not None else None), None

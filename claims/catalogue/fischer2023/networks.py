"""The networks of the Fischer readings, the paper's constants, and the readings built from them.

A reading is a block form and an input layer (and a bias) a reader of the abstract could take
(fischer2023.md section 3); ``NETWORKS`` holds each one's NetSpec-level parameters, which reach the
measurement through ``ctx.params``, and ``SUPPORT`` the line of the abstract that supports it.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from ...spec import Reading, Sweep

PAPER = "Fischer, Dahmen, Helias (2023/2025), Field theory for optimal signal propagation in ResNets"
ARXIV = "2305.07715"
DERIVED = "derived here (fischer2023.md), not quoted from the paper"

ACT = "erf"
Q0 = 1.0  # input variance per coordinate (before an input layer)
C0, DC = 0.9, 0.05  # default input correlation of the response and the half-width of its secant
BIAS_READING = 0.05  # bias variance of the Vphi+bias reading

NETWORKS: dict[str, dict[str, Any]] = {  # reading name -> NetSpec-level parameters (reach ctx.params)
    "Vphi": {"block": "res1", "input_layer": False, "bias_var": 0.0},
    "Vphi+input": {"block": "res1", "input_layer": True, "bias_var": 0.0},
    "Vphi+bias": {"block": "res1", "input_layer": False, "bias_var": BIAS_READING},
    "phiW": {"block": "res1w", "input_layer": False, "bias_var": 0.0},
    "phiW+input": {"block": "res1w", "input_layer": True, "bias_var": 0.0},
}
SUPPORT = {
    "Vphi": "abstract: 'a scaling parameter for the residual branch'; the branch alpha W phi(x) of the signal-propagation "
            "literature, input taken as the first hidden state",
    "Vphi+input": "abstract: 'weight variance' as a network hyperparameter; an input layer drawn with the same "
                  "sigma_w^2 / d as every other layer (the usual mean-field convention)",
    "Vphi+bias": "abstract: 'other network hyperparameters, such as the weight variance' (plural); a bias variance is "
                 "the other standard mean-field hyperparameter",
    "phiW": "abstract: 'scaling parameter for the residual branch' fits alpha phi(W x) as well (the weight inside the "
            "nonlinearity, alpha outside)",
    "phiW+input": "the phiW branch after an input layer of variance sigma_w^2 / d (both conventions above together)",
}
SYMMETRIC = ("alpha V with V ~ N(0, sigma_w^2/n) has the law of (alpha sigma_w) V', V' ~ N(0, 1/n): every statistic "
             "depends on alpha only through alpha sigma_w, so alpha* ~ sigma_w^-1 before any data")


def network(params: Mapping[str, Any]) -> tuple[str, bool, float]:
    """(block form, input layer?, bias variance) of a reading's parameters (defaults: Vphi)."""
    return str(params.get("block", "res1")), bool(params.get("input_layer", False)), float(params.get("bias_var", 0.0))


def theory_args(params: Mapping[str, Any], sigma_w2: float) -> dict[str, Any]:
    """Keyword arguments of the theory functions for a reading at weight variance sigma_w2: the input layer
    multiplies the first hidden variance by sigma_w2 (q0 -> sigma_w2 q0)."""
    form, inp, bias = network(params)
    return {"q0": Q0 * (sigma_w2 if inp else 1.0), "bias_var": bias, "activation": ACT, "form": form}


def network_readings(names: Sequence[str], sweeps: Callable[[Mapping[str, Any]], dict[str, Sweep]],
                     degenerate: Mapping[str, str] | None = None) -> tuple[Reading, ...]:
    """The network readings ``names``, each with its own sweeps (the alpha grid follows its prediction)."""
    return tuple(Reading(name, SUPPORT[name], params=NETWORKS[name], sweeps=sweeps(NETWORKS[name]),
                         degenerate=(degenerate or {}).get(name, "")) for name in names)

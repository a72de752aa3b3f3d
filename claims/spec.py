"""How a claim is declared (the Claim dataclass) and the registry that holds the catalogue."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from reference_impl.protocol import Capability, NetSpec

from .digest import claim_digest, reading_digest

BUDGETS = ("smoke", "default", "thorough")
VERDICTS = ("holds", "violated", "inconclusive", "reading-dependent", "error", "not applicable")
# "paper": evidence about a paper's statement; "implementation check": holds by construction for any correct
# implementation (an identity, the chain rule), a check of a plug-in and no evidence about a paper
KINDS = ("paper", "implementation check")


class ClaimError(ValueError):
    """Bad usage of the claim catalogue: unknown id, unknown budget, bad config."""


@dataclass(frozen=True)
class Source:
    """Where a claim comes from."""

    paper: str
    arxiv: str
    where: str


@dataclass(frozen=True)
class Sweep:
    """The grid for one budget: cells are the product of ``axes`` times ``replicates``.

    ``inner`` axes are handled inside one measurement call (the same networks evaluated at every
    inner value: common random numbers); ``networks`` is S, the ensemble size of one cell.
    """

    axes: Mapping[str, Sequence[Any]]
    replicates: int
    networks: int
    inner: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "axes": {k: list(v) for k, v in self.axes.items()},
            "inner": {k: list(v) for k, v in self.inner.items()},
            "replicates": self.replicates,
            "networks": self.networks,
            "fixed": dict(self.fixed),
        }


@dataclass(frozen=True)
class CellContext:
    """Everything one measurement may use; a cell's result depends on nothing else."""

    params: Mapping[str, Any]
    replicate: int
    seed: int
    networks: int
    impl: Any
    device: str
    dtype: str

    def generator(self, stream: int = 0) -> "torch.Generator":  # noqa: F821
        """A fresh torch.Generator seeded from this cell's seed (and an optional stream number)."""
        import torch

        gen = torch.Generator(device=self.device if self.device.startswith("cuda") else "cpu")
        gen.manual_seed((self.seed + 1_000_003 * stream) % (2**63))
        return gen

    def spec(self, **fields_: Any) -> NetSpec:
        """A NetSpec on this run's device and dtype."""
        return NetSpec(device=self.device, dtype=self.dtype, **fields_)


class Table:
    """The tidy measurement table: one row per (cell, inner value) with params and values."""

    def __init__(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.rows = list(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def col(self, name: str) -> np.ndarray:
        try:
            return np.array([r[name] for r in self.rows])
        except KeyError:
            raise KeyError(f"column {name!r} missing; have {sorted(self.rows[0]) if self.rows else []}") from None

    def where(self, **equal: Any) -> "Table":
        return Table([r for r in self.rows if all(r[k] == v for k, v in equal.items())])

    def unique(self, name: str) -> list[Any]:
        return sorted({r[name] for r in self.rows})


@dataclass(frozen=True)
class Estimate:
    """What an estimator returns: the estimand's value and confidence set, plus what to show."""

    value: float
    ci: list[tuple[float, float]]
    fit_table: list[dict[str, Any]] = field(default_factory=list)
    figure: dict[str, Any] | None = None
    notes: str = ""


Measure = Callable[[CellContext], Mapping[str, float] | Sequence[Mapping[str, Any]]]
Estimator = Callable[[Table, float], Estimate]


@dataclass(frozen=True)
class Reading:
    """One way a careful reader could formalize a claim whose source cannot be read exactly.

    Declared with the claim, before any data. ``params`` are merged into every budget's
    ``Sweep.fixed`` (so they reach the measurement, the cache key and the cell seeds); any field
    left ``None`` is the claim's own. ``degenerate`` (one line) says why a reading is run and shown
    but left out of the headline verdict: the claim is true or false in it by construction (an exact
    symmetry, an identity), it configures what a negative control calls a defect, or it cannot
    decide at any budget. ``derived`` is the value the suite's own derivation expects for this
    reading's estimand (the alternative to the paper's value), where one is derived: a counted
    reading whose derived value sits within a target CI half-width (a third of the tolerance) of
    its band's edge cannot decide (tests/claims/catalogue/test_readings_declared.py). ``kind`` /
    ``kind_why`` override the claim's kind for a reading that is an identity.
    """

    name: str
    support: str  # one line: what in the source supports this reading
    params: Mapping[str, Any] = field(default_factory=dict)
    prediction: float | None = None
    tolerance: float | None = None
    tolerance_why: str | None = None
    prediction_origin: str | None = None
    estimand: str | None = None
    quantity: str | None = None
    degenerate: str = ""
    derived: float | None = None
    kind: str | None = None
    kind_why: str | None = None
    sweeps: Mapping[str, "Sweep"] | None = None
    measure: Measure | None = None
    estimate: Estimator | None = None

    def to_dict(self) -> dict[str, Any]:
        """The declaration as plain data (results.json, the pinned readings file)."""
        return {"name": self.name, "support": self.support, "params": dict(self.params),
                "prediction": self.prediction, "tolerance": self.tolerance,
                "prediction_origin": self.prediction_origin, "estimand": self.estimand,
                "degenerate": self.degenerate, "derived": self.derived, "kind": self.kind}


@dataclass(frozen=True)
class Claim:
    """One executable claim: a pre-registered prediction, its tolerance, and how to measure it.

    ``kind`` (one of KINDS, with the one-line ``kind_why``) is required: "implementation check" marks
    a claim that holds by construction for any correct implementation. ``controls`` are negative
    controls (a plausible wrong implementation the claim must reject, relative to the reference);
    ``positive_controls`` are implementations in which the claimed effect exists by construction,
    which the same measurement must rate ``holds`` (required where the reference's verdict is a
    finding). ``declaration()`` is the digest pinned in claims/catalogue/declarations.txt.
    ``blocks`` are the block forms (NetSpec.block) its prediction was derived for: on a plug-in that
    declares its family (reference_impl.protocol.Family) the claim runs in one of them or is `not
    applicable` (claims.families).
    """

    id: str
    statement: str
    source: Source
    quantity: str
    estimand: str
    prediction: float
    tolerance: float
    tolerance_why: str
    prediction_origin: str  # "quoted" from the paper or "derived" here
    sweeps: Mapping[str, Sweep]
    measure: Measure
    estimate: Estimator
    controls: tuple[str, ...] = ()
    requires: Capability = Capability.FORWARD_TRACE
    level: float = 0.95
    config_space: Callable[[], Any] | None = None  # hypothesis strategy of configs (property claims)
    examples: Mapping[str, int] = field(default_factory=dict)
    paper_numbers: tuple[Mapping[str, str], ...] = ()
    readings: tuple[Reading, ...] = ()
    honours: tuple[str, ...] = ()  # --config fields the measurement uses; () = the sweeps' fixed keys + config_space keys
    kind: str = ""
    kind_why: str = ""
    positive_controls: tuple[str, ...] = ()
    blocks: tuple[str, ...] = ("res1",)  # block forms the prediction was derived for (claims.families)

    def __post_init__(self) -> None:
        if self.kind not in KINDS or not self.kind_why.strip():
            raise ClaimError(f"claim {self.id}: kind must be one of {', '.join(map(repr, KINDS))} with a one-line "
                             f"kind_why, got kind={self.kind!r}")
        missing = [b for b in BUDGETS if b not in self.sweeps]
        if missing:
            raise ClaimError(f"claim {self.id}: no sweep for budget(s) {missing}")
        if self.prediction_origin not in ("quoted", "derived"):
            raise ClaimError(f"claim {self.id}: prediction_origin must be 'quoted' or 'derived'")
        if not (self.tolerance > 0 and math.isfinite(self.tolerance)):
            raise ClaimError(f"claim {self.id}: tolerance must be positive")
        names = [r.name for r in self.readings]
        if len(set(names)) != len(names):
            raise ClaimError(f"claim {self.id}: reading names must be unique, got {names}")
        if self.readings and all(r.degenerate for r in self.readings):
            raise ClaimError(f"claim {self.id}: every reading is degenerate; nothing would decide the headline")
        bad = [r.name for r in self.readings if r.kind is not None and (r.kind not in KINDS or not r.kind_why)]
        if bad:
            raise ClaimError(f"claim {self.id}: reading(s) {bad} override kind without one of {KINDS} and a kind_why")

    def sweep(self, budget: str) -> Sweep:
        if budget not in self.sweeps:
            raise ClaimError(f"unknown budget {budget!r}; allowed: {', '.join(BUDGETS)}")
        return self.sweeps[budget]

    def under(self, reading: Reading) -> "Claim":
        """This claim as formalized by one of its readings: a plain claim with no readings."""
        sweeps = reading.sweeps or self.sweeps
        sweeps = {b: replace(sw, fixed={**sw.fixed, **reading.params}) for b, sw in sweeps.items()}
        pick = lambda new, old: old if new is None else new  # noqa: E731
        return replace(
            self, readings=(), sweeps=sweeps,
            prediction=pick(reading.prediction, self.prediction), tolerance=pick(reading.tolerance, self.tolerance),
            tolerance_why=pick(reading.tolerance_why, self.tolerance_why),
            prediction_origin=pick(reading.prediction_origin, self.prediction_origin),
            estimand=pick(reading.estimand, self.estimand), quantity=pick(reading.quantity, self.quantity),
            measure=pick(reading.measure, self.measure), estimate=pick(reading.estimate, self.estimate),
            kind=pick(reading.kind, self.kind), kind_why=pick(reading.kind_why, self.kind_why),
        )


    def declaration(self) -> str:
        """The declaration digest (claims/digest.py: declared numbers, readings, controls, and the source
        text of the measure and estimate code); calibration runs and results entries carry it."""
        return claim_digest(self)

    def reading_declaration(self, reading: Reading) -> str:
        """The declaration digest of one of this claim's readings."""
        return reading_digest(self, reading)


_REGISTRY: dict[str, Claim] = {}


def register(claim: Claim) -> Claim:
    """Add a claim to the catalogue; ids are unique."""
    if claim.id in _REGISTRY and _REGISTRY[claim.id] is not claim:
        raise ClaimError(f"duplicate claim id {claim.id!r}")
    _REGISTRY[claim.id] = claim
    return claim


def registered() -> list[Claim]:
    """The claims registered so far, in registration order (claims.registry imports every catalogue
    module first, so that all of them are)."""
    return list(_REGISTRY.values())

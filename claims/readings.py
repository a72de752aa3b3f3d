"""Claims with readings: one headline entry from the readings' entries, and what a reading configures.

Each reading is a plain claim (``Claim.under``) that claims.run runs through the same path as any
other claim (capability check, validation, property examples, cells, cache, executors); here its
entries become the claim's one entry, the headline from ``aggregate.readings_verdict``. The entry
shows the numbers of the first counted reading and lists every reading with its own verdict,
estimate, confidence set, figure and cells. The declaration-time checks of readings (which negative
control a reading configures) live here too.
"""
from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, Mapping

from reference_impl.controls import SpecDefect
from reference_impl.training import TrainConfig

from .aggregate import counted_verdicts, readings_verdict
from .entries import declared_entry
from .preregistration import data_was_seen
from .spec import Claim, Reading
from .validate import probe_spec

# fields that a reading shares with its claim: kept once, in the claim's entry
_SHARED = ("id", "statement", "source", "paper_numbers", "controls", "honours")


def readings_entry(claim: Claim, budget: str, config: Mapping[str, Any] | None, subs: list[dict[str, Any]],
                   seconds: float) -> dict[str, Any]:
    """The results entry of ``claim`` from the entries of its readings (``subs``, in declaration order,
    each run as ``claim.under(reading)``): every reading with its own verdict, digest and amendments,
    the headline verdict over the counted ones, and the numbers of the first counted reading."""
    subs = [_reading_sub(claim, reading, sub) for reading, sub in zip(claim.readings, subs)]
    counted = [not r.degenerate for r in claim.readings]
    verdict = readings_verdict([s["verdict"] for s in subs], [not c for c in counted])
    tally = counted_verdicts([s["verdict"] for s, c in zip(subs, counted) if c])
    shown = next((s for s, c in zip(subs, counted) if c and s["verdict"] != "not applicable"),
                 next(s for s, c in zip(subs, counted) if c))
    entry = declared_entry(claim, budget)
    entry.update({k: shown.get(k) for k in ("estimate", "ci", "ci_pieces", "ci_level", "fit_table", "figure", "notes",
                                             "prediction", "tolerance", "prediction_origin", "tolerance_why",
                                             "estimand", "quantity", "sweep")})
    entry.update(verdict=verdict, config=dict(config or {}), readings=subs, shown_reading=shown["reading"],
                 counted_readings=tally,
                 cells=[], cells_from_cache=sum(s.get("cells_from_cache") or 0 for s in subs),
                 seconds=seconds)
    entry["message"] = f"{len(subs)} reading(s): {verdict}; " + "; ".join(_line(s) for s in subs)
    if verdict in ("error", "not applicable"):  # say why, in the first reading's own words
        why = next(s for s in subs if s["verdict"] == verdict)
        entry["message"] += f"; {why['reading']}: {why['message']}"
    return entry


def _reading_sub(claim: Claim, reading: Reading, sub: Mapping[str, Any]) -> dict[str, Any]:
    """A reading's own entry without the fields it shares with its claim, with what names the reading."""
    sub = {k: v for k, v in sub.items() if k not in _SHARED}
    own = [a for a in sub.get("amendments") or [] if a.get("reading") == reading.name]
    sub.update(reading=reading.name, support=reading.support, degenerate=reading.degenerate,
               reading_params=dict(reading.params), derived=reading.derived,
               digest=claim.reading_declaration(reading), amendments=own,
               amended_after_measured=any(data_was_seen(a) for a in own))
    return sub


def _line(sub: Mapping[str, Any]) -> str:
    """One reading in one clause: name, verdict, estimate and CI (degenerate readings say so)."""
    est, ci = sub.get("estimate"), sub.get("ci") or [None, None]
    fmt = lambda v: "n/a" if v is None else f"{v:.4g}"  # noqa: E731
    tag = " (degenerate: not counted)" if sub.get("degenerate") else ""
    return f"{sub['reading']}{tag} {sub['verdict']} {fmt(est)} [{fmt(ci[0])}, {fmt(ci[1])}]"


# sweep parameters that a measurement applies as a change of the SGD rule: parameter -> the TrainConfig
# field whose exponent it adds to (nfd2025.measure_coupling_depth: SGD rate lr * L^-x)
RATE_PARAMETERS = {"lr_extra_depth_exponent": "lr_depth_exponent"}
# TrainingDefect fields (claims/catalogue/nfd_controls.py) and the setting each one forces
TRAINING_DEFECTS = {"lr_depth_exponent": "lr_depth_exponent", "first_layer_lr_exponent": "first_layer_lr_exponent",
                    "true_backward": "backward"}


def setting(params: Mapping[str, Any]) -> dict[str, Any]:
    """What a configuration builds and trains, in one vocabulary: every NetSpec field, every TrainConfig
    field (with the rate parameters of RATE_PARAMETERS added in), the backward pass, and any other
    parameter as given."""
    spec = asdict(probe_spec(params, "cpu", "float32"))
    train = {f.name: params.get(f.name, f.default) for f in fields(TrainConfig)}
    for name, field in RATE_PARAMETERS.items():
        train[field] = float(train[field]) + float(params.get(name, 0.0))
    out = {**{k: v for k, v in params.items() if k not in RATE_PARAMETERS}, **spec, **train}
    out.setdefault("backward", "reuse")
    return out


def control_effect(control: Any, declared: Mapping[str, Any]) -> dict[str, Any]:
    """The settings a negative control changes in the ``declared`` configuration (a spec defect on its
    NetSpec, a training defect's forced fields); empty when it leaves this configuration as it is."""
    base = setting(declared)
    forced: dict[str, Any] = {}
    if isinstance(control, SpecDefect):
        spec = probe_spec(declared, "cpu", "float32")
        forced = asdict(control.defect(spec))
    for attr, field in TRAINING_DEFECTS.items():
        value = getattr(control, attr, None)
        if value is not None:
            forced[field] = value
    return {k: v for k, v in forced.items() if base.get(k) != v}


def configured_defects(claim: Claim, reading: Reading, controls: Mapping[str, Any]) -> list[str]:
    """The controls (by name) whose defect this reading configures: every setting the control changes
    in the configuration the reading runs on (its sweeps, or the claim's) is changed the same way by
    the reading's own parameters. A reading that does is a negative control of the suite measured as
    if it were a reading of the paper."""
    sweeps = reading.sweeps or claim.sweeps
    declared = {**sweeps["default"].axes, **sweeps["default"].fixed}
    built = setting({**declared, **reading.params})
    base = setting(declared)
    changed = {k: v for k, v in built.items() if base.get(k) != v}
    hits = []
    for name, control in controls.items():
        effect = control_effect(control, declared)
        if effect and all(k in changed and changed[k] == v for k, v in effect.items()):
            hits.append(name)
    return hits


def declared_readings() -> dict[str, list[dict[str, Any]]]:
    """Every claim's declared readings as plain data, by claim id (pinned by a test)."""
    from .registry import all_claims

    return {c.id: [r.to_dict() for r in c.readings] for c in all_claims() if c.readings}


if __name__ == "__main__":  # python -m claims.readings > tests/claims/catalogue/readings.json
    import json

    print(json.dumps(declared_readings(), indent=1, sort_keys=True, default=repr))

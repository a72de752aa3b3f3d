"""Running claims: cells -> measurements -> estimate -> verdict -> one results entry per claim."""
from __future__ import annotations

import math
import time
import traceback
from concurrent.futures import Executor
from functools import partial
from dataclasses import dataclass
from typing import Any, Callable, Mapping


from .cache import cell_key, code_version
from .configs import check_config, honoured_fields
from .spec import CellContext, Claim, Estimate, Table
from .stats import equivalence_verdict, hull
from .sweep import Cell, cells

Progress = Callable[[str, int, int], None]


class MeasurementError(RuntimeError):
    """A cell produced something that is not a finite measurement."""


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def measure_cell(claim: Claim, impl: Any, device: str, dtype: str, networks: int, cell: Cell) -> list[dict[str, Any]]:
    """Run one cell and return its rows (cell params + inner values + measured values), checked finite."""
    ctx = CellContext(cell.params, cell.replicate, cell.seed, networks, impl, device, dtype)
    out = claim.measure(ctx)
    rows = [out] if isinstance(out, Mapping) else list(out)
    base = {k: v for k, v in cell.params.items() if not isinstance(v, tuple)}
    result = []
    for row in rows:
        for key, value in row.items():
            if isinstance(value, float) and not math.isfinite(value):
                raise MeasurementError(
                    f"{impl.name}: cell {base} replicate {cell.replicate} measured {key}={value} (not finite)"
                )
        result.append({**base, **row, "cell": cell.index, "replicate": cell.replicate})
    return result


def _entry(claim: Claim, budget: str) -> dict[str, Any]:
    return {
        "id": claim.id,
        "statement": claim.statement,
        "quantity": claim.quantity,
        "estimand": claim.estimand,
        "source": {"paper": claim.source.paper, "arxiv": claim.source.arxiv, "where": claim.source.where},
        "prediction": claim.prediction,
        "tolerance": claim.tolerance,
        "prediction_origin": claim.prediction_origin,
        "tolerance_why": claim.tolerance_why,
        "ci_level": claim.level,
        "sweep": claim.sweep(budget).to_dict(),
        "paper_numbers": [dict(p) for p in claim.paper_numbers],
        "controls": [],
        "config": {},
        "honours": list(honoured_fields(claim, budget)),
    }


def _fill(entry: dict[str, Any], claim: Claim, est: Estimate, level: float) -> None:
    verdict = equivalence_verdict(est.ci, claim.prediction, claim.tolerance)
    lo, hi = hull(est.ci)
    entry.update(
        verdict=verdict,
        estimate=_finite(est.value),
        ci=[_finite(lo), _finite(hi)],
        ci_pieces=[[_finite(a), _finite(b)] for a, b in est.ci],
        ci_level=level,
        fit_table=est.fit_table,
        figure=est.figure,
        notes=est.notes,
    )
    ci_text = " u ".join(f"[{a:.4g}, {b:.4g}]" for a, b in est.ci) or "empty"
    entry["message"] = (
        f"{claim.estimand} = {est.value:.4g}, {100 * level:.4g}% CI {ci_text}; "
        f"predicted {claim.prediction:g} +- {claim.tolerance:g} ({claim.prediction_origin}): {verdict}"
    )


@dataclass
class Execution:
    """How cells run: where (executor: None = in-process), what is kept (cache), who is told (progress)."""

    executor: Executor | None = None
    cache: Any = None
    progress: Progress | None = None
    computed: int = 0
    cached: int = 0


def _compute(claim: Claim, impl: Any, device: str, dtype: str, networks: int, todo: list[Cell], ex: Execution):
    """Yield (cell, rows) in sweep order: cache hits first-class, misses computed and stored as they finish."""
    code = code_version(claim.measure, impl)
    keys = [cell_key(claim.id, c.params, c.replicate, c.seed, networks, impl, device, dtype, code) for c in todo]
    found = [ex.cache.get(k) if ex.cache is not None else None for k in keys]
    missing = [c for c, f in zip(todo, found) if f is None]
    work = partial(measure_cell, claim, impl, device, dtype, networks)
    fresh = iter(ex.executor.map(work, missing) if ex.executor is not None else map(work, missing))
    for cell, key, rows in zip(todo, keys, found):
        if rows is None:
            rows = next(fresh)
            ex.computed += 1
            if ex.cache is not None:
                ex.cache.put(key, rows)
        else:
            ex.cached += 1
        yield cell, rows


def run_once(
    claim: Claim,
    impl: Any,
    budget: str,
    seed: int,
    device: str,
    dtype: str,
    config: Mapping[str, Any] | None = None,
    level: float | None = None,
    execution: Execution | None = None,
) -> dict[str, Any]:
    """One statistical test of a claim at one configuration; never raises for a failing cell."""
    level = claim.level if level is None else level
    ex = execution or Execution()
    entry = _entry(claim, budget)
    entry["config"] = dict(config or {})
    start = time.perf_counter()
    sweep = claim.sweep(budget)
    todo = cells(claim.id, sweep, seed, config)
    entry["cells"] = []
    try:
        rows: list[dict[str, Any]] = []
        for i, (cell, cell_rows) in enumerate(_compute(claim, impl, device, dtype, sweep.networks, todo, ex)):
            rows += cell_rows
            entry["cells"].append({"params": _jsonable(cell.params), "replicate": cell.replicate, "seed": cell.seed,
                                   "values": [_values(r, cell) for r in cell_rows]})
            if ex.progress:
                ex.progress(claim.id, i + 1, len(todo))
        _fill(entry, claim, claim.estimate(Table(rows), level), level)
    except KeyboardInterrupt:
        raise
    except NotImplementedError as exc:  # the plug-in declined a network the measurement builds
        entry.update(verdict="not applicable", estimate=None, ci=[None, None],
                     message=f"plug-in {getattr(impl, 'name', impl)!r} declined a network this claim builds: "
                             f"NotImplementedError: {exc}")
    except Exception as exc:  # a plug-in or a cell failed: this claim is an error, the others still run
        entry.update(verdict="error", estimate=None, ci=[None, None], message=f"{type(exc).__name__}: {exc}",
                     traceback=traceback.format_exc(limit=6))
    entry["seconds"] = time.perf_counter() - start
    return entry


def _values(row: Mapping[str, Any], cell: Cell) -> dict[str, Any]:
    """A row without the cell's own parameters and bookkeeping: inner-axis values and measurements."""
    fixed = {k for k, v in cell.params.items() if not isinstance(v, tuple)}  # inner axes (tuples) stay in
    return {k: v for k, v in row.items() if k not in fixed and k not in ("cell", "replicate")}


def _jsonable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def run_claim(
    claim: Claim,
    impl: Any,
    budget: str = "default",
    seed: int = 0,
    device: str = "cpu",
    dtype: str = "float32",
    config: Mapping[str, Any] | None = None,
    execution: Execution | None = None,
) -> dict[str, Any]:
    """Run a claim: capability check, plug-in validation on a probe network (claims/validate.py),
    then one test, or a property over its configuration class; a claim with readings runs each one.
    A ``config`` field the claim does not honour raises ClaimError (bad usage)."""
    check_config(claim, config, budget)
    if claim.readings:
        from .readings import run_readings

        return run_readings(claim, impl, budget, seed, device, dtype, config, execution)
    missing = claim.requires & ~impl.capabilities
    if missing:
        entry = _entry(claim, budget)
        entry.update(verdict="not applicable", estimate=None, ci=[None, None], seconds=0.0,
                     message=f"{impl.name} lacks capability {missing}")
        return entry
    from .validate import validate_for_claim

    start = time.perf_counter()
    problem = validate_for_claim(claim, impl, budget, device, dtype, config)
    if problem is not None:  # broke the contract on a probe network (error), or declined the spec (not applicable)
        entry = _entry(claim, budget)
        entry["config"] = dict(config or {})
        entry.update(verdict=problem.verdict, estimate=None, ci=[None, None], message=problem.message,
                     seconds=time.perf_counter() - start)
        return entry
    if claim.config_space is None or config is not None:
        return run_once(claim, impl, budget, seed, device, dtype, config, None, execution)
    from .properties import run_property

    return run_property(claim, impl, budget, seed, device, dtype, execution)

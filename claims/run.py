"""Running claims: a claim expanded into its runs, cells -> measurements -> estimate -> verdict.

This is the one place that expands a claim: into its readings (each a plain claim, ``Claim.under``),
a property claim into its drawn configurations, and each test into its cells (claims.sweep), run
here, through the cache and an executor. The entries of readings and property examples are combined
into the claim's one results entry by claims.readings and claims.properties, which never run
anything themselves.
"""
from __future__ import annotations

import copy

import math
import signal
import threading
import time
import traceback
from concurrent.futures import Executor
from contextlib import contextmanager
from functools import partial
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping


from .cache import cell_key
from .checked import CheckedImpl, Declined
from .configs import check_config
from .entries import declared_entry, fill_verdict, jsonable
from .executors import TaskTimeout, WorkerDied, WorkerPool
from .families import in_family
from .identity import LOCAL_MEASURE, Identity, claim_identity, plugin_identity, suite_digest
from .properties import property_entry
from .readings import readings_entry
from .spec import CellContext, Claim, Table
from .sweep import Cell, cells
from .validate import Problem, check_plugin, impl_name

Progress = Callable[[str, int, int], None]


class MeasurementError(RuntimeError):
    """A cell produced something that is not a finite measurement."""


class CellError(RuntimeError):
    """A cell failed: the message names the cell (its parameters and replicate) and the cause."""


class CellTimeout(CellError):
    """A cell ran past --cell-timeout."""


def describe_cell(cell: Cell) -> str:
    """``cell {params} replicate r`` with the outer parameters (inner axes are left out)."""
    base = {k: v for k, v in cell.params.items() if not isinstance(v, tuple)}
    return f"cell {base} replicate {cell.replicate}"


class _Expired(BaseException):
    """A cell's time is up. A BaseException, so that plug-in code catching Exception (a retry loop)
    does not swallow it; raised again every REARM_S seconds until the cell ends."""


REARM_S = 0.5  # the timer fires again this often after the limit, until the cell gives up


@contextmanager
def _deadline(seconds: float | None, cell: Cell) -> Iterator[None]:
    """Raise CellTimeout in this thread after ``seconds`` (the main thread of a process only: inline
    runs and WorkerPool workers; elsewhere the limit is not enforced here). Plug-in code that still
    does not stop (it catches BaseException, or hangs outside Python) is killed with its worker
    process by claims.executors.WorkerPool, which --cell-timeout always uses."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise _Expired()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, REARM_S)
    try:
        yield
    except _Expired:
        signal.setitimer(signal.ITIMER_REAL, 0)
        raise CellTimeout(f"{describe_cell(cell)} ran past --cell-timeout {seconds:g} s; the other claims still run") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


SPREAD_SUFFIXES = ("_se", "_sd")  # a measured spread across the S networks of a cell (catalogue convention)
SPREAD_RTOL = 1e-6  # copies of one network leave rounding noise (~1e-16 relative), independent ones >> this


def _no_spread(row: Mapping[str, Any], key: str) -> bool:
    """``row[key]`` (a spread) is zero up to rounding, relative to the value it is the spread of."""
    base = row.get(key[: -len("_se")])
    scale = abs(base) if isinstance(base, (int, float)) and math.isfinite(base) else 0.0
    return abs(row[key]) <= SPREAD_RTOL * scale


def check_spread(rows: list[Mapping[str, Any]], networks: int) -> None:
    """Spreads across S >= 2 independently drawn networks are not all zero; all zero (up to rounding)
    means the networks are copies of one (a batching bug) and the CI built on them would be falsely
    narrow. One spread alone may be zero by construction (a change measured before the first step)."""
    spreads = [(row, key) for row in rows for key, value in row.items()
               if key.endswith(SPREAD_SUFFIXES) and isinstance(value, (int, float)) and math.isfinite(value)]
    if networks >= 2 and spreads and all(_no_spread(row, key) for row, key in spreads):
        names = ", ".join(sorted({key for _, key in spreads}))
        raise MeasurementError(f"{names} all 0: no spread across the {networks} networks of the cell; independent "
                               "networks differ, so the plug-in returned copies of one network")


def measure_cell(claim: Claim, impl: Any, device: str, dtype: str, networks: int, cell: Cell,
                 timeout: float | None = None) -> list[dict[str, Any]]:
    """Run one cell and return its rows (cell params + inner values + measured values), checked finite.

    The measurement sees the plug-in through CheckedImpl (every tensor it receives is checked); any
    exception from the cell, SystemExit included, becomes CellError naming the cell. Passed on
    unchanged: KeyboardInterrupt, Declined (the plug-in's build declined a network) and a
    NotImplementedError the suite's own code raises (a measurement that cannot run on this plug-in);
    a NotImplementedError from a plug-in method other than build is a CellError (checked.py)."""
    ctx = CellContext(cell.params, cell.replicate, cell.seed, networks, CheckedImpl(impl), device, dtype)
    try:
        with _deadline(timeout, cell):
            out = claim.measure(ctx)
        rows = [out] if isinstance(out, Mapping) else list(out)
        base = {k: v for k, v in cell.params.items() if not isinstance(v, tuple)}
        result = []
        for row in rows:
            for key, value in row.items():
                if isinstance(value, float) and not math.isfinite(value):
                    raise MeasurementError(f"{impl_name(impl)} measured {key}={value} (not finite)")
            result.append({**base, **row, "cell": cell.index, "replicate": cell.replicate})
        check_spread(rows, networks)
        return result
    except (KeyboardInterrupt, Declined, NotImplementedError, CellError):
        raise
    except _Expired:  # the timer fired again just as the cell ended
        raise CellTimeout(f"{describe_cell(cell)} ran past --cell-timeout {timeout:g} s; the other claims still run") from None
    except BaseException as exc:  # SystemExit from plug-in code too: this claim's error, not the run's end
        raise CellError(f"plug-in {impl_name(impl)!r}, {describe_cell(cell)}: {type(exc).__name__}: {exc}") from exc


@dataclass
class Execution:
    """How cells run: where (executor: None = in-process), what is kept (cache), who is told (progress),
    how long one cell may take (cell_timeout, seconds; None: no limit). ``shared`` keeps this run's
    cells by key in memory, so readings that differ only in their estimator measure each cell once
    even without the cache.

    The limit is enforced in two layers: a cell's own timer (``_deadline``, a BaseException raised
    again until the cell gives up) wherever it runs in a process's main thread, and, with a
    claims.executors.WorkerPool executor (``make_executor(value, cell_timeout)``: what --cell-timeout
    uses), by killing the worker that runs a cell, or the plug-in checks, that still does not stop.
    Without a WorkerPool only the first layer applies."""

    executor: Executor | None = None
    cache: Any = None
    progress: Progress | None = None
    computed: int = 0
    cached: int = 0
    cell_timeout: float | None = None
    shared: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _cache_for(claim: Claim, impl: Any, ex: Execution) -> tuple[Any, Identity, tuple[str, Any]]:
    """(where this claim's cells are kept: the cache, this run's resume store, or None; the plug-in's
    identity; the claim's part of the key). Cells are reused across runs only when every piece of
    code that computes them is named (claims/identity.py); otherwise only within this run."""
    identity = plugin_identity(impl)
    declaration, measure, suite_measure = claim_identity(claim)
    if identity.shared and not suite_measure:
        identity = identity.local(LOCAL_MEASURE)
    store = None if ex.cache is None else ex.cache.store_for(identity, impl_name(impl))
    return store, identity, (declaration, measure)


def _recipe(claim: Claim, identity: Identity, device: str, dtype: str, networks: int, cell: Cell) -> dict[str, Any]:
    """Which cell an entry is, for ``cache audit``: it rebuilds the key from these numbers with the
    catalogue's claim and the implementations it can name, and recomputes the cell only on a match.
    ``impl`` and ``suite`` are for its messages; nothing in a recipe is imported or called."""
    return {"claim": claim.id, "impl": identity.label(), "suite": suite_digest(), "device": device, "dtype": dtype,
            "networks": networks, "index": cell.index, "params": jsonable(cell.params), "replicate": cell.replicate,
            "seed": cell.seed}


def _compute(claim: Claim, impl: Any, device: str, dtype: str, networks: int, todo: list[Cell], ex: Execution):
    """Yield (cell, rows, from_cache) in sweep order: hits first-class, misses computed and stored as they finish."""
    cache, identity, named = _cache_for(claim, impl, ex)
    keys = [cell_key(claim.id, c.params, c.replicate, c.seed, networks, identity, device, dtype, *named) for c in todo]
    shared = [ex.shared.get(k) for k in keys]
    found = [f if f is not None or cache is None else cache.get(k) for k, f in zip(keys, shared)]
    missing = [c for c, f in zip(todo, found) if f is None]
    work = partial(measure_cell, claim, impl, device, dtype, networks, timeout=ex.cell_timeout)
    fresh = iter(ex.executor.map(work, missing) if ex.executor is not None else map(work, missing))
    for cell, key, rows, again in zip(todo, keys, found, shared):
        hit = rows is not None and again is None
        if hit:
            ex.cached += 1
        elif rows is None:
            rows = next(fresh)
            ex.computed += 1
            if cache is not None:
                cache.put(key, rows, _recipe(claim, identity, device, dtype, networks, cell))
        ex.shared[key] = rows
        yield cell, (copy.deepcopy(rows) if again is not None else rows), hit


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
    entry = declared_entry(claim, budget)
    entry["config"] = dict(config or {})
    start = time.perf_counter()
    sweep = claim.sweep(budget)
    todo = cells(claim.id, sweep, seed, config)
    entry["cells"] = []
    entry["cells_from_cache"] = 0
    try:
        rows: list[dict[str, Any]] = []
        for i, (cell, cell_rows, hit) in enumerate(_compute(claim, impl, device, dtype, sweep.networks, todo, ex)):
            rows += cell_rows
            entry["cells_from_cache"] += hit
            entry["cells"].append({"params": jsonable(cell.params), "replicate": cell.replicate, "seed": cell.seed,
                                   "values": [_values(r, cell) for r in cell_rows]})
            if ex.progress:
                ex.progress(claim.id, i + 1, len(todo))
        fill_verdict(entry, claim, claim.estimate(Table(rows), level), level)
        trained = sorted({r["trained_with"] for r in rows if "trained_with" in r})  # training claims: which network
        if trained:
            entry["trained_with"] = "; ".join(trained)
            entry["message"] += f"; {entry['trained_with']}"
    except KeyboardInterrupt:
        raise
    except Declined as exc:  # the plug-in's build declined a network the measurement builds
        entry.update(verdict="not applicable", estimate=None, ci=[None, None], message=str(exc))
    except NotImplementedError as exc:  # the measurement itself cannot run on this plug-in (a capability it lacks)
        entry.update(verdict="not applicable", estimate=None, ci=[None, None],
                     message=f"not applicable to plug-in {impl_name(impl)!r}: {exc}")
    except (TaskTimeout, WorkerDied) as exc:  # the WorkerPool killed the cell's worker, or lost it
        cell = todo[min(len(entry["cells"]), len(todo) - 1)]  # cells come back in sweep order: the first missing
        entry.update(verdict="error", estimate=None, ci=[None, None],
                     message=f"plug-in {impl_name(impl)!r}, {describe_cell(cell)}: {exc}")
    except (Exception, SystemExit) as exc:  # a plug-in or a cell failed: this claim is an error, the others run
        message = str(exc) if isinstance(exc, CellError) else f"{type(exc).__name__}: {exc}"
        entry.update(verdict="error", estimate=None, ci=[None, None], message=message,
                     traceback=traceback.format_exc(limit=6))
    entry["seconds"] = time.perf_counter() - start
    return entry


def _values(row: Mapping[str, Any], cell: Cell) -> dict[str, Any]:
    """A row without the cell's own parameters and bookkeeping: inner-axis values and measurements."""
    fixed = {k for k, v in cell.params.items() if not isinstance(v, tuple)}  # inner axes (tuples) stay in
    return {k: v for k, v in row.items() if k not in fixed and k not in ("cell", "replicate")}


def _plugin_problem(claim: Claim, impl: Any, budget: str, device: str, dtype: str,
                    config: Mapping[str, Any] | None, execution: Execution | None) -> Any:
    """validate.check_plugin, in a worker of the run's WorkerPool when it has one: a plug-in whose
    build hangs, or that ends the process, on the probe network is then that claim's error."""
    pool = execution.executor if execution is not None and isinstance(execution.executor, WorkerPool) else None
    if pool is None:
        return check_plugin(claim, impl, budget, device, dtype, config)
    try:
        return pool.submit(check_plugin, claim, impl, budget, device, dtype, config).result()
    except (TaskTimeout, WorkerDied) as exc:
        return Problem("error", f"plug-in {impl_name(impl)!r}: checking it on the claim's probe network: {exc}")


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
    A ``config`` field the claim does not honour, or a value it cannot take, raises ClaimError (bad usage)."""
    check_config(claim, config, budget, dtype)
    config, outside = in_family(claim, impl, config, budget)
    if outside is not None:  # the plug-in's family is outside the claim's derivation
        return _refused(claim, budget, config, Problem("not applicable", outside), 0.0)
    if claim.readings:
        return _run_readings(claim, impl, budget, seed, device, dtype, config, execution)
    missing = claim.requires & ~impl.capabilities
    if missing:
        return _refused(claim, budget, config, Problem(
            "not applicable", f"plug-in {impl_name(impl)!r} lacks capability {missing}, which this claim requires"), 0.0)
    if claim.config_space is None or config is not None:
        start = time.perf_counter()
        problem = _plugin_problem(claim, impl, budget, device, dtype, config, execution)
        if problem is not None:  # broke the contract on a probe network (error), or declined the spec (not applicable)
            return _refused(claim, budget, config, problem, time.perf_counter() - start)
        return run_once(claim, impl, budget, seed, device, dtype, config, None, execution)
    examples: list[dict[str, Any]] = []

    def example(config: Mapping[str, Any], level: float) -> dict[str, Any]:
        examples.append(_checked_once(claim, impl, budget, seed, device, dtype, config, level, execution))
        return examples[-1]

    entry = property_entry(claim, budget, example)
    if examples and all(e["verdict"] == "not applicable" for e in examples):
        entry["message"] = examples[0]["message"]  # every example declined: the plug-in's own reason
    return entry


def _refused(claim: Claim, budget: str, config: Mapping[str, Any] | None, problem: Problem,
             seconds: float) -> dict[str, Any]:
    """The entry of a claim that did not run: its verdict ('error' or 'not applicable') and why."""
    entry = declared_entry(claim, budget)
    entry["config"] = dict(config or {})
    entry.update(verdict=problem.verdict, estimate=None, ci=[None, None], message=problem.message, seconds=seconds)
    return entry


def _checked_once(claim: Claim, impl: Any, budget: str, seed: int, device: str, dtype: str,
                  config: Mapping[str, Any], level: float, execution: Execution | None = None) -> dict[str, Any]:
    """One example of a property claim: its block form moved into the plug-in's declared family where the
    claim's derivation covers it (claims.families), the plug-in checked on that example's probe network
    (it may decline the example: that example is `not applicable`), then run_once."""
    start = time.perf_counter()
    config = in_family(claim, impl, config, budget)[0]  # an example's block form moved into the plug-in's family
    problem = _plugin_problem(claim, impl, budget, device, dtype, config, execution)
    if problem is not None:
        return _refused(claim, budget, config, problem, time.perf_counter() - start)
    return run_once(claim, impl, budget, seed, device, dtype, config, level, execution)


def _run_readings(claim: Claim, impl: Any, budget: str, seed: int, device: str, dtype: str,
                  config: Mapping[str, Any] | None, execution: Execution | None) -> dict[str, Any]:
    """Every reading of ``claim`` run as a plain claim (one Execution for all: a cell they share is
    measured once), then the claim's entry with the headline verdict (claims.readings)."""
    start = time.perf_counter()
    execution = execution or Execution()
    subs = [run_claim(claim.under(reading), impl, budget, seed, device, dtype, config, execution)
            for reading in claim.readings]
    return readings_entry(claim, budget, config, subs, time.perf_counter() - start)

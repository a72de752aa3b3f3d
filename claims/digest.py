"""The declaration digest: one hash of everything that decides a claim's verdict.

A claim's digest covers its declared numbers and structure (prediction, tolerance, level, the sweeps
of every budget, readings, negative and positive controls, property examples, kind, required
capabilities) and the **source text** of the code that turns cells into a verdict: the measure and
estimate functions (the claim's and each reading's), every function and class of the covered
packages (``COVERED``) that they reach through their global names, closures, defaults and
``functools.partial`` arguments (transitively), the plain-data module constants those functions
read (numbers, strings, tuples, dicts of them), the definition of every listed control (its class
source and the source of its defect), and the verdict rules (``claims.stats.equivalence_verdict``,
``claims.stats.hull`` and the module ``claims.aggregate``). Rewriting a line of an estimator or of a
catalogue helper it calls changes the digest even when no name changes.

It does not see (docs/preregistration.md): the implementation under test (``reference_impl``, a
plug-in), the engine that runs cells and derives their seeds (``claims.run``, ``claims.sweep``),
library code (torch, numpy, scipy, statsmodels), objects reached only through attribute access on
an instance, code called through a name the function builds at run time, and the declaration's
prose (statement, source, quantity, estimand, tolerance reason, reading support lines), which
explains a verdict but does not decide it.
"""
from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import inspect
import json
import types
from typing import Any, Mapping

import numpy as np

from . import aggregate
from .stats import equivalence_verdict, hull

COVERED = ("claims.catalogue", "claims.theory", "claims.stats", "claims.aggregate")
VERDICT_RULES = (equivalence_verdict, hull, aggregate)
# declared fields of a claim that decide its verdict; prose fields are left out (module docstring)
CLAIM_FIELDS = ("prediction", "tolerance", "level", "sweeps", "controls", "positive_controls", "examples", "kind",
                "requires", "measure", "estimate", "config_space")
READING_FIELDS = ("name", "params", "prediction", "tolerance", "degenerate", "derived", "kind", "sweeps",
                  "measure", "estimate")


def covered(module: str | None) -> bool:
    """Whether code of ``module`` belongs to the digest (a covered package or one of its modules)."""
    return bool(module) and any(module == p or module.startswith(p + ".") for p in COVERED)


def _plain(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON-able plain data, or None when it is not plain data (an object with state)."""
    if depth > 8:
        return None
    if isinstance(value, (bool, int, float, str, type(None))):
        return value if not isinstance(value, float) else repr(value)
    if isinstance(value, enum.Enum):
        return repr(value)
    if isinstance(value, np.ndarray):
        return {"ndarray": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest(), "shape": value.shape}
    if isinstance(value, (tuple, list, frozenset, set)):
        items = [_plain(v, depth + 1) for v in value]
        if any(i is None and v is not None for i, v in zip(items, value)):
            return None
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, Mapping):
        items = {str(k): _plain(v, depth + 1) for k, v in value.items()}
        return None if any(items[str(k)] is None and v is not None for k, v in value.items()) else items
    return None


@functools.lru_cache(maxsize=None)
def _source(obj: Any) -> str:
    """The source text of a function, class or module as loaded (read once per object)."""
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return f"<no source: {getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}>"


def _codes(code: types.CodeType) -> list[types.CodeType]:
    """A code object and every code object nested in it (inner functions, lambdas, comprehensions)."""
    out = [code]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out += _codes(const)
    return out


class _Closure:
    """Collects name -> source text (or constant value) of what a set of roots reaches."""

    def __init__(self) -> None:
        self.texts: dict[str, Any] = {}
        self.seen: set[int] = set()

    def add(self, obj: Any, root: bool = False) -> None:
        if id(obj) in self.seen:
            return
        if isinstance(obj, functools.partial):
            self.seen.add(id(obj))
            for part in (obj.func, *obj.args, *obj.keywords.values()):
                self.add(part, root)
            return
        if hasattr(obj, "__wrapped__") and not isinstance(obj, type):  # functools.lru_cache, wraps
            self.seen.add(id(obj))
            self.add(obj.__wrapped__, root)
            return
        if isinstance(obj, (staticmethod, classmethod)):
            self.add(obj.__func__, root)
            return
        if isinstance(obj, property):
            for f in (obj.fget, obj.fset):
                if f is not None:
                    self.add(f, root)
            return
        module = getattr(obj, "__module__", None)
        if not (root or covered(module)):
            return
        if isinstance(obj, types.FunctionType):
            self.seen.add(id(obj))
            if obj.__code__.co_filename.startswith("<"):  # generated (dataclass __init__, __eq__): no source
                return
            self.texts[f"{module}.{obj.__qualname__}"] = _source(obj)
            self._function(obj)
        elif isinstance(obj, type):
            self.seen.add(id(obj))
            self.texts[f"{module}.{obj.__qualname__}"] = _source(obj)
            for member in vars(obj).values():
                self.add(member)
        elif isinstance(obj, types.ModuleType):
            self.seen.add(id(obj))
            self.texts[obj.__name__] = _source(obj)

    def _function(self, fn: types.FunctionType) -> None:
        names = {n for code in _codes(fn.__code__) for n in code.co_names}
        env = fn.__globals__
        for name in sorted(names):
            if name not in env:
                continue
            value = env[name]
            if isinstance(value, types.ModuleType):
                if covered(value.__name__):  # attributes read through a covered module (theory.response_gain)
                    for attr in sorted(names & set(vars(value))):
                        self._value(value.__name__, attr, vars(value)[attr])
                continue
            self._value(env.get("__name__"), name, value)
        bound = [c.cell_contents for c in fn.__closure__ or () if _filled(c)]
        bound += [*(fn.__defaults__ or ()), *(fn.__kwdefaults__ or {}).values()]
        for i, value in enumerate(bound):
            self._value(fn.__module__, f"{fn.__qualname__}:bound{i}", value)

    def _value(self, module: str | None, name: str, value: Any) -> None:
        """A value a function reads: callables are followed, plain data of covered modules recorded."""
        if callable(value) or isinstance(value, (staticmethod, classmethod)):
            self.add(value)
            return
        data = _plain(value)
        if data is not None and covered(module):
            self.texts.setdefault(f"{module}.{name}", data)


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def code_closure(*roots: Any) -> dict[str, Any]:
    """Source text of ``roots`` (functions, partials, classes) and of the covered code they reach, by
    qualified name, plus the plain-data constants of covered modules they read."""
    closure = _Closure()
    for root in roots:
        if root is not None:
            closure.add(root, root=True)
    return dict(sorted(closure.texts.items()))


def _named(obj: Any) -> Any:
    """A declared value with callables replaced by their qualified names (their source is in the closure)."""
    if isinstance(obj, functools.partial):
        return {"partial": _named(obj.func), "args": _named(obj.args), "keywords": _named(obj.keywords)}
    if callable(obj) and hasattr(obj, "__qualname__"):
        return f"{getattr(obj, '__module__', '')}.{obj.__qualname__}"
    if isinstance(obj, Mapping):
        return {str(k): _named(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_named(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _named(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    plain = _plain(obj)
    return plain if plain is not None else repr(obj)


def control_definition(name: str) -> Any:
    """What a control named ``name`` is: its class's source and the source of every callable field
    (a spec defect, a weight law); an unknown name is recorded as such."""
    from reference_impl.controls import CONTROLS

    control = CONTROLS.get(name)
    if control is None:
        return f"<unregistered control {name}>"
    fields = {f.name: getattr(control, f.name) for f in dataclasses.fields(control)} \
        if dataclasses.is_dataclass(control) else {}
    return {"class": code_closure(type(control)),
            "fields": {k: (code_closure(v) if callable(v) else _named(v)) for k, v in fields.items()}}


def _digest(declared: Mapping[str, Any], roots: tuple[Any, ...], controls: tuple[str, ...]) -> str:
    payload = {"declared": _named(declared), "code": code_closure(*roots, *VERDICT_RULES),
               "controls": {c: control_definition(c) for c in controls}}
    text = json.dumps(payload, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _roots(obj: Any) -> tuple[Any, ...]:
    return tuple(getattr(obj, f, None) for f in ("measure", "estimate", "config_space"))


def claim_digest(claim: Any) -> str:
    """The declaration digest of a claim (its readings included)."""
    declared = {f: getattr(claim, f) for f in CLAIM_FIELDS}
    declared["readings"] = [{f: getattr(r, f) for f in READING_FIELDS} for r in claim.readings]
    roots = _roots(claim) + tuple(x for r in claim.readings for x in _roots(r))
    return _digest(declared, roots, tuple(claim.controls) + tuple(claim.positive_controls))


def reading_digest(claim: Any, reading: Any) -> str:
    """The declaration digest of one reading: the claim as that reading formalizes it
    (``Claim.under``) plus the reading's own name, parameters, degeneracy, derived value and kind."""
    under = claim.under(reading)
    declared = {f: getattr(under, f) for f in CLAIM_FIELDS}
    declared["reading"] = {f: getattr(reading, f) for f in READING_FIELDS}
    return _digest(declared, _roots(under), tuple(under.controls) + tuple(under.positive_controls))

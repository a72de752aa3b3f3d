"""What names the code behind a cell or a calibration run, and how far that name is trusted (docs/cache.md).

A cell is reused across runs only when everything that computes it is named by something that
changes whenever it changes:

* this package's own code (measurements, statistics, the shipped implementations and negative
  controls): :func:`suite_digest`, a sha256 of every .py file under claims/ and reference_impl/;
* the environment: Python's version and the name and version of every installed distribution
  (:func:`environment`);
* the claim: the declaration digest of the catalogue claim with its id and its measurement's name
  (:func:`claim_identity`); a claim outside the catalogue, or a measurement defined outside this
  package, makes the cell run-local;
* the implementation (:func:`plugin_identity`), of one of four kinds:
  ``shipped`` (an entry point, negative control or module of this package: its --impl value),
  ``token`` (it declares ``cache_token``, a string it promises to change whenever its code,
  settings, or the files and environment variables it reads change), ``installed`` (its factory
  and class come from an installed, non-editable distribution: the --impl value, the factory's
  arguments and the distributions' names and versions), or ``run`` for anything else (a module
  in a working folder, a partial of one, a notebook class). Nothing short of running a ``run``
  plug-in says whether its code changed (a helper imported by a computed name, a compiled module,
  a data file), so its cells are kept only to resume the run that computed them.

Nothing here imports or calls plug-in code: it describes objects that are already loaded.
"""
from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import importlib
import importlib.metadata
import platform
import sys
import sysconfig
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .sweep import canonical

SUITE_PACKAGES = ("claims", "reference_impl")
PLAIN = (str, int, float, bool, type(None))
LOCAL_PLUGIN = "its code is not named by a cache_token or by an installed distribution's version"
LOCAL_MEASURE = "the claim is not in this package's catalogue or its measurement is not this package's code"


def _sha(obj: Any) -> str:
    return hashlib.sha256(canonical(obj).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def _suite_roots() -> tuple[Path, ...]:
    return tuple(Path(importlib.import_module(p).__file__).resolve().parent for p in SUITE_PACKAGES)


@functools.lru_cache(maxsize=None)
def suite_digest() -> str:
    """sha256 of every .py file of claims/ and reference_impl/ (relative path and bytes), once per process."""
    digest = hashlib.sha256()
    for root in _suite_roots():
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root.parent)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


# Files whose code never reaches a run's numbers: the command line, the report, the calibration's own
# bookkeeping and the tools around the declarations. The catalogue is left out as a whole because each
# claim's declaration digest already covers the catalogue code its measurement reaches (claims/digest.py).
PRESENTATION = ("claims/cli.py", "claims/calibrate.py", "claims/reliability_table.py", "claims/preregistration.py",
                "claims/audit.py", "claims/pytest_plugin.py", "claims/report/", "claims/catalogue/")


@functools.lru_cache(maxsize=None)
def computation_digest() -> str:
    """sha256 of the suite's files that compute a run outside a claim's declaration: the engine and the
    shipped implementations (reference_impl/), the sweep, statistics, validation and plug-in machinery
    of claims/, every file but :data:`PRESENTATION`. Together with a claim's declaration digest it names
    what decides a calibration run's verdict, so an edit to the report, the command line or another
    claim's catalogue module leaves earlier calibration runs reusable (claims/calibrate.py)."""
    digest = hashlib.sha256()
    for root in _suite_roots():
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root.parent).as_posix()
            if not rel.startswith(PRESENTATION):
                digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def environment() -> str:
    """Digest of Python's version and the name and version of every installed distribution, once per process:
    a library upgraded without a change of torch's or numpy's version still renames every cell."""
    dists = {(d.metadata["Name"] or "").lower(): d.version for d in importlib.metadata.distributions()}
    return _sha([platform.python_version(), sorted(dists.items())])


def qualified(obj: Any) -> str:
    """``module.qualname`` of a function or class."""
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"


def suite_module(name: str | None) -> bool:
    """Module ``name`` is one of this package's source files (not a module made at run time under its name)."""
    if not name or name.split(".")[0] not in SUITE_PACKAGES:
        return False
    file = getattr(sys.modules.get(name), "__file__", None)
    return file is not None and any(Path(file).resolve().is_relative_to(root) for root in _suite_roots())


def _state(obj: Any) -> Mapping[str, Any] | None:
    """An object's data: its dataclass fields, else its instance dictionary; None when it has neither."""
    if dataclasses.is_dataclass(obj):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    return vars(obj) if hasattr(obj, "__dict__") else None


def in_suite(obj: Any, strict: bool = False, _depth: int = 0) -> bool:
    """``obj`` is fixed by this package's source: plain data, or functions, classes and objects of its
    modules whose data is such too. ``strict``: an object whose data holds plain values only (a
    lambda's name does not tell two lambdas apart, so functions in the data do not count)."""
    if _depth > 8:
        return False
    deeper = functools.partial(in_suite, strict=strict, _depth=_depth + 1)
    if isinstance(obj, PLAIN + (enum.Enum,)):
        return True
    if isinstance(obj, (list, tuple, set, frozenset)):
        return all(deeper(v) for v in obj)
    if isinstance(obj, Mapping):
        return all(isinstance(k, PLAIN) and deeper(v) for k, v in obj.items())
    if strict and _depth and callable(obj):
        return False
    if isinstance(obj, functools.partial):
        return deeper(obj.func) and deeper(obj.args) and deeper(obj.keywords)
    if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)):
        return suite_module(getattr(obj, "__module__", None))
    if isinstance(obj, types.MethodType):
        return deeper(obj.__func__) and deeper(obj.__self__)
    state = _state(obj)
    return state is not None and suite_module(type(obj).__module__) and deeper(state)


def describe(obj: Any, _depth: int = 0) -> Any:
    """Plain JSON naming ``obj``: data as is, functions and classes by qualified name (and first line),
    partials with their arguments, dataclasses with their fields; any other object by its class only."""
    if _depth > 8:
        return "..."
    deeper = functools.partial(describe, _depth=_depth + 1)
    if isinstance(obj, enum.Enum):
        return f"{qualified(type(obj))}:{obj.value!r}"
    if isinstance(obj, PLAIN):
        return obj
    if isinstance(obj, (list, tuple)):
        return [deeper(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): deeper(v) for k, v in obj.items()}
    if isinstance(obj, functools.partial):
        return {"partial": deeper(obj.func), "args": deeper(obj.args), "keywords": deeper(obj.keywords)}
    if isinstance(obj, types.FunctionType):
        return f"{qualified(obj)}:{obj.__code__.co_firstlineno}"
    if isinstance(obj, (type, types.BuiltinFunctionType)):
        return qualified(obj)
    if isinstance(obj, types.MethodType):
        return {"method": deeper(obj.__func__), "of": deeper(obj.__self__)}
    if dataclasses.is_dataclass(obj):
        return {"class": qualified(type(obj)), "fields": deeper(_state(obj))}
    return {"class": qualified(type(obj))}


@dataclass(frozen=True)
class Identity:
    """An implementation's name in cache keys and calibration runs.

    ``who`` says which implementation (kind, --impl value, class, name, factory); ``code`` what stands
    for its code (the suite digest, a token, distribution versions; for ``run``, a digest of its own
    module files: a best effort that is relied on only within one run). ``why``: for ``run``, why it
    is not trusted across runs."""

    kind: str
    who: Mapping[str, Any]
    code: Mapping[str, Any]
    why: str = ""

    @property
    def shared(self) -> bool:
        """Its cells may be reused by later runs."""
        return self.kind != "run"

    @functools.cached_property
    def digest(self) -> str:
        """Everything besides the claim and the cell that decides a cell's numbers: who, code, this
        package's source and the environment."""
        return _sha([self.who, self.code, suite_digest(), environment()])

    @functools.cached_property
    def computation(self) -> str:
        """What names a calibration run's code with its claim's declaration digest: for this package's
        own implementations, who, the computation digest and the environment (edits that cannot reach a
        run's numbers leave it unchanged); for any other, :attr:`digest`."""
        if self.kind != "shipped":
            return self.digest
        return _sha([self.who, computation_digest(), environment()])

    @functools.cached_property
    def plugin(self) -> str:
        """Which implementation, whatever its code's version (calibrate keeps a table's rows by it)."""
        return _sha(self.who)

    def local(self, why: str) -> "Identity":
        """The same names, trusted only within one run."""
        return Identity("run", self.who, self.code, why)

    def label(self) -> str:
        """What to call it in a message: its --impl value, else its name or class."""
        return str(self.who.get("impl") or self.who.get("name") or self.who.get("class"))


def _module_of(obj: Any) -> str | None:
    obj = obj.func if isinstance(obj, functools.partial) else obj
    target = obj if isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)) else type(obj)
    return getattr(target, "__module__", None)


@functools.lru_cache(maxsize=None)
def _library_roots() -> tuple[Path, ...]:
    roots = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    return tuple(Path(r).resolve() for r in roots if r)


@functools.lru_cache(maxsize=None)
def _distributions_of() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()


def _installed(module: str | None) -> tuple[str, str] | None:
    """(distribution, version) of ``module`` when its file lies in site-packages (an editable install's
    files do not, and its version does not follow its edits); None otherwise."""
    file = getattr(sys.modules.get(module or ""), "__file__", None)
    if not module or not file:
        return None
    path = Path(file).resolve()
    if not any(path.is_relative_to(root) for root in _library_roots()) and \
            not {"site-packages", "dist-packages"} & set(path.parts):
        return None
    for dist in _distributions_of().get(module.split(".")[0], []):
        try:
            return dist, importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _file_digest(modules: list[str | None]) -> str:
    """sha256 of the files (source or compiled) the given modules were loaded from: a best effort."""
    digest = hashlib.sha256()
    for name in sorted({m for m in modules if m}):
        file = getattr(sys.modules.get(name), "__file__", None)
        try:
            digest.update(name.encode() + b"\0" + (Path(file).read_bytes() if file else b"") + b"\0")
        except OSError:
            digest.update(name.encode() + b"\0unreadable\0")
    return digest.hexdigest()[:16]


def _shipped(impl: Any, factory: Any, value: str, how: str, entry: str | None) -> bool:
    """The implementation that --impl ``value`` named is this package's own code."""
    if how == "control":
        return in_suite(impl)
    module = (entry if how == "entry point" and entry else value).partition(":")[0]
    return suite_module(module) and in_suite(factory)


def object_identity(impl: Any) -> Identity | None:
    """A shipped class's object whose data is plain values (the Python API passes such objects, e.g.
    ``make_reference()``, directly), named by its class and data; None for any other object."""
    if not in_suite(impl, strict=True):
        return None
    return Identity("shipped", {"kind": "shipped", "class": qualified(type(impl)), "state": describe(_state(impl))},
                    {"suite": suite_digest()})


def plugin_identity(impl: Any) -> Identity:
    """The identity of an implementation (the four kinds: this module's docstring)."""
    from .plugins import provenance

    made = provenance(impl)
    name, version = str(getattr(impl, "name", "")), str(getattr(impl, "version", ""))
    if made is not None and _shipped(impl, made.factory, made.value, made.how, made.entry):
        return Identity("shipped", {"kind": "shipped", "impl": made.value}, {"suite": suite_digest()})
    direct = object_identity(impl) if made is None else None
    if direct is not None:
        return direct
    who = {"impl": made and made.value, "class": qualified(type(impl)), "name": name,
           "factory": made and describe(made.factory)}
    token = getattr(impl, "cache_token", None)
    if isinstance(token, str) and token:
        return Identity("token", {"kind": "token", **who}, {"token": token, "version": version})
    modules = [_module_of(made.factory) if made else None, type(impl).__module__]
    factory_dist, class_dist = (_installed(m) for m in modules)
    if made is not None and factory_dist is not None and (class_dist is not None or suite_module(modules[1])):
        return Identity("installed", {"kind": "installed", **who},
                        {"distributions": sorted(list(d) for d in {factory_dist, class_dist} - {None}),
                         "version": version})
    if made is not None and made.how == "module":
        modules.append(made.value.partition(":")[0])  # where a partial or a ready object is defined
    return Identity("run", {"kind": "run", **who, "object": None if made else id(impl)},
                    {"files": _file_digest(modules), "version": version}, LOCAL_PLUGIN)


def claim_identity(claim: Any) -> tuple[str, Any, bool]:
    """(the declaration digest of the catalogue claim with this id, else ""; its measurement's name;
    whether both are this package's: a catalogue claim measured by this package's code). A
    reading's cells carry its claim's declaration, so readings that share a measurement share cells."""
    from .registry import all_claims

    registered = next((c for c in all_claims() if c.id == claim.id), None)
    if registered is None:
        return "", describe(claim.measure), False
    return registered.declaration(), describe(claim.measure), in_suite(claim.measure)

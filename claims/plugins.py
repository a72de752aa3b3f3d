"""Finding the implementation under test: --impl, RESNET_CLAIMS_IMPL, entry points, controls.

Resolution order: the ``--impl`` value (flag) beats the ``RESNET_CLAIMS_IMPL`` environment
variable, which beats the default ``reference``. A value is a name registered in the entry-point
group ``resnet_claims.implementations`` (``reference``, ``reference-dense``, ``naive-module``, your
own), the name of a negative control (reference_impl.controls.CONTROLS), or ``module:attr``
where attr is a factory (called with no arguments), a class (instantiated) or a ready object;
the module is looked up on sys.path and then in the working directory.
The contract is reference_impl/protocol.py; docs/plugins.md has a complete example.

Errors: an unknown name, a module or attribute that cannot be imported, or an object without the
contract's attributes raise PluginError (bad usage: nothing can run). A factory that raises is a
broken plug-in rather than bad usage: ``resolve`` returns a :class:`BrokenImpl` whose every claim
ends with verdict ``error`` and the factory's message, so the run still writes its results.
"""
from __future__ import annotations

import functools
import importlib
import operator
import os
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import torch

from reference_impl.controls import CONTROLS
from reference_impl.protocol import Capability, NetSpec

GROUP = "resnet_claims.implementations"
ENV = "RESNET_CLAIMS_IMPL"
DEFAULT = "reference"
ALL_CAPABILITIES = functools.reduce(operator.or_, Capability)


class PluginError(ValueError):
    """An implementation that cannot be found, loaded or does not meet the contract."""


class BrokenImpl:
    """Stands in for a plug-in whose factory raised: every build raises with the factory's error,
    so each claim's verdict is ``error`` (validation names the plug-in and the spec)."""

    version = "unknown"
    capabilities = ALL_CAPABILITIES  # never 'not applicable': the claim must report the failure

    def __init__(self, name: str, error: str) -> None:
        self.name = name
        self.error = error

    def build(self, spec: NetSpec, n_networks: int, generator: torch.Generator) -> Any:
        raise PluginError(f"the factory of {self.name!r} raised {self.error}, so no network can be built")


def _controls() -> dict[str, Any]:
    """Every negative control: reference_impl's, plus those the catalogue's control modules register on
    import (training controls, Fischer's weight-law controls); the claims themselves are not needed."""
    from .catalogue import fischer_controls, nfd_controls, transfer_controls  # noqa: F401  (register on import)

    return CONTROLS


def _registered() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def registered() -> dict[str, str]:
    """Registered implementation names -> their ``module:attr``, without loading any."""
    return {name: ep.value for name, ep in _registered().items()}


def available() -> list[str]:
    """Names usable with --impl: registered entry points and the negative controls."""
    return sorted(set(_registered()) | set(_controls()))


def _load_factory(value: str) -> tuple[Any, str, str | None]:
    """(the factory, how it was found: 'entry point' | 'control' | 'module', the entry point's module:attr)."""
    eps = _registered()
    if value in eps:
        try:
            return eps[value].load(), "entry point", eps[value].value
        except (ImportError, AttributeError) as exc:
            raise PluginError(f"cannot load registered implementation {value!r} ({eps[value].value}): {exc}") from exc
    controls = _controls()
    if value in controls:
        return controls[value], "control", None
    if ":" not in value:
        raise PluginError(f"unknown implementation {value!r}; use module:factory or one of: {', '.join(available())}")
    module, _, attr = value.partition(":")
    if not module or not attr:
        raise PluginError(f"--impl {value!r}: expected module:factory with both parts named, or one of: "
                          f"{', '.join(available())}")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())  # like `python -m`: a module in the working directory is found
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (Exception, SystemExit) as exc:  # a syntax error or any raise at import: nothing can run
        raise PluginError(f"cannot load implementation {value!r}: {type(exc).__name__}: {exc}") from exc
    return obj, "module", None


def _instantiate(value: str, factory: Any) -> Any:
    """A ready object is used as is; a class is instantiated; any other callable is called."""
    if isinstance(factory, type) or (callable(factory) and not hasattr(factory, "build")):
        try:
            return factory()
        except (Exception, SystemExit) as exc:
            return BrokenImpl(value, f"{type(exc).__name__}: {exc}")
    return factory


def check_contract(value: str, impl: Any) -> None:
    """Raise PluginError unless ``impl`` has name, version, capabilities (a Capability) and build."""
    if isinstance(impl, BrokenImpl):
        return
    for attr in ("name", "version", "capabilities", "build"):
        if not hasattr(impl, attr):
            raise PluginError(f"implementation {value!r} ({type(impl).__name__}) lacks required attribute "
                              f"{attr!r}; the contract is reference_impl.protocol.ResNetImpl (docs/plugins.md)")
    if not isinstance(impl.capabilities, Capability):
        raise PluginError(f"implementation {value!r}: capabilities must be a reference_impl.Capability flag, "
                          f"got {type(impl.capabilities).__name__}")
    if not callable(impl.build):
        raise PluginError(f"implementation {value!r}: build must be a method build(spec, n_networks, generator)")


def resolve(value: str | None = None) -> tuple[Any, str]:
    """(implementation, where it came from: 'flag' | 'env' | 'default'); flag > environment > reference."""
    source = "flag"
    if not value:
        value, source = os.environ.get(ENV), "env"
    if not value:
        value, source = DEFAULT, "default"
    value = value.strip()
    factory, how, entry = _load_factory(value)
    impl = _instantiate(value, factory)
    check_contract(value, impl)
    _MADE[id(impl)] = Provenance(impl, factory, value, how, entry)
    return impl, source


@dataclass(frozen=True)
class Provenance:
    """How ``resolve`` made an implementation: the object the --impl value named (a factory, class or
    ready object), the value, how it was found ('entry point' | 'control' | 'module') and, for an
    entry point, its ``module:attr``. The cell cache and calibrate name the implementation by it
    (claims/identity.py)."""

    impl: Any
    factory: Any
    value: str
    how: str
    entry: str | None = None


_MADE: dict[int, Provenance] = {}  # id(impl) -> how it was made


def provenance(impl: Any) -> Provenance | None:
    """How ``resolve`` made ``impl``; None for an object it did not return."""
    made = _MADE.get(id(impl))
    return made if made is not None and made.impl is impl else None

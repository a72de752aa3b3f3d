"""Finding the implementation under test: --impl, RESNET_CLAIMS_IMPL, entry points, controls."""
from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points
from typing import Any

from reference_impl.controls import CONTROLS
from reference_impl.protocol import Capability

GROUP = "resnet_claims.implementations"
ENV = "RESNET_CLAIMS_IMPL"


class PluginError(ValueError):
    """An implementation that cannot be found, loaded or does not meet the contract."""


def available() -> list[str]:
    """Names usable with --impl: registered entry points and the negative controls."""
    return sorted({ep.name for ep in entry_points(group=GROUP)} | set(CONTROLS))


def _load_factory(value: str) -> Any:
    eps = {ep.name: ep for ep in entry_points(group=GROUP)}
    if value in eps:
        return eps[value].load()
    if value in CONTROLS:
        return lambda: CONTROLS[value]
    if ":" not in value:
        raise PluginError(f"unknown implementation {value!r}; use module:factory or one of: {', '.join(available())}")
    module, _, attr = value.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"cannot load implementation {value!r}: {exc}") from exc
    return obj


def resolve(value: str | None = None) -> tuple[Any, str]:
    """(implementation, where it came from): the flag beats the environment beats ``reference``."""
    source = "flag"
    if not value:
        value, source = os.environ.get(ENV), "env"
    if not value:
        value, source = "reference", "default"
    factory = _load_factory(value)
    try:
        impl = factory() if callable(factory) and not hasattr(factory, "build") else factory
    except Exception as exc:
        raise PluginError(f"implementation factory {value!r} raised {type(exc).__name__}: {exc}") from exc
    for attr in ("name", "version", "capabilities", "build"):
        if not hasattr(impl, attr):
            raise PluginError(f"implementation {value!r} lacks required attribute {attr!r} (see reference_impl/protocol.py)")
    if not isinstance(impl.capabilities, Capability):
        raise PluginError(f"implementation {value!r}: capabilities must be a reference_impl.Capability flag")
    return impl, source

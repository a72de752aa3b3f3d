"""Fixtures of the engine's tests."""
import importlib
from pathlib import Path

import pytest


@pytest.fixture
def bad(monkeypatch):
    """The module of adversarial plug-ins (tests/claims/plugins_bad.py), importable as ``plugins_bad``
    (also by ``--impl plugins_bad:NAME`` from this folder)."""
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    return importlib.import_module("plugins_bad")

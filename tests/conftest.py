"""Shared test settings: hypothesis runs derandomised (same examples every run) with no deadline."""
import contextlib
import importlib
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Iterator

from hypothesis import HealthCheck, settings

settings.register_profile("deterministic", derandomize=True, database=None, deadline=None,
                          suppress_health_check=list(HealthCheck), max_examples=25)
settings.register_profile("explore", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("RESNET_CLAIMS_HYPOTHESIS_PROFILE", "deterministic"))


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _private_cell_cache(tmp_path_factory, monkeypatch):
    """Tests never read or write the user's cell cache."""
    monkeypatch.setenv("RESNET_CLAIMS_CACHE", str(tmp_path_factory.mktemp("cell-cache")))


@contextlib.contextmanager
def _import_written(folder: Path, sources: dict[str, str], module: str) -> Iterator[ModuleType]:
    """Write ``sources`` (file name -> text) into ``folder`` and import ``module`` from there; undone after."""
    for name, text in sources.items():
        (folder / name).write_text(text)
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(module)
    finally:
        sys.path.remove(str(folder))
        for name in sources:
            sys.modules.pop(Path(name).stem, None)


@pytest.fixture(scope="session")
def import_written():
    """The documentation's code blocks are tested as printed: write them out and import one as a module."""
    return _import_written

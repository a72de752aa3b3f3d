"""Shared test settings: hypothesis runs derandomised (same examples every run) with no deadline."""
import os

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

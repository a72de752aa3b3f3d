"""Independence is checked: replicate cells against their within-cell standard errors (claims.stats).

A plug-in that repeats 64 distinct networks to fill S, or shares one network across S, makes the
networks of a cell dependent: its standard errors are too small. The check makes such a claim an
error instead of a verdict with a CI that is too narrow.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

from claims.run import run_claim
from claims.spec import Table
from claims.registry import select
from claims.stats import DependenceError, check_independent, heterogeneity
from reference_impl import make_reference

sys.path.insert(0, str(Path(__file__).parent))  # the test plug-ins beside this file
from plugin_defects import RepeatedNetworks  # noqa: E402


def _cells(rng, points: int, reps: int, networks: int, repeat: int = 1) -> Table:
    """Per-cell mean and SE of ``networks`` draws, each distinct draw used ``repeat`` times."""
    rows = []
    for p in range(points):
        for r in range(reps):
            x = np.repeat(rng.standard_normal(networks // repeat), repeat)
            rows.append({"width": p, "cell": len(rows), "m": x.mean(), "m_se": x.std(ddof=1) / np.sqrt(networks)})
    return Table(rows)


def test_independent_cells_pass_at_close_to_the_nominal_rate():
    rng = np.random.default_rng(0)
    ps = [heterogeneity(t.col("m"), t.col("m_se"), t.col("width")).p for t in (_cells(rng, 4, 4, 256)
                                                                              for _ in range(400))]
    assert 0.02 < np.mean(np.array(ps) < 0.05) < 0.09  # nominal 5%; binomial sd 1.1% over 400 trials
    assert check_independent(_cells(rng, 4, 4, 256), "m", "m_se", ("width",)).df == 12


def test_repeated_draws_and_zero_spread_are_dependence_errors():
    rng = np.random.default_rng(1)
    with pytest.raises(DependenceError, match="not independent.*Q = "):
        check_independent(_cells(rng, 3, 4, 512, repeat=8), "m", "m_se", ("width",))
    with pytest.raises(DependenceError, match="zero spread"):
        check_independent(_cells(rng, 3, 2, 64, repeat=64), "m", "m_se", ("width",))


def test_one_replicate_per_point_has_nothing_to_compare():
    assert check_independent(_cells(np.random.default_rng(2), 3, 1, 64), "m", "m_se", ("width",)) is None


@pytest.mark.parametrize("distinct", [64, 1], ids=["64-networks-repeated", "one-shared-network"])
def test_dependent_ensembles_are_an_error_on_the_init_coupling(distinct):
    entry = run_claim(select(["nfd.init_coupling_width"])[0], RepeatedNetworks(distinct), "smoke", seed=0)
    # one shared network is already caught by validation's check of S identical networks
    assert entry["verdict"] == "error" and ("not independent" in entry["message"]
                                            or "independent networks" in entry["message"]), entry["message"]


def test_the_reference_passes_the_check():
    entry = run_claim(select(["nfd.init_coupling_width"])[0], make_reference(), "smoke", seed=0)
    assert entry["verdict"] != "error", entry["message"]

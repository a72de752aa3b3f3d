"""init.netspec_law: the mean-field recursion it compares with, and the module fixture of a practitioner's
own ResNet (tests/claims/user_resnet.py): the correct module passes, its initialisation mistakes do not."""
from pathlib import Path

import numpy as np
import pytest

from claims.catalogue.init_check import mean_field
from claims.registry import select
from claims.run import run_claim


@pytest.fixture(scope="module")
def user_resnet():
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1]))
    try:
        import user_resnet

        yield user_resnet
    finally:
        sys.path.remove(str(Path(__file__).parents[1]))


def test_mean_field_relu_is_the_closed_form():
    """ReLU: E[phi^2] = K/2 and E[phi'^2] = 1/2, so both recursions are geometric."""
    a, s2, depth = 8 ** -0.5, 2.0, 8
    q, r = mean_field(np.array([1.3]), depth, a, s2, "relu", "res1")
    assert np.allclose(q[:, 0], 1.3 * (1 + a * a * s2 / 2) ** np.arange(depth + 1))
    assert np.allclose(r[:, 0], (1 + a * a * s2 / 2) ** np.arange(depth, -1, -1))
    q3, r3 = mean_field(np.array([1.0]), depth, a, s2, "relu", "res3")
    assert np.allclose(q3[:, 0], (1 + a * a * s2 * s2 / 2) ** np.arange(depth + 1))
    assert np.allclose(r3[:, 0], (1 + a * a * s2 * s2 / 2) ** np.arange(depth, -1, -1))


def test_mean_field_erf_uses_the_erf_kernel():
    q, _ = mean_field(np.array([1.0]), 1, 1.0, 1.0, "erf", "res1")
    assert q[1, 0] == pytest.approx(1.0 + 2 / np.pi * np.arcsin(2 / 3))


@pytest.mark.parametrize("bug, verdict", [("", "holds"), ("fc2-std-3", "violated"), ("branch-constant", "violated"),
                                          ("sigma-ignored", "violated")])
def test_the_module_own_init_is_checked(user_resnet, bug, verdict):
    """The module's own initialiser (not the suite's draw): fc2's std tripled, 1/sqrt(2L) and sigma_w2
    ignored are rejected, the correct module passes (smoke, seed 0)."""
    entry = run_claim(select(["init.netspec_law"])[0], user_resnet.factory(bug), "smoke", 0)
    assert entry["verdict"] == verdict, entry["message"]
    assert entry["config"] == {"block": "res3"}  # run in the module's family


def test_blocks_sharing_one_object_are_named(user_resnet):
    entry = run_claim(select(["init.netspec_law"])[0], user_resnet.factory("shared-blocks"), "smoke", 0)
    assert entry["verdict"] == "error" and "blocks share parameters" in entry["message"]

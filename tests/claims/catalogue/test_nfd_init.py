"""The init coupling on a plug-in's own backward pass (claims/catalogue/nfd_init.py)."""
import math

import pytest

from claims.catalogue.nfd2025.init_coupling import measure_init_coupling
from claims.run import run_claim
from claims.spec import CellContext
from claims.registry import select
from reference_impl import Capability, make_reference, make_reference_dense

CLAIM = select(["nfd.init_coupling_width"])[0]


def _ctx(impl, seed: int, networks: int = 2048, width: int = 64) -> CellContext:
    return CellContext({**CLAIM.sweep("smoke").fixed, "width": width}, 0, seed, networks, impl, "cpu", "float64")


def test_the_plugin_path_measures_the_statistic_of_the_exact_sampler():
    """reference-dense (grad_trace + layer_weights) and the reference (no weights: its exact lazy sampler,
    training's "reuse" and "paired" runs) estimate the same D_1 and E[A_0^2] (independent draws, 4 SE)."""
    dense, exact = measure_init_coupling(_ctx(make_reference_dense(), 1)), measure_init_coupling(_ctx(make_reference(), 2))
    assert "gain" in dense and "gain" not in exact
    for key in ("D1", "A0sq"):
        se = math.hypot(dense[f"{key}_se"], exact[f"{key}_se"])
        assert abs(dense[key] - exact[key]) < 4 * se, (key, dense[key], exact[key], se)


class _NoWeights:
    name, version = "no-weights", "0"
    capabilities = Capability.FORWARD_TRACE | Capability.GRAD_TRACE | Capability.TRAIN_STEP

    def build(self, spec, n_networks, generator):
        return make_reference_dense().build(spec, n_networks, generator)

    def train_runs(self, *args, **kw):
        return make_reference().train_runs(*args, **kw)


class _NoGrad(_NoWeights):
    name = "no-grad"
    capabilities = Capability.FORWARD_TRACE | Capability.WEIGHTS


@pytest.mark.parametrize("impl, missing", [(_NoWeights(), "WEIGHTS"), (_NoGrad(), "GRAD_TRACE")])
def test_a_plugin_without_weights_or_gradients_is_not_applicable_with_the_reason(impl, missing):
    entry = run_claim(CLAIM, impl, "smoke", seed=0)
    assert entry["verdict"] == "not applicable" and missing in entry["message"], entry["message"]

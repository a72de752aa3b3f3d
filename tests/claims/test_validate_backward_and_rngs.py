"""Validation of a plug-in's backward pass (against finite differences of its trace) and of its
randomness (which global RNG; different seeds must give different networks)."""
import sys
from pathlib import Path

import pytest

from claims.plugins import resolve
from claims.validate import ValidationError, validate
from reference_impl import NetSpec, make_reference, make_reference_dense
from reference_impl.naive import make_naive_module

sys.path.insert(0, str(Path(__file__).parent))  # the test plug-ins beside this file
from plugin_defects import NumpyGlobalRNG, ReplayedTorchGlobalRNG, Seedless, UntransposedGrad  # noqa: E402

SPEC = NetSpec(width=8, depth=4, activation="tanh")


@pytest.mark.parametrize("weights", [True, False], ids=["with-weights", "without-weights"])
@pytest.mark.parametrize("nograd", [False, True], ids=["differentiable-trace", "trace-under-no-grad"])
def test_a_backward_through_w_instead_of_w_transposed_disagrees_with_finite_differences(weights, nograd):
    """However trace is written (autograd cannot see one run under no_grad) and without declared weights."""
    with pytest.raises(ValidationError, match="disagrees with finite differences of trace"):
        validate(UntransposedGrad(weights, nograd), SPEC, grad=True)


@pytest.mark.parametrize("impl", [make_reference(), make_reference_dense(), make_naive_module()],
                         ids=lambda i: i.name)
def test_correct_backward_passes_agree_with_finite_differences(impl):
    validate(impl, SPEC, grad=True)
    validate(impl, SPEC.with_(input_dim=3, block="res3"), grad=True)
    validate(impl, SPEC.with_(activation="relu", beta=0.0, depth=8, bias_var=0.5), grad=True)


class Float32Only:
    """A plug-in that declines float64 networks: the finite differences run in float32."""

    version, capabilities = "0", make_reference_dense().capabilities

    def __init__(self, impl):
        self.impl, self.name = impl, f"{impl.name}-float32-only"

    def build(self, spec, n_networks, generator):
        if spec.dtype == "float64":
            raise NotImplementedError("float32 only")
        return self.impl.build(spec, n_networks, generator)


def test_in_float32_the_check_passes_a_correct_relu_network_and_rejects_a_transpose_bug():
    for seed in range(10):
        validate(Float32Only(make_reference_dense()), SPEC.with_(activation="relu", beta=0.0, depth=8), grad=True,
                 seed=seed)
    with pytest.raises(ValidationError, match="finite differences of trace.x. in float32"):
        validate(Float32Only(UntransposedGrad(False, nograd=True)), SPEC, grad=True)


def test_the_transpose_bug_control_is_caught_by_validation():
    """The control's trace runs outside autograd; the finite differences see its backward all the same."""
    with pytest.raises(ValidationError, match="disagrees with finite differences"):
        validate(resolve("transpose-bug")[0], SPEC, grad=True)


def test_a_plugin_that_ignores_the_generator_fails_validation():
    """A fixed internal seed: the same seed gives the same networks, so only different seeds tell."""
    with pytest.raises(ValidationError, match=r"different seeds \(12352 and 12345\) give the same networks"):
        validate(Seedless(), SPEC)
    validate(Seedless(), SPEC.with_(scale=0.0))  # branch multiplier 0: every network is the identity


def test_numpy_global_rng_is_named_as_the_culprit():
    with pytest.raises(ValidationError, match="numpy's global RNG moved") as err:
        validate(NumpyGlobalRNG(), SPEC)
    assert "torch's global RNG" not in str(err.value).split("when ")[1].split(";")[0]
    assert "seeded_global_rngs" in str(err.value)


def test_numpy_code_inside_seeded_global_rngs_passes():
    validate(NumpyGlobalRNG(seeded=True), SPEC, grad=True)


def test_a_replay_cache_does_not_make_the_determinism_probe_pass_vacuously():
    with pytest.raises(ValidationError, match="torch's global RNG moved"):
        validate(ReplayedTorchGlobalRNG(), SPEC)

"""Validation of a plug-in's backward pass (against autograd) and of its randomness (which global RNG)."""
import sys
from pathlib import Path

import pytest

from claims.plugins import resolve
from claims.validate import ValidationError, validate
from reference_impl import NetSpec, make_reference, make_reference_dense
from reference_impl.naive import make_naive_module

sys.path.insert(0, str(Path(__file__).parent))  # the test plug-ins beside this file
from plugin_defects import NumpyGlobalRNG, ReplayedTorchGlobalRNG, UntransposedGrad  # noqa: E402

SPEC = NetSpec(width=8, depth=4, activation="tanh")


@pytest.mark.parametrize("weights", [True, False], ids=["with-weights", "without-weights"])
def test_a_backward_through_w_instead_of_w_transposed_disagrees_with_autograd(weights):
    with pytest.raises(ValidationError, match="disagrees with autograd through trace"):
        validate(UntransposedGrad(weights), SPEC, grad=True)


@pytest.mark.parametrize("impl", [make_reference(), make_reference_dense(), make_naive_module()],
                         ids=lambda i: i.name)
def test_correct_backward_passes_agree_with_autograd(impl):
    validate(impl, SPEC, grad=True)
    validate(impl, SPEC.with_(input_dim=3, block="res3"), grad=True)


def test_the_transpose_bug_control_hides_its_forward_from_autograd_and_passes_validation():
    validate(resolve("transpose-bug")[0], SPEC, grad=True)  # the init-coupling claims reject it instead


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

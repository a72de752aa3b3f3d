import pytest

from reference_impl import Capability, NetSpec, SpecError, make_reference, make_reference_dense


@pytest.mark.parametrize(
    "field, value, words",
    [("width", -3, "width=-3"), ("depth", 0, "depth=0"), ("activation", "swish", "allowed: relu"),
     ("init", "fbm", "Hurst"), ("dtype", "float16", "float32"), ("device", "tpu", "cuda"),
     ("sigma_w2", 0.0, "sigma_w2"), ("block", "res2", "res1w"), ("input_scale", "wide", "allowed: unit, sigma_w2"),
     ("input_scale", "sigma_w2", "needs an input layer")],
)
def test_bad_spec_names_the_field_and_the_allowed_values(field, value, words):
    fields = {"width": 8, "depth": 2, field: value}
    with pytest.raises(SpecError, match=words):
        NetSpec(**fields)


def test_spec_round_trips_through_dict_and_rejects_unknown_fields():
    spec = NetSpec(width=8, depth=3, init="fbm", init_param=0.7)
    assert NetSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(SpecError, match="unknown NetSpec field"):
        NetSpec.from_dict({"width": 8, "depth": 3, "depht": 4})


def test_branch_multiplier_is_scale_times_depth_power():
    assert NetSpec(width=4, depth=16, beta=0.5, scale=2.0).branch_multiplier == pytest.approx(0.5)


def test_reference_declares_its_capabilities():
    for impl in (make_reference(), make_reference_dense()):
        assert Capability.FORWARD_TRACE in impl.capabilities and Capability.GRAD_TRACE in impl.capabilities
        assert impl.version and impl.name.startswith("reference")


def test_input_layer_variance_is_unit_or_sigma_w2():
    assert NetSpec(width=4, depth=1, input_dim=3, sigma_w2=2.5).input_variance == 1.0
    assert NetSpec(width=4, depth=1, input_dim=3, sigma_w2=2.5, input_scale="sigma_w2").input_variance == 2.5

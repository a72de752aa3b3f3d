"""The NFD training claims train the plug-in's network, and say which network they trained."""
from claims.run import run_claim
from claims.registry import select
from reference_impl.protocol import Capability
from reference_impl.training import REFERENCE_NETWORK, train


class WrapsTheReference:
    """Declares TRAIN_STEP but trains by calling the reference's trainer (issue: such a plug-in used to
    get the reference's verdicts unremarked)."""

    name, version = "wraps-reference", "0"
    capabilities = Capability.FORWARD_TRACE | Capability.TRAIN_STEP

    def build(self, spec, n_networks, generator):  # noqa: ANN001, ANN201
        from reference_impl.reference import make_reference

        return make_reference().build(spec, n_networks, generator)

    def train_runs(self, spec, cfg, n_networks, generator, runs, **options):  # noqa: ANN001, ANN003, ANN201
        return train(spec, cfg, n_networks, generator, runs, **options)


def test_a_plug_in_that_wraps_the_reference_trainer_is_reported_as_such() -> None:
    entry = run_claim(select(["nfd.depth_error"])[0], WrapsTheReference(), "smoke", seed=0)
    assert entry["trained_with"] == REFERENCE_NETWORK
    assert "trained with the reference's network" in entry["message"]


def test_a_plug_in_that_cannot_train_is_not_applicable_with_the_reason() -> None:
    class NoTrainer(WrapsTheReference):
        """TRAIN_STEP declared, but neither train_runs nor blocks with weights."""

        train_runs = None  # type: ignore[assignment]

    entry = run_claim(select(["nfd.depth_error"])[0], NoTrainer(), "smoke", seed=0)
    assert entry["verdict"] == "not applicable" and "no training step" in entry["message"], entry["message"]

"""The declaration digest covers every declared number and the source text of the measure and
estimate code (with the catalogue helpers it calls), not only their names."""
import dataclasses
import importlib.util
import sys
import textwrap
from functools import partial

import pytest

from claims import digest
from claims.registry import select

HELPERS = '''
SCALE = {scale}


def helper(x):
    return x * SCALE{extra}


def estimate(table, level):
    return helper(level)
'''


def _module(tmp_path, name, scale=2.0, extra=""):
    """A module ``name`` whose estimate calls a helper that reads a constant."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(HELPERS.format(scale=scale, extra=extra)))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def claim():
    return select(["nfd.depth_error"])[0]


def test_the_digest_is_stable_and_moves_with_every_declared_number(claim) -> None:
    base = claim.declaration()
    assert base == claim.declaration() and len(base) == 16
    sweep = claim.sweeps["default"]
    for changed in (dataclasses.replace(claim, tolerance=claim.tolerance * 2),
                    dataclasses.replace(claim, prediction=claim.prediction + 0.1),
                    dataclasses.replace(claim, level=0.9),
                    dataclasses.replace(claim, controls=claim.controls[:1]),
                    dataclasses.replace(claim, positive_controls=("sgd-rate-decay",)),
                    dataclasses.replace(claim, kind="implementation check"),
                    dataclasses.replace(claim, sweeps={**claim.sweeps, "default": dataclasses.replace(
                        sweep, networks=sweep.networks // 2)})):
        assert changed.declaration() != base


def test_prose_does_not_move_the_digest(claim) -> None:
    assert dataclasses.replace(claim, statement="reworded", tolerance_why="reworded").declaration() == \
        claim.declaration()


def test_a_rewritten_estimator_line_under_the_same_name_moves_the_digest(claim, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(digest, "COVERED", (*digest.COVERED, "est_a", "est_b"))
    a = _module(tmp_path, "est_a")
    b = _module(tmp_path, "est_b", extra=" + 0.0")  # one line of a helper the estimator calls
    c = _module(tmp_path / "..", "est_a")  # the same text again: the same closure
    code_a, code_b = digest.code_closure(a.estimate), digest.code_closure(b.estimate)
    assert [k.split(".", 1)[1] for k in code_a] == [k.split(".", 1)[1] for k in code_b]  # same names
    assert code_a["est_a.helper"] != code_b["est_b.helper"]
    assert digest.code_closure(c.estimate) == code_a
    assert dataclasses.replace(claim, estimate=a.estimate).declaration() != \
        dataclasses.replace(claim, estimate=_module(tmp_path, "est_a", extra=" + 0.0").estimate).declaration()


def test_a_constant_the_code_reads_is_covered(claim, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(digest, "COVERED", (*digest.COVERED, "est_c"))
    first = dataclasses.replace(claim, estimate=_module(tmp_path, "est_c", scale=2.0).estimate).declaration()
    second = dataclasses.replace(claim, estimate=_module(tmp_path, "est_c", scale=3.0).estimate).declaration()
    assert first != second


def test_partials_follow_their_function_and_arguments(claim) -> None:
    from claims.catalogue.measures import depth_slope

    one = partial(depth_slope, key="A1", predicted=-1.5, title="t", ylabel="y")
    two = partial(depth_slope, key="A2", predicted=-1.5, title="t", ylabel="y")
    assert "claims.catalogue.measures.slope_estimate" in digest.code_closure(one)
    assert dataclasses.replace(claim, estimate=one).declaration() != \
        dataclasses.replace(claim, estimate=two).declaration()


def test_the_catalogue_helpers_and_verdict_rules_are_in_the_closure(claim) -> None:
    code = digest.code_closure(claim.measure, claim.estimate, *digest.VERDICT_RULES)
    for name in ("claims.catalogue.nfd2025.depth_error.measure_depths", "claims.catalogue.measures.power_law",
                 "claims.catalogue.measures.block_cov", "claims.stats.equivalence_verdict", "claims.aggregate"):
        assert name in code, name
    assert not any(k.startswith("reference_impl") for k in code)  # the implementation under test is not declared


def test_a_reading_digest_moves_with_its_own_declaration_only() -> None:
    claim = select(["nfd.two_layer_block_collapse"])[0]
    first, second = claim.readings
    changed = dataclasses.replace(claim, readings=(first, dataclasses.replace(second, tolerance=0.5)))
    assert changed.reading_declaration(first) == claim.reading_declaration(first)
    assert changed.reading_declaration(changed.readings[1]) != claim.reading_declaration(second)
    assert changed.declaration() != claim.declaration()


def test_a_control_definition_is_covered() -> None:
    from reference_impl.controls import CONTROLS

    definition = digest.control_definition("lr-depth-factor")
    assert "0.5" in str(definition["fields"]["lr_depth_exponent"])
    assert "train_runs" in str(definition["class"])
    assert digest.control_definition("no-such-control") == "<unregistered control no-such-control>"
    assert "beta=0.0" in str(digest.control_definition("no-depth-multiplier")) and "no-depth-multiplier" in CONTROLS

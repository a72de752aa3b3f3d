"""Claims with readings run each reading through the ordinary path and report one headline."""
import dataclasses
import math

import numpy as np
import pytest

from claims.run import run_claim
from claims.spec import Claim, ClaimError, Estimate, Reading, Source, Sweep
from claims.stats import mean_ci
from claims.verify import exit_status, summary_line
from reference_impl import make_reference


def _measure(ctx):
    """A value around ctx.params['centre'] with unit noise from the cell's seed."""
    rng = np.random.default_rng(ctx.seed)
    return {"value": float(ctx.params["centre"] + rng.normal())}


def _estimate(table, level):
    m, h = mean_ci(table.col("value"), level)
    return Estimate(m, [(m - h, m + h)])


SWEEP = Sweep(axes={"k": tuple(range(20))}, replicates=1, networks=1, fixed={"centre": 0.0})


def _claim(*readings, **kw):
    return Claim(id="toy.readings", statement="a toy", source=Source("p", "0000.00000", "s"), quantity="value",
                 estimand="mean", prediction=0.0, tolerance=1.0, tolerance_why="toy", prediction_origin="derived",
                 sweeps={b: SWEEP for b in ("smoke", "default", "thorough")}, measure=_measure, estimate=_estimate,
                 readings=tuple(readings), **{"kind": "paper", "kind_why": "toy", **kw})


def _run(claim):
    return run_claim(claim, make_reference(), "smoke", 0, "cpu", "float32")


def test_reading_params_reach_the_measurement_and_predictions_are_the_readings_own():
    entry = _run(_claim(Reading("near", "near zero"), Reading("far", "far away", params={"centre": 10.0}),
                        Reading("far-predicted", "far, predicted", params={"centre": 10.0}, prediction=10.0)))
    by = {r["reading"]: r for r in entry["readings"]}
    assert by["near"]["verdict"] == "holds" and by["far-predicted"]["verdict"] == "holds"
    assert by["far"]["verdict"] == "violated" and math.isclose(by["far-predicted"]["prediction"], 10.0)
    assert entry["verdict"] == "reading-dependent" and exit_status({"claims": [entry]}) == 3
    assert entry["shown_reading"] == "near"
    assert "far" in summary_line(entry) and summary_line(entry).count("\n") == 3


def test_degenerate_readings_are_shown_but_not_counted():
    entry = _run(_claim(Reading("near", "near zero"),
                        Reading("identity", "true by construction", params={"centre": 10.0}, degenerate="an identity")))
    assert entry["verdict"] == "holds"
    assert [r["verdict"] for r in entry["readings"]] == ["holds", "violated"]
    assert entry["readings"][1]["degenerate"] == "an identity"


def test_all_readings_violated_is_violated():
    entry = _run(_claim(Reading("a", "a", params={"centre": 10.0}), Reading("b", "b", params={"centre": -10.0})))
    assert entry["verdict"] == "violated"


def test_readings_share_the_run_path_with_plain_claims():
    """A reading with no changes gives exactly the plain claim's numbers (same cells, same seeds)."""
    plain = _run(_claim())
    read = _run(_claim(Reading("as-stated", "the statement as written")))
    assert read["estimate"] == plain["estimate"] and read["ci"] == plain["ci"]


def test_declaration_errors():
    with pytest.raises(ClaimError, match="unique"):
        _claim(Reading("a", "x"), Reading("a", "y"))
    with pytest.raises(ClaimError, match="degenerate"):
        _claim(Reading("a", "x", degenerate="identity"))
    with pytest.raises(ClaimError, match="kind must be one of"):
        _claim(kind="finding")
    with pytest.raises(ClaimError, match="kind must be one of"):
        _claim(kind_why="")
    with pytest.raises(ClaimError, match="override kind"):
        _claim(Reading("a", "x", kind="implementation check"))


def test_a_reading_entry_carries_its_digest_and_the_counted_tally():
    claim = _claim(Reading("near", "near zero"), Reading("far", "far away", params={"centre": 10.0}),
                   Reading("identity", "by construction", params={"centre": 10.0}, degenerate="an identity",
                           kind="implementation check", kind_why="an identity"))
    entry = _run(claim)
    assert entry["counted_readings"] == {"violated": 1, "holds": 1, "undecided": 0}
    assert [s["digest"] for s in entry["readings"]] == [claim.reading_declaration(r) for r in claim.readings]
    assert entry["digest"] == claim.declaration() and entry["kind"] == "paper"
    assert entry["readings"][2]["kind"] == "implementation check"


def test_report_shows_the_readings_table_and_every_readings_figure():
    from claims.report.render import render_html

    entry = _run(_claim(Reading("near", "near zero"), Reading("far", "far away", params={"centre": 10.0}),
                        Reading("identity", "by construction", params={"centre": 10.0}, degenerate="an identity")))
    for i, sub in enumerate(entry["readings"]):
        sub["figure"] = {"title": f"fig {sub['reading']}", "xlabel": "k", "ylabel": "value", "series": [
            {"label": "v", "points": {"x": [1, 2, 3], "y": [1.0, 2.0, 3.0 + i]}}]}
    html = render_html([{"schema_version": 2, "run": {"implementation": "reference"}, "claims": [entry]}])
    assert "Readings" in html and "reading-dependent" in html
    assert "Not counted:" in html and "an identity" in html
    assert all(f"fig {name}" in html for name in ("near", "far", "identity"))


def test_readings_that_share_cells_measure_each_cell_once_without_a_cache():
    calls = []

    def counted(ctx):
        calls.append(ctx.params["k"])
        return _measure(ctx)

    claim = dataclasses.replace(_claim(Reading("a", "a"), Reading("b", "b", prediction=5.0),
                                       Reading("far", "far", params={"centre": 10.0})), measure=counted)
    entry = _run(claim)
    assert len(calls) == 2 * len(SWEEP.axes["k"])  # "a" and "b" share every cell; "far" has its own
    a, b, _ = entry["readings"]
    assert a["estimate"] == b["estimate"] and (a["verdict"], b["verdict"]) == ("holds", "violated")

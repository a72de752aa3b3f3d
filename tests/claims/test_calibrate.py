"""`resnet-claims calibrate`: bookkeeping of the reliability table, targets, resume, and the command."""
import dataclasses
import json
import sys
import types
from pathlib import Path

import pytest

import claims.calibrate as cal
from claims import cli
from claims.calibrate import TARGETS, all_met, calibrate, clopper_pearson
from claims.reliability_table import render_markdown
from claims.cache import UncachedPluginWarning
from claims.spec import Claim, Sweep
from claims.registry import select

sys.path.insert(0, str(Path(__file__).parent))  # the test plug-ins beside this file
from cache_plugins import plugin_folder  # noqa: E402

FAKE = [types.SimpleNamespace(id="fake.claim", controls=("scale-exponent-off", "post-activation"), declaration=lambda: "d1")]


def scripted(calls):
    """run_claim stand-in: the reference is violated at seed 3 and inconclusive at seeds 5, 6;
    scale-exponent-off is always violated; post-activation holds at seed 0."""

    def run_claim(claim, impl, budget, seed, device, dtype, execution=None):
        calls.append((claim.id, impl.name, seed))
        if impl.name == "reference":
            verdict = {3: "violated", 5: "inconclusive", 6: "inconclusive"}.get(seed, "holds")
        elif impl.name == "post-activation":
            verdict = "holds" if seed == 0 else "violated"
        else:
            verdict = "violated"
        return {"verdict": verdict, "estimate": 0.5 + seed / 100, "ci": [0.4, 0.6], "seconds": 0.25}

    return run_claim


def test_clopper_pearson_matches_known_values():
    assert clopper_pearson(0, 20)[0] == 0.0 and clopper_pearson(0, 20)[1] == pytest.approx(0.1684, abs=1e-4)
    assert clopper_pearson(20, 20)[0] == pytest.approx(0.8316, abs=1e-4)
    lo, hi = clopper_pearson(5, 10)
    assert lo == pytest.approx(0.1871, abs=1e-4) and hi == pytest.approx(0.8129, abs=1e-4)


def test_rates_targets_and_misses_are_computed_per_claim_and_control(monkeypatch):
    calls = []
    monkeypatch.setattr(cal, "run_claim", scripted(calls))
    data = calibrate(FAKE, seeds=20, budget="smoke")
    assert len(calls) == 20 * 3 and len(data["runs"]) == 60
    (row,) = data["summary"]
    ref = row["reference"]
    assert ref["runs"] == 20 and ref["counts"]["holds"] == 17 and ref["rates"]["violated"] == pytest.approx(0.05)
    fv, inc = ref["checks"]
    assert fv["what"] == "false-violation rate" and not fv["met"] and fv["missed_by"] == pytest.approx(0.04)
    assert inc["rate"] == pytest.approx(0.10) and inc["missed_by"] == pytest.approx(0.05)
    assert ref["seconds"] == pytest.approx(5.0)
    power = {c["control"]: c["checks"][0] for c in row["controls"]}
    # power is relative to the reference: at seed 3 the reference is violated too, so no control is
    # credited with rejecting there
    assert power["scale-exponent-off"]["rate"] == pytest.approx(0.95) and power["scale-exponent-off"]["met"]
    assert not power["scale-exponent-off"]["demonstrated"]  # 19/20 cannot show >= 95% at 95% confidence
    assert power["post-activation"]["rate"] == pytest.approx(0.90) and not power["post-activation"]["met"]
    assert not all_met(data)
    assert data["targets"] == TARGETS
    text = render_markdown(data)
    assert "| `fake.claim` | reference | 20 | 85.0% | 5.0% | 10.0% | 0 |" in text
    assert "MISSED false-violation rate by 4.0 pp; MISSED inconclusive rate by 5.0 pp" in text
    assert "| | control `post-activation` | 20 | 5.0% | 95.0% | 0% | 0 | power: 90.0% [68.3%, 98.8%] | >= 0.95 |" in text
    assert "K = 20" in text


def test_written_files_resume_and_fresh(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cal, "run_claim", scripted(calls))
    calibrate(FAKE, seeds=3, budget="smoke", out=tmp_path)
    saved = json.loads((tmp_path / "calibration.json").read_text())
    assert saved["schema"] == cal.SCHEMA and len(saved["runs"]) == 9
    assert saved["settings"]["seeds"] == [0, 1, 2] and (tmp_path / "calibration.md").read_text().startswith("# Reliability")
    calls.clear()
    data = calibrate(FAKE, seeds=4, budget="smoke", out=tmp_path)  # only seed 3 is new
    assert sorted({c[2] for c in calls}) == [3] and len(calls) == 3 and len(data["runs"]) == 12
    calls.clear()
    calibrate(FAKE, seeds=4, budget="default", out=tmp_path)  # another budget: nothing reused
    assert len(calls) == 12
    calls.clear()
    calibrate(FAKE, seeds=2, budget="default", out=tmp_path, resume=False)
    assert len(calls) == 6



def test_runs_under_another_declaration_are_marked_stale_and_run_again(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cal, "run_claim", scripted(calls))
    calibrate(FAKE, seeds=2, budget="smoke", out=tmp_path)
    changed = [types.SimpleNamespace(id="fake.claim", controls=FAKE[0].controls, declaration=lambda: "d2")]
    old = json.loads((tmp_path / "calibration.json").read_text())
    old["summary"] = cal.summarise(old["runs"], changed, "reference")
    assert old["summary"][0]["declaration"] == {"current": "d2", "runs": 6, "stale": 6}
    assert render_markdown(old).count("stale: 6 of 6 runs do not carry the claim's current declaration") == 3
    calls.clear()
    data = calibrate(changed, seeds=2, budget="smoke", out=tmp_path)
    assert len(calls) == 6 and {r["declaration"] for r in data["runs"]} == {"d2"}
    assert data["summary"][0]["declaration"]["stale"] == 0 and "stale" not in render_markdown(data)


def test_a_loaded_table_is_checked_against_the_catalogue_as_it_is_now(tmp_path):
    claim = select(["marion.iid_sqrt_l_unique"])[0]
    run = {"claim": claim.id, "impl": "reference", "role": "reference", "seed": 0, "verdict": "holds",
           "estimate": 0.5, "ci": [0.49, 0.51], "seconds": 1.0}
    data = {"schema": cal.SCHEMA, "settings": {}, "runs": [run, {**run, "seed": 1, "declaration": claim.declaration()}],
            "summary": [{"claim": claim.id}]}
    (tmp_path / "calibration.json").write_text(json.dumps(data))
    assert cal.load_calibration(tmp_path / "calibration.json")["summary"][0]["declaration"]["stale"] == 1

def test_controls_can_be_restricted(monkeypatch):
    calls = []
    monkeypatch.setattr(cal, "run_claim", scripted(calls))
    data = calibrate(FAKE, seeds=2, controls=["post-activation"])
    assert {c[1] for c in calls} == {"reference", "post-activation"}
    assert [c["control"] for c in data["summary"][0]["controls"]] == ["post-activation"]
    calls.clear()
    data = calibrate(FAKE, seeds=2, controls=[])
    assert {c[1] for c in calls} == {"reference"} and data["summary"][0]["controls"] == []


def _tiny_claim() -> Claim:
    """The i.i.d. Marion claim on a tiny sweep (seconds, not minutes): the end-to-end path."""
    claim = select(["marion.iid_sqrt_l_unique"])[0]
    sweep = Sweep(axes={"depth": (4, 8, 16)}, inner={"beta": (0.3, 0.5, 0.7)}, replicates=3, networks=8,
                  fixed={"width": 16, "pass": "forward"})
    return dataclasses.replace(claim, id="tiny.root", sweeps={b: sweep for b in ("smoke", "default", "thorough")},
                               tolerance=0.2, controls=("scale-exponent-off",), config_space=None)


def test_command_writes_the_table(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "select", lambda patterns: [_tiny_claim()])
    status = cli.main(["calibrate", "--seeds", "2", "--budget", "smoke", "--out", str(tmp_path), "--quiet"])
    assert status in (0, 1)
    data = json.loads((tmp_path / "calibration.json").read_text())
    assert {(r["impl"], r["seed"]) for r in data["runs"]} == {(i, s) for i in ("reference", "scale-exponent-off")
                                                              for s in (0, 1)}
    assert all(r["verdict"] in ("holds", "violated", "inconclusive") for r in data["runs"])
    out = capsys.readouterr().out
    assert "| `tiny.root` | reference | 2 |" in out and "control `scale-exponent-off`" in out
    assert status == (0 if all_met(data) else 1)


def test_runs_in_a_process_pool_give_the_inline_numbers(monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "select", lambda patterns: [_tiny_claim()])
    tables = []
    for executor, out in (("inline", tmp_path / "inline"), ("processes:2", tmp_path / "pool")):
        cli.main(["calibrate", "--seeds", "2", "--budget", "smoke", "--out", str(out), "--quiet", "--executor", executor])
        runs = json.loads((out / "calibration.json").read_text())["runs"]
        tables.append({(r["impl"], r["seed"]): (r["verdict"], r["estimate"]) for r in runs})
    assert len(tables[0]) == 4 and tables[0] == tables[1]


@pytest.mark.parametrize("args, words", [(["--seeds", "0"], "--seeds 0"), (["--budget", "huge"], "--budget 'huge'"),
                                         (["--claims", "nope.*"], "unknown claim id"),
                                         (["--controls", "nope"], "--controls ['nope'] unknown"),
                                         (["--executor", "threads"], "--executor 'threads'")])
def test_bad_usage_exits_2(args, words, capsys, tmp_path):
    assert cli.main(["calibrate", "--out", str(tmp_path), *args]) == 2
    assert words in capsys.readouterr().err


def test_power_counts_a_reading_the_reference_does_not_violate(monkeypatch):
    """A control of a reading-dependent claim is rejected where a counted reading that holds on the
    reference is violated on the control, at the same seed; never where the reference is rejected alike."""
    def run_claim(claim, impl, budget, seed, device, dtype, execution=None):
        ref = impl.name == "reference"
        readings = [{"reading": "a", "verdict": "violated"},
                    {"reading": "b", "verdict": "holds" if ref or seed == 0 else "violated"}]
        return {"verdict": "reading-dependent" if ref or seed == 0 else "violated", "estimate": None, "ci": None,
                "seconds": 0.1, "readings": readings}
    monkeypatch.setattr(cal, "run_claim", run_claim)
    data = calibrate(FAKE, seeds=4, budget="smoke", controls=["scale-exponent-off"])
    (ctl,) = data["summary"][0]["controls"]
    assert ctl["checks"][0]["rate"] == pytest.approx(0.75)  # seeds 1..3: reading b violated only on the control
    run = next(r for r in data["runs"] if r["impl"] == "scale-exponent-off" and r["seed"] == 1)
    assert run["readings"][1] == {"reading": "b", "verdict": "violated", "degenerate": False}


def test_a_recorded_finding_is_not_counted_as_false_alarms(monkeypatch):
    monkeypatch.setattr(cal, "run_claim", lambda claim, impl, *a, **kw: {"verdict": "violated", "estimate": 1.0,
                                                                   "ci": [0.9, 1.1], "seconds": 0.1})
    expected = {("reference", "smoke", "fake.claim"): ("violated", "the paper's rate does not reproduce (|s| > 1)"),
                ("reference", "default", "fake.claim"): ("violated", "other budget: not used")}
    data = calibrate(FAKE, seeds=4, budget="smoke", expected=expected)
    (row,) = data["summary"]
    assert row["reference"]["finding"]["reproduced"]["count"] == 4
    assert [c["what"] for c in row["reference"]["checks"]] == ["inconclusive rate"]
    assert not any(c["informative"] for c in row["controls"])
    table = render_markdown(data)
    assert "finding, reproduced 4/4 (the paper's rate does not reproduce (&#124;s&#124; > 1))" in table
    assert "uninformative: the reference is violated too" in table
    assert "MISSED false-violation" not in table


def test_a_calibration_done_in_parts_keeps_every_part(monkeypatch, tmp_path):
    monkeypatch.setattr(cal, "run_claim", scripted([]))
    first, second = select(["marion.iid_sqrt_l_unique"]), select(["fischer.response_argmax"])
    calibrate(first, seeds=2, budget="smoke", out=tmp_path, controls=[])
    data = calibrate(second, seeds=3, budget="smoke", out=tmp_path, controls=[])
    assert [row["claim"] for row in data["summary"]] == ["marion.iid_sqrt_l_unique", "fischer.response_argmax"]
    assert [row["reference"]["runs"] for row in data["summary"]] == [2, 3]
    assert "K = 2: " in render_markdown(data) and "K = 3: " in render_markdown(data)


def _runs(mean, sd=0.01, half=0.02):
    return [{"estimate": mean + k * sd, "ci": [mean + k * sd - half, mean + k * sd + half]} for k in (-1, 0, 1)]


def test_projection_tells_a_claim_far_inside_its_band_from_one_near_its_edge():
    """0 of K is all the counts can say for both; the normal fit of the estimates says how close each is."""
    far, near = cal.projection(_runs(0.5), 0.5, 0.1), cal.projection(_runs(0.565), 0.5, 0.1)
    assert far["margin"] == pytest.approx(8.0) and far["inconclusive"] < 1e-9 and far["violated"] < 1e-12
    assert near["margin"] == pytest.approx(1.5)
    assert near["inconclusive"] == pytest.approx(cal.sps.norm.cdf(-1.5), rel=1e-3)  # the CI crosses 0.6
    beyond = cal.projection(_runs(0.7), 0.5, 0.1)
    assert beyond["violated"] > 0.999
    assert cal.projection(_runs(0.5)[:2], 0.5, 0.1) is None and cal.projection(_runs(0.5, sd=0), 0.5, 0.1) is None


def test_the_reliability_table_shows_the_projection_labelled_as_such(monkeypatch):
    monkeypatch.setattr(cal, "run_claim", scripted([]))
    banded = [types.SimpleNamespace(**vars(FAKE[0]), prediction=0.5, tolerance=0.05)]
    text = render_markdown(calibrate(banded, seeds=5, budget="smoke"))
    assert "projected violated" in text and "normal fit of 5 estimates" in text and "projected power" in text
    assert "a projection, not a count" in text


def test_a_reading_dependent_reference_is_named_in_the_status():
    claim = types.SimpleNamespace(id="split.claim", controls=(), declaration=lambda: "d1", prediction=0.0, tolerance=0.1)
    runs = [{"claim": "split.claim", "impl": "reference", "seed": s, "verdict": "reading-dependent", "estimate": None,
             "ci": [None, None], "seconds": 1.0, "declaration": "d1"} for s in range(3)]
    data = {"summary": cal.summarise(runs, [claim], "reference"), "targets": TARGETS, "runs": runs}
    from claims.reliability_table import table_rows

    assert "reading-dependent 3/3 (its counted readings disagree)" in table_rows(data)[0]["status"]


def test_d9_calibrate_resumes_by_identity_never_by_name(tmp_path):
    """Two plug-ins with one name: the second's runs are its own, not the first's."""
    args = ["calibrate", "--budget", "smoke", "--claims", "marion.iid_sqrt_l_unique", "--seeds", "1", "--quiet",
            "--out", str(tmp_path / "cal"), "--controls"]
    with plugin_folder(tmp_path / "plugins"):
        assert cli.main([*args, "--impl", "cw_wrapper:good"]) == 0
        with pytest.warns(UncachedPluginWarning):
            assert cli.main([*args, "--impl", "cw_wrapper:bad"]) == 1
    runs = json.loads((tmp_path / "cal" / "calibration.json").read_text())["runs"]
    assert [(r["impl"], r["verdict"]) for r in runs] == [("wrapped", "violated")]


def test_a_plugin_nothing_names_is_reused_only_to_finish_an_unfinished_calibration(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(cal, "run_claim", scripted(calls))
    out = tmp_path / "cal"
    with plugin_folder(tmp_path / "plugins"):
        calibrate(FAKE, seeds=2, budget="smoke", impl="cw_wrapper:good", out=out, controls=[])
        killed = json.loads((out / "calibration.json").read_text())
        del killed["finished"]  # as a calibration killed after its first run leaves it
        killed["runs"] = killed["runs"][:1]
        (out / "calibration.json").write_text(json.dumps(killed))
        calls.clear()
        with pytest.warns(UncachedPluginWarning, match="only to resume"):
            calibrate(FAKE, seeds=2, budget="smoke", impl="cw_wrapper:good", out=out, controls=[])
        assert [c[2] for c in calls] == [1]
        calls.clear()
        with pytest.warns(UncachedPluginWarning):
            calibrate(FAKE, seeds=2, budget="smoke", impl="cw_wrapper:good", out=out, controls=[])
        assert len(calls) == 2  # the earlier calibration finished: its plug-in may have changed since


def test_runs_written_before_identities_are_kept_in_the_table_for_this_packages_reference(monkeypatch, tmp_path):
    monkeypatch.setattr(cal, "run_claim", scripted([]))
    first, second = select(["marion.iid_sqrt_l_unique"]), select(["fischer.response_argmax"])
    calibrate(first, seeds=2, budget="smoke", out=tmp_path, controls=[])
    old = json.loads((tmp_path / "calibration.json").read_text())
    old["runs"] = [{k: v for k, v in r.items() if k not in ("identity", "plugin")} for r in old["runs"]]
    (tmp_path / "calibration.json").write_text(json.dumps(old))
    data = calibrate(second, seeds=1, budget="smoke", out=tmp_path, controls=[])
    assert [row["reference"]["runs"] for row in data["summary"]] == [2, 1]


def test_calibrate_refuses_an_expected_file_with_an_unknown_reading(tmp_path, capsys):
    from claims.cli import main

    (tmp_path / "exp.txt").write_text("reference smoke nfd.two_layer_block_collapse@total_change violated  # typo\n")
    assert main(["calibrate", "--budget", "smoke", "--claims", "nfd.two_layer_block_collapse", "--seeds", "1",
                 "--expected", str(tmp_path / "exp.txt"), "--out", str(tmp_path / "cal")]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown reading of nfd.two_layer_block_collapse 'total_change'" in err and "\n" not in err


def test_a_run_of_the_same_computation_is_reused_after_an_edit_elsewhere(monkeypatch, tmp_path):
    """An edit that changes the suite digest but not the computation (the report, the command line)
    does not rerun a finished calibration; a changed computation does."""
    calls = []
    monkeypatch.setattr(cal, "run_claim", scripted(calls))
    calibrate(FAKE, seeds=2, budget="smoke", out=tmp_path, controls=[])
    old = json.loads((tmp_path / "calibration.json").read_text())
    old["runs"] = [{**r, "identity": "an-earlier-suite"} for r in old["runs"]]
    (tmp_path / "calibration.json").write_text(json.dumps(old))
    calls.clear()
    calibrate(FAKE, seeds=2, budget="smoke", out=tmp_path, controls=[])
    assert calls == []
    old["runs"] = [{**r, "computation": "an-earlier-engine"} for r in old["runs"]]
    (tmp_path / "calibration.json").write_text(json.dumps(old))
    calibrate(FAKE, seeds=2, budget="smoke", out=tmp_path, controls=[])
    assert len(calls) == 2


def test_a_findings_positive_control_is_run_at_every_seed_and_its_holds_rate_tabulated(monkeypatch):
    """A finding's positive control shows the measurement can say holds; K seeds give its holds rate."""
    calls = []
    monkeypatch.setattr(cal, "run_claim", scripted(calls))
    finding = [types.SimpleNamespace(id="fake.claim", controls=("scale-exponent-off",),
                                     positive_controls=("post-activation",), declaration=lambda: "d1")]
    data = calibrate(finding, seeds=3, budget="smoke")
    assert sorted(c[1] for c in calls if c[2] == 0) == ["post-activation", "reference", "scale-exponent-off"]
    assert {r["impl"]: r["role"] for r in data["runs"]}["post-activation"] == "positive control"
    (pos,) = data["summary"][0]["positive_controls"]
    assert (pos["runs"], pos["counts"]["holds"], pos["checks"][0]["met"]) == (3, 1, False)
    assert not all_met(data)
    table = render_markdown(data)
    assert "positive control `post-activation`" in table and "holds rate: 33.3%" in table


def test_a_finding_meets_its_targets_through_its_positive_control_not_its_negative_ones():
    """The exit status of a catalogue with a finding: its negative controls cannot be rejected relative
    to a violated reference (uninformative, not missed); its positive control must hold."""
    claim = types.SimpleNamespace(id="fake.claim", controls=("scale-exponent-off",),
                                  positive_controls=("post-activation",), declaration=lambda: "d1")
    runs = [{"claim": "fake.claim", "impl": impl, "seed": seed, "verdict": verdict, "estimate": None, "ci": None,
             "seconds": 1.0, "declaration": "d1"}
            for seed in range(5) for impl, verdict in (("reference", "violated"), ("scale-exponent-off", "violated"))]
    holding = [{**r, "impl": "post-activation", "verdict": "holds"} for r in runs if r["impl"] == "reference"]
    findings = {"fake.claim": ("violated", "finding: the effect is absent")}
    data = {"summary": cal.summarise(runs + holding, [claim], "reference", findings=findings)}
    assert not data["summary"][0]["controls"][0]["checks"][0]["met"] and all_met(data)
    failing = [{**r, "verdict": "violated"} for r in holding]
    assert not all_met({"summary": cal.summarise(runs + failing, [claim], "reference", findings=findings)})


def test_parts_run_apart_merge_into_one_table_of_current_runs(monkeypatch, tmp_path, capsys):
    """--merge: the runs of several folders under the current declarations, every selected claim listed
    (one not run yet says so), nothing run; a part at another budget is refused with exit 2."""
    monkeypatch.setattr(cal, "run_claim", scripted([]))
    iid, argmax, phase = (select([c]) for c in ("marion.iid_sqrt_l_unique", "fischer.response_argmax",
                                                "marion.phase_diagram"))
    calibrate(iid, seeds=2, budget="smoke", out=tmp_path / "a", controls=[])
    calibrate(argmax, seeds=3, budget="smoke", out=tmp_path / "b", controls=[])
    calibrate(phase, seeds=1, budget="default", out=tmp_path / "c", controls=[])
    stale = json.loads((tmp_path / "b" / "calibration.json").read_text())
    stale["runs"].append({**stale["runs"][0], "seed": 9, "declaration": "an-earlier-declaration"})
    (tmp_path / "b" / "calibration.json").write_text(json.dumps(stale))
    monkeypatch.setattr(cal, "run_claim", lambda *a, **k: pytest.fail("merge runs nothing"))
    args = ["calibrate", "--budget", "smoke", "--claims", "marion.iid_sqrt_l_unique", "fischer.response_argmax",
            "marion.phase_diagram", "--out", str(tmp_path / "all"), "--merge", str(tmp_path / "a"), str(tmp_path / "b")]
    assert cli.main(args) == 1  # a claim not run yet is not a met target
    data = json.loads((tmp_path / "all" / "calibration.json").read_text())
    assert [row["reference"]["runs"] for row in data["summary"]] == [2, 3, 0]
    assert 9 not in {r["seed"] for r in data["runs"]}
    assert "not yet run under the claim's current declaration" in (tmp_path / "all" / "calibration.md").read_text()
    capsys.readouterr()
    assert cli.main([*args, str(tmp_path / "c")]) == 2
    assert "budget 'default' differs" in capsys.readouterr().err


def test_merge_keeps_only_runs_a_resume_would_reuse_and_refuses_disagreeing_parts(monkeypatch, tmp_path):
    monkeypatch.setattr(cal, "run_claim", scripted([]))
    iid = select(["marion.iid_sqrt_l_unique"])
    calibrate(iid, seeds=2, budget="smoke", out=tmp_path / "a", controls=[])
    calibrate(iid, seeds=2, budget="smoke", out=tmp_path / "b", controls=[])
    other = json.loads((tmp_path / "b" / "calibration.json").read_text())
    for r in other["runs"]:  # made by other code: neither the suite's identity nor its computation
        r.update(identity="elsewhere", computation="elsewhere", seed=r["seed"] + 10)
    (tmp_path / "b" / "calibration.json").write_text(json.dumps(other))
    said = []
    data = cal.merge([tmp_path / "a", tmp_path / "b"], tmp_path / "all", iid, log=said.append)
    assert sorted(r["seed"] for r in data["runs"]) == [0, 1] and data["finished"]
    assert said == ["2 runs left out: made by other code (another engine, environment or package version)"]
    with pytest.raises(ValueError, match="is one of the parts"):
        cal.merge([tmp_path / "a"], tmp_path / "a", iid)
    flipped = json.loads((tmp_path / "a" / "calibration.json").read_text())
    flipped["runs"][0]["verdict"] = "violated" if flipped["runs"][0]["verdict"] != "violated" else "holds"
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "calibration.json").write_text(json.dumps(flipped))
    with pytest.raises(ValueError, match="another part says"):
        cal.merge([tmp_path / "a", tmp_path / "c"], tmp_path / "all", iid)


def test_a_control_calibrated_as_the_implementation_runs_once_per_seed(monkeypatch):
    calls = []
    monkeypatch.setattr(cal, "run_claim", scripted(calls))
    finding = [types.SimpleNamespace(id="fake.claim", controls=("scale-exponent-off",),
                                     positive_controls=("post-activation",), declaration=lambda: "d1")]
    calibrate(finding, seeds=1, budget="smoke", impl="post-activation")
    assert sorted(c[1] for c in calls) == ["post-activation", "scale-exponent-off"]


def test_the_expected_time_of_a_run_is_the_median_of_current_reference_runs_at_its_budget(monkeypatch):
    monkeypatch.setattr(cal, "run_claim", scripted([]))
    iid, phase = select(["marion.iid_sqrt_l_unique"]), select(["marion.phase_diagram"])
    data = calibrate(iid, seeds=3, budget="smoke", controls=[])
    assert cal.expected_seconds(data, iid + phase, "smoke") == (0.25, 1)
    assert cal.expected_seconds(data, iid, "default") == (0.0, 0)
    data["runs"][0]["declaration"] = "an-earlier-declaration"
    data["runs"][1]["seconds"] = 9.0
    assert cal.expected_seconds(data, iid, "smoke") == (4.625, 1)
    assert cal.expected_seconds(None, iid, "smoke") == (0.0, 0)

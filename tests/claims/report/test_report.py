"""Tests for the HTML verification report (claims.report), including one in headless Chromium."""

from __future__ import annotations

import copy
import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from claims.report import ReportError, load_results, write_report
from claims.report.__main__ import main
from claims.report.figures import figure_svg
from claims.registry import select

FIXTURE = Path(__file__).parent / "data" / "results_smoke.json"


def _with_figure(results: dict[str, Any]) -> list[str]:
    """Ids of the claims whose figure has at least one series."""
    return [c["id"] for c in results["claims"] if (c.get("figure") or {}).get("series")]


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    """The fixture results, parsed and checked."""
    return load_results(FIXTURE)


@pytest.fixture(scope="module")
def report(results: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The single-run report written once for the module."""
    return write_report([results], tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def page(report: Path) -> str:
    """The single-run report's HTML."""
    return report.read_text(encoding="utf-8")


def test_write_report_returns_index_html(report: Path) -> None:
    """write_report writes index.html into out_dir and returns its path."""
    assert report.name == "index.html" and report.is_file()


def test_every_claim_id_appears(results: dict[str, Any], page: str) -> None:
    """Every claim id has a summary row and its own section."""
    for claim in results["claims"]:
        assert page.count(f'id="claim-{claim["id"]}"') == 1
        assert f'href="#claim-{claim["id"]}"' in page


def test_one_figure_per_claim_with_a_figure(results: dict[str, Any], page: str) -> None:
    """Claims with figure data get exactly one inline SVG each; the others get none."""
    assert page.count("<svg") == len(_with_figure(results)) == 2
    sections = re.split(r'<section class="claim"', page)[1:]
    for claim, section in zip(results["claims"], sections, strict=True):
        assert section.count("<svg") == (1 if claim["id"] in _with_figure(results) else 0)


def test_verdict_is_text_not_only_colour(results: dict[str, Any], page: str) -> None:
    """Each verdict badge carries its verdict as visible text."""
    for verdict in {c["verdict"] for c in results["claims"]}:
        css = "v-" + verdict.replace(" ", "-")
        assert re.search(rf'class="verdict {css}"><span aria-hidden="true">\S+ </span>{verdict}</span>', page)


def test_top_block_and_sections(page: str) -> None:
    """The top block names the run; sections show source, sweep, fit, controls and paper numbers."""
    for text in ("reference (version 0.1.0", "smoke", "torch 2.13.0", "python 3.11.7", "2026-11-23 10:00:00",
                 "12.4 s", "arXiv:2206.06929", "Prop. 2 / Fig. 3", "depth</code> ∈ {8, 16, 32, 64}",
                 "[0.15, 0.21]", "scale-exponent-off", "critical beta", "(derived)", "(quoted)",
                 "Finite-depth corrections", "0 ± 0.05"):
        assert text in page, text


def test_self_contained_and_escaped(page: str) -> None:
    """No scripts, stylesheets or remote resources; text from the results is escaped."""
    assert "<script" not in page and "<link" not in page and "src=" not in page
    assert "&lt;outside&gt;" in page and "<outside>" not in page


def test_non_finite_numbers_show_as_na(results: dict[str, Any], tmp_path: Path) -> None:
    """NaN, infinities and nulls are shown as n/a."""
    bad = copy.deepcopy(results)
    bad["claims"] = [dict(bad["claims"][2], estimate=float("nan"), ci=[None, float("inf")], seconds=float("-inf"))]
    text = write_report([bad], tmp_path).read_text(encoding="utf-8")
    assert not re.search(r"\b(nan|NaN|inf|Infinity)\b", text)
    row = text[text.index('id="summary-h"'):].split("</tr>")[1]
    assert row.count('<td class="num">n/a</td>') == 2  # estimate (CI) and seconds


def test_minimal_results_render(tmp_path: Path) -> None:
    """Optional fields may be absent: a bare claim and a bare run still render."""
    minimal = {"schema_version": 1, "run": {}, "claims": [{"id": "x.bare", "verdict": "error"}, {}]}
    text = write_report([minimal], tmp_path).read_text(encoding="utf-8")
    assert "x.bare" in text and "No figure for this claim." in text and "<svg" not in text


def test_comparison_of_two_results(results: dict[str, Any], tmp_path: Path) -> None:
    """Two results give one summary column per implementation and mark claims one side lacks."""
    other = copy.deepcopy(results)
    other["run"]["implementation"] = "candidate"
    other["claims"][0]["verdict"] = "violated"
    del other["claims"][-1]
    text = write_report([results, other], tmp_path).read_text(encoding="utf-8")
    head = text[text.index('id="summary-h"'):]
    assert '<th scope="col">reference</th><th scope="col">candidate</th>' in head
    assert "not run" in head
    assert text.count("<svg") == 2 * len(_with_figure(results))
    assert text.count("<h3>reference</h3>") == len(results["claims"])


def test_same_implementation_twice_gets_distinct_columns(results: dict[str, Any], tmp_path: Path) -> None:
    """Two runs of one implementation are numbered so the columns stay distinct."""
    text = write_report([results, results], tmp_path).read_text(encoding="utf-8")
    assert "reference [1]" in text and "reference [2]" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "not found"), ("{not json", "not valid JSON"), ('{"schema_version": 3, "run": {}, "claims": []}',
      "schema_version is 3"), ("[1, 2]", "expected a JSON object"), ('{"schema_version": 1, "claims": []}', "'run'")],
)
def test_bad_file_gives_clear_error(tmp_path: Path, content: str | None, message: str) -> None:
    """A missing, corrupt or wrong-version file raises ReportError naming the file."""
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ReportError, match=re.escape(message)) as err:
        load_results(path)
    assert str(path) in str(err.value)


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """python -m claims.report writes the report; a bad file gives a one-line error and status 2."""
    assert main([str(FIXTURE), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "index.html").is_file()
    assert main([str(tmp_path / "missing.json"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "missing.json" in err


def test_figure_has_title_axis_labels_and_scales(results: dict[str, Any]) -> None:
    """The SVG keeps title and axis labels as text, has a viewBox and no fixed size."""
    fig = results["claims"][0]["figure"]
    svg = figure_svg(fig, title="t", salt="s")
    assert svg is not None and svg.startswith("<svg") and "viewBox=" in svg.split(">", 1)[0]
    assert 'width="' not in svg.split(">", 1)[0]
    for text in (fig["title"], fig["xlabel"], "predicted"):
        assert html.escape(text, quote=False) in svg
    assert figure_svg({}, title="t", salt="s") is None
    assert figure_svg({"series": [{"label": "empty"}]}, title="t", salt="s") is None


# --- real browser -------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium")

# Injected into a copy of the page: records script errors and failed resource loads, then writes
# what the browser saw into a <pre id="probe"> element that --dump-dom prints.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", function (e) {
  window.__errors.push(e.message || ("failed to load " + ((e.target && (e.target.src || e.target.href)) || "?")));
}, true);
window.addEventListener("load", function () {
  var p = document.createElement("pre");
  p.id = "probe";
  p.textContent = JSON.stringify({
    errors: window.__errors,
    figures: document.querySelectorAll("section.claim svg").length,
    text: document.body.innerText,
    resources: performance.getEntriesByType("resource").map(function (r) { return r.name; }),
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    width: window.innerWidth
  });
  document.body.appendChild(p);
});
</script>"""


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with a throwaway profile; console messages go to stderr."""
    cmd = [CHROMIUM or "chromium", "--headless=new", "--disable-gpu", "--no-sandbox", "--no-first-run",
           "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
           "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (install with .ci/install-chromium)")
def test_report_in_headless_chromium(results: dict[str, Any], report: Path, tmp_path: Path) -> None:
    """The page loads in Chromium without console errors or network use, shows every id and figure."""
    shot = tmp_path / "screenshot.png"
    done = _chromium(tmp_path, "--window-size=1280,2000", f"--screenshot={shot}", report.as_uri())
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", done.stderr[-2000:]
    assert shot.stat().st_size > 20_000  # a blank page is a few kB

    probe_page = report.with_name("probe.html")
    probe_page.write_text(report.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    # 500 px is the narrowest window headless Chromium gives; the page's phone layout starts at 640 px.
    done = _chromium(tmp_path, "--window-size=500,900", "--dump-dom", probe_page.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"page did not finish loading: {done.stderr[-2000:]}"
    seen = json.loads(html.unescape(found.group(1)))
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert seen["errors"] == [] and console == [], (seen["errors"], console)
    assert seen["resources"] == [], "the report must not load anything"
    assert seen["figures"] == len(_with_figure(results))
    for claim in results["claims"]:
        assert claim["id"] in seen["text"]
    assert seen["overflow"] <= 0, f"page is wider than a {seen['width']} px window"


def _calibration() -> dict[str, Any]:
    """A small calibration (scripted verdicts): the reference misses the false-violation target."""
    import types

    import claims.calibrate as cal

    def run_claim(claim, impl, budget, seed, device, dtype, execution=None):  # noqa: ANN001, ANN202
        verdict = "violated" if impl.name != "reference" or seed == 1 else "holds"
        return {"verdict": verdict, "estimate": 0.5, "ci": [0.4, 0.6], "seconds": 0.5}

    real = select(["marion.iid_sqrt_l_unique"])[0]
    fake = [types.SimpleNamespace(id=real.id, controls=("scale-exponent-off",), declaration=real.declaration)]
    original, cal.run_claim = cal.run_claim, run_claim
    try:
        return cal.calibrate(fake, seeds=4, budget="smoke")
    finally:
        cal.run_claim = original


def test_the_reliability_table_is_in_the_report(results: dict[str, Any], tmp_path: Path) -> None:
    page = write_report([results], tmp_path, _calibration()).read_text(encoding="utf-8")
    section = page[page.index('id="reliability-h"'):]
    assert "Reliability of the suite" in section and "marion.iid_sqrt_l_unique" in section
    assert "control <code>scale-exponent-off</code>" in section
    assert "MISSED false-violation rate by 24.0 pp" in section and 'class="missed"' in section
    assert "K = 4: " in section


def test_report_command_shows_a_calibration_and_survives_a_corrupt_one(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from claims import cli
    from claims.calibrate import _write

    _write(_calibration(), tmp_path / "cal")
    assert cli.main(["report", str(FIXTURE), "--out", str(tmp_path / "a"),
                     "--calibration", str(tmp_path / "cal" / "calibration.json")]) == 0
    assert "Reliability of the suite" in (tmp_path / "a" / "index.html").read_text()
    (tmp_path / "bad.json").write_text("{not json")
    assert cli.main(["report", str(FIXTURE), "--out", str(tmp_path / "b"), "--calibration", str(tmp_path / "bad.json")]) == 0
    assert "bad.json: not valid JSON" in capsys.readouterr().err
    assert "Reliability of the suite" not in (tmp_path / "b" / "index.html").read_text()


def test_phase_diagram_figure_draws_boundary_band_points_and_prediction() -> None:
    """``kind: phase``: beta against regularity, the measured boundary with its band over the predicted line."""
    fig = {"kind": "phase", "title": "Critical scaling", "xlabel": "Hurst index", "ylabel": "critical beta",
           "boundary": {"label": "measured", "x": [0.5, 0.7, 0.9], "y": [0.51, 0.69, 0.9], "lo": [0.48, 0.66, 0.86],
                        "hi": [0.54, 0.72, None]},
           "points": [{"label": "RBF (smooth)", "x": [1.0], "y": [0.99], "lo": [0.96], "hi": [1.02]}],
           "predicted": {"label": "beta* = H", "x": [0.5, 1.0], "y": [0.5, 1.0]},
           "regions": {"below": "explosion", "above": "identity"}}
    svg = figure_svg(fig, title="t", salt="p")
    assert svg is not None and svg.startswith("<svg")
    for text in ("Critical scaling", "Hurst index", "critical beta", "measured", "RBF (smooth)", "beta* = H",
                 "explosion", "identity", "CI band"):
        assert text in svg
    assert figure_svg({"kind": "phase", "boundary": {"x": [], "y": []}}, title="t", salt="p") is None


def test_the_report_shows_kind_digest_commit_amendments_and_the_counted_readings(results, tmp_path, monkeypatch):
    """A claim amended after data was seen says so beside its verdict, with the amendment; the summary
    is grouped by kind; an inconclusive headline over readings shows how many were violated."""
    import claims.preregistration as pre
    from claims.entries import declared_entry

    log = tmp_path / "amendments.toml"
    log.write_text('[[amendment]]\ndate = "2026-12-03"\ncommit = "abc1234"\nclaim = "marion.iid_sqrt_l_unique"\n'
                   'what = "tolerance 0.05 -> 0.06"\nwhy = "a stated reason"\ndata_seen = "the default run"\n'
                   'verdict_before = "at seed 0, budget default: violated"\n'
                   'verdict_after = "at seed 0, budget default: holds"\n')
    monkeypatch.setattr(pre, "LOG_PATH", log)
    declared = declared_entry(select(["marion.iid_sqrt_l_unique"])[0], "smoke")
    assert declared["amended_after_measured"] and declared["amendments"][0]["what"] == "tolerance 0.05 -> 0.06"
    data = copy.deepcopy(results)
    first = data["claims"][0]
    first.update({k: declared[k] for k in ("kind", "kind_why", "digest", "commit", "amendments",
                                           "amended_after_measured")})
    second = data["claims"][1]
    second.update(kind="implementation check", kind_why="an identity", verdict="inconclusive",
                  counted_readings={"violated": 5, "holds": 0, "undecided": 4})
    page = html.unescape(write_report([data], tmp_path / "out").read_text(encoding="utf-8"))
    assert "tolerance 0.05 -&gt; 0.06" in html.escape(page) and "a stated reason" in page
    assert "amended after first measured" in page
    assert declared["digest"] in page and declared["commit"][:12] in page
    assert page.index("Paper claims") < page.index("Implementation checks")
    assert "counted readings: 5 violated, 0 held, 4 undecided" in page


def _summary(page: str) -> str:
    return page.split('id="summary-h"')[1].split("</table>")[0]


def test_an_incomplete_run_says_so_at_the_top(results: dict[str, Any], tmp_path: Path) -> None:
    """results.json of a run that ended early: a banner above everything else, with how many claims finished."""
    partial = {**copy.deepcopy(results), "complete": False}
    partial["run"]["claims_planned"] = len(partial["claims"]) + 3
    page = write_report([partial], tmp_path).read_text(encoding="utf-8")
    banner = page.index("Incomplete run")
    assert banner < page.index('id="summary-h"')
    assert f"{len(partial['claims'])} of {len(partial['claims']) + 3} claims finished" in page
    complete = write_report([results], tmp_path / "done").read_text(encoding="utf-8")
    assert "Incomplete run" not in complete  # a file from before the marker existed counts as complete


def test_the_summary_table_gives_the_reason_of_error_and_not_applicable(results: dict[str, Any],
                                                                      tmp_path: Path) -> None:
    data = copy.deepcopy(results)
    data["claims"][0].update(verdict="error", message="plug-in 'p' failed validation: trace(x) returned NaN")
    data["claims"][1].update(verdict="not applicable", message="plug-in 'p' declined: i.i.d. weights only")
    summary = _summary(write_report([data], tmp_path).read_text(encoding="utf-8"))
    assert "trace(x) returned NaN" in summary and "i.i.d. weights only" in summary
    assert summary.count('class="reason"') == sum(c["verdict"] in ("error", "not applicable") for c in data["claims"])


def test_a_two_ray_confidence_set_is_shown_as_two_rays(results: dict[str, Any], tmp_path: Path) -> None:
    data = copy.deepcopy(results)
    data["claims"][0].update(verdict="violated", estimate=3.58e14, ci=[None, None],
                             ci_pieces=[[None, -6.0e7], [6.0e7, None]])
    summary = _summary(write_report([data], tmp_path).read_text(encoding="utf-8"))
    assert "(-inf, -6e+07] ∪ [6e+07, inf)" in summary

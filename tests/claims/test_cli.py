"""The resnet-claims command: listing, verifying with exit codes and results.json, one-line errors."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from claims.cli import main
from claims.registry import all_claims, select


def test_list_prints_every_claim_id(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for claim in all_claims():
        assert claim.id in out and claim.source.arxiv in out


def test_list_digests_prints_the_pinned_file_format(capsys):
    from claims.preregistration import PINNED_PATH, load_pinned

    assert main(["list", "--digests"]) == 0
    out = capsys.readouterr().out
    lines = [line.split() for line in out.splitlines() if line and not line.startswith("#")]
    assert dict(lines) == load_pinned(PINNED_PATH)  # the catalogue is as pinned


def test_list_verbose_shows_kind_digests_and_amendments(capsys):
    assert main(["list", "--verbose", "nfd.sgd_coupling_depth"]) == 0
    out = capsys.readouterr().out
    claim = select(["nfd.sgd_coupling_depth"])[0]
    assert f"declaration digest: {claim.declaration()}" in out and "kind: paper" in out
    assert "(bdc8f2b)" in out and "made after data had been seen" in out and "positive controls: sgd-rate-decay" in out


@pytest.mark.parametrize(
    "argv, words",
    [(["verify", "--claims", "nope"], "unknown claim id 'nope'"),
     (["verify", "--budget", "huge"], "--budget 'huge' is not allowed"),
     (["verify", "--dtype", "int8"], "--dtype 'int8'"),
     (["verify", "--device", "tpu"], "--device 'tpu'"),
     (["verify", "--impl", "nosuch"], "unknown implementation 'nosuch'"),
     (["verify", "--config", "{bad"], "not valid JSON"),
     (["verify", "--config", '{"depth": 0}'], "depth=0"),
     (["verify", "--config", '{"activation": "swish"}'], "allowed: relu"),
     (["verify", "--claims", "marion.iid_sqrt_l_unique", "--config", '{"colour": 1}'], "not honoured")],
)
def test_bad_usage_is_one_line_and_exit_2(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err


def test_verify_writes_results_json_with_the_documented_schema(tmp_path, capsys):
    status = main(["verify", "--claims", "marion.iid_sqrt_l_unique", "--budget", "smoke", "--out", str(tmp_path), "--quiet"])
    assert status == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["schema_version"] == 2 and data["run"]["budget"] == "smoke" and data["run"]["counts"]["holds"] == 1
    (entry,) = data["claims"]
    for key in ("id", "verdict", "estimate", "ci", "prediction", "tolerance", "seconds", "cells", "sweep", "message"):
        assert key in entry
    assert entry["cells"] and all("seed" in c and "values" in c for c in entry["cells"])
    assert "HOLDS" in capsys.readouterr().out


def test_violated_claim_exits_1(tmp_path):
    argv = ["verify", "--claims", "marion.iid_sqrt_l_unique", "--budget", "smoke", "--impl", "scale-exponent-off",
            "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 1
    assert json.loads((tmp_path / "results.json").read_text())["claims"][0]["verdict"] == "violated"


def test_console_script_help_has_examples_and_every_exit_status():
    out = subprocess.run([sys.executable, "-m", "claims.cli", "verify", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "examples:" in out.stdout and "exit status" in out.stdout
    for code in ("0", "1", "2", "3", "4", "130"):
        assert f"\n  {code} " in out.stdout, code
    assert "nothing was checked" in out.stdout


def test_a_run_that_checked_nothing_does_not_exit_0_and_says_why(bad, tmp_path, capsys):
    """Every claim not applicable: exit 4, and each claim's line gives the plug-in's reason."""
    argv = ["verify", "--claims", "marion.*", "--budget", "smoke", "--quiet", "--no-cache",
            "--impl", "plugin_defects:declines_everything", "--out", str(tmp_path)]
    assert main(argv) == 4
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("marion.")]
    assert len(lines) == 4 and all("NOT APPLICABLE" in line and "reason: plug-in 'declines-everything'" in line
                                   for line in lines), out
    assert sum("builds nothing" in line for line in lines) == 3 and "lacks capability" in out
    assert "nothing was checked (exit status 4)" in out
    assert "builds nothing" in (tmp_path / "index.html").read_text().split('id="summary-h"')[1].split("</table>")[0]


def test_not_applicable_beside_a_holding_claim_exits_0(bad, tmp_path):
    argv = ["verify", "--claims", "marion.iid_sqrt_l_unique", "marion.smooth_critical_beta", "--budget", "smoke",
            "--quiet", "--impl", "plugin_defects:gaussian_only", "--out", str(tmp_path)]
    assert main(argv) == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert [c["verdict"] for c in data["claims"]] == ["holds", "not applicable"] and data["complete"] is True


def test_with_controls_records_each_listed_control_verdict(tmp_path):
    argv = ["verify", "--claims", "marion.iid_sqrt_l_unique", "--budget", "smoke", "--with-controls",
            "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 0
    (entry,) = json.loads((tmp_path / "results.json").read_text())["claims"]
    assert [c["name"] for c in entry["controls"]] == list(select(["marion.iid_sqrt_l_unique"])[0].controls)
    assert all(c["verdict"] == "violated" for c in entry["controls"])


CHEAP = ["--claims", "marion.iid_sqrt_l_unique", "--budget", "smoke", "--quiet"]


@pytest.fixture
def broken_modules(tmp_path, monkeypatch):
    """Plug-in modules that cannot be imported: a syntax error, a raise at import, sys.exit at import."""
    (tmp_path / "syntax_bad.py").write_text("def factory(:\n    pass\n")
    (tmp_path / "raises_bad.py").write_text("raise RuntimeError('no licence server')\n")
    (tmp_path / "exits_bad.py").write_text("import sys\nsys.exit(0)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("argv, words", [
    (["verify", "--impl", "syntax_bad:factory"], "SyntaxError"),
    (["verify", "--impl", "raises_bad:factory"], "RuntimeError: no licence server"),
    (["verify", "--impl", "exits_bad:factory"], "SystemExit"),
    (["verify", "--impl", ":"], "--impl ':': expected module:factory"),
    (["verify", "--executor", "dask://"], "no scheduler address"),
    (["verify", "--executor", "dask://localhost"], "expected dask://HOST:PORT with a host and a port number"),
    (["verify", "--executor", "dask://localhost:notaport"], "not an address"),
    (["verify", "--executor", "dask://[::1"], "not an address"),
    (["verify", "--executor", "dask://localhost:8786", "--cell-timeout", "5"], "not on a Dask cluster"),
    (["verify", "--executor", "processesfoo"], "--executor 'processesfoo' is not allowed"),
    (["verify", "--config", '{"width": 1000000000}'], "needs at least"),
    (["verify", "--config", '{"width": true}'], "width=true is not allowed"),
    (["verify", "--config", '{"device": "cuda"}'], "--config key 'device' is not allowed"),
    (["verify", "--device", "cudafoo"], "--device 'cudafoo' is not allowed"),
    (["report", "no/such/results.json"], "results file not found"),
])
def test_more_bad_usage_is_one_line_and_exit_2(broken_modules, argv, words, capsys):
    assert main(argv + (["--out", str(broken_modules / "out")] if argv[0] == "verify" else [])) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err, err


def test_a_huge_config_is_refused_with_the_memory_figure(capsys):
    assert main(["verify", "--claims", "marion.iid_sqrt_l_unique", "--config", '{"width": 1000000000}']) == 2
    err = capsys.readouterr().err
    assert "marion.iid_sqrt_l_unique needs at least" in err and "GB (" in err and "this machine has" in err


def test_the_memory_check_covers_validations_probe_networks(capsys):
    """Validation builds 2 networks of up to 8 layers at the claim's width: more than one cell's matrices."""
    assert main(["verify", "--claims", "marion.smooth_critical_beta", "--config", '{"width": 300000}']) == 2
    err = capsys.readouterr().err
    assert "validation's 2 probe networks of width 300000, depth 8" in err and "\n" not in err.strip()


@pytest.mark.parametrize("claim_id, config, words", [
    ("nfd.feature_learning_depth_uniform", '{"steps": -1}', "steps=-1 is not allowed: steps takes an integer >= 1"),
    ("nfd.feature_learning_depth_uniform", '{"steps": 2.5}', "steps=2.5 is not allowed: steps takes an integer"),
    ("nfd.feature_learning_depth_uniform", '{"lr": "fast"}', 'lr="fast" is not allowed'),
    ("nfd.feature_learning_depth_uniform", '{"lr": 1e300}', "lr=1e+300 is not allowed: lr takes a learning rate"),
    ("nfd.feature_learning_depth_uniform", '{"loss": "hinge"}', "loss takes one of 'mse', 'linear'"),
    ("nfd.feature_learning_depth_uniform", '{"n_train": 0}', "n_train=0 is not allowed: n_train takes an integer >= 1"),
    ("nfd.feature_learning_depth_uniform", '{"task_seed": -5}', "task_seed=-5 is not allowed"),
    ("marion.smooth_critical_beta", '{"sigma_w2": 1e-300}', "below float32's rounding unit"),
])
def test_a_config_value_its_field_cannot_take_is_refused_before_any_work(tmp_path, capsys, claim_id, config, words):
    start = time.perf_counter()
    assert main(["verify", "--claims", claim_id, "--budget", "smoke", "--config", config, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err, err
    assert not (tmp_path / "results.json").exists() and time.perf_counter() - start < 10


@pytest.mark.parametrize("content, words", [("{not json", "not valid JSON"),
                                            ('{"schema_version": 99, "run": {}, "claims": []}', "schema_version is 99")])
def test_report_on_a_bad_results_file_is_exit_2(tmp_path, capsys, content, words):
    (tmp_path / "results.json").write_text(content)
    assert main(["report", str(tmp_path / "results.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err


@pytest.mark.parametrize("argv, words", [
    (["verify", "--seed", "-1"], "--seed: -1 is negative; expected a non-negative integer"),
    (["calibrate", "--first-seed", "-1"], "--first-seed: -1 is negative"),
    (["verify", "--cell-timeout", "0"], "expected a positive number of seconds"),
    (["cache", "audit", "--fraction", "0"], "expected a fraction F with 0 < F <= 1"),
    (["verify", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
])
def test_argument_errors_are_one_line_and_exit_2(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and words in err and "\n" not in err, err


@pytest.mark.parametrize("where", ["file", "under-file", "read-only"])
def test_an_unwritable_out_is_refused_before_any_claim_runs(tmp_path, capsys, where):
    (tmp_path / "f").write_text("")
    out = {"file": tmp_path / "f", "under-file": tmp_path / "f" / "sub", "read-only": "/proc/resnet-claims-out"}[where]
    start = time.perf_counter()
    assert main(["verify", *CHEAP, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not a writable folder" in err and "\n" not in err
    assert time.perf_counter() - start < 5  # refused before the claim ran


@pytest.mark.parametrize("factory", ["exits_in_build", "exits_when_deep"])  # during validation, in a cell
def test_sys_exit_in_a_plugin_is_an_error_verdict_and_exit_1_with_results(bad, tmp_path, factory):
    argv = ["verify", *CHEAP, "--impl", f"plugins_bad:{factory}", "--out", str(tmp_path)]
    assert main(argv) == 1
    (entry,) = json.loads((tmp_path / "results.json").read_text())["claims"]
    assert entry["verdict"] == "error" and "SystemExit" in entry["message"]


HERE = Path(__file__).parent


def _cli(*argv, timeout=120):
    """``resnet-claims`` in a fresh process run from this folder (so ``--impl plugins_bad:NAME`` resolves)."""
    return subprocess.run([sys.executable, "-m", "claims.cli", *argv], capture_output=True, text=True, cwd=HERE,
                          timeout=timeout)


def test_a_plugin_that_ends_the_process_leaves_results_and_report_marked_incomplete(tmp_path):
    """os._exit(0) inline: the exit status is the plug-in's, but results.json and index.html say the run
    did not finish (never the previous run's report); under --cell-timeout that claim is an error."""
    cheap = ["verify", "--budget", "smoke", "--quiet", "--no-cache", "--out", str(tmp_path), "--calibration", "none"]
    assert _cli(*cheap, "--claims", "marion.smooth_critical_beta").returncode == 0
    both = ["--claims", "fischer.kernel_fluctuation_finite_n", "marion.smooth_critical_beta",
            "--impl", "plugins_bad:HardExitWhenDeep"]
    _cli(*cheap, *both)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["complete"] is False and data["run"]["claims_planned"] == 2 and len(data["claims"]) == 1
    html = (tmp_path / "index.html").read_text()
    assert "Incomplete run" in html and "1 of 2 claims finished" in html and "hard-exit-deep" in html
    done = _cli(*cheap, *both, "--cell-timeout", "120")
    assert done.returncode == 1, done.stdout + done.stderr
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["complete"] is True and "Incomplete run" not in (tmp_path / "index.html").read_text()
    assert "the worker process running it ended with exit status 0" in data["claims"][1]["message"]
    assert "'depth': 32" in data["claims"][1]["message"]


@pytest.mark.parametrize("factory, words", [
    ("RetriesWhenDeep", "ran past --cell-timeout 3 s; the other claims still run"),  # catches Exception
    ("retries_swallowing_everything", "did not stop; its worker process was killed"),  # catches BaseException
])
def test_a_cell_timeout_cannot_be_swallowed_by_the_plugin(bad, tmp_path, factory, words):
    argv = ["verify", *CHEAP, "--claims", "marion.smooth_critical_beta", "--no-cache", "--cell-timeout", "3",
            "--impl", f"plugins_bad:{factory}", "--out", str(tmp_path)]
    start = time.perf_counter()
    assert main(argv) == 1
    (entry,) = json.loads((tmp_path / "results.json").read_text())["claims"]
    assert entry["verdict"] == "error" and words in entry["message"] and "'depth': 32" in entry["message"]
    assert time.perf_counter() - start < 45


def test_a_build_that_hangs_on_the_probe_network_is_each_claims_error_with_results(bad, tmp_path):
    argv = ["verify", *CHEAP, "--claims", "marion.smooth_critical_beta", "fischer.kernel_fluctuation_finite_n",
            "--no-cache", "--cell-timeout", "2", "--impl", "plugins_bad:HangsOnEveryBuild", "--out", str(tmp_path)]
    start = time.perf_counter()
    assert main(argv) == 1
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["complete"] and [c["verdict"] for c in data["claims"]] == ["error", "error"]
    assert all("checking it on the claim's probe network: ran past --cell-timeout 2 s" in c["message"]
               for c in data["claims"])
    assert time.perf_counter() - start < 60


def test_cell_timeout_makes_that_claim_an_error_and_the_others_run(bad, tmp_path):
    argv = ["verify", "--claims", "marion.smooth_critical_beta", "marion.iid_sqrt_l_unique", "--budget", "smoke",
            "--quiet", "--impl", "plugins_bad:SlowWhenDeep", "--cell-timeout", "8", "--out", str(tmp_path)]
    start = time.perf_counter()
    assert main(argv) == 1
    claims = json.loads((tmp_path / "results.json").read_text())["claims"]
    assert [c["verdict"] for c in claims] == ["error", "holds"]
    assert "ran past --cell-timeout 8 s" in claims[0]["message"] and "'depth': 32" in claims[0]["message"]
    assert time.perf_counter() - start < 50


def test_an_unpicklable_plugin_under_processes_says_how_to_fix_it(bad, tmp_path, capsys):
    assert main(["verify", *CHEAP, "--impl", "plugins_bad:Unpicklable", "--executor", "processes:2",
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "plug-ins must be picklable" in err and "module-level factory" in err


def test_an_unpicklable_plugin_with_cell_timeout_runs_in_this_process_with_a_warning(bad, tmp_path):
    with pytest.warns(UserWarning, match="cannot be pickled, so its cells run in this process"):
        assert main(["verify", *CHEAP, "--impl", "plugins_bad:Unpicklable", "--cell-timeout", "60",
                     "--out", str(tmp_path)]) == 0


def test_control_characters_in_a_plugin_name_are_escaped_on_the_terminal(bad, tmp_path, capsys):
    main(["verify", *CHEAP, "--impl", "plugins_bad:ControlName", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\r" not in out
    assert "implementation evil\\x1b[2J\\x07name (flag)" in out


def test_cells_read_from_the_cache_are_counted_per_claim_in_results_and_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RESNET_CLAIMS_CACHE", str(tmp_path / "cache"))
    argv = ["verify", *CHEAP, "--out", str(tmp_path), "--calibration", "none"]
    assert main(argv) == 0
    assert json.loads((tmp_path / "results.json").read_text())["claims"][0]["cells_from_cache"] == 0
    assert main(argv) == 0
    (entry,) = json.loads((tmp_path / "results.json").read_text())["claims"]
    assert entry["cells_from_cache"] == len(entry["cells"]) > 0
    assert f"{len(entry['cells'])}/{len(entry['cells'])} cells from cache" in capsys.readouterr().out
    assert f"{len(entry['cells'])} of them read from the cell cache" in (tmp_path / "index.html").read_text()


def test_a_long_claim_prints_its_estimate_and_progress_lines():
    """Without a terminal (logs, CI) a claim whose first cell is slow says how long the rest will take."""
    from claims.cli import line_progress

    times = iter([0.0, 0.0, 10.0, 20.0, 45.0, 46.0])
    lines = []
    update = line_progress(lines.append, clock=lambda: next(times))
    update("marion.phase_diagram", 1, 10)  # first cell after 10 s: estimate 90 s for the other nine
    update("marion.phase_diagram", 2, 10)  # 10 s after the first line: nothing yet
    update("marion.phase_diagram", 3, 10)  # 35 s after it: a progress line
    update("marion.phase_diagram", 10, 10)  # done: the summary line follows, no progress line
    assert lines == ["  marion.phase_diagram: 1/10 cells in 10s, about 90s left",
                     "  marion.phase_diagram: 3/10 cells in 45s, about 105s left"]

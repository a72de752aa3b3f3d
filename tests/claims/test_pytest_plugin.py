"""pytest -m claims: one test per claim id; holds passes, a violated claim fails with the numbers."""
import subprocess
import sys


def _pytest(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                           "--claims-select", "marion.iid_sqrt_l_unique", "--claims-budget", "smoke", *args],
                          capture_output=True, text=True, cwd=tmp_path)


def test_claim_passes_on_the_reference(tmp_path):
    out = _pytest(tmp_path, "-m", "claims", "-v")
    assert out.returncode == 0, out.stdout[-2000:]
    assert "marion.iid_sqrt_l_unique PASSED" in out.stdout


def test_violated_claim_fails_with_estimate_ci_and_prediction(tmp_path):
    out = _pytest(tmp_path, "-m", "claims", "--impl", "scale-exponent-off")
    assert out.returncode == 1
    assert "VIOLATED" in out.stdout and "CI" in out.stdout and "predicted 0.5 +- 0.05" in out.stdout


def test_bad_claims_options_are_one_line_usage_errors(tmp_path):
    """Checked in pytest_configure: no INTERNALERROR, no collection."""
    for args, words in ((["--claims-seed", "-1"], "--claims-seed -1 is not allowed"),
                        (["--claims-device", "tpu"], "--claims-device 'tpu' is not allowed"),
                        (["--claims-select", "nothing.matches*"], "--claims-select: unknown claim id 'nothing.matches*'")):
        out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                              "-m", "claims", *args], capture_output=True, text=True, cwd=tmp_path)
        assert out.returncode == 4 and "INTERNALERROR" not in out.stderr + out.stdout
        assert f"ERROR: {words}" in out.stderr, out.stderr


def test_a_misspelt_name_in_the_expected_verdicts_file_stops_pytest_with_one_line(tmp_path):
    """A typo in a reading would switch its guard off (the line never matches): every name is checked."""
    claim = "nfd.two_layer_block_collapse"
    for line, words in ((f"reference smoke {claim}@total_change violated  # typo\n",
                         "unknown reading of nfd.two_layer_block_collapse 'total_change' (did you mean 'total-change'?)"),
                        ("reference smoke nfd.two_layer_block_colapse violated  # typo\n", "unknown claim id"),
                        (f"reference smok {claim} violated  # typo\n", "unknown budget 'smok'"),
                        (f"referense smoke {claim} violated  # typo\n", "unknown implementation 'referense'")):
        (tmp_path / "exp.txt").write_text(line)
        out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                              "--claims-select", claim, "--claims-expected", "exp.txt"],
                             capture_output=True, text=True, cwd=tmp_path)
        assert out.returncode == 4 and "INTERNALERROR" not in out.stderr + out.stdout, out.stderr
        assert words in out.stderr and "exp.txt:1" in out.stderr, out.stderr


def test_a_two_layer_module_gets_verdicts_under_pytest_without_flags(tmp_path):
    """The module fixture declares its family (res3): the res3 claims run in it, a res1 claim is skipped
    with the reason, no --claims-config needed."""
    from pathlib import Path

    env = {**__import__("os").environ, "PYTHONPATH": str(Path(__file__).parent)}
    out = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), "-m",
                          "claims", "-v", "-rs", "--impl", "user_resnet:factory", "--claims-budget", "smoke",
                          "--claims-select", "init.netspec_law", "nfd.depth_aware_lr_restores", "fischer.response_argmax"],
                         capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "init.netspec_law PASSED" in out.stdout and "nfd.depth_aware_lr_restores PASSED" in out.stdout
    assert "not applicable: derived for res1 blocks only" in out.stdout


def test_claims_config_is_checked_like_the_command_line(tmp_path):
    for args, words in ((["--claims-config", "[1]"], "--claims-config: --config must be a JSON object"),
                        (["--claims-config", '{"q0": 2.0}'], "are not honoured by marion.iid_sqrt_l_unique")):
        out = _pytest(tmp_path, "-m", "claims", *args)
        assert out.returncode == 4 and "INTERNALERROR" not in out.stderr + out.stdout, out.stderr
        assert words in out.stderr, out.stderr

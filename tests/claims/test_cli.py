"""The resnet-claims command: listing, verifying with exit codes and results.json, one-line errors."""
import json
import subprocess
import sys

import pytest

from claims.cli import main
from claims.spec import all_claims, select


def test_list_prints_every_claim_id(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for claim in all_claims():
        assert claim.id in out and claim.source.arxiv in out


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


def test_console_script_help_has_examples():
    out = subprocess.run([sys.executable, "-m", "claims.cli", "verify", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "examples:" in out.stdout and "exit status" in out.stdout


def test_with_controls_records_each_listed_control_verdict(tmp_path):
    argv = ["verify", "--claims", "marion.iid_sqrt_l_unique", "--budget", "smoke", "--with-controls",
            "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 0
    (entry,) = json.loads((tmp_path / "results.json").read_text())["claims"]
    assert [c["name"] for c in entry["controls"]] == list(select(["marion.iid_sqrt_l_unique"])[0].controls)
    assert all(c["verdict"] == "violated" for c in entry["controls"])

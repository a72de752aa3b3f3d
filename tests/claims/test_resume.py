"""Kill a real `resnet-claims verify` mid-run; the rerun computes only missing cells and ends identical."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

ARGS = ["--claims", "marion.iid_sqrt_l_unique", "marion.gradient_dichotomy", "--budget", "smoke", "--quiet"]


def _verify(out, cache, **kw):
    env = {**os.environ, "RESNET_CLAIMS_CACHE": str(cache)}
    return subprocess.Popen([sys.executable, "-m", "claims.cli", "verify", *ARGS, "--out", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def _cells(cache):
    try:
        with sqlite3.connect(cache / "cells.sqlite") as db:
            return db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    except sqlite3.Error:
        return 0


def _science(path):
    data = json.loads(path.read_text())
    return [{k: v for k, v in c.items() if k not in ("seconds", "cells_from_cache")} for c in data["claims"]], \
        data["run"]["cells"]


def test_sigkill_then_resume_gives_the_uninterrupted_results(tmp_path):
    full = _verify(tmp_path / "full", tmp_path / "cache-full")
    assert full.wait(timeout=600) == 0
    victim = _verify(tmp_path / "resumed", tmp_path / "cache")
    deadline = time.time() + 300
    while _cells(tmp_path / "cache") < 5 and time.time() < deadline and victim.poll() is None:
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    done_before = _cells(tmp_path / "cache")
    assert done_before >= 5
    assert _verify(tmp_path / "resumed", tmp_path / "cache").wait(timeout=600) == 0
    resumed, counts = _science(tmp_path / "resumed" / "results.json")
    uninterrupted, full_counts = _science(tmp_path / "full" / "results.json")
    assert resumed == uninterrupted
    assert counts["cached"] == done_before and counts["computed"] == full_counts["computed"] - done_before

"""Every registered claim at the smoke budget: wall time (``time_``) and the science (``track_``);
every claim's default-budget seconds (``ClaimDefault``) and one default sweep's peak memory per paper.

The ``track_`` benchmarks follow scipy's ``optimize_linprog`` pattern (time the solve, track its
accuracy): a nightly asv run records each claim's fitted estimate and its CI width at a fixed seed,
so a commit that moves the science shows up as a step in the estimate's graph, and a commit that
makes a claim noisier as a step in its CI width. Claims come from ``claims.registry.all_claims()``:
a newly registered claim gets its benchmarks with no edit here. A claim with readings is tracked
once per reading, under the key ``CLAIM_ID@READING``, and once as a whole (its headline).

``setup_cache`` runs every claim once (seed 0, reference implementation, cpu, float32) and the
``track_`` methods read from it; ``time_smoke`` runs the claim once more under asv's timer.
RESNET_CLAIMS_BENCH_CLAIMS (comma-separated globs) restricts the set (.ci/asv-quick uses it).
"""
from __future__ import annotations

import math
import os
import time

from claims.plugins import available, resolve
from claims.run import run_claim
from claims.registry import all_claims, select

from . import QUICK

BUDGET = "smoke"
SEED = 0


def _claim_ids() -> list[str]:
    patterns = [p.strip() for p in os.environ.get("RESNET_CLAIMS_BENCH_CLAIMS", "").split(",") if p.strip()]
    keys = []
    for c in select(patterns) if patterns else all_claims():
        keys += [c.id] + [f"{c.id}@{r.name}" for r in c.readings]
    return keys


CLAIM_IDS = _claim_ids()


def _claim(key: str):
    """The claim behind a benchmark key: ``CLAIM_ID`` or ``CLAIM_ID@READING`` (that reading alone)."""
    claim_id, _, reading = key.partition("@")
    claim = next(c for c in all_claims() if c.id == claim_id)
    return claim.under(next(r for r in claim.readings if r.name == reading)) if reading else claim


def _run(key: str, impl_name: str = "reference", budget: str = BUDGET) -> dict:
    impl, _ = resolve(impl_name)
    return run_claim(_claim(key), impl, budget, SEED, "cpu", "float32")


def _summary(entry: dict, seconds: float) -> dict:
    lo, hi = entry.get("ci") or (None, None)
    width = hi - lo if lo is not None and hi is not None else math.nan
    return {"verdict": entry["verdict"], "estimate": entry.get("estimate"), "ci_width": width,
            "seconds": seconds, "message": entry.get("message", "")}


def _summaries(budget: str) -> dict[str, dict]:
    """Every selected claim run once at ``budget``: its summary by key, and each of its readings'
    under ``CLAIM_ID@READING`` (from the same run, not a second one)."""
    out = {}
    for key in CLAIM_IDS:
        if "@" in key:
            continue
        t0 = time.perf_counter()
        entry = _run(key, budget=budget)
        out[key] = _summary(entry, time.perf_counter() - t0)
        for sub in entry.get("readings") or []:
            out[f"{key}@{sub['reading']}"] = _summary(sub, sub.get("seconds", math.nan))
    return out


class ClaimSmoke:
    """One claim at the smoke budget; ``claim`` is the claim id."""

    params = [CLAIM_IDS]
    param_names = ["claim"]
    timeout = 600
    # one run per sample and one sample: the claim is seconds long and deterministic
    number = 1
    repeat = 1
    rounds = 1
    warmup_time = 0.0

    def setup_cache(self):
        return _summaries(BUDGET)

    setup_cache.timeout = 1800

    def setup(self, cache, claim):
        if claim not in cache:
            raise NotImplementedError(f"{claim} not in this run's selection")
        self.result = cache[claim]

    def time_smoke(self, cache, claim):
        _run(claim)

    def _checked(self, key):
        r = self.result
        if r["verdict"] in ("error", "not applicable") or r[key] is None or not math.isfinite(r[key]):
            raise RuntimeError(f"claim did not produce a finite {key}: {r['verdict']}: {r['message']}")
        return float(r[key])

    def track_estimate(self, cache, claim):
        """The fitted estimand (e.g. the root beta* for the Marion claims), seed 0."""
        return self._checked("estimate")

    track_estimate.unit = "estimand"

    def track_ci_width(self, cache, claim):
        """Width of the (hull of the) confidence set at the claim's level, seed 0."""
        return self._checked("ci_width")

    track_ci_width.unit = "estimand"

    def track_holds(self, cache, claim):
        """1 when the verdict is 'holds', 0 otherwise (a drop to 0 is worth a look)."""
        return 1.0 if self.result["verdict"] == "holds" else 0.0

    track_holds.unit = "verdict holds"

    def track_seconds(self, cache, claim):
        """Wall seconds of the smoke run in ``setup_cache`` (a slower commit shows as a step)."""
        return self._checked("seconds")

    track_seconds.unit = "seconds"


# budget of the default-budget benchmarks; the quick CI pass runs their code path at smoke
HEAVY_BUDGET = "smoke" if QUICK else "default"


class ClaimDefault:
    """Every claim once at the default budget (seed 0): its wall seconds. Their sum is the whole
    default catalogue's run time."""

    params = [CLAIM_IDS]
    param_names = ["claim"]
    timeout = 1800
    number = 1
    repeat = 1
    rounds = 1
    warmup_time = 0.0

    def setup_cache(self):
        return {key: summary["seconds"] for key, summary in _summaries(HEAVY_BUDGET).items()}

    setup_cache.timeout = 3600

    def track_seconds(self, cache, claim):
        """Wall seconds of one default-budget run of this claim."""
        if claim not in cache:
            raise NotImplementedError(f"{claim} not in this run's selection")
        return cache[claim]

    track_seconds.unit = "seconds"


# one default sweep per paper: the paper's claim with the largest default grid
PAPER_SWEEPS = {"marion2022": "marion.phase_diagram", "nfd2025": "nfd.init_coupling_width",
                "fischer2023": "fischer.kernel_recursion_finite_n"}


class PaperSweepMemory:
    """Peak memory of one default-budget sweep per paper (asv measures the process's max RSS)."""

    params = [list(PAPER_SWEEPS)]
    param_names = ["paper"]
    timeout = 1800

    def setup(self, paper):
        if PAPER_SWEEPS[paper] not in CLAIM_IDS:
            raise NotImplementedError(f"{PAPER_SWEEPS[paper]} not in this run's selection")

    def peakmem_default_sweep(self, paper):
        _run(PAPER_SWEEPS[paper], budget=HEAVY_BUDGET)


class NaiveLoopSpeedup:
    """The 1/sqrt(L) claim: per-network ``nn.Module`` loop time over reference time at equal CI width.

    The target is >= 50x. Both run the smoke budget (same cells, same networks per cell);
    a CI's width shrinks like 1/sqrt(work), so time at equal width is time * width^2 and the ratio
    is (t_naive w_naive^2) / (t_ref w_ref^2). Skipped until an implementation named
    ``naive-module`` is registered (reference_impl/naive.py, entry point in pyproject.toml).
    """

    claim = "marion.iid_sqrt_l_unique"
    timeout = 1200
    number = 1
    repeat = 1
    rounds = 1
    warmup_time = 0.0

    def setup(self):
        if "naive-module" not in available():
            raise NotImplementedError("no 'naive-module' implementation registered")
        if QUICK:
            raise NotImplementedError("skipped in quick mode")

    def track_speedup_equal_ci(self):
        # the reference run takes ~1 s, so take its best of 3 (a load spike on a shared machine
        # would otherwise halve the ratio); the naive run is ~1 min and averages load out itself
        cost = {}
        for name, runs in (("reference", 3), ("naive-module", 1)):
            best = None
            for _ in range(runs):
                t0 = time.perf_counter()
                entry = _run(self.claim, name)
                s = _summary(entry, time.perf_counter() - t0)
                if not math.isfinite(s["ci_width"]):
                    raise RuntimeError(f"{name}: {s['message']}")
                best = s if best is None or s["seconds"] < best["seconds"] else best
            cost[name] = best["seconds"] * best["ci_width"] ** 2
        return cost["naive-module"] / cost["reference"]

    track_speedup_equal_ci.unit = "x"


"""The suite's own figures: how often each claim cries wolf on the reference, and how often it
catches each negative control (``resnet-claims calibrate``).

Every selected claim runs over K master seeds (0..K-1 by default) on the reference, on every
negative control the claim lists (``Claim.controls``) and on every positive control
(``Claim.positive_controls``), the same seeds for all (paired). Per claim
the reliability table gives, on the reference, the rates of holds / violated (false violations)
/ inconclusive, and per control the rejection rate relative to the reference (the power: the control
run is rejected and the reference run at the same seed is not, claims.aggregate.rejected_against_reference;
a seed without its reference run is not counted), each with a
Clopper-Pearson 95% interval, and the seconds spent; per positive control the rate of runs
rated holds. Targets: false-violation rate <= 1%, inconclusive rate <= 5%, power >= 95% on every
listed control, holds rate >= 95% on every positive control; "met" compares the point
estimate with the target. K runs cannot show a rate below about 3/K (0 of K gives a 95% upper
bound of 1 - 0.025^(1/K)), so K = 20 can reveal a missed target but only K of several hundred can
demonstrate 1%; the table says so.

A claim whose reference verdict is a recorded finding (a ``violated`` line for the reference at
this budget in the expected-verdicts file, claims/expected.py) has no false-alarm rate to measure:
the row reports how often the finding reproduced, and its controls' power is marked
uninformative (the reference is rejected too: only a counted reading the reference does not violate
can reject a control there).

Every run records its claim's declaration digest (``Claim.declaration``): a row whose runs were made
under another declaration than the claim's current one is marked stale in the table, and a rerun of
that claim runs them again.

Results go to ``<out>/calibration.json`` (every run, then the summary) and ``<out>/calibration.md``,
rewritten after every run; rerunning the same command skips the runs already in the JSON that the
same implementation made: same budget, device and dtype, the claim's current declaration, and the
same identity (claims/identity.py: the --impl value and what names its code, never the implementation's
name alone) or, for this package's own implementations, the same computation (the engine and the run
machinery; an edit to the report, the command line or another claim's catalogue module leaves the
runs reusable), so an interrupted calibration resumes across sessions of work. A plug-in whose code
nothing names across runs (no cache_token) has its runs reused only to resume a calibration that did
not finish. Runs of other claims already in the JSON that the same implementation made are kept and
tabulated too, so one folder can collect a calibration done in parts; ``merge`` tabulates parts
run in separate folders.
"""
from __future__ import annotations

import datetime as dt
import json
import platform
import time
import warnings
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from scipy import stats as sps

from . import __version__
from .expected import Expected
from .aggregate import rejected_against_reference
from .cache import UncachedPluginWarning
from .identity import LOCAL_PLUGIN, Identity, plugin_identity
from .plugins import PluginError, resolve
from .run import Execution, run_claim
from .reliability_table import render_markdown
from .spec import VERDICTS, Claim
from .registry import all_claims

SCHEMA = "resnet-claims-calibration/1"
TARGETS = {"false_violation_max": 0.01, "inconclusive_max": 0.05, "power_min": 0.95, "positive_holds_min": 0.95}
Log = Callable[[str], None]


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval for a rate k/n."""
    if n == 0:
        return (0.0, 1.0)
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(sps.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(sps.beta.ppf(1 - a, k + 1, n - k))
    return (lo, hi)


def _key(run: Mapping[str, Any]) -> tuple[str, str, int]:
    return (run["claim"], run["impl"], int(run["seed"]))


def _record(claim: Claim, impl_name: str, role: str, seed: int, entry: Mapping[str, Any],
            identity: Identity) -> dict[str, Any]:
    rec = {"claim": claim.id, "impl": impl_name, "role": role, "seed": seed, "verdict": entry["verdict"],
           "estimate": entry.get("estimate"), "ci": entry.get("ci"), "seconds": round(float(entry.get("seconds", 0.0)), 3),
           "declaration": claim.declaration(), "identity": identity.digest, "computation": identity.computation,
           "plugin": identity.plugin}
    if entry["verdict"] in ("error", "not applicable"):
        rec["message"] = entry.get("message", "")
    if entry.get("readings"):  # what rejected_against_reference compares, reading by reading
        rec["readings"] = [{"reading": r["reading"], "verdict": r["verdict"], "degenerate": bool(r.get("degenerate"))}
                           for r in entry["readings"]]
    return rec


def _rejections(controls: Sequence[Mapping[str, Any]], reference: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The power of one control: of its runs whose seed has a reference run, how many are rejected
    relative to that reference run (a control is never credited with an outcome the reference shares)."""
    by_seed = {r["seed"]: r for r in reference}
    paired = [(c, by_seed[c["seed"]]) for c in controls if c["seed"] in by_seed]
    return _rate(sum(rejected_against_reference(dict(c), dict(r)) for c, r in paired), len(paired))


def _counts(runs: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return {v: sum(r["verdict"] == v for r in runs) for v in VERDICTS}


def _rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = clopper_pearson(k, n)
    return {"count": k, "n": n, "rate": k / n if n else None, "ci95": [lo, hi]}


def _check(what: str, rate: dict[str, Any], bound: float, upper: bool) -> dict[str, Any]:
    value = rate["rate"]
    met = value is not None and (value <= bound if upper else value >= bound)
    missed = None if met or value is None else abs(value - bound)
    return {"what": what, "rate": value, "ci95": rate["ci95"], "target": f"{'<=' if upper else '>='} {bound:g}",
            "met": met, "missed_by": missed,
            "demonstrated": rate["ci95"][1] <= bound if upper else rate["ci95"][0] >= bound}


def projection(runs: Sequence[Mapping[str, Any]], prediction: float | None, tolerance: float | None
               ) -> dict[str, Any] | None:
    """Verdict rates implied by the spread of the K estimates (a projection, not a count).

    The estimates are fitted with a normal N(m, s^2); a new run's CI is taken as its estimate minus the
    mean lower half-width a and plus the mean upper half-width b of the K CIs. With the band
    [p - t, p + t]: holds when p - t + a <= estimate <= p + t - b, violated when the CI misses the
    band, inconclusive (the CI crosses the band's edge) otherwise. ``margin`` is how many s the mean
    sits from the nearest estimate at which the verdict would change; ``precision`` is the mean CI
    half-width over the tolerance, by which the precision rule (claims.reliability_table.PRECISION_RULE)
    sizes budgets. None without a band, with fewer than 3 runs that have an estimate and a CI, or with
    no spread."""
    if prediction is None or tolerance is None:
        return None
    usable = [(r["estimate"], r["ci"]) for r in runs if r.get("estimate") is not None and r.get("ci")
              and None not in r["ci"]]
    if len(usable) < 3:
        return None
    est = np.array([e for e, _ in usable], float)
    below = float(np.mean([e - ci[0] for e, ci in usable]))
    above = float(np.mean([ci[1] - e for e, ci in usable]))
    m, sd = float(est.mean()), float(est.std(ddof=1))
    if not sd > 0:
        return None
    lo, hi = prediction - tolerance, prediction + tolerance
    cdf = lambda x: float(sps.norm.cdf((x - m) / sd))  # noqa: E731
    holds = max(0.0, cdf(hi - above) - cdf(lo + below)) if lo + below <= hi - above else 0.0
    violated = cdf(lo - above) + (1.0 - cdf(hi + below))
    edges = [lo - above, lo + below, hi - above, hi + below]
    return {"runs": len(usable), "mean": m, "sd": sd, "ci_below": below, "ci_above": above, "band": [lo, hi],
            "holds": holds, "violated": violated, "inconclusive": max(0.0, 1.0 - holds - violated),
            "margin": min(abs(m - e) for e in edges) / sd, "precision": (below + above) / 2 / tolerance}


def _band(claim: Any) -> tuple[float | None, float | None]:
    return getattr(claim, "prediction", None), getattr(claim, "tolerance", None)


def _listed(claim: Claim, only: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(c for c in claim.controls if only is None or c in only)


def _findings(expected: Expected | None, impl: str, budget: str) -> dict[str, tuple[str, str]]:
    """Claim id -> (verdict, reason) of the expected-verdicts lines for ``impl`` at ``budget``."""
    return {cid: v for (name, b, cid), v in (expected or {}).items() if name == impl and b == budget}


def _positives(claim: Claim, only: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(c for c in getattr(claim, "positive_controls", ()) if only is None or c in only)


def declaration_status(claim: Claim, runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """How many of a claim's runs were made under a declaration other than its current one."""
    current = claim.declaration()
    return {"current": current, "runs": len(runs), "stale": sum(r.get("declaration") != current for r in runs)}


def summarise(runs: Sequence[Mapping[str, Any]], claims: Sequence[Claim], reference: str,
              controls: Sequence[str] | None = None,
              findings: Mapping[str, tuple[str, str]] | None = None) -> list[dict[str, Any]]:
    """Per claim: reference verdict rates with the false-alarm checks, per control the power check,
    per positive control (a finding's variant in which the claimed effect exists by construction) the
    rate at which the same measurement says holds.

    ``findings``: claim id -> (verdict, reason) of recorded reference findings at this budget.
    """
    findings = findings or {}
    out = []
    for claim in claims:
        mine = [r for r in runs if r["claim"] == claim.id]
        ref = [r for r in mine if r["impl"] == reference]
        counts = _counts(ref)
        n = len(ref)
        row: dict[str, Any] = {
            "claim": claim.id,
            "reference": {
                "impl": reference, "runs": n, "counts": counts,
                "rates": {v: (counts[v] / n if n else None) for v in VERDICTS},
                "seconds": sum(r["seconds"] for r in ref),
                "checks": [
                    _check("false-violation rate", _rate(counts["violated"], n), TARGETS["false_violation_max"], True),
                    _check("inconclusive rate", _rate(counts["inconclusive"], n), TARGETS["inconclusive_max"], True),
                ],
            },
            "controls": [],
        }
        row["reference"]["projection"] = projection(ref, *_band(claim))
        row["declaration"] = declaration_status(claim, mine)
        if counts["error"]:
            row["reference"]["checks"].append(_check("error rate", _rate(counts["error"], n), 0.0, True))
        finding = findings.get(claim.id)
        if finding is not None and finding[0] == "violated":
            row["reference"]["finding"] = {"verdict": finding[0], "reason": finding[1],
                                           "reproduced": _rate(counts["violated"], n)}
            row["reference"]["checks"] = [c for c in row["reference"]["checks"] if c["what"] != "false-violation rate"]
        for name in _listed(claim, controls):
            ctl = [r for r in mine if r["impl"] == name]
            c = _counts(ctl)
            row["controls"].append({
                "control": name, "runs": len(ctl), "counts": c, "seconds": sum(r["seconds"] for r in ctl),
                "checks": [_check("power (rejected relative to the reference)", _rejections(ctl, ref),
                                  TARGETS["power_min"], False)],
                "informative": "finding" not in row["reference"],
                "projection": projection(ctl, *_band(claim)),
            })
        row["positive_controls"] = []
        for name in _positives(claim, controls):
            pos = [r for r in mine if r["impl"] == name]
            c = _counts(pos)
            row["positive_controls"].append({
                "control": name, "runs": len(pos), "counts": c, "seconds": sum(r["seconds"] for r in pos),
                "checks": [_check("holds rate", _rate(c["holds"], len(pos)), TARGETS["positive_holds_min"], False)],
                "projection": projection(pos, *_band(claim)),
            })
        out.append(row)
    return out


def load_calibration(path: Path) -> dict[str, Any]:
    """Read a calibration.json; ValueError naming the file when it is unusable."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read calibration file ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA or not isinstance(data.get("summary"), list):
        raise ValueError(f"{path}: not a calibration file (expected schema {SCHEMA!r} with a summary)")
    known = {c.id: c for c in all_claims()}
    for row in data["summary"]:  # against the catalogue as it is now, not as it was when the file was written
        if row.get("claim") in known:
            row["declaration"] = declaration_status(known[row["claim"]],
                                                    [r for r in data.get("runs", []) if r.get("claim") == row["claim"]])
    return data


def _write(data: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (("calibration.json", json.dumps(data, indent=1, default=str)),
                       ("calibration.md", render_markdown(data))):
        tmp = out / (name + ".tmp")
        tmp.write_text(text)
        tmp.replace(out / name)


def _previous(out: Path | None, settings: Mapping[str, Any]) -> tuple[list[dict[str, Any]], str | None, bool]:
    """Runs, start time and whether it finished, of an earlier calibration in ``out`` with the same
    budget, device, dtype and implementation name (which runs are reused is decided by identity)."""
    if out is None or not (out / "calibration.json").exists():
        return [], None, False
    try:
        old = json.loads((out / "calibration.json").read_text())
    except (OSError, json.JSONDecodeError):
        return [], None, False
    same = all(old.get("settings", {}).get(k) == settings[k] for k in ("budget", "device", "dtype", "impl"))
    if not same or old.get("schema") != SCHEMA:
        return [], None, False
    return list(old.get("runs", [])), old["settings"].get("started"), bool(old.get("finished"))


class _Plugins:
    """The implementations a calibration runs, by name: the reference and the controls, each resolved
    once, with its identity (claims/identity.py)."""

    def __init__(self, reference: Any) -> None:
        self._found: dict[str, tuple[Any, Identity]] = {reference.name: (reference, plugin_identity(reference))}

    def get(self, name: str) -> tuple[Any, Identity]:
        """(implementation, identity); PluginError for a name that does not resolve."""
        if name not in self._found:
            impl = resolve(name)[0]
            self._found[name] = (impl, plugin_identity(impl))
        return self._found[name]


def _reusable(run: Mapping[str, Any], declared: Mapping[str, str], plugins: _Plugins, finished: bool) -> bool:
    """An earlier run stays: for a selected claim (it is then not run again), only when it was made
    under the claim's current declaration by the implementation with the same identity or, for this
    package's own implementations, the same computation (Identity.computation: edits to the report,
    the command line or other claims do not rerun it; one trusted only within a run: when the earlier
    calibration did not finish); for another claim (a part done
    earlier, kept in the table), when it was made by the same implementation."""
    try:
        identity = plugins.get(run["impl"])[1]
    except PluginError:  # a control that is gone
        return False
    if run["claim"] in declared:
        same_code = run.get("identity") == identity.digest or run.get("computation") == identity.computation
        return run.get("declaration") == declared[run["claim"]] and same_code and (identity.shared or not finished)
    # rows written before runs carried an identity: kept only for this package's own implementations
    return run.get("plugin") == identity.plugin if "plugin" in run else identity.kind == "shipped"


def calibrate(
    claims: Sequence[Claim],
    seeds: int = 20,
    budget: str = "default",
    device: str = "cpu",
    dtype: str = "float32",
    impl: str = "reference",
    first_seed: int = 0,
    out: Path | None = None,
    resume: bool = True,
    log: Log | None = None,
    controls: Sequence[str] | None = None,
    expected: Expected | None = None,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Run every claim over ``seeds`` master seeds on ``impl`` and on each control it lists
    (only those named in ``controls`` when given; an empty list: the reference alone).
    ``expected``: the expected-verdicts table; its ``violated`` lines for ``impl`` at ``budget`` are findings.
    ``executor``: where each run's cells go (claims.executors; None: in this process), one run at a time."""
    reference, _ = resolve(impl)
    seed_list = list(range(first_seed, first_seed + seeds))
    settings = {
        "budget": budget, "seeds": seed_list, "device": device, "dtype": dtype, "impl": reference.name,
        "impl_version": reference.version, "claims": [c.id for c in claims], "package_version": __version__,
        "torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform(),
        "threads": torch.get_num_threads(), "controls": None if controls is None else list(controls),
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    previous, started, finished = _previous(out, settings) if resume else ([], None, False)
    if previous and started:
        settings["resumed"], settings["started"] = settings["started"], started
    declared = {c.id: c.declaration() for c in claims}
    plugins = _Plugins(reference)
    if previous and not plugins.get(reference.name)[1].shared:
        warnings.warn(f"plug-in {reference.name!r} ({impl}): {LOCAL_PLUGIN}, so its earlier runs in {out} are reused "
                      "only to resume a calibration that did not finish; declare a cache_token to reuse them "
                      "(docs/cache.md)", UncachedPluginWarning, stacklevel=2)
    runs = [r for r in {_key(r): r for r in previous}.values() if _reusable(r, declared, plugins, finished)]
    if log and len(runs) < len(previous):
        log(f"{len(previous) - len(runs)} earlier runs were made by another implementation or other code, or under "
            "another declaration of their claim: left out (those of the selected claims run again)")
    done = {_key(r) for r in runs}
    findings = _findings(expected, reference.name, budget)
    given = {c.id for c in claims}
    earlier = {r["claim"] for r in runs} - given  # claims of an earlier part, kept in the table
    tabulated = [c for c in all_claims() if c.id in earlier] + list(claims)
    data: dict[str, Any] = {"schema": SCHEMA, "settings": settings, "targets": TARGETS, "runs": runs}
    start = time.perf_counter()
    plan = [(c, name, s) for c in claims for s in seed_list  # a control named as --impl runs once, as the reference
            for name in dict.fromkeys((reference.name, *_listed(c, controls), *_positives(c, controls)))]
    todo = [(c, name, s) for c, name, s in plan if (c.id, name, s) not in done]
    if log and len(todo) < len(plan):
        log(f"resuming: {len(plan) - len(todo)} of {len(plan)} runs already in {out / 'calibration.json'}")
    previous_seconds = sum(r["seconds"] for r in runs)

    def update() -> None:
        data["seconds"] = previous_seconds + time.perf_counter() - start
        data["summary"] = summarise(runs, tabulated, reference.name, controls, findings)
        if out is not None:
            _write(data, out)

    for i, (claim, name, seed) in enumerate(todo):
        plugin, identity = plugins.get(name)
        entry = run_claim(claim, plugin, budget, seed, device, dtype, execution=Execution(executor))
        role = "reference" if plugin is reference else "positive control" if name in _positives(claim, None) else "control"
        rec = _record(claim, name, role, seed, entry, identity)
        runs.append(rec)
        if log:
            est = rec["estimate"]
            log(f"[{i + 1}/{len(todo)}] {claim.id} on {name}, seed {seed}: {rec['verdict']}"
                f"{'' if est is None else f' (estimate {est:.4g})'} in {rec['seconds']:.1f}s")
        update()
    data["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    update()
    return data


MERGED_SETTINGS = ("budget", "device", "dtype", "impl")


def _left_out(run: Mapping[str, Any], declared: Mapping[str, str], plugins: _Plugins) -> str:
    """Why a merge leaves a run of a selected claim out (``_reusable`` said no)."""
    if run.get("declaration") != declared[run["claim"]]:
        return "made under another declaration of their claim"
    try:
        identity = plugins.get(run["impl"])[1]
    except PluginError:
        return "of an implementation that no longer resolves"
    if not identity.shared:
        return (f"of plug-in {run['impl']!r}, whose code nothing names across runs ({LOCAL_PLUGIN}): declare a "
                "cache_token to merge them (docs/cache.md)")
    return "made by other code (another engine, environment or package version)"


def merge(parts: Sequence[Path], out: Path, claims: Sequence[Claim], impl: str = "reference",
          expected: Expected | None = None, log: Log | None = None) -> dict[str, Any]:
    """One reliability table from calibrations run apart (other processes or machines, each into its own
    folder), running nothing: the runs of every part that a resumed calibration would reuse (made
    under the current declaration of a claim in ``claims`` by an implementation with the same identity
    or computation as now, and never a plug-in that nothing names: ``_reusable``), tabulated for every
    claim in ``claims``, including those with no run yet. ValueError naming the part when one is
    unreadable, was made at another budget, device, dtype or implementation, or disagrees with another
    part on a verdict of the same claim, implementation and seed; and when ``out`` is one of the parts.
    ``log`` gets one line per reason runs were left out, with their number."""
    if any(Path(p).resolve() == Path(out).resolve() for p in parts):
        raise ValueError(f"{out} is one of the parts: merge into another folder (the parts are left as they are)")
    datas = [load_calibration(Path(p) / "calibration.json") for p in parts]
    if not datas:
        raise ValueError("no calibration folder to merge")
    reference, _ = resolve(impl)
    first = {**datas[0]["settings"], "impl": reference.name}
    for part, data in zip(parts, datas):
        differ = [k for k in MERGED_SETTINGS if data["settings"].get(k) != first.get(k)]
        if differ:
            theirs = ", ".join(f"{k} {data['settings'].get(k)!r}" for k in differ)
            ours = ", ".join(f"{k} {first.get(k)!r}" for k in differ)
            raise ValueError(f"{part}: {theirs} differs from {parts[0]} or --impl ({ours}); only one budget, device, "
                             "dtype and implementation make one table")
    declared = {c.id: c.declaration() for c in claims}
    plugins = _Plugins(reference)
    runs: dict[tuple[str, str, int], dict[str, Any]] = {}
    left: dict[str, int] = {}
    for part, data in zip(parts, datas):
        for r in data["runs"]:
            if r["claim"] not in declared:
                continue
            if not _reusable(r, declared, plugins, finished=True):
                why = _left_out(r, declared, plugins)
                left[why] = left.get(why, 0) + 1
                continue
            other = runs.get(_key(r))
            if other is not None and other["verdict"] != r["verdict"]:
                raise ValueError(f"{part}: {r['claim']} on {r['impl']} at seed {r['seed']} is {r['verdict']}, another "
                                 f"part says {other['verdict']} with the same code: the parts are not one calibration")
            runs[_key(r)] = r
    for why, count in left.items():
        if log:
            log(f"{count} run{'s' if count > 1 else ''} left out: {why}")
    order = [c.id for c in claims]
    kept = sorted(runs.values(), key=lambda r: (order.index(r["claim"]), r["seed"], r["impl"]))
    findings = _findings(expected, reference.name, first["budget"])
    starts = sorted(d["settings"]["started"] for d in datas if d["settings"].get("started"))
    settings = {**first, "claims": order, "seeds": sorted({int(r["seed"]) for r in kept}),
                "started": starts[0] if starts else first.get("started"), "merged_from": [str(p) for p in parts]}
    data = {"schema": SCHEMA, "settings": settings, "targets": TARGETS, "runs": kept,
            "seconds": sum(r["seconds"] for r in kept), "summary": summarise(kept, claims, reference.name, None, findings),
            "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    _write(data, out)
    return data


def current_summary(data: Mapping[str, Any], claims: Sequence[Claim], expected: Expected | None = None
                    ) -> list[dict[str, Any]]:
    """The summary rows of a calibration's runs made under each claim's current declaration (stale runs
    left out), for every claim in ``claims``: what the README's claims table quotes."""
    declared = {c.id: c.declaration() for c in claims}
    settings = data["settings"]
    runs = [r for r in data["runs"] if declared.get(r["claim"]) == r.get("declaration")]
    findings = _findings(expected, settings["impl"], settings["budget"])
    return summarise(runs, claims, settings["impl"], None, findings)


def expected_seconds(data: Mapping[str, Any] | None, claims: Sequence[Claim], budget: str) -> tuple[float, int]:
    """(seconds, claims timed): the median seconds of each claim's reference runs in a calibration at
    ``budget`` under the claim's current declaration, summed over the claims that have such runs; a
    rough figure for the machine the calibration ran on. (0, 0) without a calibration at that budget."""
    if not data or data.get("settings", {}).get("budget") != budget:
        return 0.0, 0
    impl = data["settings"].get("impl")
    total, timed = 0.0, 0
    for claim in claims:
        current = claim.declaration()
        seconds = [r["seconds"] for r in data.get("runs", [])
                   if r["claim"] == claim.id and r["impl"] == impl and r.get("declaration") == current]
        if seconds:
            total, timed = total + float(np.median(seconds)), timed + 1
    return total, timed


def all_met(data: Mapping[str, Any]) -> bool:
    """Every target met (point estimates) and no error on the reference or a control. A finding's
    negative controls are uninformative (the reference is violated too, so none can be rejected
    relative to it): their power is shown, not counted; the finding's positive controls are."""
    for row in data["summary"]:
        others = row["controls"] + row.get("positive_controls", [])
        counted = [c for c in others if c.get("informative", True)]
        checks = row["reference"]["checks"] + [ch for c in counted for ch in c["checks"]]
        if not all(ch["met"] for ch in checks) or any(c["counts"]["error"] for c in others):
            return False
    return True

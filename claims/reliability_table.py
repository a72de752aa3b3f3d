"""The reliability table of a calibration (claims/calibrate.py) as display rows and markdown;
the HTML report renders the same rows."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

# The precision rule (docs/preregistration.md): at the default budget the reference's CI half-width is
# about a third of the tolerance or less. A row whose mean half-width exceeds it by more than
# PRECISION_ABOUT says so in its status (a budget to raise); the rule's own check is a test on the
# committed table (tests/claims/test_reliability_table.py).
PRECISION_RULE = 1 / 3
PRECISION_ABOUT = 1.1


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%" if x in (0.0, 1.0) else f"{100 * x:.1f}%"


def _status(checks: Sequence[Mapping[str, Any]], prefix: str = "") -> str:
    missed = [c for c in checks if not c["met"]]
    if not missed:
        return prefix.rstrip("; ") or "met"
    return prefix + "; ".join(f"MISSED {c['what']} by {100 * c['missed_by']:.1f} pp" if c["missed_by"] is not None
                     else f"MISSED {c['what']} (no runs)" for c in missed)


def _ci(rate: Any, ci95: Sequence[float]) -> str:
    return f"{_pct(rate)} [{_pct(ci95[0])}, {_pct(ci95[1])}]"


def _small(x: float) -> str:
    """A projected rate: percent, with '<0.1%' and '>99.9%' rather than a misleading 0% or 100%."""
    return "<0.1%" if x < 0.001 else ">99.9%" if x > 0.999 else f"{100 * x:.1f}%"


def projection_text(proj: Mapping[str, Any] | None, role: str) -> list[str]:
    """The projected rates of one row (claims/calibrate.py: projection), labelled as a projection."""
    if not proj:
        return []
    where = f"mean {proj['margin']:.1f} sd from a verdict change"
    if role == "control":
        return [f"projected power {_small(proj['violated'])} (normal fit of {proj['runs']} estimates; {where})"]
    if role == "positive control":
        return [f"projected holds {_small(proj['holds'])} (normal fit of {proj['runs']} estimates; {where})"]
    return [f"projected violated {_small(proj['violated'])}, CI crossing the band's edge {_small(proj['inconclusive'])} "
            f"(normal fit of {proj['runs']} estimates; {where})"]


def precision_text(proj: Mapping[str, Any] | None, budget: str | None) -> tuple[list[str], str]:
    """The reference row's mean CI half-width over the tolerance, and a status note when it is above
    the precision rule (PRECISION_RULE times PRECISION_ABOUT). The rule sizes the default budget only:
    at smoke or thorough the half-width is shown and not judged."""
    if not proj or proj.get("precision") is None:
        return [], ""
    p = proj["precision"]
    if budget != "default":
        return [f"CI half-width {p:.2f} of the tolerance (mean of {proj['runs']} runs)"], ""
    over = (f"; CI half-width {p:.2f} of the tolerance, above the precision rule's {PRECISION_RULE:.2f}"
            if p > PRECISION_RULE * PRECISION_ABOUT else "")
    return [f"CI half-width {p:.2f} of the tolerance (mean of {proj['runs']} runs; precision rule: about "
            f"{PRECISION_RULE:.2f} or less)"], over


def table_rows(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per (claim, implementation) of the reliability table, as display strings; shared by
    calibration.md and the HTML report."""
    rows = []

    def share(k: int, n: int) -> str:
        return _pct(k / n if n else None)

    for row in data["summary"]:
        ref = row["reference"]
        n, c = ref["runs"], ref["counts"]
        finding = ref.get("finding")
        prefix = "" if finding is None else (
            f"finding, reproduced {finding['reproduced']['count']}/{n} ({finding['reason'].removeprefix('finding: ')}); ")
        decl = row.get("declaration") or {}
        stale = (f"stale: {decl['stale']} of {decl['runs']} runs do not carry the claim's current declaration; "
                 if decl.get("stale") else "")
        split = c.get("reading-dependent", 0)
        if split:  # not a column: neither a false violation nor undecided, so the status says it
            prefix += f"reading-dependent {split}/{n} (its counted readings disagree); "
        prefix = stale + prefix
        if n == 0:  # tabulated (a merged table lists every claim) but not run yet: one line, no rates
            rows.append({"claim": row["claim"], "impl": ref["impl"], "role": "reference", "runs": 0, "holds": "",
                         "violated": "", "inconclusive": "", "error": 0, "tested": [], "target": [],
                         "status": "not yet run under the claim's current declaration", "met": False, "per_run": 0.0})
            continue
        precision, over = precision_text(ref.get("projection"), data.get("settings", {}).get("budget"))
        rows.append({
            "claim": row["claim"], "impl": ref["impl"], "role": "reference", "runs": n,
            "holds": share(c["holds"], n), "violated": share(c["violated"], n),
            "inconclusive": share(c["inconclusive"], n), "error": c["error"],
            "tested": [f"{ch['what']}: {_ci(ch['rate'], ch['ci95'])}" for ch in ref["checks"]]
            + projection_text(ref.get("projection"), "reference") + precision,
            "target": [ch["target"] for ch in ref["checks"]],
            "status": _status(ref["checks"], prefix) + over, "met": all(ch["met"] for ch in ref["checks"]),
            "per_run": ref["seconds"] / n if n else 0.0,
        })
        for ctl in row["controls"]:
            m, cc, ch = ctl["runs"], ctl["counts"], ctl["checks"][0]
            informative = ctl.get("informative", True)
            rows.append({
                "claim": row["claim"], "impl": ctl["control"], "role": "control", "runs": m,
                "holds": share(cc["holds"], m), "violated": share(cc["violated"], m),
                "inconclusive": share(cc["inconclusive"], m), "error": cc["error"],
                "tested": [f"power: {_ci(ch['rate'], ch['ci95'])}"] + projection_text(ctl.get("projection"), "control"),
                "target": [ch["target"]],
                "status": stale + (("met" if ch["met"] else "not demonstrated: " + _status(ctl["checks"]))
                                   if informative else "uninformative: the reference is violated too"),
                "met": ch["met"] or not informative, "per_run": ctl["seconds"] / m if m else 0.0,
            })
        for pos in row.get("positive_controls", []):
            m, cc, ch = pos["runs"], pos["counts"], pos["checks"][0]
            rows.append({
                "claim": row["claim"], "impl": pos["control"], "role": "positive control", "runs": m,
                "holds": share(cc["holds"], m), "violated": share(cc["violated"], m),
                "inconclusive": share(cc["inconclusive"], m), "error": cc["error"],
                "tested": [f"holds rate: {_ci(ch['rate'], ch['ci95'])}"]
                + projection_text(pos.get("projection"), "positive control"),
                "target": [ch["target"]],
                "status": stale + ("met" if ch["met"] else _status(pos["checks"])),
                "met": ch["met"], "per_run": pos["seconds"] / m if m else 0.0,
            })
    return rows


def describe_settings(data: Mapping[str, Any]) -> str:
    """One sentence: budget, seeds, implementation, machine and time of a calibration."""
    s = data["settings"]
    seeds = sorted({int(r["seed"]) for r in data["runs"]})
    seed_text = f"{seeds[0]}..{seeds[-1]}" if seeds else "none"
    return (f"Budget `{s['budget']}`, master seeds {seed_text} (K per row: the runs column), implementation "
            f"`{s['impl']}` {s['impl_version']} (package {s.get('package_version', '?')}), device {s['device']}, "
            f"dtype {s['dtype']}, torch {s['torch']}, {s['platform']}; started {s['started']}, "
            f"{data.get('seconds', 0.0):.0f} s of runs in all.")


def bounds_note(data: Mapping[str, Any]) -> str:
    """What K runs can show: the 95% bound that 0 of K puts on a rate."""
    ks = sorted({row["reference"]["runs"] for row in data["summary"]} - {0})
    if not ks:
        return ""
    bounds = ", ".join(f"K = {k}: {_pct(1 - 0.025 ** (1 / k))}" for k in ks)
    return (f"0 violations out of K runs bounds the false-violation rate (95%) by {bounds}; K rejections out of "
            "K bound power from below by one minus that. Showing a 1% false-violation rate needs K of about 370 "
            "with no violation. The projected rates are a projection, not a count: they fit a normal to the K "
            "estimates and take each new CI as wide as the K CIs were on average, so a claim whose estimates sit "
            "far inside its band reads differently from one close to an edge; they are as good as that model.")


TARGETS_TEXT = ("Targets: false-violation rate <= 1%, inconclusive rate <= 5% on the reference; power (rate of "
                "runs rejected where the reference run at the same seed is not) >= 95% on every control the claim lists; holds rate >= 95% on every positive control (a finding's variant in which "
                "the effect exists by construction: the measurement can say holds). Rates are counts over K runs with "
                "Clopper-Pearson 95% intervals; 'met' compares the point estimate with the target. A listed control "
                "whose power is below 95% is not demonstrated: the claim is not counted as able to reject it. Each "
                "reference row also gives its mean CI half-width over the tolerance: the precision rule sizes "
                "the default budgets to about a third or less, and a row above it says so in its status.")


def render_markdown(data: Mapping[str, Any]) -> str:
    """The reliability table as markdown."""
    lines = [
        "# Reliability of the claim suite (`resnet-claims calibrate`)", "", describe_settings(data), "",
        TARGETS_TEXT, "",
        "| claim | implementation | runs | holds | violated | inconclusive | error | tested rate [95% CI] | target | status | s/run |",
        "|---|---|---:|---:|---:|---:|---:|---|---|---|---:|",
    ]
    previous = None
    for r in table_rows(data):
        claim = "" if r["claim"] == previous else f" `{r['claim']}`"
        previous = r["claim"]
        impl = f"{r['role']} `{r['impl']}`" if r["role"] != "reference" else r["impl"]
        lines.append(f"|{claim} | {impl} | {r['runs']} | {r['holds']} | {r['violated']} | {r['inconclusive']} | "
                     f"{r['error']} | {'<br>'.join(r['tested'])} | {'<br>'.join(r['target'])} | {r['status'].replace('|', '&#124;')} | "
                     f"{r['per_run']:.1f} |")
    note = bounds_note(data)
    if note:
        lines += ["", note]
    errors = [r for r in data["runs"] if r["verdict"] == "error"]
    if errors:
        lines += ["", "Errors:"] + [f"- `{r['claim']}` on {r['impl']} seed {r['seed']}: {r.get('message', '')}"
                                     for r in errors[:20]]
    return "\n".join(lines) + "\n"


def claim_summary(row: Mapping[str, Any]) -> str:
    """One claim's calibration in a few words (the README's claims table quotes it): the reference's
    verdict counts over K runs, the lowest power over its informative negative controls and the
    holds counts of its positive controls; "not yet calibrated" without runs."""
    ref = row["reference"]
    n = ref["runs"]
    if n == 0:
        return "not yet calibrated"
    order = ("holds", "violated", "reading-dependent", "inconclusive", "error", "not applicable")
    parts = [f"{v} {ref['counts'][v]}/{n}" for v in order if ref["counts"].get(v)]
    text = ", ".join(parts)
    powers = [c["checks"][0]["rate"] for c in row["controls"] if c.get("informative", True) and c["runs"]]
    if powers:
        text += f"; {len(powers)} control{'s' if len(powers) > 1 else ''}, lowest power {_pct(min(powers))}"
    for pos in row.get("positive_controls", []):
        if pos["runs"]:
            text += f"; positive control holds {pos['counts']['holds']}/{pos['runs']}"
    return text

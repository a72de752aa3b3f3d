"""Turn parsed results dicts into a view model and render it with the jinja2 templates."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from claims.report.figures import figure_svg

VERDICTS = ("holds", "violated", "inconclusive", "reading-dependent", "error", "not applicable")
_SYMBOLS = {"holds": "✓", "violated": "✗", "inconclusive": "?", "reading-dependent": "≷", "error": "!",
            "not applicable": "–"}
_TEMPLATES = Path(__file__).parent / "templates"


def num(x: Any, digits: int = 4) -> str:
    """Format a number to ``digits`` significant digits; anything non-finite or missing is "n/a"."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "n/a"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}g}"


def seconds(x: Any) -> str:
    """Format a duration in seconds ("n/a" when missing)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "n/a"
    if x < 60:
        return f"{x:.1f} s"
    m, s = divmod(int(round(x)), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def ci(interval: Any, level: Any = None) -> str:
    """Format a confidence interval as "[lo, hi]" ("n/a" when missing)."""
    if not isinstance(interval, Sequence) or isinstance(interval, str) or len(interval) != 2:
        return "n/a"
    lo, hi = num(interval[0]), num(interval[1])
    if lo == hi == "n/a":
        return "n/a"
    pct = f"{num(100 * level, 3)}% CI " if isinstance(level, (int, float)) and 0 < level < 1 else ""
    return f"{pct}[{lo}, {hi}]"


def confidence_set(claim: Mapping[str, Any], level: Any = None) -> str:
    """The confidence set of an entry: its ``ci_pieces`` when it has more than one piece or an
    infinite end ("(-inf, a] ∪ [b, inf)", two rays of a Fieller set), else ``ci``; "n/a" when missing."""
    pieces = claim.get("ci_pieces")
    if not (isinstance(pieces, list) and pieces and all(isinstance(p, Sequence) and len(p) == 2 for p in pieces)
            and (len(pieces) > 1 or None in pieces[0])):
        return ci(claim.get("ci"), level)
    text = " ∪ ".join(f"{'(-inf' if lo is None else '[' + num(lo)}, {'inf)' if hi is None else num(hi) + ']'}"
                      for lo, hi in pieces)
    pct = f"{num(100 * level, 3)}% CI " if isinstance(level, (int, float)) and 0 < level < 1 else ""
    return pct + text


def estimate(claim: Mapping[str, Any], level: bool = True) -> str:
    """Format "estimate [lo, hi]" (with the CI level when ``level``), or "n/a"."""
    e, i = num(claim.get("estimate")), confidence_set(claim, claim.get("ci_level") if level else None)
    return e if i == "n/a" else f"{e} ({i})" if level else f"{e} {i}"


def prediction(claim: Mapping[str, Any]) -> str:
    """Format "prediction ± tolerance"."""
    p, t = num(claim.get("prediction")), num(claim.get("tolerance"))
    if p == "n/a":
        return "n/a"
    return p if t == "n/a" else f"{p} ± {t}"


def verdict(v: Any) -> dict[str, str]:
    """Return the text label, symbol and CSS class of a verdict."""
    text = str(v) if v else "unknown"
    css = "v-" + text.replace(" ", "-") if text in VERDICTS else "v-unknown"
    return {"text": text, "symbol": _SYMBOLS.get(text, "•"), "css": css}


def slug(text: str) -> str:
    """Return an HTML-id-safe slug."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "claim"


def _date(text: Any) -> str:
    """Format an ISO timestamp for people, leaving anything else as it is."""
    if not isinstance(text, str) or not text:
        return "n/a"
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        return text


def _values(v: Any) -> str:
    """Format a scalar or list of sweep values."""
    if isinstance(v, (list, tuple)):
        return ", ".join(_values(x) for x in v)
    if isinstance(v, float):
        return num(v)
    return "n/a" if v is None else str(v)


def _mapping(m: Any) -> list[tuple[str, str]]:
    """Format a mapping as (key, value) string pairs."""
    return [(str(k), _values(v)) for k, v in m.items()] if isinstance(m, Mapping) else []


def _counts(results: Mapping[str, Any], claims: Sequence[Mapping[str, Any]]) -> list[tuple[dict[str, str], int]]:
    """Return (verdict, count) pairs: the run's own counts, else counted from its claims."""
    counts = (results.get("run") or {}).get("counts")
    if not isinstance(counts, Mapping) or not counts:
        counts = {}
        for c in claims:
            counts[str(c.get("verdict"))] = counts.get(str(c.get("verdict")), 0) + 1
    keys = [k for k in VERDICTS if k in counts] + [k for k in counts if k not in VERDICTS]
    return [(verdict(k), counts[k] if isinstance(counts[k], int) else 0) for k in keys]


def _run_view(results: Mapping[str, Any], label: str) -> dict[str, Any]:
    """Build the view of one run's header block."""
    run = results.get("run") if isinstance(results.get("run"), Mapping) else {}
    claims = [c for c in results.get("claims") or [] if isinstance(c, Mapping)]
    impl = str(run.get("implementation") or "unknown")
    detail = ", ".join(str(x) for x in (run.get("impl_version") and f"version {run['impl_version']}",
                                         run.get("impl_source") and f"chosen by {run['impl_source']}") if x)
    field = lambda k: "n/a" if run.get(k) is None else str(run.get(k))  # noqa: E731
    return {
        "label": label,
        "rows": [
            ("Implementation", f"{impl} ({detail})" if detail else impl),
            ("Budget", field("budget")),
            ("Seed", field("seed")),
            ("Device", " / ".join(x for x in (field("device"), run.get("dtype") and str(run["dtype"])) if x)),
            ("Versions", f"resnet-claims {field('package_version')}, torch {field('torch')}, python {field('python')}"),
            ("Platform", field("platform")),
            ("Date", _date(run.get("started"))),
            ("Total time", seconds(run.get("seconds"))),
        ],
        "counts": _counts(results, claims),
        "complete": results.get("complete") is not False,  # files written before the marker existed are complete
        "finished": len(claims),
        "planned": run.get("claims_planned") if isinstance(run.get("claims_planned"), int) else None,
    }


def _figure(entry: Mapping[str, Any], default_title: str, salt: str) -> tuple[Any, str, str]:
    """(inline SVG or None, title, error text) of an entry's figure; a bad figure never costs the report."""
    fig = entry.get("figure") if isinstance(entry.get("figure"), Mapping) else None
    title = str((fig or {}).get("title") or default_title)
    try:
        svg = figure_svg(fig, title=title, salt=salt,
                         label=f"{title}: {(fig or {}).get('ylabel') or 'y'} against {(fig or {}).get('xlabel') or 'x'}")
        return (Markup(svg) if svg else None), title, ""
    except Exception as exc:  # noqa: BLE001
        return None, title, f"{type(exc).__name__}: {exc}"


KINDS = ("paper", "implementation check")


def _amendment_view(a: Mapping[str, Any]) -> dict[str, str]:
    """One amendment of the log (claims/preregistration.py) as display strings."""
    return {k: str(a.get(k) or "") for k in ("date", "commit", "reading", "what", "why", "data_seen",
                                             "verdict_before", "verdict_after")}


def _tally(claim: Mapping[str, Any]) -> str:
    """"counted readings: V violated, H held, U undecided" of a claim with readings, else ""."""
    t = claim.get("counted_readings")
    if not isinstance(t, Mapping):
        return ""
    return (f"counted readings: {t.get('violated', 0)} violated, {t.get('holds', 0)} held, "
            f"{t.get('undecided', 0)} undecided")


def _reading_view(sub: Mapping[str, Any], salt: str) -> dict[str, Any]:
    """One row of a claim's readings table, with that reading's own figure."""
    svg, title, error = _figure(sub, str(sub.get("reading") or ""), salt)
    return {"name": str(sub.get("reading") or ""), "support": str(sub.get("support") or ""),
            "digest": str(sub.get("digest") or "n/a"),
            "amendments": [_amendment_view(a) for a in sub.get("amendments") or [] if isinstance(a, Mapping)],
            "degenerate": str(sub.get("degenerate") or ""), "verdict": verdict(sub.get("verdict")),
            "estimate": estimate(sub, level=False), "prediction": prediction(sub),
            "origin": str(sub.get("prediction_origin") or "n/a"), "message": str(sub.get("message") or ""),
            "params": _mapping(sub.get("reading_params")), "figure": svg, "figure_title": title,
            "figure_error": error}


def _entry_view(claim: Mapping[str, Any], run_label: str, salt: str) -> dict[str, Any]:
    """Build the per-run part of a claim section (verdict, sweep, figure, tables, readings)."""
    sweep = claim.get("sweep") if isinstance(claim.get("sweep"), Mapping) else {}
    readings = [r for r in claim.get("readings") or [] if isinstance(r, Mapping)]
    cells = claim.get("cells") if isinstance(claim.get("cells"), list) else []
    cells = cells + [c for r in readings for c in (r.get("cells") if isinstance(r.get("cells"), list) else [])]
    svg, title, figure_error = _figure(claim, str(claim.get("id") or ""), salt)
    controls = [{"name": str(c.get("name") or "control"), "verdict": verdict(c.get("verdict")),
                 "estimate": num(c.get("estimate")), "ci": ci(c.get("ci"))}
                for c in claim.get("controls") or [] if isinstance(c, Mapping)]
    fits = [{"label": str(f.get("label") or ""), "slope": num(f.get("slope")), "ci": ci(f.get("ci")),
             "r2": num(f.get("r2"), 3), "n": num(f.get("n"))}
            for f in claim.get("fit_table") or [] if isinstance(f, Mapping)]
    papers = [{"what": _values(p.get("what")), "paper": _values(p.get("paper")), "ours": _values(p.get("ours"))}
              for p in claim.get("paper_numbers") or [] if isinstance(p, Mapping)]
    amendments = [_amendment_view(a) for a in claim.get("amendments") or [] if isinstance(a, Mapping)]
    return {
        "run": run_label,
        "verdict": verdict(claim.get("verdict")),
        "tally": _tally(claim),
        "digest": str(claim.get("digest") or "n/a"),
        "commit": str(claim.get("commit") or "n/a"),
        "amendments": amendments,
        "amended_after_measured": bool(claim.get("amended_after_measured")),
        "positive_controls": [str(p) for p in claim.get("positive_controls") or []],
        "message": str(claim.get("message") or ""),
        "reason": str(claim.get("message") or "") if claim.get("verdict") in ("error", "not applicable") else "",
        "estimate": estimate(claim),
        "estimate_short": estimate(claim, level=False),
        "prediction": prediction(claim),
        "seconds": seconds(claim.get("seconds")),
        "config": _mapping(claim.get("config")),
        "axes": _mapping(sweep.get("axes")),
        "fixed": _mapping(sweep.get("fixed")),
        "replicates": num(sweep.get("replicates")),
        "networks": num(sweep.get("networks")),
        "cells": len(cells),
        "cells_from_cache": claim.get("cells_from_cache") if isinstance(claim.get("cells_from_cache"), int) else None,
        "figure": svg,
        "figure_title": title,
        "readings": [_reading_view(r, f"{salt}-r{i}") for i, r in enumerate(readings)],
        "shown_reading": str(claim.get("shown_reading") or ""),
        "figure_error": figure_error,
        "fits": fits,
        "controls": controls,
        "papers": papers,
    }


def _labels(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """Return one distinct column label per run (the implementation name, numbered if repeated)."""
    names = [str((r.get("run") or {}).get("implementation") or f"run {i + 1}") for i, r in enumerate(results)]
    return [f"{n} [{i + 1}]" if names.count(n) > 1 else n for i, n in enumerate(names)]


def _calibration_view(data: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not data:
        return None
    from claims.reliability_table import TARGETS_TEXT, bounds_note, describe_settings, table_rows

    return {"settings": describe_settings(data), "targets": TARGETS_TEXT, "rows": table_rows(data),
            "note": bounds_note(data)}


def build_view(results: Sequence[Mapping[str, Any]], calibration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the whole template context for one or several results (and a reliability table)."""
    labels = _labels(results)
    order: list[str] = []
    by_id: dict[str, list[Mapping[str, Any] | None]] = {}
    for i, r in enumerate(results):
        for c in r.get("claims") or []:
            if not isinstance(c, Mapping):
                continue
            cid = str(c.get("id") or "unnamed")
            if cid not in by_id:
                order.append(cid)
                by_id[cid] = [None] * len(results)
            by_id[cid][i] = c
    claims = []
    for n, cid in enumerate(order):
        first = next(c for c in by_id[cid] if c is not None)
        src = first.get("source") if isinstance(first.get("source"), Mapping) else {}
        arxiv = str(src.get("arxiv") or "").strip()
        claims.append({
            "id": cid,
            "anchor": f"claim-{slug(cid)}",
            "statement": str(first.get("statement") or ""),
            "quantity": str(first.get("quantity") or ""),
            "estimand": str(first.get("estimand") or ""),
            "paper": str(src.get("paper") or ""),
            "arxiv": arxiv,
            "arxiv_url": f"https://arxiv.org/abs/{arxiv.removeprefix('arXiv:')}" if arxiv else "",
            "where": str(src.get("where") or ""),
            "prediction": prediction(first),
            "origin": str(first.get("prediction_origin") or "n/a"),
            "tolerance_why": str(first.get("tolerance_why") or ""),
            "kind": str(first.get("kind") or "unstated"),
            "kind_why": str(first.get("kind_why") or ""),
            "entries": [None if c is None else _entry_view(c, labels[i], f"f{n}-{i}")
                        for i, c in enumerate(by_id[cid])],
        })
    return {"runs": [_run_view(r, labels[i]) for i, r in enumerate(results)], "claims": claims,
            "groups": _groups(claims, len(results)), "compare": len(results) > 1, "labels": labels,
            "calibration": _calibration_view(calibration)}


def _groups(claims: Sequence[Mapping[str, Any]], runs: int) -> list[dict[str, Any]]:
    """The summary's claims grouped by kind (paper claims first), each group with its verdict counts
    per run; only paper claims are evidence about a paper, so only their violations are findings."""
    order = [k for k in KINDS if any(c["kind"] == k for c in claims)]
    order += sorted({c["kind"] for c in claims} - set(order))
    groups = []
    for kind in order:
        members = [c for c in claims if c["kind"] == kind]
        counts = []
        for i in range(runs):
            tally: dict[str, int] = {}
            for c in members:
                e = c["entries"][i]
                if e is not None:
                    tally[e["verdict"]["text"]] = tally.get(e["verdict"]["text"], 0) + 1
            counts.append([(verdict(k), tally[k]) for k in (*VERDICTS, *sorted(set(tally) - set(VERDICTS))) if k in tally])
        title = {"paper": "Paper claims (evidence about a paper; a violation here is a finding)",
                 "implementation check": "Implementation checks (true by construction for any correct "
                                         "implementation: checks of a plug-in, not evidence about a paper)"}
        groups.append({"kind": kind, "title": title.get(kind, f"Kind: {kind}"), "claims": members, "counts": counts})
    return groups


def render_html(results: Sequence[Mapping[str, Any]], calibration: Mapping[str, Any] | None = None) -> str:
    """Render the report for one or several results (and the reliability table of ``calibration``,
    a calibration.json's content) to a self-contained HTML string."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["wbr"] = lambda t: Markup("<wbr>").join(re.split(r"(?<=\.)", str(t)))
    return env.get_template("report.html.j2").render(**build_view(results, calibration))

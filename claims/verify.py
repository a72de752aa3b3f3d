"""Verify a set of claims against one implementation and write results.json (docs/results-schema.md)."""
from __future__ import annotations

import datetime as dt
import json
import math
import platform
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from . import __version__
from .run import Execution, run_claim
from .spec import VERDICTS, Claim

SCHEMA_VERSION = 2


def run_metadata(impl: Any, source: str, budget: str, seed: int, device: str, dtype: str) -> dict[str, Any]:
    """The ``run`` block of results.json."""
    return {
        "implementation": impl.name, "impl_version": impl.version, "impl_source": source,
        "budget": budget, "seed": seed, "device": device, "dtype": dtype,
        "package_version": __version__, "torch": torch.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def verify(
    claims: Sequence[Claim],
    impl: Any,
    source: str = "default",
    budget: str = "default",
    seed: int = 0,
    device: str = "cpu",
    dtype: str = "float32",
    config: Mapping[str, Any] | None = None,
    execution: Execution | None = None,
    on_result: Any = None,
    with_controls: bool = False,
) -> dict[str, Any]:
    """Run every claim (and, with ``with_controls``, each negative control it lists);
    ``on_result(results)`` is called first with no claim and then after each claim, so finished work
    is never lost. ``results["complete"]`` stays False until every claim has run: a run that ends
    early (Ctrl-C, a plug-in that ends the process, kill -9) leaves results that say so."""
    results = started_results(impl, source, budget, seed, device, dtype, len(claims))
    start = time.perf_counter()
    if on_result:
        on_result(results)
    try:
        for claim in claims:
            entry = run_claim(claim, impl, budget, seed, device, dtype, config, execution)
            if with_controls:
                entry["controls"] = [_control_verdict(claim, name, budget, seed, device, dtype, config, execution)
                                     for name in claim.controls]
            results["claims"].append(entry)
            _summarise(results, start, execution)
            if on_result:
                on_result(results)
        results["complete"] = True
    finally:
        _summarise(results, start, execution)
    return results


def started_results(impl: Any, source: str, budget: str, seed: int, device: str, dtype: str,
                    planned: int) -> dict[str, Any]:
    """The results of a run that has just started: no claim yet, ``complete`` False, ``planned`` claims."""
    run = {**run_metadata(impl, source, budget, seed, device, dtype), "claims_planned": planned}
    return {"schema_version": SCHEMA_VERSION, "complete": False, "run": run, "claims": []}


def _control_verdict(claim: Claim, name: str, budget: str, seed: int, device: str, dtype: str,
                     config: Mapping[str, Any] | None, execution: Execution | None) -> dict[str, Any]:
    """The claim run on one of its negative controls: it should come out violated."""
    from .plugins import resolve

    control, _ = resolve(name)
    entry = run_claim(claim, control, budget, seed, device, dtype, config, execution)
    return {"name": name, "description": getattr(control, "description", ""), "verdict": entry["verdict"],
            "estimate": entry["estimate"], "ci": entry["ci"], "seconds": entry["seconds"]}


def _summarise(results: dict[str, Any], start: float, execution: Execution | None = None) -> None:
    results["run"]["seconds"] = time.perf_counter() - start
    if execution is not None:
        results["run"]["cells"] = {"computed": execution.computed, "cached": execution.cached}
    results["run"]["counts"] = {v: sum(c["verdict"] == v for c in results["claims"]) for v in VERDICTS}


EXIT_STATUS = {
    0: "at least one claim was checked and every checked claim holds (claims not applicable to the "
       "implementation are listed, not counted)",
    1: "some claim is violated or ended in error",
    2: "bad usage (one line on stderr, before any work)",
    3: "none violated or in error, but some inconclusive or reading-dependent",
    4: "nothing was checked: every claim is not applicable to the implementation (or none was selected)",
    130: "interrupted (Ctrl-C); results.json keeps the finished claims and says the run is incomplete",
}
CHECKED = ("holds", "violated", "inconclusive", "reading-dependent")  # verdicts of a claim that was tested


def exit_status(results: Mapping[str, Any]) -> int:
    """The exit status of a verification (EXIT_STATUS): 1 any violated or error, else 3 any
    inconclusive or reading-dependent, else 4 when no claim was checked, else 0."""
    verdicts = {c["verdict"] for c in results["claims"]}
    if verdicts & {"violated", "error"}:
        return 1
    if verdicts & {"inconclusive", "reading-dependent"}:
        return 3
    if not verdicts & set(CHECKED):
        return 4
    return 0


def exit_status_help() -> str:
    """EXIT_STATUS as the lines of ``--help``."""
    return "exit status:\n" + "\n".join(f"  {code:<3} {text}" for code, text in EXIT_STATUS.items())


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def write_results(results: Mapping[str, Any], out_dir: Path) -> Path:
    """Write out_dir/results.json atomically (temp file, then rename); non-finite numbers become null."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_clean(results), indent=1, default=str))
    tmp.replace(path)
    return path


def _number(v: Any) -> str:
    return "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.4g}"


def ci_text(entry: Mapping[str, Any]) -> str:
    """The confidence set of an entry as printed: one interval "[lo, hi]", or pieces joined by " u "
    (two rays of a Fieller set: "(-inf, a] u [b, inf)"); null ends of a piece are infinite."""
    pieces = entry.get("ci_pieces")
    if isinstance(pieces, list) and pieces:
        return " u ".join(f"{'(-inf' if lo is None else '[' + _number(lo)}, {'inf)' if hi is None else _number(hi) + ']'}"
                          for lo, hi in pieces)
    if isinstance(pieces, list) and entry.get("verdict") in CHECKED:
        return "empty"
    lo, hi = entry.get("ci") or (None, None)
    return f"[{_number(lo)}, {_number(hi)}]"


def one_line(text: Any) -> str:
    """``text`` with its line breaks and runs of spaces folded into single spaces."""
    return " ".join(str(text).split())


def summary_line(entry: Mapping[str, Any]) -> str:
    """One line per claim: id, verdict, estimate with its confidence set, prediction +- tolerance,
    seconds; for ``not applicable`` and ``error`` the reason instead of the numbers. A claim with
    readings adds one indented line per reading."""
    cached = entry.get("cells_from_cache")
    n_cells = len(entry.get("cells") or []) + sum(len(r.get("cells") or []) for r in entry.get("readings") or [])
    cached_text = f"  {cached}/{n_cells} cells from cache" if cached else ""
    head = f"{entry['id']:<42} {entry['verdict'].upper():<17}"
    if entry["verdict"] in CHECKED:
        line = (f"{head} est {_number(entry.get('estimate'))} CI {ci_text(entry)}  "
                f"pred {_number(entry.get('prediction'))} +- {_number(entry.get('tolerance'))}  "
                f"{entry.get('seconds', 0):.1f}s{cached_text}")
    else:
        line = f"{head} {entry.get('seconds', 0):.1f}s{cached_text}  reason: {one_line(entry.get('message', ''))}"
    for sub in entry.get("readings") or []:
        tag = "  (degenerate)" if sub.get("degenerate") else ""
        line += (f"\n  - {sub['reading']:<38} {sub['verdict'].upper():<17} est {_number(sub.get('estimate'))} "
                 f"CI {ci_text(sub)}  pred {_number(sub.get('prediction'))} +- {_number(sub.get('tolerance'))}{tag}")
    return line

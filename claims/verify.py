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
    ``on_result(results)`` is called after each claim so finished work is never lost."""
    results = {"schema_version": SCHEMA_VERSION, "run": run_metadata(impl, source, budget, seed, device, dtype), "claims": []}
    start = time.perf_counter()
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
    finally:
        _summarise(results, start, execution)
    return results


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


def exit_status(results: Mapping[str, Any]) -> int:
    """0 all hold, 1 any violated or errored, 3 none violated but some inconclusive or reading-dependent."""
    verdicts = {c["verdict"] for c in results["claims"]}
    if verdicts & {"violated", "error"}:
        return 1
    if verdicts & {"inconclusive", "reading-dependent"}:
        return 3
    return 0


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


def summary_line(entry: Mapping[str, Any]) -> str:
    """One line per claim: id, verdict, estimate with CI, prediction +- tolerance, seconds; a claim
    with readings adds one indented line per reading."""
    est, (lo, hi) = entry.get("estimate"), entry.get("ci") or (None, None)
    fmt = lambda v: "n/a" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.4g}"  # noqa: E731
    cached = entry.get("cells_from_cache")
    n_cells = len(entry.get("cells") or []) + sum(len(r.get("cells") or []) for r in entry.get("readings") or [])
    cached_text = f"  {cached}/{n_cells} cells from cache" if cached else ""
    line = (f"{entry['id']:<42} {entry['verdict'].upper():<17} est {fmt(est)} CI [{fmt(lo)}, {fmt(hi)}]  "
            f"pred {fmt(entry.get('prediction'))} +- {fmt(entry.get('tolerance'))}  {entry.get('seconds', 0):.1f}s"
            f"{cached_text}")
    for sub in entry.get("readings") or []:
        est, (lo, hi) = sub.get("estimate"), sub.get("ci") or (None, None)
        tag = "  (degenerate)" if sub.get("degenerate") else ""
        line += (f"\n  - {sub['reading']:<38} {sub['verdict'].upper():<17} est {fmt(est)} CI [{fmt(lo)}, {fmt(hi)}]  "
                 f"pred {fmt(sub.get('prediction'))} +- {fmt(sub.get('tolerance'))}{tag}")
    return line


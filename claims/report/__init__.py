"""HTML verification report built from ``results.json`` files (docs/results-schema.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ReportError", "load_results", "write_report"]

SCHEMA_VERSIONS = (1, 2)  # 2 added readings (docs/results-schema.md); a version-1 file is still read


class ReportError(ValueError):
    """A results file that cannot be read, or results that cannot be reported."""


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and check one ``results.json``; raise ReportError naming the file when it is unusable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: results file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read results file ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path}: expected a JSON object with schema_version 2, got {type(data).__name__}")
    version = data.get("schema_version")
    if version not in SCHEMA_VERSIONS:
        raise ReportError(f"{path}: schema_version is {version!r}, this report reads versions "
                          f"{', '.join(map(str, SCHEMA_VERSIONS))}")
    if not isinstance(data.get("run"), dict):
        raise ReportError(f"{path}: missing the 'run' object")
    if not isinstance(data.get("claims"), list):
        raise ReportError(f"{path}: missing the 'claims' list")
    return data


def write_report(results: Sequence[Mapping[str, Any]], out_dir: Path,
                 calibration: Mapping[str, Any] | None = None) -> Path:
    """Write ``out_dir/index.html`` for one results dict, or a side-by-side comparison of several,
    with the reliability table of ``calibration`` (a calibration.json's content) when given."""
    from claims.report.render import render_html

    if isinstance(results, Mapping):
        results = [results]
    if not results:
        raise ReportError("write_report needs at least one results dict")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "index.html"
    out.write_text(render_html(list(results), calibration), encoding="utf-8")
    return out

"""Render a claim's ``figure`` block (see docs/results-schema.md) to an inline SVG string: series of
measurements against a swept axis, or (``kind: phase``) a phase diagram of a boundary against a parameter."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
from collections.abc import Mapping
from typing import Any

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, LogFormatter, NullLocator, StrMethodFormatter

__all__ = ["figure_svg"]

# Okabe-Ito palette (colour-blind safe); markers differ too, so series never rely on colour alone.
_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
_MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
_GREY = "#555555"


class _PlainLog(LogFormatter):
    """Log-axis labels as plain numbers ("2", "0.9", "1e+04") on the ticks matplotlib chooses to label."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        """Label ``x`` as a plain number when the base formatter would label it at all."""
        return f"{x:.3g}" if super().__call__(x, pos) else ""


def _arr(block: Any, key: str) -> np.ndarray:
    """Return ``block[key]`` as a float array (None -> NaN), empty when absent or malformed."""
    if not isinstance(block, Mapping):
        return np.empty(0)
    try:
        return np.asarray([np.nan if v is None else v for v in block.get(key) or []], dtype=float).ravel()
    except (TypeError, ValueError):
        return np.empty(0)


def _xy(block: Any, *extra: str, xlog: bool, ylog: bool) -> list[np.ndarray]:
    """Return x, y and extra columns (NaN-padded) for the rows with a finite, plottable x and y."""
    x, y = _arr(block, "x"), _arr(block, "y")
    n = min(len(x), len(y))
    pad = lambda c: np.concatenate([c[:n], np.full(max(0, n - len(c)), np.nan)])  # noqa: E731
    cols = [x[:n], y[:n], *(pad(_arr(block, k)) for k in extra)]
    keep = np.isfinite(cols[0]) & np.isfinite(cols[1])
    if xlog:
        keep &= cols[0] > 0
    if ylog:
        keep &= cols[1] > 0
    return [c[keep] for c in cols]


def _plain(text: str) -> str:
    """Escape dollar signs so matplotlib does not parse the text as mathtext."""
    return text.replace("$", r"\$")


def _draw(fig_spec: Mapping[str, Any], title: str, plain: bool) -> Figure | None:
    """Build the matplotlib Figure, or None when there is nothing to plot."""
    xlog, ylog = bool(fig_spec.get("xlog", True)), bool(fig_spec.get("ylog", True))
    txt = _plain if plain else (lambda s: s)
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    FigureCanvasAgg(fig)  # Agg canvas, no pyplot: no global state, safe to call from any thread
    ax = fig.subplots()
    handles: list[Any] = []
    used: set[str] = set()
    xs: set[float] = set()
    series = [s for s in fig_spec.get("series") or [] if isinstance(s, Mapping)]
    for i, s in enumerate(series):
        colour, marker = _COLOURS[i % len(_COLOURS)], _MARKERS[i % len(_MARKERS)]
        drawn = False
        x, y = _xy(s.get("points"), xlog=xlog, ylog=ylog)
        xs.update(x.tolist())
        if len(x):
            ax.plot(x, y, linestyle="none", marker=marker, markersize=3, alpha=0.35, color=colour)
            drawn = True
            used.add("points")
        x, y, e = _xy(s.get("mean"), "yerr", xlog=xlog, ylog=ylog)
        xs.update(x.tolist())
        if len(x):
            e = np.where(np.isfinite(e), np.abs(e), 0.0)
            lower = np.minimum(e, y * 0.999) if ylog else e
            ax.errorbar(x, y, yerr=[lower, e], linestyle="none", marker=marker, markersize=6,
                        markerfacecolor="white", color=colour, capsize=3, elinewidth=1.2)
            drawn = True
            used.add("mean")
        x, y, lo, hi = _xy(s.get("fit"), "lo", "hi", xlog=xlog, ylog=ylog)
        if len(x):
            order = np.argsort(x)
            ax.plot(x[order], y[order], color=colour, linewidth=1.8)
            band = np.isfinite(lo) & np.isfinite(hi) & ((lo > 0) & (hi > 0) if ylog else True)
            if band.any():
                ax.fill_between(x[order][band[order]], lo[order][band[order]], hi[order][band[order]],
                                color=colour, alpha=0.18, linewidth=0)
            drawn = True
            used.add("fit")
        x, y = _xy(s.get("predicted"), xlog=xlog, ylog=ylog)
        if len(x):
            order = np.argsort(x)
            ax.plot(x[order], y[order], color=colour, linestyle="--", linewidth=1.4)
            drawn = True
            used.add("predicted")
        if drawn:
            handles.append(Line2D([], [], color=colour, marker=marker, label=txt(str(s.get("label") or f"series {i + 1}"))))
    if not handles:
        return None
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    for axis, log in ((ax.xaxis, xlog), (ax.yaxis, ylog)):
        if log:
            axis.set_major_formatter(_PlainLog())
            axis.set_minor_formatter(_PlainLog(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    if 1 < len(xs) <= 10:  # few swept values (depths, widths): tick exactly at them
        ax.xaxis.set_major_locator(FixedLocator(sorted(xs)))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.set_title(txt(title))
    ax.set_xlabel(txt(str(fig_spec.get("xlabel") or "x")))
    ax.set_ylabel(txt(str(fig_spec.get("ylabel") or "y")))
    ax.grid(True, which="major", alpha=0.3)
    keys = {
        "points": Line2D([], [], color=_GREY, marker="o", markersize=3, alpha=0.5, linestyle="none", label="replicates"),
        "mean": Line2D([], [], color=_GREY, marker="o", markerfacecolor="white", linestyle="none", label="mean ± 95% CI"),
        "fit": Patch(facecolor=_GREY, alpha=0.3, edgecolor=_GREY, label="fit, 95% band"),
        "predicted": Line2D([], [], color=_GREY, linestyle="--", label="predicted"),
    }
    handles += [h for k, h in keys.items() if k in used]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)), fontsize="small", frameon=False)
    return fig


def _draw_phase(fig_spec: Mapping[str, Any], title: str, plain: bool) -> Figure | None:
    """A phase diagram (``kind: phase``): the measured boundary with its band over the predicted line,
    extra points (e.g. a smooth family) with error bars, the two regimes labelled either side."""
    txt = _plain if plain else (lambda s: s)
    x, y, lo, hi = _xy(fig_spec.get("boundary"), "lo", "hi", xlog=False, ylog=False)
    extra = [(p, *_xy(p, "lo", "hi", xlog=False, ylog=False)) for p in fig_spec.get("points") or [] if isinstance(p, Mapping)]
    if not len(x) and not any(len(e[1]) for e in extra):
        return None
    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    px, py = _xy(fig_spec.get("predicted"), xlog=False, ylog=False)
    if len(px):
        order = np.argsort(px)
        ax.plot(px[order], py[order], color=_GREY, linestyle="--", linewidth=1.4,
                label=txt(str((fig_spec.get("predicted") or {}).get("label") or "predicted")))
    if len(x):
        order = np.argsort(x)
        band = np.isfinite(lo) & np.isfinite(hi)
        ax.fill_between(x[order][band[order]], lo[order][band[order]], hi[order][band[order]],
                        color=_COLOURS[0], alpha=0.2, linewidth=0, label="CI band")
        ax.plot(x[order], y[order], color=_COLOURS[0], marker=_MARKERS[0], linewidth=1.8,
                label=txt(str((fig_spec.get("boundary") or {}).get("label") or "measured")))
    for i, (spec, ex, ey, elo, ehi) in enumerate(extra):
        if len(ex):
            err = [np.where(np.isfinite(elo), ey - elo, 0.0), np.where(np.isfinite(ehi), ehi - ey, 0.0)]
            ax.errorbar(ex, ey, yerr=err, linestyle="none", marker=_MARKERS[(i + 1) % len(_MARKERS)], markersize=7,
                        color=_COLOURS[(i + 1) % len(_COLOURS)], capsize=4, label=txt(str(spec.get("label") or "point")))
    regions = fig_spec.get("regions") if isinstance(fig_spec.get("regions"), Mapping) else {}
    for key, (xy, va) in {"below": ((0.97, 0.04), "bottom"), "above": ((0.03, 0.96), "top")}.items():
        if regions.get(key):
            ax.annotate(txt(str(regions[key])), xy, xycoords="axes fraction", ha="right" if key == "below" else "left",
                        va=va, fontsize="small", color=_GREY)
    ax.set_title(txt(title))
    ax.set_xlabel(txt(str(fig_spec.get("xlabel") or "regularity")))
    ax.set_ylabel(txt(str(fig_spec.get("ylabel") or "beta")))
    ax.grid(True, alpha=0.3)
    fig.legend(loc="outside lower center", ncols=2, fontsize="small", frameon=False)
    return fig


def _svg(fig: Figure, salt: str) -> str:
    """Serialise a Figure to SVG text with text kept as text and ids made unique by ``salt``."""
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return buf.getvalue()


@functools.lru_cache(maxsize=256)
def _drawn_svg(spec_json: str, title: str, phase: bool) -> str | None:
    """The SVG text of one figure, drawn once per report for identical specs (a claim's headline figure
    is its first counted reading's); every use then gets its own id prefix."""
    fig_spec = json.loads(spec_json)
    draw = _draw_phase if phase else _draw
    salt = hashlib.sha256((spec_json + title).encode()).hexdigest()[:12]
    try:
        fig = draw(fig_spec, title, plain=False)
        return _svg(fig, salt) if fig is not None else None
    except ValueError:  # a label that is not valid mathtext: draw it literally
        fig = draw(fig_spec, title, plain=True)
        return _svg(fig, salt) if fig is not None else None


def figure_svg(fig_spec: Mapping[str, Any] | None, *, title: str, salt: str, label: str = "") -> str | None:
    """Return an inline ``<svg>`` element for a schema ``figure`` block, or None if it has no data."""
    phase = isinstance(fig_spec, Mapping) and fig_spec.get("kind") == "phase"
    if not isinstance(fig_spec, Mapping) or not (phase or fig_spec.get("series")):
        return None
    title = str(fig_spec.get("title") or title)
    text = _drawn_svg(json.dumps(fig_spec, sort_keys=True, default=str), title, phase)
    if text is None:
        return None
    text = text[text.index("<svg"):]
    head, rest = text.split(">", 1)
    head = re.sub(r'\s(width|height)="[^"]*"', "", head)
    aria = label or title
    aria = aria.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    # Give every id a per-figure prefix: many SVGs share one HTML document.
    prefix = re.sub(r"[^A-Za-z0-9_-]", "_", salt) + "-"
    body = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', rest)
    body = re.sub(r'(url\(#|href="#)([^")]+)', lambda m: f"{m.group(1)}{prefix}{m.group(2)}", body)
    return f'{head} role="img" aria-label="{aria}" class="plot">{body}'


"""Shared helpers: segment colours, names and HTML escaping for hover text."""
from __future__ import annotations

import html

import plotly.express as px

UNASSIGNED_COLOR = "#B0B0B0"
_PALETTE = px.colors.qualitative.Safe + px.colors.qualitative.Vivid


def _is_unassigned(seg) -> bool:
    return seg == -1 or seg == "unassigned"


def segment_order(seg):
    """Sort key: numeric labels in numeric order, then others, unassigned last."""
    if _is_unassigned(seg):
        return (2, 0.0, "")
    try:
        return (0, float(seg), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(seg))


def segment_colors(segments) -> dict:
    """One colour per segment label (sorted order), grey for unassigned (-1)."""
    assigned = sorted({s for s in segments if not _is_unassigned(s)}, key=segment_order)
    colors = {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(assigned)}
    colors.update({s: UNASSIGNED_COLOR for s in segments if _is_unassigned(s)})
    return colors


def segment_name(seg, names=None) -> str:
    """Display name of a segment (escaped): ``names[seg]``, else 'Segment <seg>'."""
    if names and seg in names:
        return escape(names[seg])
    if _is_unassigned(seg):
        return "unassigned"
    return f"Segment {escape(seg)}"


def escape(value, max_chars=None) -> str:
    """Text made safe to show in Plotly hover labels (which render a subset of HTML)."""
    text = "" if value is None else str(value)
    if max_chars is not None and len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return html.escape(text, quote=True)

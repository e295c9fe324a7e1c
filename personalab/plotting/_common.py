"""Shared helpers: segment colours, names and HTML escaping for hover text."""
from __future__ import annotations

import html

import plotly.express as px

UNASSIGNED_COLOR = "#B0B0B0"
# the two palettes without their last colour, a grey that would read as "unassigned"
_PALETTE = px.colors.qualitative.Safe[:-1] + px.colors.qualitative.Vivid[:-1]


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


def _integer(seg):
    """The segment label as an int when it is one (numpy ints, 3.0), else None."""
    if isinstance(seg, bool):
        return None
    try:
        as_float = float(seg)
    except (TypeError, ValueError):
        return None
    return int(as_float) if as_float.is_integer() else None


def segment_colors(segments) -> dict:
    """One colour per segment label, the same in every chart; grey for unassigned.

    A segment's colour depends on its label alone (segment ``k`` gets palette colour ``k``),
    never on which other segments a chart happens to show: the map, the sizes, the report's
    theme charts and the explorer give a persona one colour. Labels that are not integers
    take the colours after the integer ones, in sorted order. Unassigned (-1) is
    :data:`UNASSIGNED_COLOR`.
    """
    segments = list(segments)
    colors = {}
    others = []
    for s in segments:
        if _is_unassigned(s):
            colors[s] = UNASSIGNED_COLOR
        elif (k := _integer(s)) is not None:
            colors[s] = _PALETTE[k % len(_PALETTE)]
        else:
            others.append(s)
    start = max([_integer(s) for s in colors if _integer(s) is not None] + [-1]) + 1
    for i, s in enumerate(sorted(set(others), key=segment_order)):
        colors[s] = _PALETTE[(start + i) % len(_PALETTE)]
    return colors


def segment_label(seg, names=None) -> str:
    """Plain-text name of a segment: ``names[seg]`` (e.g. the persona's name), else
    'Segment <seg>' as the report writes it, 'unassigned' for -1."""
    if names and seg in names:
        return str(names[seg])
    if _is_unassigned(seg):
        return "unassigned"
    return f"Segment {seg}"


def segment_name(seg, names=None) -> str:
    """Display name of a segment for plotly text (escaped): see :func:`segment_label`."""
    return escape(segment_label(seg, names))


def question_labels(questions) -> dict:
    """{question id: short label} from a codebook, a list of questions or a mapping.

    A question's label is its codebook ``short`` when it has one, else its text (or id) cut
    at a word boundary (:func:`personalab.codebook.short_label`); two questions whose labels
    would read alike (a hand-written codebook's look-alike wordings cut to the same words)
    are told apart, so no two chart or heat-map rows carry one label
    (:func:`personalab.codebook.distinct_labels`). A mapping is taken as it is
    (id -> label).
    """
    if questions is None:
        return {}
    if isinstance(questions, dict):
        return {str(k): str(v) for k, v in questions.items()}
    from personalab.codebook import distinct_labels

    return distinct_labels(questions)


def cut(text, max_chars: int) -> str:
    """``text`` cut at a word boundary to at most ``max_chars`` characters, with an
    ellipsis when cut (the full text belongs on hover)."""
    text = " ".join(str(text).split())
    if len(text) <= max_chars:
        return text
    head = text[: max_chars - 1]
    word = head.rsplit(" ", 1)[0].rstrip(" ,;:.-(")
    return (word if len(word) >= max_chars // 2 else head.rstrip()) + "\u2026"


def colored_name(seg, names=None, colors=None) -> str:
    """A segment's escaped name after a square in its colour, for plotly axis ticks (which
    render ``<span style='color:...'>``): the name stays dark and readable, the square says
    which colour the persona has in every other chart."""
    name = segment_name(seg, names)
    color = (colors or {}).get(seg)
    return f"<span style='color:{color}'>\u25a0</span> {name}" if color else name


def wrap(text: str, width: int = 80) -> str:
    """Already-escaped text broken into ``<br>``-separated lines of at most ``width``
    characters, so a long question wording stays inside a hover box."""
    import textwrap

    return "<br>".join(textwrap.wrap(text, width, break_long_words=False,
                                     break_on_hyphens=False)) or text


def escape(value, max_chars=None) -> str:
    """Text made safe to show in Plotly hover labels (which render a subset of HTML)."""
    text = "" if value is None else str(value)
    if max_chars is not None and len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return html.escape(text, quote=True)

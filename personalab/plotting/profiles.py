"""Profile heatmap: index against the total for every segment x variable."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from personalab.errors import InputError
from personalab.plotting._common import (colored_name, cut, escape, question_labels,
                                         segment_colors, segment_name, segment_order,
                                         wrap)

__all__ = ["visualize_profile_heatmap"]


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value) == ""


def _question_name(row, labels: dict) -> str:
    """The question's short label: the codebook's (``labels``), else a short label drafted
    from the profile's ``question_text``, else the question id."""
    qid = str(row["question"])
    if qid in labels:
        return labels[qid]
    text = row.get("question_text")
    if not _blank(text):
        from personalab.codebook import draft_short

        return draft_short(str(text)) or " ".join(str(text).split())
    return qid


def _row_label(row, labels: dict, max_chars: int) -> str:
    """Heat-map row: 'short label: level', cut so neither crowds the chart out."""
    name = _question_name(row, labels)
    level = row["level"]
    if _blank(level):
        return cut(name, max_chars)
    level = cut(level, max(12, max_chars // 2))
    return f"{cut(name, max(12, max_chars - len(level) - 2))}: {level}"


def _row_title(row) -> str:
    """Hover title of a row: the full question wording and the full level."""
    text = row.get("question_text")
    text = str(row["question"]) if _blank(text) else " ".join(str(text).split())
    return text if _blank(row["level"]) else f"{text}: {row['level']}"


def visualize_profile_heatmap(profile_df: pd.DataFrame, *, top_n=None, questions=None,
                              significant_marker="*", index_range=(0, 200), names=None,
                              labels=None, max_label_chars=60,
                              title="Segment profiles (index, 100 = average)") -> go.Figure:
    """Heatmap of index values (100 = total), significant cells marked.

    Parameters
    ----------
    profile_df : DataFrame
        From :func:`personalab.profiles.profile_segments`.
    top_n : int, optional
        Keep the ``top_n`` variables with the largest absolute effect size in any segment.
    questions : list of str, optional
        Keep only these questions.
    significant_marker : str, default "*"
        Appended to the cell text of significant cells.
    index_range : (float, float)
        Colour range; the scale is centred on 100, values outside are clipped for colour
        only (the cell text and hover show the real index).
    names : dict, optional
        Segment label -> display name (e.g. the persona names).
    labels : Codebook, list of Question or dict, optional
        What to call each question: the codebook's ``short`` label (else its text); a dict
        maps question id -> label. Without it, a short label is drafted from the profile's
        ``question_text`` (:func:`personalab.codebook.draft_short`), else the id is shown.
    max_label_chars : int, default 60
        Row labels ('label: level') are cut to this many characters at a word boundary;
        hover shows the full question wording and level.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Heatmap`` trace: rows = variables (question label: level), columns =
        segments (named, with a square in each segment's colour on the axis), ``z`` =
        index, ``text`` = rounded index plus the marker where significant.
    """
    need = {"segment", "question", "variable", "level", "index", "significant", "value",
            "total", "p_adjusted", "effect_size"}
    missing = need - set(profile_df.columns)
    if missing:
        raise InputError(f"profile table lacks columns {sorted(missing)}",
                         fix="pass the output of personalab.profiles.profile_segments()")
    df = profile_df
    if questions is not None:
        df = df[df["question"].isin(list(questions))]
    variables = list(dict.fromkeys(df["variable"]))
    if top_n is not None:
        strength = df.assign(_s=df["effect_size"].abs()).groupby("variable", sort=False)["_s"].max()
        chosen = set(strength.sort_values(ascending=False, kind="stable").index[:top_n])
        variables = [v for v in variables if v in chosen]
    df = df[df["variable"].isin(variables)]
    segments = sorted(pd.unique(df["segment"]), key=segment_order)
    cells = df.set_index(["variable", "segment"])
    qlabels = question_labels(labels)
    first = {v: df[df["variable"] == v].iloc[0] for v in variables}
    rows, seen = {}, set()
    for v in variables:
        label = _row_label(first[v], qlabels, max_label_chars)
        k, base = 2, label
        while label in seen:   # two rows cut to one label would be drawn as one
            label, k = f"{base} ({k})", k + 1
        seen.add(label)
        rows[v] = label
    titles = {v: _row_title(first[v]) for v in variables}
    z = np.full((len(variables), len(segments)), np.nan)
    text = np.full(z.shape, "", dtype=object)
    hover = np.full(z.shape, "", dtype=object)
    for i, v in enumerate(variables):
        for j, seg in enumerate(segments):
            if (v, seg) not in cells.index:
                continue
            c = cells.loc[(v, seg)]
            z[i, j] = c["index"]
            sig = bool(c["significant"])
            text[i, j] = ("" if pd.isna(c["index"]) else f"{c['index']:.0f}") + (
                significant_marker if sig else "")
            hover[i, j] = (f"{wrap(escape(titles[v]))}<br>{segment_name(seg, names)}: "
                           f"{c['value']:.3g} vs total {c['total']:.3g}<br>index "
                           f"{c['index']:.0f}, adjusted p {c['p_adjusted']:.2g}"
                           + (" (significant)" if sig else ""))
    low, high = index_range
    x = [segment_name(s, names) for s in segments]
    colors = segment_colors(segments)
    fig = go.Figure(go.Heatmap(
        z=z, x=x, y=[escape(rows[v]) for v in variables],
        zmin=low, zmax=high, zmid=100, colorscale="RdBu", text=text,
        texttemplate="%{text}", hovertext=hover, hoverinfo="text",
        colorbar=dict(title="index"), name="index"))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(tickvals=x, ticktext=[colored_name(s, names, colors) for s in segments])
    fig.update_layout(title=escape(title) + (f"<br><sup>{escape(significant_marker)} = "
                                             "significant after correction</sup>"),
                      template="plotly_white",
                      height=max(350, 22 * len(variables) + 150))
    return fig

"""Profile heatmap: index against the total for every segment x variable."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from personalab.errors import InputError
from personalab.plotting._common import escape, segment_name, segment_order

__all__ = ["visualize_profile_heatmap"]


def _row_label(row) -> str:
    level = row["level"]
    if level is None or (isinstance(level, float) and np.isnan(level)):
        return str(row["question"])
    return f"{row['question']}: {level}"


def visualize_profile_heatmap(profile_df: pd.DataFrame, *, top_n=None, questions=None,
                              significant_marker="*", index_range=(0, 200), names=None,
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
        Segment label -> display name.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Heatmap`` trace: rows = variables (question: level), columns = segments,
        ``z`` = index, ``text`` = rounded index plus the marker where significant.
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
    labels = {v: _row_label(df[df["variable"] == v].iloc[0]) for v in variables}
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
            hover[i, j] = (f"{escape(labels[v])}<br>{segment_name(seg, names)}: "
                           f"{c['value']:.3g} vs total {c['total']:.3g}<br>index "
                           f"{c['index']:.0f}, adjusted p {c['p_adjusted']:.2g}"
                           + (" (significant)" if sig else ""))
    low, high = index_range
    fig = go.Figure(go.Heatmap(
        z=z, x=[segment_name(s, names) for s in segments],
        y=[escape(labels[v]) for v in variables],
        zmin=low, zmax=high, zmid=100, colorscale="RdBu", text=text,
        texttemplate="%{text}", hovertext=hover, hoverinfo="text",
        colorbar=dict(title="index"), name="index"))
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=escape(title) + (f"<br><sup>{escape(significant_marker)} = "
                                             "significant after correction</sup>"),
                      template="plotly_white",
                      height=max(350, 22 * len(variables) + 150))
    return fig
